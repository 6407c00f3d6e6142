//! The notification centre's part of a personal-data export: the account's `INBOX#<user_id>` partition, as its
//! eraser finds it — notifications, the unread counter, preferences and the delivery records.

use async_trait::async_trait;
use lectern_shared::Platform;
use lectern_shared::export::{ExportError, ExportSink, Exporter, export_query};

use crate::erasure::ERASED;

/// Exports an account's notification centre.
pub struct InboxExporter {
    platform: Platform,
}

impl InboxExporter {
    pub fn new(platform: &Platform) -> Self {
        Self {
            platform: platform.clone(),
        }
    }
}

#[async_trait]
impl Exporter for InboxExporter {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn entities(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "notification",
                "the notifications shown in the app, read or not",
            ),
            ("inbox_counter", "the count of unread notifications"),
            (
                "notification_preferences",
                "which notifications you receive on which channel, and quiet hours",
            ),
            (
                "notification_delivery",
                "when and how each notification was delivered (in-app, email, push)",
            ),
        ]
    }

    async fn export(&self, user_id: &str, sink: &mut dyn ExportSink) -> Result<(), ExportError> {
        for entity in ERASED {
            export_query(
                self.platform.table.as_ref(),
                entity.query(&[user_id]),
                self.name(),
                sink,
            )
            .await?;
        }
        Ok(())
    }
}
