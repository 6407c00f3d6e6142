//! Forgetting learners: a deleted profile (the `learning.erase_profile` job, written to the outbox by the
//! transaction that deletes it) and every profile of an erased account (the `account.purge` job, through
//! [`LearningEraser`]). Everything is found without a scan:
//!
//! - the profile's partition `LEARNER#<profile_id>`: results, statistics, idempotency keys, earned achievements,
//!   the evaluation marker — and the profile item itself, deleted last, so a run that is cut short still finds
//!   the profile through its family's index and continues;
//! - its leaderboard entries, through their gsi2 `BOARDS_OF#<profile_id>`: each is deleted together with its
//!   count in its shard's score buckets, so the ranks of everyone else stay right;
//! - its avatars, under [`avatar_prefix`].
//!
//! For an account, every profile of the family (gsi1 `FAMILY#<owner_id>`), then the family partition (the
//! profile counter and the consent records, which outlive a single deleted child profile but not the account).
//!
//! Nothing can be written under a profile once it is deleted: recording a result, a board entry, an earned
//! achievement or the evaluation marker is a transaction that also requires the profile to exist. So an eraser
//! that runs after the deletion finds everything there will ever be. (For an account, its profiles are deleted
//! last, but the account has been deleted — and signed out everywhere — for the whole grace period, so nothing
//! writes under them any more.)
//!
//! Kept: the catalog's popularity counts and the score-bucket totals of other profiles (aggregates naming no
//! one). A child's display name also travels in the parent's achievement notification (`AchievementEarned`);
//! the notifications worker that delivers it keeps no copy.

use async_trait::async_trait;
use lectern_shared::Platform;
use lectern_shared::erasure::{Budget, EraseError, Erased, Eraser, erase_blobs, erase_items};
use lectern_shared::table::{
    Condition, ENTITY, Entity, Item, KeyLayout, Shape, Table, TableError, TableResult,
};
use serde_json::Value;

use crate::leaderboards::{BY_PROFILE, BoardEntry};
use crate::profiles::{BY_FAMILY, Profile, avatar_prefix};

/// Page size of the erasers' queries.
const PAGE: usize = 100;
/// Attempts at deleting a board entry that moves meanwhile.
const ATTEMPTS: usize = 5;

/// Every item in a profile's partition, whatever its entity.
pub(crate) const PROFILE_PARTITION: KeyLayout = KeyLayout::new(
    Shape::new("LEARNER", &["profile_id"]),
    Shape::values(&["item"]),
);
/// Every item in a family's partition: the profile counter and the consent records.
pub(crate) const FAMILY_PARTITION: KeyLayout = KeyLayout::new(
    Shape::new("FAMILY", &["owner_id"]),
    Shape::values(&["item"]),
);

fn is_profile(item: &Item) -> bool {
    item.get(ENTITY).and_then(Value::as_str) == Some(Profile::INFO.name)
}

/// Erases what the learning domain keeps about one profile (see the module doc); the profile item goes last.
/// Idempotent: a rerun finds what is left.
pub async fn erase_profile(
    platform: &Platform,
    profile_id: &str,
    budget: &Budget,
) -> Result<Erased, EraseError> {
    let table = platform.table.as_ref();
    if erase_board_entries(table, profile_id, budget).await? == Erased::More {
        return Ok(Erased::More);
    }
    let partition = PROFILE_PARTITION.query(&[profile_id]).limit(PAGE);
    if erase_items(table, partition, is_profile, budget).await? == Erased::More {
        return Ok(Erased::More);
    }
    if erase_blobs(platform.blobs.as_ref(), &avatar_prefix(profile_id), budget).await?
        == Erased::More
    {
        return Ok(Erased::More);
    }
    table
        .delete(&Profile::key_of(profile_id), Condition::Always)
        .await?;
    Ok(Erased::Done)
}

/// Deletes the profile's entries on every board, each with its count in its shard's buckets.
async fn erase_board_entries(
    table: &dyn Table,
    profile_id: &str,
    budget: &Budget,
) -> TableResult<Erased> {
    let mut cursor = None;
    loop {
        // The index is paged through, not re-read from the start: on DynamoDB it may still list an entry deleted
        // a moment ago.
        let page = table
            .query(BY_PROFILE.query(&[profile_id]).limit(PAGE).after(cursor))
            .await?;
        for item in page.items {
            remove_entry(table, BoardEntry::from_item(item)?).await?;
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

/// Deletes one board entry and takes it out of its bucket's count, as it is now (a racing improvement moves it
/// between buckets: read it again and retry).
async fn remove_entry(table: &dyn Table, listed: BoardEntry) -> TableResult<()> {
    let key = listed.key();
    let mut entry = Some(listed);
    for _ in 0..ATTEMPTS {
        let Some(current) = entry.take() else {
            return Ok(());
        };
        match table.transact(current.removal()).await {
            Ok(()) => return Ok(()),
            Err(TableError::TransactionCancelled { .. }) | Err(TableError::Retryable(_)) => {
                entry = table
                    .get(&key)
                    .await?
                    .map(BoardEntry::from_item)
                    .transpose()?;
            }
            Err(e) => return Err(e),
        }
    }
    Err(TableError::Retryable(format!(
        "the board entry {key} kept changing"
    )))
}

/// The learning domain's part of erasing an account: every profile of its family, then the family itself.
pub struct LearningEraser {
    platform: Platform,
}

impl LearningEraser {
    pub fn new(platform: &Platform) -> Self {
        Self {
            platform: platform.clone(),
        }
    }
}

#[async_trait]
impl Eraser for LearningEraser {
    fn name(&self) -> &'static str {
        "learning"
    }

    async fn erase(&self, user_id: &str, budget: &Budget) -> Result<Erased, EraseError> {
        let table = self.platform.table.as_ref();
        loop {
            // Always the first page: each profile listed is deleted before the next listing.
            let page = table.query(BY_FAMILY.query(&[user_id]).limit(PAGE)).await?;
            let profiles: Vec<String> = page
                .items
                .iter()
                .filter_map(|item| item.get("profile_id").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            if profiles.is_empty() {
                break;
            }
            for profile_id in profiles {
                if erase_profile(&self.platform, &profile_id, budget).await? == Erased::More {
                    return Ok(Erased::More);
                }
            }
        }
        let family = FAMILY_PARTITION.query(&[user_id]).limit(PAGE);
        Ok(erase_items(table, family, |_| false, budget).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partitions_erased_are_the_profiles_and_the_familys_own() {
        assert_eq!(
            PROFILE_PARTITION.query(&["P1"]).pk,
            Profile::key_of("P1").pk
        );
        assert_eq!(
            FAMILY_PARTITION.query(&["U1"]).pk,
            crate::profiles::FAMILY_COUNTER.key(&["U1"], &[]).pk
        );
    }
}
