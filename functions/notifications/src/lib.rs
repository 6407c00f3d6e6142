//! Notifications worker: delivers queued emails through the Mailer port. Producers (auth, admin, ...) enqueue a
//! [`SendEmail`] job with an idempotency key, so a retried request or a redelivered message sends one email.

use std::sync::Arc;

use async_trait::async_trait;
use lectern_shared::Platform;
use lectern_shared::mail::{Email, MailError, Mailer};
use lectern_shared::queue::worker::{JobError, JobHandler, Worker};
use lectern_shared::queue::{Job, JobKind, queues};
use serde::{Deserialize, Serialize};

/// Job: send one rendered email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SendEmail(pub Email);

impl JobKind for SendEmail {
    const KIND: &'static str = "email.send";
    const QUEUE: &'static str = queues::NOTIFICATIONS;
}

/// Sends [`SendEmail`] jobs.
pub struct SendEmailHandler {
    mailer: Arc<dyn Mailer>,
}

impl SendEmailHandler {
    pub fn new(mailer: Arc<dyn Mailer>) -> Self {
        Self { mailer }
    }
}

#[async_trait]
impl JobHandler for SendEmailHandler {
    fn kind(&self) -> &'static str {
        SendEmail::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let SendEmail(email) = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        match self.mailer.send(&email).await {
            Ok(message_id) => {
                // The address is personal data: log the provider id only.
                tracing::info!(message_id, "email sent");
                Ok(())
            }
            Err(MailError::Rejected(reason)) => Err(JobError::Permanent(reason)),
            Err(MailError::Unavailable(reason)) => Err(JobError::Retry(reason)),
        }
    }
}

/// The worker for the `notifications` queue.
pub fn worker(platform: &Platform) -> Worker {
    Worker::new(platform.table.clone(), platform.clock.clone())
        .with(Arc::new(SendEmailHandler::new(platform.mailer.clone())))
}
