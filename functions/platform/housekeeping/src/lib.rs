//! Housekeeping: scheduled maintenance.
//!
//! - Reclaims the space of expired items (the embedded store has no background TTL deleter; on DynamoDB the
//!   table's own TTL does this and the sweep is a no-op).
//! - Removes abandoned uploads: objects presigned and never confirmed, found through their due index
//!   (`lectern_shared::blobs::pending`), never by listing the bucket.
//! - Finds the deleted accounts whose grace period is over (the `ErasureDue` index, one query, no scan) and
//!   enqueues one `account.purge` job for each; the jobs worker erases them. An account stays listed until its
//!   erasure is complete, so a purge that failed or ran out of time is picked up again by the next run.
//!
//! Housekeeping knows no domain: the index entry and the job payload live in `lectern-shared` and
//! `lectern-messages`.

use lectern_messages::PurgeAccount;
use lectern_messages::schedules;
use lectern_shared::Platform;
use lectern_shared::blobs::pending::sweep_abandoned;
use lectern_shared::erasure::ErasureDue;
use lectern_shared::queue::{JobKind, MAX_BATCH, NewJob};
use lectern_shared::schedule::{Ran, run_scheduled};
use serde::Serialize;

/// Most expired items removed in one run, so one run stays short; the next run continues.
pub const SWEEP_BATCH: usize = 10_000;
/// Most purges enqueued in one run; the rest wait for the next run (they stay due).
pub const PURGES_PER_RUN: usize = 1_000;

/// Most abandoned uploads removed in one run (each a blob delete and a table delete); the rest stay due.
pub const UPLOADS_PER_RUN: usize = 500;

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub expired_items_removed: usize,
    pub purges_enqueued: usize,
    pub abandoned_uploads_removed: usize,
}

/// The scheduled run: [`run`] as the `housekeeping` job, refused while another run holds it
/// (`lectern_shared::schedule`); called by the scheduled Lambda and by the dev server's scheduler.
pub async fn scheduled(platform: &Platform) -> anyhow::Result<Ran<Report>> {
    run_scheduled(platform, &schedules::HOUSEKEEPING, || run(platform)).await
}

/// One housekeeping run.
#[tracing::instrument(skip_all)]
pub async fn run(platform: &Platform) -> anyhow::Result<Report> {
    let removed = platform.table.sweep_expired(SWEEP_BATCH).await?;
    let purges = enqueue_due_purges(platform).await?;
    let uploads = sweep_abandoned(
        platform.table.as_ref(),
        platform.blobs.as_ref(),
        platform.clock.epoch_seconds(),
        UPLOADS_PER_RUN,
    )
    .await?;
    tracing::info!(removed, purges, uploads, "housekeeping done");
    Ok(Report {
        expired_items_removed: removed,
        purges_enqueued: purges,
        abandoned_uploads_removed: uploads,
    })
}

/// Enqueues a purge job for every account due for erasure (at most [`PURGES_PER_RUN`]).
pub async fn enqueue_due_purges(platform: &Platform) -> anyhow::Result<usize> {
    let now = platform.clock.epoch_seconds();
    let mut cursor = None;
    let mut enqueued = 0;
    while enqueued < PURGES_PER_RUN {
        let limit = (PURGES_PER_RUN - enqueued).min(100);
        let (due, next) = ErasureDue::due(platform.table.as_ref(), now, limit, cursor).await?;
        for chunk in due.chunks(MAX_BATCH) {
            let jobs = chunk
                .iter()
                .map(|entry| {
                    NewJob::new(&PurgeAccount {
                        user_id: entry.user_id.clone(),
                        due_at: entry.due_at,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            platform.queue.send(PurgeAccount::QUEUE, jobs).await?;
            enqueued += chunk.len();
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(enqueued)
}
