//! Housekeeping: scheduled maintenance. Today it reclaims the space of expired items (the embedded store has no
//! background TTL deleter; on DynamoDB the table's own TTL does this and the sweep is a no-op).

use lectern_shared::Platform;
use serde::Serialize;

/// Most expired items removed in one run, so one run stays short; the next run continues.
pub const SWEEP_BATCH: usize = 10_000;

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub expired_items_removed: usize,
}

/// One housekeeping run; called by the scheduled Lambda and by the dev server's scheduler.
#[tracing::instrument(skip_all)]
pub async fn run(platform: &Platform) -> anyhow::Result<Report> {
    let removed = platform.table.sweep_expired(SWEEP_BATCH).await?;
    tracing::info!(removed, "housekeeping done");
    Ok(Report {
        expired_items_removed: removed,
    })
}
