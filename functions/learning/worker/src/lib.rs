//! The learning worker: the learning queue's jobs. [`ResultsRecorded`] puts the result's score on the game's
//! leaderboards, evaluates the profile's achievements and recomputes its recommendations; [`EraseProfile`] erases a deleted profile's data; the domain makes both exactly-once (conditional writes:
//! see `lectern_learning::leaderboards` and `::achievements`), so a redelivered, duplicated or racing job counts
//! nothing twice, and the worker's idempotency key only saves the repeated work.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lectern_learning::erasure::erase_profile;
use lectern_learning::leaderboards::Score;
use lectern_learning::profiles::Profile;
use lectern_learning::recommendations::Played;
use lectern_learning::{Learning, LearningError};
use lectern_messages::{EraseProfile, ResultsRecorded, WeeklyReportsPage};
use lectern_shared::Platform;
use lectern_shared::erasure::{Budget, Erased};
use lectern_shared::queue::worker::{JobError, JobHandler, Worker};
use lectern_shared::queue::{Job, JobKind, NewJob, enqueue};

/// The worker of the learning queue.
pub fn worker(platform: &Platform, learning: Arc<Learning>) -> Worker {
    Worker::new(platform.table.clone(), platform.clock.clone())
        .with(Arc::new(ResultsRecordedHandler {
            learning: learning.clone(),
        }))
        .with(Arc::new(EraseProfileHandler {
            learning: learning.clone(),
        }))
        .with(Arc::new(WeeklyReportsPageHandler { learning }))
}

/// Sends one page of weekly parent reports (see `lectern_learning::weekly`).
pub struct WeeklyReportsPageHandler {
    learning: Arc<Learning>,
}

#[async_trait]
impl JobHandler for WeeklyReportsPageHandler {
    fn kind(&self) -> &'static str {
        WeeklyReportsPage::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let page: WeeklyReportsPage = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("not a weekly reports page: {e}")))?;
        if lectern_shared::locale::timezone(&page.zone).is_none() {
            return Err(JobError::Permanent("not a known zone".into()));
        }
        match self.learning.weekly_reports_page(&page).await {
            Ok(report) => {
                tracing::info!(
                    zone = %page.zone,
                    week = %page.week,
                    families = report.families,
                    elsewhere = report.elsewhere,
                    more = report.more,
                    "weekly reports page done"
                );
                Ok(())
            }
            Err(LearningError::Invalid(fields)) => {
                Err(JobError::Permanent(format!("invalid page: {fields:?}")))
            }
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }
}

/// How long one erase run works before it hands the rest to a continuation job: well within the worker's Lambda
/// timeout.
pub const ERASE_BUDGET: Duration = Duration::from_secs(20);

/// Erases a deleted profile's data (see `lectern_learning::erasure`).
pub struct EraseProfileHandler {
    learning: Arc<Learning>,
}

#[async_trait]
impl JobHandler for EraseProfileHandler {
    fn kind(&self) -> &'static str {
        EraseProfile::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let payload: EraseProfile = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("not an erase job: {e}")))?;
        if !lectern_shared::ids::is_id(&payload.profile_id) {
            return Err(JobError::Permanent("not a profile id".into()));
        }
        let platform = &self.learning.platform;
        // Only a deleted profile is erased: the job is written by the deleting transaction, never otherwise.
        let live = platform
            .table
            .get(&Profile::key_of(&payload.profile_id))
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        if live.is_some() {
            return Err(JobError::Permanent(
                "the profile exists; only a deleted profile is erased".into(),
            ));
        }
        let budget = Budget::new(ERASE_BUDGET);
        match erase_profile(platform, &payload.profile_id, &budget).await {
            Ok(Erased::Done) => {
                tracing::info!(profile_id = %payload.profile_id, "profile erased");
                Ok(())
            }
            Ok(Erased::More) => {
                let next = NewJob::new(&payload).map_err(|e| JobError::Retry(e.to_string()))?;
                enqueue::<EraseProfile>(platform.queue.as_ref(), next)
                    .await
                    .map_err(|e| JobError::Retry(e.to_string()))?;
                tracing::info!(profile_id = %payload.profile_id, "erase budget spent; continuing in a new job");
                Ok(())
            }
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }
}

/// Evaluates a profile's achievements after it recorded results.
pub struct ResultsRecordedHandler {
    learning: Arc<Learning>,
}

#[async_trait]
impl JobHandler for ResultsRecordedHandler {
    fn kind(&self) -> &'static str {
        ResultsRecorded::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let payload: ResultsRecorded = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("not a results job: {e}")))?;
        if !lectern_shared::ids::is_id(&payload.profile_id) {
            return Err(JobError::Permanent("not a profile id".into()));
        }
        let scores: Vec<Score> = payload
            .results
            .iter()
            .map(|r| Score {
                game_id: r.game_id.clone(),
                score: r.score,
                played_at: r.played_at,
            })
            .collect();
        let done = async {
            let boards = self
                .learning
                .record_scores(&payload.profile_id, &scores)
                .await?;
            let evaluation = self
                .learning
                .evaluate_achievements(&payload.profile_id, payload.stats_version)
                .await?;
            let played: Vec<Played> = payload
                .results
                .iter()
                .map(|r| Played {
                    result_id: r.result_id.clone(),
                    game_id: r.game_id.clone(),
                    played_at: r.played_at,
                })
                .collect();
            self.learning
                .refresh_recommendations(&payload.profile_id, payload.stats_version, &played)
                .await?;
            Ok::<_, LearningError>((boards, evaluation))
        };
        match done.await {
            Ok((boards, evaluation)) => {
                tracing::info!(
                    board_entries = boards,
                    earned = evaluation.earned.len(),
                    skipped = evaluation.skipped,
                    "results handled"
                );
                Ok(())
            }
            // A request the store refuses as invalid will be refused again: retrying cannot fix it.
            Err(LearningError::Store(lectern_shared::table::TableError::Invalid(e))) => {
                Err(JobError::Permanent(e))
            }
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }
}
