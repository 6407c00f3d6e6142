//! The exam deadline job: submits in-progress timed exams whose deadline has passed (the learner walked away),
//! every minute on AWS (EventBridge) and in the dev server's scheduler. A request that finds an exam overdue
//! submits it too; both write the same result under the same condition, so whichever comes first wins and the
//! other changes nothing.

use lectern_exams::Exams;
use lectern_shared::Platform;

/// Most exams one run submits; the rest wait for the next run (oldest deadlines first).
pub const PER_RUN: usize = 200;

/// One run; answers how many exams it submitted.
#[tracing::instrument(skip_all)]
pub async fn run(platform: &Platform) -> anyhow::Result<usize> {
    let submitted = Exams::new(platform.clone()).submit_overdue(PER_RUN).await?;
    if submitted > 0 {
        tracing::info!(submitted, "submitted overdue exams");
    }
    Ok(submitted)
}
