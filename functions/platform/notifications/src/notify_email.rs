//! Renders and sends [`NotifyEmail`] jobs: producers say *which* account email to send and with what data; this
//! renders it (see [`crate::templates`]) in the recipient's language and sends it.

use std::sync::Arc;

use async_trait::async_trait;
use lectern_messages::NotifyEmail;
use lectern_shared::mail::Mailer;
use lectern_shared::queue::worker::{JobError, JobHandler};
use lectern_shared::queue::{Job, JobKind};

use crate::branding::Branding;
use crate::delivery::{decode, deliver};
use crate::templates::render;

/// Renders and sends [`NotifyEmail`] jobs.
pub struct NotifyEmailHandler {
    mailer: Arc<dyn Mailer>,
    branding: Branding,
}

impl NotifyEmailHandler {
    /// A handler rendering with `branding` and sending through `mailer`.
    pub fn new(mailer: Arc<dyn Mailer>, branding: Branding) -> Self {
        Self { mailer, branding }
    }
}

#[async_trait]
impl JobHandler for NotifyEmailHandler {
    fn kind(&self) -> &'static str {
        NotifyEmail::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let notify: NotifyEmail = decode(job)?;
        let template = notify.template.name();
        // A payload that cannot render never will: retrying would only send the job to the dead-letter store later.
        let email = render(&self.branding, &notify)
            .map_err(|e| JobError::Permanent(format!("cannot render {template} email: {e}")))?;
        tracing::debug!(template, "email rendered");
        deliver(self.mailer.as_ref(), &email).await
    }
}
