//! The transactional outbox: an entry committed with a change reaches the queue through the fast path or, when
//! that did not finish, through the relay once it is older than the grace period; a failing queue delays it without
//! losing it; and an entry sent twice runs its job once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use lectern_shared::clock::{Clock, ManualClock};
use lectern_shared::queue::outbox::{self, OutboxEntry, OutboxKey, RELAY_GRACE};
use lectern_shared::queue::worker::{JobError, JobHandler, Worker};
use lectern_shared::queue::{Job, JobKind, NewJob, Queue, queues};
use lectern_shared::table::{Table, TxOp};
use lectern_shared::testing::{embedded, faults};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Ping {
    n: u32,
}

impl JobKind for Ping {
    const KIND: &'static str = "test.ping";
    const QUEUE: &'static str = queues::JOBS;
}

/// Counts the runs of `test.ping` jobs.
struct Runs(Arc<AtomicUsize>);

#[async_trait]
impl JobHandler for Runs {
    fn kind(&self) -> &'static str {
        Ping::KIND
    }

    async fn handle(&self, _job: &Job) -> Result<(), JobError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

struct Setup {
    key: OutboxKey,
    clock: ManualClock,
    table: Arc<dyn Table>,
    queue: Arc<dyn Queue>,
    faults: faults::QueueFaults,
    runs: Arc<AtomicUsize>,
    worker: Worker,
    _dirs: Vec<tempfile::TempDir>,
}

/// Fresh stores of one backend: the embedded ones, or DynamoDB and SQS on moto (`None` when moto is unavailable
/// and not required: the test then skips). Time is the manual clock's; relay cutoffs are computed from it.
async fn setup(aws: bool) -> Option<Setup> {
    let clock = ManualClock::starting_now();
    let mut dirs = Vec::new();
    let (table, queue): (Arc<dyn Table>, Arc<dyn Queue>) = if aws {
        (
            lectern_shared::testing::aws::table(Arc::new(clock.clone())).await?,
            lectern_shared::testing::aws::queue().await?,
        )
    } else {
        let (table, table_dir) = embedded::table(Arc::new(clock.clone()));
        let (queue, queue_dir) = embedded::queue(Arc::new(clock.clone()));
        dirs.extend([table_dir, queue_dir]);
        (table, queue)
    };
    let (queue, faults) = faults::faulty_queue(queue);
    let runs = Arc::new(AtomicUsize::new(0));
    let worker =
        Worker::new(table.clone(), Arc::new(clock.clone())).with(Arc::new(Runs(runs.clone())));
    Some(Setup {
        key: OutboxKey::derive(b"the test deployment's secret 0123"),
        clock,
        table,
        queue,
        faults,
        runs,
        worker,
        _dirs: dirs,
    })
}

/// Runs each case on both backends.
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod on_embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let s = super::setup(false).await.expect("embedded stores");
                    super::$case(s).await;
                }
            )*
        }
        mod on_aws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(s) = super::setup(true).await else {
                        eprintln!("skipped: the AWS emulator is unavailable");
                        return;
                    };
                    super::$case(s).await;
                }
            )*
        }
    };
}

on_both!(
    the_fast_path_sends_and_removes_what_was_committed,
    the_relay_sends_what_a_crash_left_behind_once_it_is_older_than_the_grace_period,
    a_failing_queue_delays_entries_without_losing_them,
    an_entry_sent_twice_runs_its_job_once,
);

impl Setup {
    fn now(&self) -> i64 {
        self.clock.epoch_seconds()
    }

    /// Commits an entry the way a use case does: in a transaction (here alone).
    async fn commit(&self, n: u32) -> OutboxEntry {
        let job = NewJob::new(&Ping { n })
            .unwrap()
            .idempotency_key(format!("ping:{n}"));
        let entry = OutboxEntry::new::<Ping>(job, self.now(), &self.key).unwrap();
        let op: TxOp = entry.put().unwrap();
        self.table.transact(vec![op]).await.unwrap();
        entry
    }

    async fn pending(&self) -> usize {
        outbox::pending(self.table.as_ref()).await.unwrap().len()
    }

    /// The fast path: what a request does right after its commit.
    async fn deliver(&self, entry: &OutboxEntry) -> outbox::RelayReport {
        let entries = std::slice::from_ref(entry);
        outbox::deliver(
            self.table.as_ref(),
            self.queue.as_ref(),
            &self.key,
            entries,
            self.now(),
        )
        .await
    }

    async fn relay(&self) -> outbox::RelayReport {
        outbox::relay(
            self.table.as_ref(),
            self.queue.as_ref(),
            &self.key,
            self.now(),
            RELAY_GRACE,
        )
        .await
        .unwrap()
    }

