//! The queue contract against the embedded queue and (when moto is available) SQS.

use std::sync::Arc;

use lectern_shared::clock::ManualClock;
use lectern_shared::testing::contract::Time;
use lectern_shared::testing::contract::queue as cases;
use lectern_shared::testing::{aws, embedded};

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod on_embedded {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let clock = ManualClock::starting_now();
                    let (queue, _dir) = embedded::queue(Arc::new(clock.clone()));
                    cases::$case(&*queue, &Time::Manual(clock)).await;
                }
            )*
        }
        mod on_aws {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(queue) = aws::queue().await else {
                        eprintln!("skipped: the AWS emulator is unavailable");
                        return;
                    };
                    cases::$case(&*queue, &Time::Real).await;
                }
            )*
        }
    };
}

on_both!(
    send_receive_ack,
    redelivered_after_visibility_timeout,
    delayed_send,
    retry_later_delays,
    dead_letter_after_max_receives,
    dead_letters_counted_and_redriven,
    batches_over_ten,
    unknown_queue,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_stale_receipt_is_noop() {
    let clock = ManualClock::starting_now();
    let (queue, _dir) = embedded::queue(Arc::new(clock.clone()));
    cases::embedded_stale_receipt_is_noop(&*queue, &Time::Manual(clock)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_order() {
    let clock = ManualClock::starting_now();
    let (queue, _dir) = embedded::queue(Arc::new(clock.clone()));
    cases::embedded_order(&*queue, &Time::Manual(clock)).await;
}

/// A job received but never acknowledged survives a restart and comes back after its visibility timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_jobs_survive_restart() {
    use std::time::Duration;

    use lectern_shared::queue::embedded::EmbeddedQueue;
    use lectern_shared::queue::{Queue, queues};
    use lectern_shared::table::embedded::EmbeddedTable;

    let clock = ManualClock::starting_now();
    let (queue, dir) = embedded::queue(Arc::new(clock.clone()));
    let ids = queue
        .send(queues::JOBS, vec![cases::job("durable", 1)])
        .await
        .unwrap();
    let first = queue
        .receive(queues::JOBS, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    drop(queue); // the worker "crashes" mid-job

    let table =
        EmbeddedTable::open(&embedded::db_path(dir.path()), Arc::new(clock.clone())).unwrap();
    let queue = EmbeddedQueue::new(
        table.database(),
        Arc::new(clock.clone()),
        embedded::MAX_RECEIVES,
    )
    .unwrap();
    assert!(
        queue
            .receive(queues::JOBS, 10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(Duration::from_secs(31));
    let again = queue
        .receive(queues::JOBS, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((&again[0].message_id, again[0].receive_count), (&ids[0], 2));
}
