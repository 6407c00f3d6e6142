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

/// How long a claim protects a running job from a duplicate when nobody renews it. It must stay shorter than the
/// visibility timeout of every queue a worker serves (180 s in the SAM template, `LECTERN_QUEUE_VISIBILITY_SECS`
/// in the dev server, which refuses a value this short): a worker that dies mid-job (a crash, a Lambda timeout)
/// leaves its claim behind, and the claim must have lapsed by the time the message is visible again, or every
/// redelivery answers "busy" until the message is dead-lettered without the job ever running again.
pub const CLAIM_LEASE: Duration = Duration::from_secs(30);
/// How long a finished job's key is remembered (duplicates sent within this window are skipped).
pub const DONE_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// A duplicate that finds a claim about to lapse waits this long at most and claims again, rather than giving
/// the message back (each redelivery counts towards the dead-letter limit).
pub const BUSY_WAIT: Duration = Duration::from_secs(2);

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
/// [`DONE_RETENTION`] as long as the worker holding the claim stays alive (a worker that dies mid-job loses its
/// claim after the lease, and the redelivery runs the job again).
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
    /// When each failed message should be seen again: the backoff of its receive count, or, for a job another
    /// worker is running, just after that worker's claim would lapse.
    pub delays: HashMap<String, Duration>,
}

impl BatchOutcome {
    /// When a failed message should be delivered again.
    pub fn retry_delay(&self, message_id: &str) -> Option<Duration> {
        self.delays.get(message_id).copied()
    }
}

/// Routes jobs to handlers.
pub struct Worker {
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    table: Arc<dyn Table>,
    clock: SharedClock,
    lease: Duration,
}

/// What a claim attempt found.
enum Claim {
    Run,
    AlreadyDone,
    /// Another attempt holds the claim for about this much longer.
    Busy(Duration),
}

/// How one delivery ended.
enum Settled {
    Ack,
    Retry(Duration),
}

impl Worker {
    pub fn new(table: Arc<dyn Table>, clock: SharedClock) -> Self {
        Self {
            handlers: HashMap::new(),
            table,
            clock,
            lease: CLAIM_LEASE,
        }
    }

    /// Uses another claim lease (at least a second): tests on real time shorten it. Keep it shorter than the
    /// visibility timeout of the queue (see [`CLAIM_LEASE`]).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_secs(1));
        self
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

    /// Runs every delivery (concurrently) and reports which succeeded and which must be retried, and when.
    pub async fn process_batch(&self, deliveries: Vec<Delivery>) -> BatchOutcome {
        let results = futures::future::join_all(deliveries.iter().map(|d| async move {
            let settled =
                crate::http::request_id::scope(d.job.id.clone(), self.process_one(d)).await;
            (d.message_id.clone(), settled)
        }))
        .await;
        let mut outcome = BatchOutcome::default();
        for (id, settled) in results {
            match settled {
                Settled::Ack => outcome.done.push(id),
                Settled::Retry(delay) => {
                    outcome.delays.insert(id.clone(), delay);
                    outcome.failed.push(id);
                }
            }
        }
        outcome
    }

