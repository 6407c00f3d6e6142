//! The exam deadline job: submits in-progress timed exams whose deadline has passed (the learner walked away),
//! every minute on AWS (EventBridge) and in the dev server's scheduler. A request that finds an exam overdue
//! submits it too; both write the same result under the same condition, so whichever comes first wins and the
//! other changes nothing.

use lectern_exams::Exams;
use lectern_messages::schedules;
use lectern_shared::Platform;
use lectern_shared::schedule::{Ran, run_scheduled};

/// Most exams one run submits; the rest wait for the next run (oldest deadlines first).
pub const PER_RUN: usize = 200;

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub submitted: usize,
}

/// The scheduled run: [`run`] as the `exam-deadlines` job, refused while another run holds it
/// (`lectern_shared::schedule`); called by the scheduled Lambda and by the dev server's scheduler.
pub async fn scheduled(platform: &Platform) -> anyhow::Result<Ran<Report>> {
    run_scheduled(platform, &schedules::EXAM_DEADLINES, || async {
        Ok(Report {
            submitted: run(platform).await?,
        })
    })
    .await
}

/// One run; answers how many exams it submitted.
#[tracing::instrument(skip_all)]
pub async fn run(platform: &Platform) -> anyhow::Result<usize> {
    let submitted = Exams::new(platform.clone()).submit_overdue(PER_RUN).await?;
    if submitted > 0 {
        tracing::info!(submitted, "submitted overdue exams");
    }
    Ok(submitted)
}
