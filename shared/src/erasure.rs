//! Erasing an account everywhere once its deletion grace period is over.
//!
//! The pieces, and who owns them:
//! - [`ErasureDue`]: one entry per soft-deleted account, `ERASURE` / `<due_at>#<user_id>`, written by the accounts
//!   domain in the same transaction that deletes the account and removed in the one that restores it. Sorted by
//!   due time in one partition, so the hourly housekeeping run finds every due account with one query and no scan.
//! - The `account.purge` job (`lectern_messages::PurgeAccount`): housekeeping enqueues one per due entry.
//! - [`Eraser`]: what one domain does to forget an account. Each domain implements it for the data it keeps under
//!   its own keys; the jobs worker (`functions/platform/jobs`) hands every domain's eraser to the accounts
//!   domain's purge handler, which runs them, runs its own eraser last, and then, in one transaction, deletes the
//!   account, releases its email and the due entry, and records the erasure in the audit log.
//!
//! Erasers must be idempotent and resumable: a purge that crashes, times out or runs out of its budget is simply
//! run again (by a continuation job, the SQS redelivery, or the next housekeeping run) and continues with
//! whatever is left.

use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::blobs::{BlobError, Blobs};
use crate::table::{
    Condition, Entity, EntityInfo, Item, Key, KeyLayout, Query, Shape, SortKey, Table, TableError,
    TableResult, TxOp,
};

/// Deletes issued at once while erasing (one round trip each; the table port has no batch write).
const PARALLEL_DELETES: usize = 25;

/// An account whose erasure is due at `due_at` (epoch seconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureDue {
    pub user_id: String,
    pub due_at: i64,
}

/// The sort-key form of a due time: fixed width, so strings sort as the times do.
fn due_key(due_at: i64) -> String {
    format!("{:012}", due_at.max(0))
}

impl ErasureDue {
    pub fn new(user_id: &str, due_at: i64) -> Self {
        Self {
            user_id: user_id.into(),
            due_at,
        }
    }

    pub fn key_of(user_id: &str, due_at: i64) -> Key {
        Self::INFO.key(&[], &[&due_key(due_at), user_id])
    }

    /// Writes (or rewrites) this entry, as part of the transaction that soft-deletes the account.
    pub fn put(&self) -> TableResult<TxOp> {
        Ok(TxOp::Put {
            item: self.to_item()?,
            condition: Condition::Always,
        })
    }

    /// Removes the entry, as part of the transaction that restores or erases the account.
    pub fn remove(user_id: &str, due_at: i64) -> TxOp {
        TxOp::Delete {
            key: Self::key_of(user_id, due_at),
            condition: Condition::Always,
        }
    }

    /// The entries due at `now` or earlier, oldest first, one page (`cursor` from the previous page).
    pub async fn due(
        table: &dyn Table,
        now: i64,
        limit: usize,
        cursor: Option<String>,
    ) -> TableResult<(Vec<Self>, Option<String>)> {
        // `<due_at>#<user_id>` is below the fixed-width `now + 1` exactly when due_at <= now.
        let query = Self::INFO
            .query(&[])
            .sk(SortKey::LessThan(due_key(now.saturating_add(1))))
            .limit(limit)
            .after(cursor);
        let page = table.query(query).await?;
        let due = page
            .items
            .into_iter()
            .map(Self::from_item)
            .collect::<TableResult<_>>()?;
        Ok((due, page.cursor))
    }
}

impl Entity for ErasureDue {
    const INFO: EntityInfo = EntityInfo::new(
        "erasure_due",
        KeyLayout::new(
            Shape::fixed("ERASURE"),
            Shape::values(&["due_key", "user_id"]),
        ),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.user_id, self.due_at)
    }
}

/// Whether an eraser finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Erased {
    /// Nothing of the account is left in this domain.
    Done,
    /// The budget ran out first; run it again to continue.
    More,
}

/// Why an eraser stopped (the purge is retried).
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Blobs(#[from] BlobError),
}

/// How long one purge run may keep erasing (it must end well within the worker's Lambda timeout).
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    until: Instant,
}

impl Budget {
    pub fn new(duration: Duration) -> Self {
        Self {
            until: Instant::now() + duration,
        }
    }

    /// Whether the run should stop and leave the rest to the next one.
    pub fn spent(&self) -> bool {
        Instant::now() >= self.until
    }
}

/// What one domain does to forget an account: delete everything it keeps about `user_id` (items and blobs).
///
/// Implementations must be idempotent (a rerun deletes what is left and succeeds) and must find the account's
/// data without scanning the table (the account's partition, an index by user, a blob prefix). Items that expire
/// by themselves before the purge is due (short-lived tokens) need not be searched for.
#[async_trait]
pub trait Eraser: Send + Sync + 'static {
    /// A stable name (logs, and the erasure's audit record lists the erasers that ran).
    fn name(&self) -> &'static str;

    /// Erases what this domain holds about the account, stopping early with [`Erased::More`] once `budget` is
    /// spent.
    async fn erase(&self, user_id: &str, budget: &Budget) -> Result<Erased, EraseError>;
}

/// Deletes every item `query` returns, page after page, except those `keep` spares. Returns [`Erased::More`] when
/// the budget ran out first. The query may be on an index: items are deleted by their own key.
pub async fn erase_items(
    table: &dyn Table,
    query: Query,
    keep: impl Fn(&Item) -> bool,
    budget: &Budget,
) -> TableResult<Erased> {
    let mut cursor = None;
    loop {
        let page = table.query(query.clone().after(cursor)).await?;
        let keys: Vec<Key> = page
            .items
            .iter()
            .filter(|item| !keep(item))
            .filter_map(Key::of)
            .collect();
        for chunk in keys.chunks(PARALLEL_DELETES) {
            let deleted =
                join_all(chunk.iter().map(|key| table.delete(key, Condition::Always))).await;
            deleted.into_iter().collect::<TableResult<Vec<()>>>()?;
            if budget.spent() {
                return Ok(Erased::More);
            }
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(Erased::Done),
        }
    }
}

/// Deletes every blob under `prefix` (e.g. `avatars/<user_id>/`).
pub async fn erase_blobs(
    blobs: &dyn Blobs,
    prefix: &str,
    budget: &Budget,
) -> Result<Erased, BlobError> {
    loop {
        // Always the first page: what was listed is deleted, so the next listing starts after it.
        let (objects, more) = blobs.list(prefix, None, 100).await?;
        for chunk in objects.chunks(PARALLEL_DELETES) {
            let deleted = join_all(chunk.iter().map(|o| blobs.delete(&o.key))).await;
            deleted.into_iter().collect::<Result<Vec<()>, _>>()?;
            if budget.spent() {
                return Ok(Erased::More);
            }
        }
        if objects.is_empty() || more.is_none() {
            return Ok(Erased::Done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_sort_as_times_and_select_what_is_due() {
        let a = ErasureDue::key_of("01HZZZZZZZZZZZZZZZZZZZZZZZ", 999);
        let b = ErasureDue::key_of("01H00000000000000000000000", 1_000);
        assert!(a.sk < b.sk, "{a} before {b}");
        let bound = due_key(1_000 + 1);
        assert!(a.sk < bound && b.sk < bound, "both due at 1000");
        assert!(b.sk.as_str() > due_key(999 + 1).as_str(), "not due at 999");
    }
}
