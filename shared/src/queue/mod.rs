//! The job queue port: producers send typed jobs; workers receive batches, report per-message failures, and
//! failed messages come back until they have been received `max_receives` times, after which they move to a
//! dead-letter store. On AWS this is SQS with a redrive policy; embedded, a durable queue in the redb file.
//!
//! Delivery is at least once. Handlers are made idempotent by [`worker`], which records each job's
//! idempotency key in the table after success and skips jobs already done.

pub mod claims;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod failures;
pub mod outbox;
#[cfg(feature = "aws-sqs")]
pub mod sqs;
pub mod worker;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

/// Longest delay SQS supports; the embedded queue enforces the same so code behaves alike.
/// Longest visibility timeout or retry delay (SQS's limit), the same on both adapters.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Most jobs in one send batch (SQS's limit; adapters split larger batches).
pub const MAX_BATCH: usize = 10;
/// Largest encoded job (SQS's limit is 256 KiB).
pub const MAX_JOB_BYTES: usize = 256 * 1024;

/// A job type: its payload type knows its kind and which queue carries it.
pub trait JobKind: Serialize + DeserializeOwned + Send + Sync {
    /// Stable name used to route the job to its handler, e.g. `email.send`.
    const KIND: &'static str;
    /// The logical queue (see [`queues`]).
    const QUEUE: &'static str;
}

/// The logical queues. Each maps to an SQS queue (with its own DLQ) on AWS.
pub mod queues {
    /// Outgoing email and other user notifications.
    pub const NOTIFICATIONS: &str = "notifications";
    /// Background work of every other kind.
    pub const JOBS: &str = "jobs";
    /// The learning domain's background work (its worker is the queue's only consumer: on SQS, a queue feeds one
    /// Lambda, so a domain's jobs travel on the domain's own queue).
    pub const LEARNING: &str = "learning";
    pub const ALL: [&str; 3] = [NOTIFICATIONS, JOBS, LEARNING];
}

/// A job as it travels through the queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Unique id of this job (a ULID).
    pub id: String,
    pub kind: String,
    pub payload: Value,
    /// Jobs with the same key are done at most once (within the retention of the done-marker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// A job to send.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    pub job: Job,
    /// Not delivered before this delay has passed (at most [`MAX_DELAY`]).
    pub delay: Duration,
}

impl NewJob {
    /// Builds a job from a typed payload with a fresh id.
    pub fn new<J: JobKind>(payload: &J) -> Result<Self, QueueError> {
        let payload =
            serde_json::to_value(payload).map_err(|e| QueueError::Invalid(e.to_string()))?;
        Ok(Self {
            job: Job {
                id: crate::ids::new_id(),
                kind: J::KIND.to_string(),
                payload,
                idempotency_key: None,
            },
            delay: Duration::ZERO,
        })
    }
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.job.idempotency_key = Some(key.into());
        self
    }
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One received message.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// The transport's message id (SQS MessageId); what batch failure reports name.
    pub message_id: String,
    /// Handle to acknowledge or retry this receipt.
    pub receipt: String,
    /// How many times this message has been received, including this time (starts at 1).
    pub receive_count: u32,
    pub job: Job,
}

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("invalid job: {0}")]
    Invalid(String),
    #[error("unknown queue {0:?}")]
    UnknownQueue(String),
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

pub type QueueResult<T> = Result<T, QueueError>;

/// The queue. Implementations: [`sqs::SqsQueue`] and [`embedded::EmbeddedQueue`].
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Sends jobs to a logical queue; returns their message ids in order. Any number of jobs may be given.
    async fn send(&self, queue: &str, jobs: Vec<NewJob>) -> QueueResult<Vec<String>>;

    /// Receives up to `max` (at most [`MAX_BATCH`]) visible messages and hides them for `visibility`. Messages received more than the
    /// queue's maximum number of times are moved to the dead-letter store instead of being returned.
    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> QueueResult<Vec<Delivery>>;

    /// Removes a processed message.
    async fn ack(&self, queue: &str, receipt: &str) -> QueueResult<()>;

    /// Makes a failed message visible again after `delay`.
    async fn retry_later(&self, queue: &str, receipt: &str, delay: Duration) -> QueueResult<()>;

    /// Lists messages in the queue's dead-letter store (oldest first, at most `max`).
    async fn dead_letters(&self, queue: &str, max: usize) -> QueueResult<Vec<Delivery>>;

    /// How many messages the queue's dead-letter store holds (SQS: its approximate count).
    async fn dead_letter_count(&self, queue: &str) -> QueueResult<u64>;

    /// Moves up to `max` dead letters (oldest first) back onto the queue, as new messages with their jobs
    /// unchanged (same job id and idempotency key, so a job that did finish meanwhile is skipped by its worker);
    /// answers how many moved.
    async fn redrive(&self, queue: &str, max: usize) -> QueueResult<usize>;

    /// Checks that the queue is reachable (for readiness probes).
    async fn ping(&self) -> QueueResult<()>;
}

/// Sends one typed job.
pub async fn enqueue<J: JobKind>(queue: &dyn Queue, job: NewJob) -> QueueResult<String> {
    let ids = queue.send(J::QUEUE, vec![job]).await?;
    ids.into_iter()
        .next()
        .ok_or_else(|| QueueError::Unavailable("no message id returned".into()))
}

/// Checks a job before sending: known queue, delay and size within limits.
pub fn validate(queue: &str, job: &NewJob) -> QueueResult<Vec<u8>> {
    if !queues::ALL.contains(&queue) {
        return Err(QueueError::UnknownQueue(queue.to_string()));
    }
    if job.delay > MAX_DELAY {
        return Err(QueueError::Invalid("delay is over 15 minutes".into()));
    }
    let body = serde_json::to_vec(&job.job).map_err(|e| QueueError::Invalid(e.to_string()))?;
    if body.len() > MAX_JOB_BYTES {
        return Err(QueueError::Invalid(format!(
            "job is {} bytes, over {MAX_JOB_BYTES}",
            body.len()
        )));
    }
    Ok(body)
}
