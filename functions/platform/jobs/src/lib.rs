//! The jobs worker: the handlers of the `jobs` queue, whichever domain owns the job.
//!
//! One queue and one Lambda run every domain's background jobs, so this crate assembles them: it is the one
//! function allowed to use every domain library (see `docs/architecture.md`). It runs `account.purge`, the
//! erasure of a deleted account, with every domain's [`Eraser`] (exams, learning, the notification centre, then
//! accounts),
//! `account.export`, a personal-data export, with every domain's [`Exporter`],
//! `exams.exam-completed`, the exam statistics, and `exams.issue-certificate`, which needs the learner's display
//! name from the accounts domain ([`AccountNames`]); a new domain adds its eraser to [`erasers`] and its job
//! handlers to [`worker`].

use std::sync::Arc;

use async_trait::async_trait;
use lectern_accounts::data_exports::ExportAccounts;
use lectern_accounts::erasure::PurgeAccounts;
use lectern_accounts::users::Users;
use lectern_exams::certificates::LearnerNames;
use lectern_shared::Platform;
use lectern_shared::erasure::Eraser;
use lectern_shared::export::Exporter;
use lectern_shared::queue::worker::Worker;

/// The erasers of every domain but accounts, run (in this order) before the accounts' own, which deletes the
/// account last.
pub fn erasers(platform: &Platform) -> Vec<Arc<dyn Eraser>> {
    vec![
        Arc::new(lectern_exams::erasure::ExamsEraser::new(platform)),
        Arc::new(lectern_learning::erasure::LearningEraser::new(platform)),
        Arc::new(lectern_platform::erasure::InboxEraser::new(platform)),
        Arc::new(lectern_webhooks::erasure::WebhooksEraser::new(platform)),
    ]
}

/// The exporters of every domain but accounts (which adds its own), for personal-data exports: the same domains
/// as [`erasers`], so whatever is erased with an account is also what its owner can see.
pub fn exporters(platform: &Platform) -> Vec<Arc<dyn Exporter>> {
    vec![
        Arc::new(lectern_exams::export::ExamsExporter::new(platform)),
        Arc::new(lectern_learning::export::LearningExporter::new(platform)),
        Arc::new(lectern_platform::export::InboxExporter::new(platform)),
        Arc::new(lectern_webhooks::export::WebhooksExporter::new(platform)),
    ]
}

/// The worker for the `jobs` queue.
pub fn worker(platform: &Platform) -> Worker {
    worker_with(platform, lectern_webhooks::Webhooks::new(platform.clone()))
}

/// The worker for the `jobs` queue with the given webhooks service (tests give it a resolver of their own).
pub fn worker_with(platform: &Platform, webhooks: Arc<lectern_webhooks::Webhooks>) -> Worker {
    Worker::new(platform.table.clone(), platform.clock.clone())
        // Webhooks: an event's fan-out to its endpoints, and each delivery attempt.
        .with(Arc::new(lectern_webhooks::deliveries::FanOut(
            webhooks.clone(),
        )))
        .with(Arc::new(lectern_webhooks::deliveries::Deliver(webhooks)))
        .with(Arc::new(PurgeAccounts::new(platform, erasers(platform))))
        .with(Arc::new(ExportAccounts::new(platform, exporters(platform))))
        .with(Arc::new(
            lectern_exams::exams::jobs::ExamCompletedHandler::new(platform),
        ))
        .with(Arc::new(
            lectern_exams::exams::jobs::IssueCertificateHandler::new(
                platform,
                Arc::new(AccountNames(Users::new(platform.table.clone()))),
            ),
        ))
}

/// Display names from the accounts domain, for certificates: domains do not import each other, so the worker
/// that assembles them lends the exams domain this one read.
struct AccountNames(Users);

#[async_trait]
impl LearnerNames for AccountNames {
    async fn display_name(&self, user_id: &str) -> Result<Option<String>, String> {
        self.0
            .get(user_id)
            .await
            .map(|user| user.map(|u| u.display_name))
            .map_err(|e| e.to_string())
    }
}
