//! Sends [`SendEmail`] jobs: emails their producers rendered themselves.

use std::sync::Arc;

use async_trait::async_trait;
use lectern_messages::SendEmail;
use lectern_shared::mail::Mailer;
use lectern_shared::queue::worker::{JobError, JobHandler};
use lectern_shared::queue::{Job, JobKind};

use crate::delivery::{decode, deliver};

/// Sends [`SendEmail`] jobs.
pub struct SendEmailHandler {
    mailer: Arc<dyn Mailer>,
}

impl SendEmailHandler {
    /// A handler sending through `mailer`.
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
        let SendEmail(email) = decode(job)?;
        deliver(self.mailer.as_ref(), &email).await
    }
}
