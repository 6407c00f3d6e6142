//! The worker side of the queue: routes each job to the handler for its kind, makes handlers idempotent, and
//! reports per-message failures. SQS Lambdas ([`crate::lambda::run_sqs_worker`]) and the dev server's poller
//! ([`poll`]) both call [`Worker::process_batch`], so jobs behave the same everywhere.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::claims::{JobClaim, RUNNING};
use super::{Delivery, Job, Queue};
use crate::clock::SharedClock;
use crate::table::{Condition, Entity, Key, TTL, Table, TableError};

/// How long a claimed job is protected from a concurrent duplicate before the claim lapses.
pub const CLAIM_LEASE: Duration = Duration::from_secs(15 * 60);
/// How long a finished job's key is remembered (duplicates sent within this window are skipped).
pub const DONE_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Might work later (dependency down, throttled): the message is retried.
    #[error("retryable: {0}")]
    Retry(String),
    /// Will never work (bad payload, rejected address): logged, recorded and not retried.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Handles one kind of job. Handlers must tolerate running more than once for the same job when the job has no
/// idempotency key; with one, the worker guarantees at most one successful run per key within
/// [`DONE_RETENTION`].
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The job kind this handler takes (`JobKind::KIND`).
    fn kind(&self) -> &'static str;
    async fn handle(&self, job: &Job) -> Result<(), JobError>;
}

/// What happened to a batch.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Message ids to acknowledge (done, skipped as duplicate, or permanently failed).
    pub done: Vec<String>,
    /// Message ids to retry.
    pub failed: Vec<String>,
}

/// Routes jobs to handlers.
pub struct Worker {
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    table: Arc<dyn Table>,
    clock: SharedClock,
}

enum Claim {
    Run,
    AlreadyDone,
    Busy,
}

impl Worker {
    pub fn new(table: Arc<dyn Table>, clock: SharedClock) -> Self {
        Self {
            handlers: HashMap::new(),
            table,
            clock,
        }
    }

    /// Registers a handler; a later handler for the same kind replaces the earlier one.
    pub fn with(mut self, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.insert(handler.kind(), handler);
        self
    }

    /// The kinds this worker handles.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    /// Runs every delivery (concurrently) and reports which succeeded and which must be retried.
    pub async fn process_batch(&self, deliveries: Vec<Delivery>) -> BatchOutcome {
        let results = futures::future::join_all(deliveries.iter().map(|d| async move {
            let ok = crate::http::request_id::scope(d.job.id.clone(), self.process_one(d)).await;
            (d.message_id.clone(), ok)
        }))
        .await;
        let mut outcome = BatchOutcome::default();
        for (id, ok) in results {
            if ok {
                outcome.done.push(id)
            } else {
                outcome.failed.push(id)
            }
        }
        outcome
    }

    #[tracing::instrument(skip_all, fields(job_id = %delivery.job.id, kind = %delivery.job.kind, receive_count = delivery.receive_count))]
    async fn process_one(&self, delivery: &Delivery) -> bool {
        let job = &delivery.job;
        let Some(handler) = self.handlers.get(job.kind.as_str()) else {
            // Retrying lets a newer deployment that knows the kind pick it up; otherwise it dead-letters.
            tracing::error!("no handler for this job kind");
            return false;
        };
        let lease_until = self.clock.epoch_seconds() + CLAIM_LEASE.as_secs() as i64;
        let claim = job
            .idempotency_key
            .as_deref()
            .map(|k| JobClaim::running(&job.kind, k, lease_until));
        let record = claim.as_ref().map(JobClaim::key);
        if let Some(claim) = &claim {
            match self.claim(claim).await {
                Ok(Claim::Run) => {}
                Ok(Claim::AlreadyDone) => {
                    tracing::info!("duplicate of a finished job; skipped");
                    return true;
                }
                Ok(Claim::Busy) => {
                    tracing::info!("same job is running elsewhere; retry later");
                    return false;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim job");
                    return false;
                }
            }
        }
        match handler.handle(job).await {
            Ok(()) => {
                if let Some(key) = &record {
                    self.finish(key, "done").await;
                }
                tracing::info!("job done");
                true
            }
            Err(JobError::Permanent(reason)) => {
                tracing::error!(%reason, "job failed permanently; not retried");
                if let Some(key) = &record {
                    self.finish(key, "failed").await;
                }
                true
            }
            Err(JobError::Retry(reason)) => {
                tracing::warn!(%reason, "job failed; will retry");
                if let Some(key) = &record {
                    // Release the claim so the retry does not wait for the lease to lapse.
                    if let Err(e) = self
                        .table
                        .delete(key, Condition::equals("state", RUNNING))
                        .await
                    {
                        tracing::warn!(error = %e, "could not release job claim");
                    }
                }
                false
            }
        }
    }

    async fn claim(&self, claim: &JobClaim) -> Result<Claim, TableError> {
        match self.table.put(claim.to_item()?, Condition::NotExists).await {
            Ok(()) => Ok(Claim::Run),
            Err(TableError::ConditionFailed) => {
                let existing = self.table.get(&claim.key()).await?;
                match existing.map(JobClaim::from_item).transpose()? {
                    Some(other) if other.state == RUNNING => Ok(Claim::Busy),
                    Some(_) => Ok(Claim::AlreadyDone),
                    // The claim lapsed between our put and get; let the retry claim it.
                    None => Ok(Claim::Busy),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn finish(&self, key: &Key, state: &str) {
        let ttl = self.clock.epoch_seconds() + DONE_RETENTION.as_secs() as i64;
        let update = JobClaim::INFO.update().set("state", state).set(TTL, ttl);
        if let Err(e) = self.table.update(key, update, Condition::Always).await {
            // The job ran; a lost marker only means a duplicate could run again.
            tracing::warn!(error = %e, "could not record finished job");
        }
    }
}

/// Backoff before a failed message is visible again: 2^receives seconds, capped at 5 minutes.
pub fn retry_delay(receive_count: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(receive_count.min(16)).min(300))
}

/// Polls a queue and runs its jobs until `stop` is cancelled; used by the dev server (Lambda gets batches
/// pushed instead). A batch in progress is finished before returning; a process killed mid-batch loses nothing,
/// because unacknowledged messages become visible again after `visibility`.
pub async fn poll(
    queue: Arc<dyn Queue>,
    name: &'static str,
    worker: Arc<Worker>,
    visibility: Duration,
    stop: CancellationToken,
) {
    let idle = Duration::from_millis(250);
    while !stop.is_cancelled() {
        let deliveries = match queue.receive(name, 10, visibility).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(queue = name, error = %e, "receive failed");
                Vec::new()
            }
        };
        if deliveries.is_empty() {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(idle) => continue,
            }
        }
        let receipts: HashMap<String, (String, u32)> = deliveries
            .iter()
            .map(|d| (d.message_id.clone(), (d.receipt.clone(), d.receive_count)))
            .collect();
        let outcome = worker.process_batch(deliveries).await;
        for id in &outcome.done {
            if let Some((receipt, _)) = receipts.get(id)
                && let Err(e) = queue.ack(name, receipt).await
            {
                tracing::warn!(queue = name, error = %e, "ack failed; the job may run again");
            }
        }
        for id in &outcome.failed {
            if let Some((receipt, count)) = receipts.get(id)
                && let Err(e) = queue.retry_later(name, receipt, retry_delay(*count)).await
            {
                tracing::warn!(queue = name, error = %e, "could not schedule retry; visibility timeout will");
            }
        }
    }
}
