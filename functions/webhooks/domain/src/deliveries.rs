//! Deliveries: one per message and endpoint, made by attempts on the Standard Webhooks schedule.
//!
//! ```text
//! webhooks.event   (FanOut)   query WEBHOOK_EVENT#<type> → per endpoint: put its delivery (if absent),
//!                             then one webhooks.deliver job each (attempt 1, due now)
//! webhooks.deliver (Deliver)  read endpoint + delivery (one batch get) → early? re-send itself, delayed ≤ 15 min
//!                             → POST, signed → record the attempt (conditional on the attempts before it)
//!                             → pending? send attempt n+1, due after the schedule's next delay, plus jitter
//! ```
//!
//! Idempotent at every step: the delivery is put only if absent, an attempt is recorded only over the attempt
//! count it started from (a duplicate job that lost the race records nothing), a job whose attempt is already
//! recorded only makes sure the next one was sent, and every job carries an idempotency key of its endpoint,
//! message, attempt and hop. A receiver may still see a message twice (a worker that dies after the POST and
//! before recording it) — always with the same `webhook-id`, which is what the specification asks receivers to
//! deduplicate on.
//!
//! The endpoint's health: a 2xx clears `failing_since`; a failure sets it when unset; a failure five days after
//! it was set disables the endpoint, and an answer of 410 Gone disables it at once; either way the owner is told
//! (a `platform.notify` job written to the outbox in the disabling transaction).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lectern_messages::notify::{NotificationContent, NotificationType, Notify};
use lectern_messages::webhooks::{WebhookDelivery, WebhookEvent};
use lectern_shared::queue::outbox::{self, OutboxEntry};
use lectern_shared::queue::worker::{JobError, JobHandler};
use lectern_shared::queue::{Job, JobKind, MAX_DELAY, NewJob};
use lectern_shared::table::{Condition, Entity, EntityInfo, Key, KeyLayout, Shape, TableError};
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::endpoints::{DISABLED_FAILING, DISABLED_GONE, ENDPOINT_PK, Endpoint, Subscription};
use crate::errors::{WebhookError, WebhookResult};
use crate::sender::Outcome;
use crate::service::Webhooks;

/// How long a delivery (its body and outcome) is kept: the history integrators read.
pub const HISTORY_RETENTION_SECS: i64 = 30 * 24 * 3600;
/// The wait before each retry (Standard Webhooks' suggested schedule): attempt n+1 waits `RETRY_SCHEDULE[n-1]`
/// after attempt n failed; after the last, the delivery has failed.
pub const RETRY_SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];
/// Attempts in all: the first and one per retry.
pub const MAX_ATTEMPTS: u32 = RETRY_SCHEDULE.len() as u32 + 1;
/// An endpoint whose attempts all failed for this long is disabled.
pub const DISABLE_AFTER_SECS: i64 = 5 * 24 * 3600;
/// The event type of a test message (`POST /v1/webhooks/{id}/test`): not in the catalogue, never subscribed to.
pub const TEST_EVENT: &str = "webhook.test";

/// Delivery states.
pub const PENDING: &str = "pending";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
/// The endpoint was disabled or deleted before the message could be delivered.
pub const DROPPED: &str = "dropped";

/// One message to one endpoint, and how its attempts went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// In the key only.
    #[serde(skip_serializing)]
    pub endpoint_id: String,
    /// In the key only: the `webhook-id` of every attempt.
    #[serde(skip_serializing)]
    pub message_id: String,
    pub event_type: String,
    /// The body exactly as sent (the same on every attempt).
    pub body: String,
    pub status: String,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<i64>,
    /// Only the item's `ttl`.
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

impl Delivery {
    pub fn key_of(endpoint_id: &str, message_id: &str) -> Key {
        Self::INFO.key(&[endpoint_id], &[message_id])
    }

    /// A new pending delivery of `body`.
    fn new(endpoint_id: &str, message_id: &str, event_type: &str, body: String, now: i64) -> Self {
        Self {
            endpoint_id: endpoint_id.to_string(),
            message_id: message_id.to_string(),
            event_type: event_type.to_string(),
            body,
            status: PENDING.into(),
            attempts: 0,
            response_code: None,
            error: None,
            created_at: now,
            last_attempt_at: None,
            next_attempt_at: Some(now),
            expires_at: now + HISTORY_RETENTION_SECS,
        }
    }

