//! The pre-rendered email job: producers that build their own [`Email`] enqueue a [`SendEmail`].

use std::sync::Arc;

use async_trait::async_trait;
use lectern_shared::mail::{Email, Mailer};
use lectern_shared::queue::worker::{JobError, JobHandler};
use lectern_shared::queue::{Job, JobKind, queues};
use serde::{Deserialize, Serialize};

use crate::delivery::{decode, deliver};

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
