//! The worker's contract with a queue and a table: a job with an idempotency key runs to success exactly once,
//! also when the worker that claimed it dies, also when a duplicate arrives while it runs. Every case runs on the
//! embedded queue and table (manual clock) and on SQS and DynamoDB (moto, real time) by
//! `shared/tests/contract_worker.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::Notify;

use super::Time;
use super::queue::receive_n;
use crate::clock::SharedClock;
use crate::queue::claims::{JobClaim, RUNNING};
use crate::queue::worker::{JobError, JobHandler, Worker};
use crate::queue::{Delivery, Job, NewJob, Queue, queues};
use crate::table::{Entity, Table};

const Q: &str = queues::JOBS;
const KIND: &str = "test.job";

/// The stores a case's workers share, and the times it runs with.
pub struct Setup {
    pub table: Arc<dyn Table>,
    pub clock: SharedClock,
    /// The visibility timeout receives use: longer than the worker's claim lease, as in the SAM template.
    pub visibility: Duration,
    /// The claim lease of the workers.
    pub lease: Duration,
    /// A short lease for cases that wait for renewals (they tick on real time, whatever the clock).
    pub quick_lease: Duration,
}

impl Setup {
    /// A worker with the given handler and lease: each call is a new process, sharing nothing but the stores.
    pub fn worker(&self, handler: Arc<dyn JobHandler>, lease: Duration) -> Worker {
        Worker::new(self.table.clone(), self.clock.clone())
            .with_lease(lease)
            .with(handler)
    }
}

/// A handler whose first `hang` attempts never return (a worker that dies or hangs mid-job) and whose later
/// attempts succeed; it counts attempts and successes.
pub struct Scripted {
    hang: usize,
    attempts: AtomicUsize,
    successes: AtomicUsize,
    started: Notify,
    release: Notify,
}

impl Scripted {
    pub fn new(hang: usize) -> Arc<Self> {
        Arc::new(Self {
            hang,
            attempts: AtomicUsize::new(0),
            successes: AtomicUsize::new(0),
            started: Notify::new(),
            release: Notify::new(),
        })
    }
    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
    pub fn successes(&self) -> usize {
        self.successes.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl JobHandler for Scripted {
    fn kind(&self) -> &'static str {
        KIND
    }
    async fn handle(&self, _job: &Job) -> Result<(), JobError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst);
        self.started.notify_one();
        if attempt < self.hang {
            // Holds until released (or forever: the task is aborted, as a process is killed).
            self.release.notified().await;
        }
        self.successes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn keyed_job(key: &str) -> NewJob {
    NewJob {
        job: Job {
            id: crate::ids::new_id(),
            kind: KIND.into(),
            payload: json!({}),
            idempotency_key: Some(key.into()),
        },
        delay: Duration::ZERO,
    }
}

async fn claim_state(table: &dyn Table, key: &str) -> Option<JobClaim> {
    table
        .get(&JobClaim::key_of(KIND, key))
        .await
        .unwrap()
        .map(|item| JobClaim::from_item(item).unwrap())
}

/// Runs a batch in a task of its own, the way a process runs it, and returns once the handler has started.
async fn start_in_background(
    worker: Worker,
    handler: &Scripted,
    deliveries: Vec<Delivery>,
) -> tokio::task::JoinHandle<crate::queue::worker::BatchOutcome> {
    let started = handler.started.notified();
    let task = tokio::spawn(async move { worker.process_batch(deliveries).await });
    tokio::time::timeout(Duration::from_secs(10), started)
        .await
        .expect("the handler starts");
    task
}

/// The worker dies mid-job (process killed, Lambda timeout): its claim is left behind. The message comes back
/// after its visibility timeout, and the job must run then — not answer "busy" until the message is
/// dead-lettered.
pub async fn a_job_whose_handler_died_runs_again_on_redelivery(
    q: &dyn Queue,
    time: &Time,
    setup: &Setup,
) {
    let table = &setup.table;
    let key = format!("died-{}", crate::ids::new_id());
    q.send(Q, vec![keyed_job(&key)]).await.unwrap();
    let first = receive_n(q, Q, 1, setup.visibility, time).await;
    assert_eq!(first.len(), 1);

    let handler = Scripted::new(1);
    let dying =
        start_in_background(setup.worker(handler.clone(), setup.lease), &handler, first).await;
    dying.abort(); // the process is gone
    let _ = dying.await;
    let left = claim_state(&**table, &key)
        .await
        .expect("the claim is left behind");
    assert_eq!(left.state, RUNNING);

    time.pass(setup.visibility + Duration::from_secs(1)).await;
    // Every redelivery is handled by a fresh process; none may answer "busy" for the dead one's claim.
    let mut ran = false;
    for _ in 0..crate::testing::embedded::MAX_RECEIVES {
        let again = receive_n(q, Q, 1, setup.visibility, time).await;
        if again.is_empty() {
            break;
        }
        let outcome = setup
            .worker(handler.clone(), setup.lease)
            .process_batch(again.clone())
            .await;
        if outcome.done == vec![again[0].message_id.clone()] {
            q.ack(Q, &again[0].receipt).await.unwrap();
            ran = true;
            break;
        }
        time.pass(setup.visibility + Duration::from_secs(1)).await;
    }
    assert!(ran, "the redelivered job ran and succeeded");
    assert_eq!(
        (handler.attempts(), handler.successes()),
        (2, 1),
        "the dead attempt and one successful run"
    );
    assert_eq!(
        claim_state(&**table, &key)
            .await
            .map(|c| c.state)
            .as_deref(),
        Some("done")
    );
    time.pass(Duration::from_millis(1500)).await;
    assert!(q.receive(Q, 10, setup.visibility).await.unwrap().is_empty());
    assert!(
        q.dead_letters(Q, 10).await.unwrap().is_empty(),
        "nothing reaches the dead-letter queue"
    );
}

/// A duplicate arrives while the job runs longer than one lease: the running worker keeps its claim alive, the
/// duplicate is answered "busy" with a retry no later than the claim's end (one receive, not a string of them),
/// and once the job is done the duplicate is acknowledged without running.
pub async fn a_duplicate_of_a_long_running_job_waits_and_is_then_skipped(
    q: &dyn Queue,
    time: &Time,
    setup: &Setup,
) {
    let (table, lease) = (&setup.table, setup.quick_lease);
    let key = format!("long-{}", crate::ids::new_id());
    q.send(Q, vec![keyed_job(&key), keyed_job(&key)])
        .await
        .unwrap();
    let both = receive_n(q, Q, 2, setup.visibility, time).await;
    assert_eq!(both.len(), 2);
    let (original, duplicate) = (both[0].clone(), both[1].clone());

    let handler = Scripted::new(1);
    let running = start_in_background(
        setup.worker(handler.clone(), lease),
        &handler,
        vec![original.clone()],
    )
    .await;
    // Let more than a lease pass while the job runs, a renewal at a time.
    for _ in 0..lease.as_secs() + 2 {
        time.pass(Duration::from_secs(1)).await;
        tokio::time::sleep(lease / 3 + Duration::from_millis(150)).await;
    }
    let busy = setup
        .worker(handler.clone(), lease)
        .process_batch(vec![duplicate.clone()])
        .await;
    assert_eq!(busy.failed, vec![duplicate.message_id.clone()], "{busy:?}");
    let delay = busy
        .retry_delay(&duplicate.message_id)
        .expect("a busy job says when to retry");
    assert!(
        delay <= lease + Duration::from_secs(2),
        "the retry waits for the claim, not longer: {delay:?}"
    );
    assert_eq!(handler.attempts(), 1, "the duplicate did not run");
    q.retry_later(Q, &duplicate.receipt, delay).await.unwrap();

    handler.release.notify_one();
    let outcome = running.await.unwrap();
    assert_eq!(outcome.done, vec![original.message_id.clone()]);
    q.ack(Q, &original.receipt).await.unwrap();

    time.pass(delay + Duration::from_secs(1)).await;
    let again = receive_n(q, Q, 1, setup.visibility, time).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, duplicate.message_id);
    let outcome = setup
        .worker(handler.clone(), lease)
        .process_batch(again.clone())
        .await;
    assert_eq!(outcome.done, vec![duplicate.message_id.clone()]);
    q.ack(Q, &again[0].receipt).await.unwrap();
    assert_eq!(
        (handler.attempts(), handler.successes()),
        (1, 1),
        "one run for the two messages"
    );
    assert_eq!(
        claim_state(&**table, &key)
            .await
            .map(|c| c.state)
            .as_deref(),
        Some("done")
    );
    assert!(q.dead_letters(Q, 10).await.unwrap().is_empty());
}