    /// The first attempt's job.
    fn first_job(&self, now: i64) -> WebhookDelivery {
        WebhookDelivery {
            endpoint_id: self.endpoint_id.clone(),
            message_id: self.message_id.clone(),
            attempt: 1,
            due_at: now,
            hop: 0,
        }
    }
}

impl Entity for Delivery {
    const INFO: EntityInfo = EntityInfo::new(
        "webhook_delivery",
        KeyLayout::new(ENDPOINT_PK, Shape::new("DELIVERY", &["message_id"])),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.endpoint_id, &self.message_id)
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// A delivery as the endpoint's owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The `webhook-id` of every attempt.
    #[schema(example = "msg_01J9Z8Q4V6Y7KX2M3N4P5R6S7T")]
    pub message_id: String,
    #[schema(example = "user.registered")]
    pub event_type: String,
    /// `pending` (more attempts to come), `succeeded`, `failed` (every attempt failed, or 410 Gone) or
    /// `dropped` (the endpoint was disabled first).
    pub status: String,
    pub attempts: u32,
    /// The last attempt's HTTP status, when the receiver answered.
    pub response_code: Option<u16>,
    /// Why the last attempt failed without an answer (timeout, refused address), when it did.
    pub error: Option<String>,
    /// Epoch seconds.
    pub created_at: i64,
    pub last_attempt_at: Option<i64>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<i64>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            message_id: d.message_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            response_code: d.response_code,
            error: d.error,
            created_at: d.created_at,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
        }
    }
}

/// The body of a message: `{"type", "timestamp" (RFC 3339), "data"}` (the specification's payload shape).
pub fn body(event_type: &str, timestamp: i64, data: &serde_json::Value) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(timestamp)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    serde_json::json!({"type": event_type, "timestamp": at, "data": data}).to_string()
}

/// The wait before attempt `attempt + 1`, with up to 10% jitter (so an endpoint's backlog does not come back at
/// one instant); `None` after the last attempt.
pub fn retry_after(attempt: u32) -> Option<Duration> {
    let base = *RETRY_SCHEDULE.get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
    let jitter = rand::rng().random_range(0.0..0.1);
    Some(base.mul_f64(1.0 + jitter))
}

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::Retry(e.to_string())
}

impl Webhooks {
    /// The owner's endpoint's deliveries, newest first.
    pub async fn deliveries(
        &self,
        owner_id: &str,
        endpoint_id: &str,
        limit: usize,
        position: Option<String>,
    ) -> WebhookResult<(Vec<DeliveryView>, Option<String>)> {
        self.owned(owner_id, endpoint_id).await?;
        let query = Delivery::INFO
            .query(&[endpoint_id])
            .sk(Delivery::INFO.primary.sk.begins_with(&[]))
            .backwards()
            .limit(limit)
            .after(position);
        let page = self.platform.table.query(query).await?;
        let mut items = Vec::with_capacity(page.items.len());
        for item in page.items {
            items.push(DeliveryView::from(Delivery::from_item(item)?));
        }
        Ok((items, page.cursor))
    }

    /// Sends a test message (`webhook.test`) to the owner's endpoint, whether or not it is enabled for events:
    /// the delivery and its first job in one transaction (the outbox), sent at once.
    pub async fn send_test(
        &self,
        owner_id: &str,
        endpoint_id: &str,
    ) -> WebhookResult<DeliveryView> {
        let endpoint = self.owned(owner_id, endpoint_id).await?;
        if !endpoint.enabled {
            return Err(WebhookError::Conflict(
                "the endpoint is disabled; enable it first".into(),
            ));
        }
        let now = self.now();
        let message_id = format!("msg_{}", lectern_shared::ids::new_id());
        let data = serde_json::json!({"endpoint_id": endpoint_id});
        let delivery = Delivery::new(
            endpoint_id,
            &message_id,
            TEST_EVENT,
            body(TEST_EVENT, now, &data),
            now,
        );
        let job = delivery
            .first_job(now)
            .job()
            .map_err(|e| WebhookError::Internal(e.to_string()))?;
        let entry = OutboxEntry::new::<WebhookDelivery>(job, now, &self.platform.outbox_key)
            .map_err(|e| WebhookError::Internal(e.to_string()))?;
        self.platform
            .table
            .transact(vec![
                lectern_shared::table::TxOp::Put {
                    item: delivery.to_item()?,
                    condition: Condition::NotExists,
                },
                entry.put()?,
            ])
            .await?;
        outbox::deliver(
            self.platform.table.as_ref(),
            self.platform.queue.as_ref(),
            &self.platform.outbox_key,
            &[entry],
            now,
        )
        .await;
        Ok(DeliveryView::from(delivery))
    }

