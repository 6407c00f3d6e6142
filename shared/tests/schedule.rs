//! The scheduled-job runner: one run at a time per job, a crashed run's lease lapses, every run's end recorded.

use std::sync::Arc;
use std::time::Duration;

use lectern_shared::clock::{Clock, ManualClock};
use lectern_shared::schedule::{JobState, Outcome, Ran, ScheduledJob, run_exclusive};
use lectern_shared::table::{Condition, Entity, Table};
use lectern_shared::testing::embedded;
use serde::Serialize;
use time::OffsetDateTime;

const JOB: ScheduledJob = ScheduledJob {
    name: "test-job",
    schedule: "rate(1 hour)",
    description: "A job for the tests.",
    lease_secs: 300,
};

#[derive(Debug, PartialEq, Serialize)]
struct Report {
    sent: i64,
}

fn clock() -> ManualClock {
    ManualClock::new(OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap())
}

async fn state(table: &dyn Table) -> JobState {
    JobState::load_all(table, &[JOB.name]).await.unwrap()[0]
        .clone()
        .expect("recorded")
}

#[tokio::test]
async fn an_overlapping_run_is_refused_and_the_first_records_its_counts() {
    let clock = clock();
    let (table, _dir) = embedded::table(Arc::new(clock.clone()));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let first = run_exclusive(table.as_ref(), &clock, &JOB, || async {
        rx.await.ok();
        Ok(Report { sent: 3 })
    });
    let second = async {
        // The first run holds the lease while it waits: this one must not run its work.
        let refused = run_exclusive(table.as_ref(), &clock, &JOB, || async {
            panic!("an overlapping run must not work")
        })
        .await
        .unwrap();
        tx.send(()).unwrap();
        refused
    };
    let (first, second): (anyhow::Result<Ran<Report>>, Ran<Report>) = tokio::join!(first, second);
    assert_eq!(first.unwrap(), Ran::Finished(Report { sent: 3 }));
    // Refused either by the lease it read or by the version it lost the race for.
    assert!(matches!(second, Ran::Refused { .. }));
    let recorded = state(table.as_ref()).await;
    assert!(!recorded.leased_at(clock.epoch_seconds()));
    let last = recorded.last_run.expect("the run is recorded");
    assert_eq!(last.outcome, Outcome::Succeeded);
    assert_eq!(last.counts.get("sent"), Some(&3));
}

#[tokio::test]
async fn a_failed_run_records_its_error_and_the_next_run_goes_ahead() {
    let clock = clock();
    let (table, _dir) = embedded::table(Arc::new(clock.clone()));
    let failed = run_exclusive(table.as_ref(), &clock, &JOB, || async {
        Err::<Report, _>(anyhow::anyhow!("the queue is down"))
    })
    .await;
    assert!(failed.is_err());
    let last = state(table.as_ref()).await.last_run.unwrap();
    assert_eq!(last.outcome, Outcome::Failed);
    assert_eq!(last.error.as_deref(), Some("the queue is down"));
    let next = run_exclusive(table.as_ref(), &clock, &JOB, || async {
        Ok(Report { sent: 1 })
    })
    .await
    .unwrap();
    assert_eq!(next, Ran::Finished(Report { sent: 1 }));
}

#[tokio::test]
async fn a_crashed_runs_lease_lapses() {
    let clock = clock();
    let (table, _dir) = embedded::table(Arc::new(clock.clone()));
    // A run that died after taking the lease leaves it as it took it.
    let now = clock.epoch_seconds();
    let crashed = JobState {
        name: JOB.name.into(),
        version: 1,
        lease_until: Some(now + JOB.lease_secs),
        running_since: Some(now),
        last_run: None,
    };
    table
        .put(crashed.to_item().unwrap(), Condition::NotExists)
        .await
        .unwrap();
    let refused = run_exclusive(table.as_ref(), &clock, &JOB, || async {
        Ok(Report { sent: 0 })
    })
    .await
    .unwrap();
    assert!(matches!(refused, Ran::Refused { .. }));
    clock.advance(Duration::from_secs(JOB.lease_secs as u64));
    let after = run_exclusive(table.as_ref(), &clock, &JOB, || async {
        Ok(Report { sent: 2 })
    })
    .await
    .unwrap();
    assert_eq!(after, Ran::Finished(Report { sent: 2 }));
}
