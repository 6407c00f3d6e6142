//! Abandoned uploads: a presigned upload the client used but never confirmed leaves an object nobody refers to.
//! The stores keep it forever (S3 has no notion of "unconfirmed"; the embedded folder neither), so each presign
//! records a [`PendingUpload`], `PENDING_UPLOAD#<blob key>` / `UPLOAD`, due an hour after the form expires, on the
//! index partition `UPLOADS_DUE` (gsi1, sorted by due time). Confirming removes the record; housekeeping finds the
//! records that came due ([`sweep_abandoned`], one query of the index, never a scan of the bucket) and deletes
//! their objects, and the records with them.
//!
//! Order of a confirmation: the object is checked, then the record removed, then the owner's item saved. A crash
//! between the last two leaves an unreferenced object that no sweep will find (a leak, never the deletion of an
//! image in use); the opposite order could delete a confirmed avatar.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Blobs;
use crate::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, SortKey,
    Table, TableResult,
};

/// How long after its form expires an unconfirmed upload is removed: a client confirming right at the end of its
/// form still has time.
pub const GRACE_SECS: i64 = 3600;
/// How long a record outlives its due time if no sweep ever ran (then the store's TTL reclaims it).
const KEEP_SECS: i64 = 30 * 24 * 3600;

/// The uploads by due time: `UPLOADS_DUE` / `<due_at>#<blob key>` (gsi1).
pub const UPLOADS_DUE: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::fixed("UPLOADS_DUE"),
        Shape::values(&["due_key", "blob_key"]),
    ),
);

/// An upload presigned and not confirmed yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpload {
    /// In the key.
    pub blob_key: String,
    /// When the object, if still unconfirmed, is removed (epoch seconds).
    pub due_at: i64,
    /// Only the item's `ttl`.
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

fn due_key(due_at: i64) -> String {
    format!("{:012}", due_at.max(0))
}

impl PendingUpload {
    pub fn key_of(blob_key: &str) -> Key {
        Self::INFO.key(&[blob_key], &[])
    }

    /// Records an upload presigned at `now` whose form is valid for `expires_in`.
    pub async fn record(
        table: &dyn Table,
        blob_key: &str,
        expires_in: Duration,
        now: i64,
    ) -> TableResult<()> {
        let due_at = now + expires_in.as_secs() as i64 + GRACE_SECS;
        let pending = PendingUpload {
            blob_key: blob_key.into(),
            due_at,
            expires_at: due_at + KEEP_SECS,
        };
        table.put(pending.to_item()?, Condition::Always).await
    }

    /// The upload was confirmed: its object is kept.
    pub async fn settle(table: &dyn Table, blob_key: &str) -> TableResult<()> {
        table
            .delete(&Self::key_of(blob_key), Condition::Always)
            .await
    }
}

impl Entity for PendingUpload {
    const INFO: EntityInfo = EntityInfo::new(
        "pending_upload",
        KeyLayout::new(
            Shape::new("PENDING_UPLOAD", &["blob_key"]),
            Shape::fixed("UPLOAD"),
        ),
    )
    .indexed(&[UPLOADS_DUE]);

    fn key(&self) -> Key {
        Self::key_of(&self.blob_key)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        vec![UPLOADS_DUE.key(&[], &[&due_key(self.due_at), &self.blob_key])]
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// A presigned upload form for `blob_key`, recorded as pending: the one way a domain hands out an upload form.
pub async fn presign_pending(
    blobs: &dyn Blobs,
    table: &dyn Table,
    blob_key: &str,
    rules: &super::UploadRules,
    now: i64,
) -> anyhow::Result<super::PresignedUpload> {
    let form = blobs.presign_upload(blob_key, rules).await?;
    PendingUpload::record(table, blob_key, rules.expires_in, now).await?;
    Ok(form)
}

/// Deletes the objects of at most `limit` uploads that came due unconfirmed by `now`, and their records; answers
/// how many. Idempotent: deleting an absent object succeeds, so a sweep that stopped halfway is simply run again.
pub async fn sweep_abandoned(
    table: &dyn Table,
    blobs: &dyn Blobs,
    now: i64,
    limit: usize,
) -> anyhow::Result<usize> {
    let page = table
        .query(
            UPLOADS_DUE
                .query(&[])
                .sk(SortKey::LessThan(due_key(now.saturating_add(1))))
                .limit(limit),
        )
        .await?;
    let mut removed = 0;
    for item in page.items {
        let pending = PendingUpload::from_item(item)?;
        blobs.delete(&pending.blob_key).await?;
        PendingUpload::settle(table, &pending.blob_key).await?;
        removed += 1;
    }
    Ok(removed)
}