    /// Runs every job in the queue through the worker (retrying what it asks to retry, as the pollers do);
    /// answers how many distinct messages there were.
    async fn work(&self) -> usize {
        let mut seen = std::collections::BTreeSet::new();
        loop {
            let deliveries = self
                .queue
                .receive(queues::JOBS, 10, Duration::from_secs(30))
                .await
                .unwrap();
            if deliveries.is_empty() {
                return seen.len();
            }
            let receipts: Vec<(String, String)> = deliveries
                .iter()
                .map(|d| (d.message_id.clone(), d.receipt.clone()))
                .collect();
            let outcome = self.worker.process_batch(deliveries).await;
            for (id, receipt) in receipts {
                seen.insert(id.clone());
                if outcome.done.contains(&id) {
                    self.queue.ack(queues::JOBS, &receipt).await.unwrap();
                } else {
                    // A copy of a job running at the same moment is retried, then found done.
                    self.queue
                        .retry_later(queues::JOBS, &receipt, Duration::ZERO)
                        .await
                        .unwrap();
                }
            }
        }
    }
}

async fn the_fast_path_sends_and_removes_what_was_committed(s: Setup) {
    let entry = s.commit(1).await;
    let report = s.deliver(&entry).await;
    assert_eq!((report.sent, report.left), (1, 0));
    assert_eq!(s.pending().await, 0);
    assert_eq!(s.work().await, 1);
    assert_eq!(s.runs.load(Ordering::SeqCst), 1);
}

async fn the_relay_sends_what_a_crash_left_behind_once_it_is_older_than_the_grace_period(s: Setup) {
    // Committed, then the process died before the fast path: the entry is all that is left.
    let entry = s.commit(2).await;
    assert!(
        entry.job(&s.key).unwrap().idempotency_key.is_some(),
        "every entry can be deduplicated"
    );
    assert_eq!(
        s.relay().await.sent,
        0,
        "young entries belong to their request"
    );
    assert_eq!(s.pending().await, 1);

    s.clock.advance(RELAY_GRACE + Duration::from_secs(1));
    assert_eq!(s.relay().await.sent, 1);
    assert_eq!(s.pending().await, 0);
    let delivered = s
        .queue
        .receive(queues::JOBS, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        Some(delivered[0].job.clone()),
        entry.job(&s.key),
        "the job exactly as committed"
    );
    // What the table holds of it: its kind, and the job sealed.
    assert_eq!(entry.kind, "test.ping");
    assert!(!entry.sealed_job.contains("ping"), "{}", entry.sealed_job);
    let elsewhere = OutboxKey::derive(b"another deployment's secret 01234");
    assert_eq!(entry.job(&elsewhere), None);
}

async fn a_failing_queue_delays_entries_without_losing_them(s: Setup) {
    s.faults.fail_sends(true);
    let entry = s.commit(3).await;
    let report = s.deliver(&entry).await;
    assert_eq!((report.sent, report.left), (0, 1));
    s.clock.advance(RELAY_GRACE + Duration::from_secs(1));
    assert_eq!(s.relay().await.left, 1);
    assert_eq!(s.pending().await, 1, "kept while the queue is down");

    s.faults.fail_sends(false);
    assert_eq!(s.relay().await.sent, 1);
    assert_eq!(s.pending().await, 0);
    assert_eq!(s.work().await, 1);
    assert_eq!(s.runs.load(Ordering::SeqCst), 1);
}

async fn an_entry_sent_twice_runs_its_job_once(s: Setup) {
    let entry = s.commit(4).await;
    s.deliver(&entry).await;
    // The delete after the send was lost (a crash, a store error): the relay finds the entry again.
    s.table.transact(vec![entry.put().unwrap()]).await.unwrap();
    s.clock.advance(RELAY_GRACE + Duration::from_secs(1));
    assert_eq!(s.relay().await.sent, 1);
    assert_eq!(s.work().await, 2, "two copies were sent");
    assert_eq!(s.runs.load(Ordering::SeqCst), 1, "the job ran once");
}

#[tokio::test]
async fn entries_refused_by_every_queue_are_refused_when_written() {
    let s = setup(false).await.expect("embedded stores");
    let job = NewJob::new(&Ping { n: 5 }).unwrap();
    assert!(OutboxEntry::for_queue("no-such-queue", job.clone(), s.now(), &s.key).is_err());
    let huge = NewJob {
        job: Job {
            payload: serde_json::json!({"n": "x".repeat(300 * 1024)}),
            ..job.job
        },
        delay: Duration::ZERO,
    };
    assert!(OutboxEntry::new::<Ping>(huge, s.now(), &s.key).is_err());
}
