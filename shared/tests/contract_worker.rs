//! The worker's contract against the embedded queue and table (manual clock) and, when moto is available, SQS and
//! DynamoDB (real time, so with the same proportions in seconds).

use std::sync::Arc;
use std::time::Duration;

use lectern_shared::clock::{ManualClock, SharedClock, SystemClock};
use lectern_shared::queue::worker::CLAIM_LEASE;
use lectern_shared::testing::contract::Time;
use lectern_shared::testing::contract::worker::{self as cases, Setup};
use lectern_shared::testing::{aws, embedded};

/// The SAM template's visibility timeout of the queues.
const TEMPLATE_VISIBILITY: Duration = Duration::from_secs(180);

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod on_embedded {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let clock = ManualClock::starting_now();
                    let shared: SharedClock = Arc::new(clock.clone());
                    let (queue, _qdir) = embedded::queue(shared.clone());
                    let (table, _tdir) = embedded::table(shared.clone());
                    // The production lease against the template's visibility timeout.
                    let setup = Setup {
                        table,
                        clock: shared,
                        visibility: TEMPLATE_VISIBILITY,
                        lease: CLAIM_LEASE,
                        quick_lease: Duration::from_secs(3),
                    };
                    cases::$case(&*queue, &Time::Manual(clock), &setup).await;
                }
            )*
        }
        mod on_aws {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let clock: SharedClock = Arc::new(SystemClock);
                    let (Some(queue), Some(table)) = (aws::queue().await, aws::table(clock.clone()).await)
                    else {
                        eprintln!("skipped: the AWS emulator is unavailable");
                        return;
                    };
                    // SQS runs on real time: a lease of seconds under a visibility timeout of a few more.
                    let setup = Setup {
                        table,
                        clock,
                        visibility: Duration::from_secs(4),
                        lease: Duration::from_secs(2),
                        quick_lease: Duration::from_secs(2),
                    };
                    cases::$case(&*queue, &Time::Real, &setup).await;
                }
            )*
        }
    };
}

on_both!(
    a_job_whose_handler_died_runs_again_on_redelivery,
    a_duplicate_of_a_long_running_job_waits_and_is_then_skipped,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_lapsed_claim_is_left_to_its_new_owner() {
    let clock = ManualClock::starting_now();
    let shared: SharedClock = Arc::new(clock.clone());
    let (queue, _qdir) = embedded::queue(shared.clone());
    let (table, _tdir) = embedded::table(shared.clone());
    let setup = Setup {
        table,
        clock: shared,
        visibility: TEMPLATE_VISIBILITY,
        lease: CLAIM_LEASE,
        quick_lease: Duration::from_secs(3),
    };
    cases::embedded_a_lapsed_claim_is_left_to_its_new_owner(&*queue, &Time::Manual(clock), &setup)
        .await;
}