    /// Fans an event out: one delivery per subscribed endpoint, and its first attempt's job.
    pub async fn fan_out(&self, event: &WebhookEvent) -> Result<usize, JobError> {
        let now = self.now();
        let body = body(&event.event_type, event.timestamp, &event.data);
        let mut jobs = Vec::new();
        let mut cursor = None;
        loop {
            let query = Subscription::INFO
                .query(&[&event.event_type])
                .limit(100)
                .after(cursor);
            let page = self.platform.table.query(query).await.map_err(retry)?;
            for item in page.items {
                let sub = Subscription::from_item(item).map_err(retry)?;
                let delivery = Delivery::new(
                    &sub.endpoint_id,
                    &event.id,
                    &event.event_type,
                    body.clone(),
                    now,
                );
                match self
                    .platform
                    .table
                    .put(delivery.to_item().map_err(retry)?, Condition::NotExists)
                    .await
                {
                    // Already there: an earlier run of this job made it (its job is sent again below; the
                    // job's idempotency key makes the copy harmless).
                    Ok(()) | Err(TableError::ConditionFailed) => {}
                    Err(e) => return Err(retry(e)),
                }
                jobs.push(delivery.first_job(now).job().map_err(retry)?);
            }
            cursor = page.cursor;
            if cursor.is_none() {
                break;
            }
        }
        let count = jobs.len();
        if !jobs.is_empty() {
            self.platform
                .queue
                .send(WebhookDelivery::QUEUE, jobs)
                .await
                .map_err(retry)?;
        }
        Ok(count)
    }

    /// Sends `job` again after `delay` (at most SQS's 15 minutes).
    async fn resend(&self, job: WebhookDelivery, delay: Duration) -> Result<(), JobError> {
        let job = job.job().map_err(retry)?.delay(delay.min(MAX_DELAY));
        self.platform
            .queue
            .send(WebhookDelivery::QUEUE, vec![job])
            .await
            .map_err(retry)?;
        Ok(())
    }

    /// The next attempt's job, sent so that it arrives at `due_at` or, when that is over 15 minutes away, as the
    /// first hop of a chain.
    async fn schedule(
        &self,
        delivery: &Delivery,
        attempt: u32,
        due_at: i64,
    ) -> Result<(), JobError> {
        let wait = u64::try_from(due_at - self.now()).unwrap_or(0);
        self.resend(
            WebhookDelivery {
                endpoint_id: delivery.endpoint_id.clone(),
                message_id: delivery.message_id.clone(),
                attempt,
                due_at,
                hop: 0,
            },
            Duration::from_secs(wait),
        )
        .await
    }