    #[tracing::instrument(skip_all, fields(job_id = %delivery.job.id, kind = %delivery.job.kind, receive_count = delivery.receive_count))]
    async fn process_one(&self, delivery: &Delivery) -> Settled {
        let job = &delivery.job;
        let backoff = Settled::Retry(retry_delay(delivery.receive_count));
        let Some(handler) = self.handlers.get(job.kind.as_str()) else {
            // Retrying lets a newer deployment that knows the kind pick it up; otherwise it dead-letters.
            tracing::error!("no handler for this job kind");
            self.record_failure(delivery, "no handler for this job kind")
                .await;
            return backoff;
        };
        let Some(idempotency_key) = job.idempotency_key.as_deref() else {
            return match handler.handle(job).await {
                Ok(()) => {
                    tracing::info!("job done");
                    Settled::Ack
                }
                Err(e) => self.failed(delivery, e, backoff).await,
            };
        };
        // One token per attempt: the claim is this attempt's, not this process's, so two deliveries of one job in
        // one batch cannot both pass as its owner.
        let owner = crate::ids::new_id();
        let claim = JobClaim::running(&job.kind, idempotency_key, &owner, self.lease_until());
        match self.claim(&claim).await {
            Ok(Claim::Run) => {}
            Ok(Claim::AlreadyDone) => {
                tracing::info!("duplicate of a finished job; skipped");
                return Settled::Ack;
            }
            Ok(Claim::Busy(remaining)) => {
                // Come back just after the claim would lapse: by then the job is done (and this duplicate is
                // skipped) or its worker died (and this delivery runs it). Any earlier costs another receive.
                let delay = remaining + Duration::from_secs(1);
                tracing::info!(retry_in = ?delay, "same job is running elsewhere; retry when its claim ends");
                return Settled::Retry(delay);
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not claim job");
                return backoff;
            }
        }
        let key = claim.key();
        let renewing = async {
            self.renew(&key, &owner).await;
            // Renewal gave up (the claim is no longer ours): the handler still runs to its end.
            std::future::pending::<Result<(), JobError>>().await
        };
        let result = tokio::select! {
            result = handler.handle(job) => result,
            never = renewing => never,
        };
        match result {
            Ok(()) => {
                self.finish(&claim, &owner, "done").await;
                tracing::info!("job done");
                Settled::Ack
            }
            Err(JobError::Permanent(reason)) => {
                self.finish(&claim, &owner, "failed").await;
                self.failed(delivery, JobError::Permanent(reason), backoff)
                    .await
            }
            Err(JobError::Retry(reason)) => {
                // Release the claim so the retry does not wait for the lease to lapse; only our own claim.
                if let Err(e) = self.table.delete(&key, owned_running(&owner)).await
                    && !matches!(e, TableError::ConditionFailed)
                {
                    tracing::warn!(error = %e, "could not release job claim");
                }
                self.failed(delivery, JobError::Retry(reason), backoff)
                    .await
            }
        }
    }

    async fn failed(&self, delivery: &Delivery, error: JobError, backoff: Settled) -> Settled {
        match error {
            JobError::Permanent(reason) => {
                tracing::error!(%reason, "job failed permanently; not retried");
                Settled::Ack
            }
            JobError::Retry(reason) => {
                tracing::warn!(%reason, "job failed; will retry");
                self.record_failure(delivery, &reason).await;
                backoff
            }
        }
    }

    /// Keeps the job's last error for the dead-letter view (`failures`); losing it only loses that detail.
    async fn record_failure(&self, delivery: &Delivery, reason: &str) {
        let failure = super::failures::JobFailure::new(
            &delivery.job.id,
            &delivery.job.kind,
            reason,
            delivery.receive_count,
            self.clock.epoch_seconds(),
        );
        if let Err(e) = failure.record(self.table.as_ref()).await {
            tracing::warn!(error = %e, "could not record the job's failure");
        }
    }

    fn lease_until(&self) -> i64 {
        self.clock.epoch_seconds() + self.lease.as_secs() as i64
    }

    async fn claim(&self, claim: &JobClaim) -> Result<Claim, TableError> {
        // Twice at most: once more after a claim lapsed under our eyes or was about to.
        for attempt in 0..2 {
            match self.table.put(claim.to_item()?, Condition::NotExists).await {
                Ok(()) => return Ok(Claim::Run),
                Err(TableError::ConditionFailed) => {}
                Err(e) => return Err(e),
            }
            let existing = self.table.get(&claim.key()).await?;
            match existing.map(JobClaim::from_item).transpose()? {
                Some(other) if other.state == RUNNING => {
                    let left = (other.expires_at - self.clock.epoch_seconds()).max(0) as u64;
                    let remaining = Duration::from_secs(left);
                    if attempt == 0 && remaining <= BUSY_WAIT {
                        // Its holder stopped renewing (renewals keep a live claim a full lease away): wait it out.
                        tokio::time::sleep(remaining + Duration::from_millis(100)).await;
                        continue;
                    }
                    return Ok(Claim::Busy(remaining));
                }
                Some(_) => return Ok(Claim::AlreadyDone),
                // The claim lapsed between our put and get: claim it now.
                None => continue,
            }
        }
        Ok(Claim::Busy(self.lease))
    }