/// Embedded only (it jumps the clock past a lease between two renewals): a worker whose claim lapsed and was taken
/// over finishes without touching the new owner's claim, which stays "running" until its own job ends.
pub async fn embedded_a_lapsed_claim_is_left_to_its_new_owner(
    q: &dyn Queue,
    time: &Time,
    setup: &Setup,
) {
    let (table, lease) = (&setup.table, setup.quick_lease);
    let key = format!("lapsed-{}", crate::ids::new_id());
    q.send(Q, vec![keyed_job(&key), keyed_job(&key)])
        .await
        .unwrap();
    let both = receive_n(q, Q, 2, setup.visibility, time).await;
    assert_eq!(both.len(), 2);

    let slow = Scripted::new(1);
    let first = start_in_background(
        setup.worker(slow.clone(), lease),
        &slow,
        vec![both[0].clone()],
    )
    .await;
    // The claim lapses at once; the slow worker's next renewal finds it gone.
    time.pass(lease * 2).await;
    tokio::time::sleep(lease / 3 + Duration::from_millis(300)).await;

    let second = Scripted::new(1);
    let taking_over = start_in_background(
        setup.worker(second.clone(), lease),
        &second,
        vec![both[1].clone()],
    )
    .await;
    let held = claim_state(&**table, &key).await.expect("the new claim");
    assert_eq!(held.state, RUNNING);

    // The first worker finishes late: the second one's claim is not marked done under it.
    slow.release.notify_one();
    first.await.unwrap();
    let after = claim_state(&**table, &key).await.expect("still claimed");
    assert_eq!(
        (after.state.as_str(), &after.owner),
        (RUNNING, &held.owner),
        "the old owner left the new claim alone"
    );
    second.release.notify_one();
    taking_over.await.unwrap();
    assert_eq!(
        claim_state(&**table, &key)
            .await
            .map(|c| c.state)
            .as_deref(),
        Some("done")
    );
}
