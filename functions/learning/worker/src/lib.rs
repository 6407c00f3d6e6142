//! The learning worker: the learning queue's jobs. [`ResultsRecorded`] evaluates the profile's achievements; the
//! domain makes that exactly-once (see `lectern_learning::achievements`), so a redelivered, duplicated or racing
//! job earns nothing twice, and the worker's idempotency key only saves the repeated work.

use std::sync::Arc;

use async_trait::async_trait;
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
        match self
            .learning
            .evaluate_achievements(&payload.profile_id)
            .await
        {
            Ok(outcome) => {
                tracing::info!(
                    earned = outcome.earned.len(),
                    notified = outcome.notified,
                    "achievements evaluated"
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