    /// Makes one attempt of a delivery, when it is due.
    pub async fn deliver(&self, job: &WebhookDelivery) -> Result<(), JobError> {
        let keys = [
            Endpoint::key_of(&job.endpoint_id),
            Delivery::key_of(&job.endpoint_id, &job.message_id),
        ];
        let items = self.platform.table.batch_get(&keys).await.map_err(retry)?;
        let mut endpoint = None;
        let mut delivery = None;
        for item in items {
            match Key::of(&item) {
                Some(key) if key == keys[0] => {
                    endpoint = Some(Endpoint::from_item(item).map_err(retry)?)
                }
                Some(_) => delivery = Some(Delivery::from_item(item).map_err(retry)?),
                None => {}
            }
        }
        let Some(delivery) = delivery else {
            tracing::info!("delivery expired or its endpoint was deleted; nothing to do");
            return Ok(());
        };
        if delivery.status != PENDING {
            return Ok(());
        }
        if delivery.attempts >= job.attempt {
            // This attempt was recorded, but its run may have died before sending the next: send it (again).
            if delivery.attempts == job.attempt
                && let Some(next) = delivery.next_attempt_at
            {
                self.schedule(&delivery, job.attempt + 1, next).await?;
            }
            return Ok(());
        }
        let now = self.now();
        let Some(endpoint) = endpoint.filter(|e| e.enabled) else {
            let dropped = Delivery {
                status: DROPPED.into(),
                next_attempt_at: None,
                ..delivery.clone()
            };
            self.record(&delivery, dropped).await?;
            return Ok(());
        };
        if now < job.due_at {
            // Early: a hop of a chain of delayed copies (SQS delays 15 minutes at most).
            let next = WebhookDelivery {
                hop: job.hop + 1,
                ..job.clone()
            };
            return self
                .resend(
                    next,
                    Duration::from_secs(u64::try_from(job.due_at - now).unwrap_or(0)),
                )
                .await;
        }
        let keys = endpoint.signing_keys(self, now);
        if keys.is_empty() {
            return Err(JobError::Retry(
                "no signing secret of the endpoint opens with this function's webhooks ring".into(),
            ));
        }
        let headers = [
            ("webhook-id", delivery.message_id.clone()),
            ("webhook-timestamp", now.to_string()),
            (
                "webhook-signature",
                crate::signing::signature_header(&keys, &delivery.message_id, now, &delivery.body),
            ),
        ];
        let outcome = self
            .sender
            .post(&endpoint.url, &headers, delivery.body.clone())
            .await;
        let (succeeded, gone, code, error) = match &outcome {
            Outcome::Answered(code) => ((200..300).contains(code), *code == 410, Some(*code), None),
            Outcome::NoAnswer(why) => (false, false, None, Some(why.clone())),
            Outcome::Refused(why) => (false, false, None, Some(why.to_string())),
        };
        tracing::info!(
            attempt = job.attempt,
            ?code,
            succeeded,
            "webhook attempt made"
        );
        let next_at = if succeeded || gone {
            None
        } else {
            retry_after(job.attempt)
                .map(|wait| now + i64::try_from(wait.as_secs()).unwrap_or(i64::MAX / 2))
        };
        let status = match (succeeded, next_at) {
            (true, _) => SUCCEEDED,
            (false, Some(_)) => PENDING,
            (false, None) => FAILED,
        };
        let after = Delivery {
            status: status.into(),
            attempts: job.attempt,
            response_code: code,
            error,
            last_attempt_at: Some(now),
            next_attempt_at: next_at,
            ..delivery.clone()
        };
        if !self.record(&delivery, after.clone()).await? {
            return Ok(());
        }
        self.endpoint_health(&endpoint, succeeded, gone, now)
            .await?;
        if let Some(next) = next_at {
            self.schedule(&after, job.attempt + 1, next).await?;
        }
        Ok(())
    }

    /// Writes `after` over `before` if no other run recorded an attempt meanwhile; `false` if one did.
    async fn record(&self, before: &Delivery, after: Delivery) -> Result<bool, JobError> {
        let condition = Condition::equals("attempts", before.attempts);
        match self
            .platform
            .table
            .put(after.to_item().map_err(retry)?, condition)
            .await
        {
            Ok(()) => Ok(true),
            Err(TableError::ConditionFailed) => {
                tracing::info!("another run recorded this attempt");
                Ok(false)
            }
            Err(e) => Err(retry(e)),
        }
    }

