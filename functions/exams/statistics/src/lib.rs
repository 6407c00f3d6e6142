//! The exam statistics worker: takes each completed exam's answers into the question statistics, the item
//! analysis and the Elo estimates (`lectern_exams::exams::statistics`). The job carries an idempotency key per
//! exam, and every answer is taken in with a marker in the same transaction, so a redelivered or duplicated job
//! moves nothing twice.

use std::sync::Arc;

use async_trait::async_trait;
use lectern_exams::Exams;
use lectern_messages::exams::ExamCompleted;
use lectern_shared::Platform;
use lectern_shared::queue::worker::{JobError, JobHandler, Worker};
use lectern_shared::queue::{Job, JobKind};

/// Handles `exams.exam-completed`.
pub struct ExamCompletedHandler {
    exams: Exams,
}

impl ExamCompletedHandler {
    pub fn new(platform: &Platform) -> Self {
        Self {
            exams: Exams::new(platform.clone()),
        }
    }
}

#[async_trait]
impl JobHandler for ExamCompletedHandler {
    fn kind(&self) -> &'static str {
        ExamCompleted::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let ExamCompleted { exam_id } = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("not an exam-completed payload: {e}")))?;
        let applied = self
            .exams
            .apply_completed_exam(&exam_id)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        tracing::info!(exam_id = %exam_id, applied, "exam statistics updated");
        Ok(())
    }
}

/// The worker of the `jobs` queue with the exams' handler (the Lambda's; the dev server adds the handler to its
/// own `jobs` worker).
pub fn worker(platform: &Platform) -> Worker {
    Worker::new(platform.table.clone(), platform.clock.clone()).with(handler(platform))
}

/// The handler, for a worker that runs several.
pub fn handler(platform: &Platform) -> Arc<dyn JobHandler> {
    Arc::new(ExamCompletedHandler::new(platform))
}
