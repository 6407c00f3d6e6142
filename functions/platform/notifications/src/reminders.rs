//! [`RemindersPage`] jobs: one page of a reminder bucket (`lectern_platform::reminders`).

use std::sync::Arc;

use async_trait::async_trait;
use lectern_messages::RemindersPage;
use lectern_platform::Notifications;
use lectern_shared::queue::worker::{JobError, JobHandler};
use lectern_shared::queue::{Job, JobKind};

use crate::delivery::decode;

/// Reminds one page of accounts and enqueues the next page.
pub struct RemindersPageHandler {
    notifications: Arc<Notifications>,
}

impl RemindersPageHandler {
    pub fn new(notifications: Arc<Notifications>) -> Self {
        Self { notifications }
    }
}

#[async_trait]
impl JobHandler for RemindersPageHandler {
    fn kind(&self) -> &'static str {
        RemindersPage::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let page: RemindersPage = decode(job)?;
        if lectern_shared::locale::timezone(&page.zone).is_none() || !(0..24).contains(&page.hour) {
            return Err(JobError::Permanent("not a zone and hour".into()));
        }
        let report = self
            .notifications
            .reminders_page(&page)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        tracing::info!(
            zone = %page.zone,
            hour = page.hour,
            reminded = report.reminded,
            skipped = report.skipped,
            more = report.more,
            "reminders page done"
        );
        Ok(())
    }
}
