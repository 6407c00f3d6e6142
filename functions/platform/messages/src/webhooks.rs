//! Webhooks for integrators: a domain that wants integrators told about something it did sends a
//! [`WebhookEvent`] (written to its outbox in the change's own transaction, like every job a change causes); the
//! webhooks domain fans it out to the endpoints subscribed to its type and delivers each copy with retries
//! ([`WebhookDelivery`]). Producers never know who listens: they only name the event type from
//! [`EVENT_TYPES`] and give its data.

use lectern_shared::queue::{JobKind, NewJob, QueueError, queues};
use serde::{Deserialize, Serialize};

/// An account registered. Data: `{"user_id", "role"}` (no email or name: integrators ask the API for more).
pub const USER_REGISTERED: &str = "user.registered";
/// A learner profile recorded a result. Data: `{"profile_id", "result_id", "game_id", "score", "played_at"}`.
pub const PROGRESS_RECORDED: &str = "progress.recorded";
/// A learner profile earned an achievement. Data: `{"profile_id", "achievement_id", "name"}`.
pub const ACHIEVEMENT_EARNED: &str = "achievement.earned";
/// A learner submitted an exam. Data: `{"exam_id", "user_id"}`.
pub const EXAM_SUBMITTED: &str = "exam.submitted";
/// A reviewer approved a question. Data: `{"question_id"}`.
pub const QUESTION_APPROVED: &str = "question.approved";

/// Every event type an endpoint may subscribe to (the event catalogue; the OpenAPI document and the README list
/// them with their data).
pub const EVENT_TYPES: [&str; 5] = [
    USER_REGISTERED,
    PROGRESS_RECORDED,
    ACHIEVEMENT_EARNED,
    EXAM_SUBMITTED,
    QUESTION_APPROVED,
];

/// `user.registered`'s data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserRegisteredData {
    pub user_id: String,
    /// `learner` or `parent` (the roles one registers with).
    pub role: String,
}

/// `progress.recorded`'s data: one recorded result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProgressRecordedData {
    pub profile_id: String,
    pub result_id: String,
    pub game_id: String,
    pub score: i64,
    /// When it was played (epoch seconds).
    pub played_at: i64,
}

/// `achievement.earned`'s data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AchievementEarnedData {
    pub profile_id: String,
    pub achievement_id: String,
    /// The achievement's name.
    pub name: String,
}

/// `exam.submitted`'s data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExamSubmittedData {
    pub exam_id: String,
    /// The learner who took it.
    pub user_id: String,
}

/// `question.approved`'s data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuestionApprovedData {
    pub question_id: String,
}

/// `webhook.test`'s data (the test message an owner sends with `POST /v1/webhooks/{id}/test`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookTestData {
    pub endpoint_id: String,
}

/// Job: something happened that integrators may subscribe to.
///
/// On the wire: `{"id": "msg_01J…", "type": "user.registered", "timestamp": 1764000000, "data": {...}}`. `id` is
/// the message id every endpoint receives as `webhook-id` (the same on every retry); build it with
/// [`WebhookEvent::new`] from what makes the event one (a user id, a result id), so a producer that sends the same
/// event twice sends one message. Send it with [`WebhookEvent::job`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened (epoch seconds).
    pub timestamp: i64,
    /// The event's data (an object; the catalogue documents each type's fields).
    pub data: serde_json::Value,
}

impl WebhookEvent {
    /// An event of typed data (one of the `*Data` types of the catalogue).
    pub fn of<D: Serialize>(event_type: &str, key: &str, timestamp: i64, data: &D) -> Self {
        let data = serde_json::to_value(data).unwrap_or(serde_json::Value::Null);
        Self::new(event_type, key, timestamp, data)
    }