    /// Keeps the endpoint's failure run up to date and disables it when it answered 410 or has failed for
    /// [`DISABLE_AFTER_SECS`] (telling its owner in the same transaction). Retries on a concurrent change.
    async fn endpoint_health(
        &self,
        endpoint: &Endpoint,
        succeeded: bool,
        gone: bool,
        now: i64,
    ) -> Result<(), JobError> {
        let mut current = endpoint.clone();
        for _ in 0..3 {
            let mut after = current.clone();
            let mut disable = None;
            if succeeded {
                after.failing_since = None;
            } else {
                let since = *after.failing_since.get_or_insert(now);
                if gone {
                    disable = Some(DISABLED_GONE);
                } else if now - since >= DISABLE_AFTER_SECS {
                    disable = Some(DISABLED_FAILING);
                }
            }
            if disable.is_some() && current.enabled {
                after.enabled = false;
                after.disabled_reason = disable.map(str::to_string);
                after.updated_at = now;
            } else if after.failing_since == current.failing_since {
                return Ok(());
            }
            let notice = match (&after.disabled_reason, after.enabled, current.enabled) {
                (Some(reason), false, true) => Some(self.disabled_notice(&after, reason, now)?),
                _ => None,
            };
            let extra = match &notice {
                Some(entry) => vec![entry.put().map_err(retry)?],
                None => Vec::new(),
            };
            match self.save(&current, after, extra).await {
                Ok(_) => {
                    if let Some(entry) = notice {
                        tracing::warn!(endpoint_id = %endpoint.endpoint_id, "webhook endpoint disabled");
                        outbox::deliver(
                            self.platform.table.as_ref(),
                            self.platform.queue.as_ref(),
                            &self.platform.outbox_key,
                            &[entry],
                            now,
                        )
                        .await;
                    }
                    return Ok(());
                }
                Err(WebhookError::Conflict(_)) => {
                    match self.endpoint(&endpoint.endpoint_id).await {
                        Ok(Some(fresh)) => current = fresh,
                        Ok(None) => return Ok(()),
                        Err(e) => return Err(retry(e)),
                    }
                }
                Err(e) => return Err(retry(e)),
            }
        }
        Err(JobError::Retry("the endpoint kept changing".into()))
    }

    /// The owner's notification that an endpoint was disabled, for the outbox. Sent as a security notification:
    /// an integration that stopped silently is what an owner must hear, and that type cannot be switched off.
    fn disabled_notice(
        &self,
        endpoint: &Endpoint,
        reason: &str,
        now: i64,
    ) -> Result<OutboxEntry, JobError> {
        let why = if reason == DISABLED_GONE {
            "it answered 410 Gone"
        } else {
            "every delivery to it failed for 5 days"
        };
        let notify = Notify {
            user_id: endpoint.owner_id.clone(),
            category: NotificationType::Security,
            content: NotificationContent::Message {
                title: "A webhook endpoint was disabled".into(),
                body: format!(
                    "Your webhook endpoint {} was disabled because {why}. Fix it, then enable it again.",
                    endpoint.url
                ),
                link: None,
            },
            key: format!(
                "webhook-disabled:{}:{}",
                endpoint.endpoint_id,
                endpoint.version + 1
            ),
        };
        let job: NewJob = notify.job().map_err(retry)?;
        OutboxEntry::new::<Notify>(job, now, &self.platform.outbox_key).map_err(retry)
    }
}

/// `webhooks.event`: fans an event out to its subscribed endpoints.
pub struct FanOut(pub Arc<Webhooks>);

#[async_trait]
impl JobHandler for FanOut {
    fn kind(&self) -> &'static str {
        WebhookEvent::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let event: WebhookEvent = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let count = self.0.fan_out(&event).await?;
        tracing::info!(event_type = %event.event_type, endpoints = count, "webhook event fanned out");
        Ok(())
    }
}

/// `webhooks.deliver`: one attempt of one delivery.
pub struct Deliver(pub Arc<Webhooks>);

#[async_trait]
impl JobHandler for Deliver {
    fn kind(&self) -> &'static str {
        WebhookDelivery::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let delivery: WebhookDelivery = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        self.0.deliver(&delivery).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_schedule_is_the_specifications_with_up_to_ten_percent_jitter() {
        let expected = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400];
        for (i, base) in expected.iter().enumerate() {
            let wait = retry_after(i as u32 + 1).unwrap().as_secs_f64();
            assert!(
                wait >= *base as f64 && wait <= *base as f64 * 1.1,
                "attempt {}",
                i + 1
            );
        }
        assert_eq!(retry_after(MAX_ATTEMPTS), None);
        assert_eq!(retry_after(0), None);
    }

    #[test]
    fn the_body_is_type_timestamp_and_data() {
        let b = body("user.registered", 0, &serde_json::json!({"user_id": "U"}));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&b).unwrap(),
            serde_json::json!({"type": "user.registered", "timestamp": "1970-01-01T00:00:00Z",
                "data": {"user_id": "U"}})
        );
    }
}
