//! The learning worker: the learning queue's jobs. [`ResultsRecorded`] puts the result's score on the game's
//! leaderboards and evaluates the profile's achievements; the domain makes both exactly-once (conditional writes:
//! see `lectern_learning::leaderboards` and `::achievements`), so a redelivered, duplicated or racing job counts
//! nothing twice, and the worker's idempotency key only saves the repeated work.

use std::sync::Arc;

use async_trait::async_trait;
use lectern_learning::leaderboards::Score;
use lectern_learning::{Learning, LearningError};
use lectern_messages::ResultsRecorded;
use lectern_shared::Platform;
use lectern_shared::queue::worker::{JobError, JobHandler, Worker};
use lectern_shared::queue::{Job, JobKind};

/// The worker of the learning queue.
pub fn worker(platform: &Platform, learning: Arc<Learning>) -> Worker {
    Worker::new(platform.table.clone(), platform.clock.clone())
        .with(Arc::new(ResultsRecordedHandler { learning }))
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
