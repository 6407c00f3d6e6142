//! Forgetting an account's notification centre when the account is erased: every notification, the counter, the
//! preferences and the delivery records, all in the account's `INBOX#<user_id>` partition (their index entries go
//! with them). Nothing new is stored once the deletion began (the in-app write checks the account is active), so
//! one pass finds everything.

use async_trait::async_trait;
use lectern_shared::Platform;
use lectern_shared::erasure::{Budget, EraseError, Erased, Eraser, erase_items};
use lectern_shared::table::{Entity, EntityInfo};

use crate::delivery::Delivery;
use crate::inbox::{InboxCounter, Notification};
use crate::preferences::StoredPreferences;

/// Erases an account's notification centre (`account.purge` runs it before the accounts' own eraser).
pub struct InboxEraser {
    platform: Platform,
}

impl InboxEraser {
    pub fn new(platform: &Platform) -> Self {
        Self {
            platform: platform.clone(),
        }
    }
}

/// The entities of the partition, each erased by a query of its own sort keys.
pub(crate) const ERASED: [EntityInfo; 4] = [
    Notification::INFO,
    Delivery::INFO,
    InboxCounter::INFO,
    StoredPreferences::INFO,
];

#[async_trait]
impl Eraser for InboxEraser {
    fn name(&self) -> &'static str {
        "notifications"
    }

    async fn erase(&self, user_id: &str, budget: &Budget) -> Result<Erased, EraseError> {
        for entity in ERASED {
            let query = entity.query(&[user_id]);
            if erase_items(self.platform.table.as_ref(), query, |_| false, budget).await?
                == Erased::More
            {
                return Ok(Erased::More);
            }
        }
        Ok(Erased::Done)
    }
}