    /// An event whose message id is derived from `event_type` and `key` (what makes it one): `msg_` and a ULID
    /// whose time is `timestamp` and whose random part is a SHA-256 of the two, so it is stable across a
    /// producer's retries and message ids sort by the time of their events (the delivery history's order).
    pub fn new(event_type: &str, key: &str, timestamp: i64, data: serde_json::Value) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(event_type.as_bytes())
            .chain_update(b"\n")
            .chain_update(key.as_bytes())
            .finalize();
        let mut random = [0u8; 16];
        random.copy_from_slice(&digest[..16]);
        let millis = u64::try_from(timestamp).unwrap_or(0).saturating_mul(1000);
        Self {
            id: format!(
                "msg_{}",
                ulid::Ulid::from_parts(millis, u128::from_be_bytes(random))
            ),
            event_type: event_type.to_string(),
            timestamp,
            data,
        }
    }

    /// The job to send (or to write to the outbox), keyed by the message id so it fans out once.
    pub fn job(&self) -> Result<NewJob, QueueError> {
        Ok(NewJob::new(self)?.idempotency_key(format!("webhook-event:{}", self.id)))
    }
}

impl JobKind for WebhookEvent {
    const KIND: &'static str = "webhooks.event";
    const QUEUE: &'static str = queues::JOBS;
}

/// Job: make one attempt to deliver one message to one endpoint, once it is due.
///
/// On the wire: `{"endpoint_id", "message_id", "attempt": 1, "due_at": 1764000000, "hop": 0}`. SQS delays a
/// message by 15 minutes at most, so a retry due in hours travels as a chain of delayed copies (`hop` counts
/// them): each copy that arrives early re-sends itself, delayed again, until `due_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub endpoint_id: String,
    pub message_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Not before this (epoch seconds).
    pub due_at: i64,
    #[serde(default)]
    pub hop: u32,
}

impl WebhookDelivery {
    /// The job, keyed by endpoint, message, attempt and hop: a duplicate of one copy runs once.
    pub fn job(&self) -> Result<NewJob, QueueError> {
        Ok(NewJob::new(self)?.idempotency_key(format!(
            "webhook-delivery:{}:{}:{}:{}",
            self.endpoint_id, self.message_id, self.attempt, self.hop
        )))
    }
}

impl JobKind for WebhookDelivery {
    const KIND: &'static str = "webhooks.deliver";
    const QUEUE: &'static str = queues::JOBS;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shapes_are_pinned() {
        let event = WebhookEvent::new(
            USER_REGISTERED,
            "U1",
            7,
            serde_json::json!({"user_id": "U1"}),
        );
        assert!(event.id.starts_with("msg_") && event.id.len() == 30);
        assert!(event.id < WebhookEvent::new(USER_REGISTERED, "U0", 8, serde_json::json!({})).id);
        assert_eq!(
            event.id,
            WebhookEvent::new(USER_REGISTERED, "U1", 7, serde_json::json!({})).id
        );
        assert_ne!(
            event.id,
            WebhookEvent::new(EXAM_SUBMITTED, "U1", 7, serde_json::json!({})).id
        );
        let wire = serde_json::json!({"id": event.id, "type": "user.registered", "timestamp": 7,
            "data": {"user_id": "U1"}});
        assert_eq!(serde_json::to_value(&event).unwrap(), wire);
        let delivery = WebhookDelivery {
            endpoint_id: "E".into(),
            message_id: "M".into(),
            attempt: 2,
            due_at: 9,
            hop: 1,
        };
        assert_eq!(
            serde_json::to_string(&delivery).unwrap(),
            r#"{"endpoint_id":"E","message_id":"M","attempt":2,"due_at":9,"hop":1}"#
        );
        assert_eq!(
            delivery.job().unwrap().job.idempotency_key.as_deref(),
            Some("webhook-delivery:E:M:2:1")
        );
        assert_eq!(
            (WebhookEvent::KIND, WebhookDelivery::KIND),
            ("webhooks.event", "webhooks.deliver")
        );
    }
}