    /// Keeps the claim a full lease ahead while the handler runs, renewing every third of a lease (two renewals
    /// may fail before it lapses). Returns when the claim is no longer ours.
    async fn renew(&self, key: &Key, owner: &str) {
        let every = self.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let update = JobClaim::INFO.update().set(TTL, self.lease_until());
            match self.table.update(key, update, owned_running(owner)).await {
                Ok(_) => {}
                Err(TableError::ConditionFailed) => {
                    tracing::warn!(
                        "job claim lost while running (renewals failed for a lease); a duplicate may run"
                    );
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "could not renew job claim; will try again"),
            }
        }
    }

    /// Records how the job ended under its claim, if the claim is still ours. If it lapsed (renewals failed) and
    /// nobody took it over, the record is written anyway; if another attempt holds it now, its claim is left alone.
    async fn finish(&self, claim: &JobClaim, owner: &str, state: &str) {
        let ttl = self.clock.epoch_seconds() + DONE_RETENTION.as_secs() as i64;
        let key = claim.key();
        let update = JobClaim::INFO.update().set("state", state).set(TTL, ttl);
        let result = match self.table.update(&key, update, owned_running(owner)).await {
            Err(TableError::ConditionFailed) => {
                let record = JobClaim {
                    state: state.into(),
                    expires_at: ttl,
                    ..claim.clone()
                };
                match record.to_item() {
                    Ok(item) => self.table.put(item, Condition::NotExists).await,
                    Err(e) => Err(e),
                }
            }
            other => other.map(drop),
        };
        match result {
            Ok(()) => {}
            Err(TableError::ConditionFailed) => {
                tracing::warn!("another attempt holds this job's claim now; the job may run twice");
            }
            // The job ran; a lost marker only means a duplicate could run again.
            Err(e) => tracing::warn!(error = %e, "could not record finished job"),
        }
    }
}

/// The claim is still running and held by `owner`.
fn owned_running(owner: &str) -> Condition {
    Condition::All(vec![
        Condition::equals("owner", owner),
        Condition::equals("state", RUNNING),
    ])
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
        let receipts: HashMap<String, String> = deliveries
            .iter()
            .map(|d| (d.message_id.clone(), d.receipt.clone()))
            .collect();
        let outcome = worker.process_batch(deliveries).await;
        settle(queue.as_ref(), name, &receipts, &outcome).await;
    }
}

/// Acknowledges what a batch finished and schedules each failure for its retry delay (`receipts` maps message ids
/// to receipts). A failed acknowledgement or reschedule is logged: the visibility timeout redelivers the message.
pub async fn settle(
    queue: &dyn Queue,
    name: &str,
    receipts: &HashMap<String, String>,
    outcome: &BatchOutcome,
) {
    for id in &outcome.done {
        if let Some(receipt) = receipts.get(id)
            && let Err(e) = queue.ack(name, receipt).await
        {
            tracing::warn!(queue = name, error = %e, "ack failed; the job may run again");
        }
    }
    for id in &outcome.failed {
        let delay = outcome.retry_delay(id).unwrap_or(Duration::ZERO);
        if let Some(receipt) = receipts.get(id)
            && let Err(e) = queue.retry_later(name, receipt, delay).await
        {
            tracing::warn!(queue = name, error = %e, "could not schedule retry; visibility timeout will");
        }
    }
}
