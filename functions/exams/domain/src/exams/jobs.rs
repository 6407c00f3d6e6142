//! The exams domain's job handlers, run by the `jobs` worker (`functions/platform/jobs`).

use async_trait::async_trait;
use std::sync::Arc;

use lectern_messages::exams::{ExamCompleted, IssueCertificate};
use lectern_shared::Platform;
use lectern_shared::queue::worker::{JobError, JobHandler};
use lectern_shared::queue::{Job, JobKind};

use crate::Exams;
use crate::certificates::LearnerNames;

/// `exams.exam-completed`: takes the exam's answers into the statistics and estimates, or corrects them after a
/// changed grade. The job carries an idempotency key per exam (and per re-grade), and every answer is taken in or
/// corrected with its marker in the same transaction, so a redelivered or duplicated job moves nothing twice.
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

/// `exams.issue-certificate`: issues a passed certifying exam's certificate with the learner's display name as it
/// is now. Issuing is a conditional put of an item keyed by the exam, so a redelivered job issues nothing more.
pub struct IssueCertificateHandler {
    exams: Exams,
    names: Arc<dyn LearnerNames>,
}

impl IssueCertificateHandler {
    /// `names` reads display names (the jobs worker's, from the accounts domain).
    pub fn new(platform: &Platform, names: Arc<dyn LearnerNames>) -> Self {
        Self {
            exams: Exams::new(platform.clone()),
            names,
        }
    }
}

#[async_trait]
impl JobHandler for IssueCertificateHandler {
    fn kind(&self) -> &'static str {
        IssueCertificate::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let IssueCertificate { exam_id } = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("not an issue-certificate payload: {e}")))?;
        let issued = self
            .exams
            .issue_certificate(&exam_id, self.names.as_ref())
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        tracing::info!(exam_id = %exam_id, issued = issued.is_some(), "certificate job done");
        Ok(())
    }
}
