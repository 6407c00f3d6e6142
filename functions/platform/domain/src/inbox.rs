//! In-app notifications: stored per account, listed newest first, read one by one or all at once, deleted, and
//! counted in one read (see the key design in the crate doc).

use std::collections::BTreeMap;

use lectern_messages::NotificationType;
use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, SortKey,
    TableError, TxOp,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::errors::{NotifyError, NotifyResult};
use crate::preferences::INBOX;
use crate::service::Notifications;

/// Seconds in a UTC day (the unit of expiry and of the unread counts).
const DAY: i64 = 86_400;
/// How often a write that lost a race with another write to the same inbox reads again and retries.
pub(crate) const ATTEMPTS: usize = 5;

/// A notification's unread entry: `INBOX_UNREAD#<user_id>` / `<notification_id>`, removed when it is read alone
/// (a read-all leaves the entries below its watermark, which the query's sort-key condition skips).
pub const UNREAD: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::new("INBOX_UNREAD", &["user_id"]),
        Shape::values(&["notification_id"]),
    ),
);

/// A notification by type: `INBOX_TYPE#<user_id>#<type>` / `<notification_id>`.
pub const BY_TYPE: IndexLayout = IndexLayout::new(
    Index::Gsi2,
    KeyLayout::new(
        Shape::new("INBOX_TYPE", &["user_id", "type"]),
        Shape::values(&["notification_id"]),
    ),
);

/// One in-app notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// In the key only.
    #[serde(skip_serializing)]
    pub user_id: String,
    /// In the key only: a ULID, so the partition lists in creation order.
    #[serde(skip_serializing)]
    pub notification_id: String,
    #[serde(rename = "type")]
    pub category: NotificationType,
    pub title: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// What the app needs to show it (the achievement's id...); never a child's profile id.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
    pub created_at: i64,
    /// Set when it was marked read on its own (a read-all leaves it unset: the watermark says it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<i64>,
    /// Only the item's `ttl`: the end of its creation day plus the retention.
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

impl Notification {
    pub fn key_of(user_id: &str, notification_id: &str) -> Key {
        Self::INFO.key(&[user_id], &[notification_id])
    }

    /// The UTC day it was made on (epoch days), its bucket in the unread counts.
    pub fn day(&self) -> i64 {
        self.created_at.div_euclid(DAY)
    }
}

impl Entity for Notification {
    const INFO: EntityInfo = EntityInfo::new(
        "notification",
        KeyLayout::new(INBOX, Shape::new("NOTE", &["notification_id"])),
    )
    .indexed(&[UNREAD, BY_TYPE]);

    fn key(&self) -> Key {
        Self::key_of(&self.user_id, &self.notification_id)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        let mut keys = vec![BY_TYPE.key(
            &[&self.user_id, self.category.as_str()],
            &[&self.notification_id],
        )];
        if self.read_at.is_none() {
            keys.push(UNREAD.key(&[&self.user_id], &[&self.notification_id]));
        }
        keys
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// An account's unread counts and read-all watermark (`INBOX#<user_id>` / `COUNTER`), rewritten (conditional on
/// `version`) in the transaction of every change to the account's notifications.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxCounter {
    /// In the key only.
    #[serde(skip_serializing)]
    pub user_id: String,
    /// Unread notifications by the UTC day they were made on (epoch days): a day's count expires with the day's
    /// notifications, so the count never includes expired ones.
    #[serde(default)]
    pub unread: BTreeMap<i64, i64>,
    /// Every notification at or below this id is read (the last read-all's watermark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_before: Option<String>,
    /// When the last read-all happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_all_at: Option<i64>,
    /// The highest notification id stored so far (a read-all's watermark is at least this, whatever the clocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
    pub version: i64,
}

impl InboxCounter {
    pub fn key_of(user_id: &str) -> Key {
        Self::INFO.key(&[user_id], &[])
    }

    fn empty(user_id: &str) -> Self {
        Self {
            user_id: user_id.to_string(),
            ..Self::default()
        }
    }

    /// Whether a notification is read: marked on its own, or at or below the watermark.
    pub fn is_read(&self, note: &Notification) -> bool {
        note.read_at.is_some() || self.below_watermark(&note.notification_id)
    }

    fn below_watermark(&self, id: &str) -> bool {
        self.read_before.as_deref().is_some_and(|w| id <= w)
    }

    /// Unread notifications not expired at `now`.
    pub fn unread_at(&self, now: i64, retention_days: i64) -> i64 {
        self.unread
            .iter()
            .filter(|(day, _)| expiry_of_day(**day, retention_days) > now)
            .map(|(_, n)| (*n).max(0))
            .sum()
    }

    /// The write of the counter as changed, conditional on the version read (bumped here); expired days go.
    fn save(&mut self, now: i64, retention_days: i64) -> NotifyResult<TxOp> {
        self.unread
            .retain(|day, n| *n > 0 && expiry_of_day(*day, retention_days) > now);
        let condition = Condition::at_version(self.version);
        self.version += 1;
        Ok(TxOp::Put {
            item: self.to_item()?,
            condition,
        })
    }

    fn count(&mut self, day: i64, by: i64) {
        *self.unread.entry(day).or_insert(0) += by;
    }
}

impl Entity for InboxCounter {
    const INFO: EntityInfo = EntityInfo::new(
        "inbox_counter",
        KeyLayout::new(INBOX, Shape::fixed("COUNTER")),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.user_id)
    }
}

/// When the notifications made on `day` (epoch days) expire: the end of that day plus the retention.
pub fn expiry_of_day(day: i64, retention_days: i64) -> i64 {
    (day + 1 + retention_days) * DAY
}

/// The highest ULID of a millisecond: every id made in it or before is at or below it.
fn highest_id_at(ms: u64) -> String {
    ulid::Ulid::from_parts(ms, (1u128 << 80) - 1).to_string()
}

/// The millisecond of a ULID (0 for anything else).
fn ms_of(id: &str) -> u64 {
    ulid::Ulid::from_string(id)
        .map(|u| u.timestamp_ms())
        .unwrap_or(0)
}

/// A notification as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct NotificationView {
    #[schema(value_type = String, example = "01J9Z8Q4V6Y7KX2M3N4P5R6S7T")]
    pub notification_id: String,
    #[serde(rename = "type")]
    pub category: NotificationType,
    pub title: String,
    pub body: String,
    /// Where the app may take the reader (an absolute http(s) URL), when the notification has a page.
    pub link: Option<String>,
    /// What the app needs to show it: `achievement_id` for an achievement...
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
    /// When it was made (epoch seconds).
    pub created_at: i64,
    pub read: bool,
    /// When it was read (epoch seconds): marked on its own, or by "read all".
    pub read_at: Option<i64>,
    /// When it is removed (epoch seconds).
    pub expires_at: i64,
}

impl NotificationView {
    fn of(note: Notification, counter: &InboxCounter) -> Self {
        let read = counter.is_read(&note);
        let read_at = note
            .read_at
            .or(read.then_some(counter.read_all_at).flatten());
        Self {
            notification_id: note.notification_id,
            category: note.category,
            title: note.title,
            body: note.body,
            link: note.link,
            data: note.data,
            created_at: note.created_at,
            read,
            read_at,
            expires_at: note.expires_at,
        }
    }
}

/// The unread count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: i64,
}

/// Which notifications a list shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Unread ones only.
    pub unread: bool,
    /// Of this type only.
    pub category: Option<NotificationType>,
}

/// A new notification's content, rendered for the recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNotification {
    pub category: NotificationType,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub data: Map<String, Value>,
}

impl Notifications {
    /// One page of an account's notifications, newest first; `position` from the previous page. A page filtered
    /// by both `unread` and `type` may be short and still have a next page (read ones are left out after the
    /// query).
    pub async fn list(
        &self,
        user_id: &str,
        filter: ListFilter,
        limit: usize,
        position: Option<String>,
    ) -> NotifyResult<(Vec<NotificationView>, Option<String>)> {
        let counter = self.counter(user_id).await?;
        let query = match (filter.unread, filter.category) {
            (false, None) => Notification::INFO.query(&[user_id]),
            (true, None) => UNREAD.query(&[user_id]),
            (_, Some(category)) => BY_TYPE.query(&[user_id, category.as_str()]),
        };
        // Everything at or below the watermark is read: an unread list starts above it.
        let query = match (&counter.read_before, filter.unread) {
            (Some(watermark), true) => query.sk(SortKey::GreaterThan(watermark.clone())),
            _ => query,
        };
        let page = self
            .platform
            .table
            .query(query.backwards().limit(limit).after(position))
            .await?;
        let mut items = Vec::with_capacity(page.items.len());
        for item in page.items {
            let note = Notification::from_item(item)?;
            if filter.unread && counter.is_read(&note) {
                continue;
            }
            items.push(NotificationView::of(note, &counter));
        }
        Ok((items, page.cursor))
    }

    /// How many notifications are unread: one read.
    pub async fn unread_count(&self, user_id: &str) -> NotifyResult<UnreadCount> {
        let counter = self.counter(user_id).await?;
        Ok(UnreadCount {
            unread: counter.unread_at(self.now(), self.config.retention_days),
        })
    }

    /// Marks one notification read (again: nothing changes) and answers it.
    pub async fn mark_read(&self, user_id: &str, id: &str) -> NotifyResult<NotificationView> {
        let id = id.to_ascii_uppercase();
        for _ in 0..ATTEMPTS {
            let (note, mut counter) = self.note_and_counter(user_id, &id).await?;
            let mut note = note.ok_or(NotifyError::NotFound)?;
            if counter.is_read(&note) {
                return Ok(NotificationView::of(note, &counter));
            }
            let now = self.now();
            note.read_at = Some(now);
            counter.count(note.day(), -1);
            let ops = vec![
                TxOp::Put {
                    item: note.to_item()?,
                    condition: Condition::AttributeNotExists("read_at".into()),
                },
                counter.save(now, self.config.retention_days)?,
            ];
            match self.platform.table.transact(ops).await {
                Ok(()) => return Ok(NotificationView::of(note, &counter)),
                // Read, deleted or counted meanwhile: look again.
                Err(TableError::TransactionCancelled { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(busy())
    }

    /// Marks every notification read, in one write whatever their number: the watermark moves above all of them.
    pub async fn read_all(&self, user_id: &str) -> NotifyResult<()> {
        for _ in 0..ATTEMPTS {
            let mut counter = self.counter(user_id).await?;
            let now = self.now();
            if counter.unread_at(now, self.config.retention_days) == 0 {
                // Nothing unread: nothing to move (a notification stored meanwhile is newer than this request).
                return Ok(());
            }
            let mut watermark = highest_id_at(self.now_ms());
            if let Some(latest) = &counter.latest
                && *latest > watermark
            {
                watermark = latest.clone();
            }
            counter.read_before = Some(watermark);
            counter.read_all_at = Some(now);
            counter.unread.clear();
            let op = counter.save(now, self.config.retention_days)?;
            match self.platform.table.transact(vec![op]).await {
                Ok(()) => return Ok(()),
                Err(TableError::TransactionCancelled { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(busy())
    }

    /// Deletes one notification (an unread one leaves the count with it).
    pub async fn delete(&self, user_id: &str, id: &str) -> NotifyResult<()> {
        let id = id.to_ascii_uppercase();
        for _ in 0..ATTEMPTS {
            let (note, mut counter) = self.note_and_counter(user_id, &id).await?;
            let note = note.ok_or(NotifyError::NotFound)?;
            let ops = if counter.is_read(&note) {
                vec![TxOp::Delete {
                    key: note.key(),
                    condition: Condition::Exists,
                }]
            } else {
                counter.count(note.day(), -1);
                vec![
                    TxOp::Delete {
                        key: note.key(),
                        condition: Condition::AttributeNotExists("read_at".into()),
                    },
                    counter.save(self.now(), self.config.retention_days)?,
                ]
            };
            match self.platform.table.transact(ops).await {
                Ok(()) => return Ok(()),
                Err(TableError::TransactionCancelled { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(busy())
    }

    /// The account's counter (an empty one while it has none).
    pub(crate) async fn counter(&self, user_id: &str) -> NotifyResult<InboxCounter> {
        Ok(self
            .platform
            .table
            .get(&InboxCounter::key_of(user_id))
            .await?
            .map(InboxCounter::from_item)
            .transpose()?
            .unwrap_or_else(|| InboxCounter::empty(user_id)))
    }

    /// A notification of the account and the account's counter, in one batch read.
    async fn note_and_counter(
        &self,
        user_id: &str,
        id: &str,
    ) -> NotifyResult<(Option<Notification>, InboxCounter)> {
        let keys = [
            Notification::key_of(user_id, id),
            InboxCounter::key_of(user_id),
        ];
        let mut note = None;
        let mut counter = InboxCounter::empty(user_id);
        for item in self.platform.table.batch_get(&keys).await? {
            if Key::of(&item).as_ref() == Some(&keys[0]) {
                note = Some(Notification::from_item(item)?);
            } else {
                counter = InboxCounter::from_item(item)?;
            }
        }
        Ok((note, counter))
    }

    /// The writes that store a new notification for `user_id` and count it, given the counter read: its id is
    /// above the watermark (whatever this process's clock says) and the counter's write is conditional on the
    /// version read, so a racing read-all either sees it or makes this transaction fail.
    pub(crate) fn insert_ops(
        &self,
        user_id: &str,
        counter: &mut InboxCounter,
        new: NewNotification,
    ) -> NotifyResult<(Notification, Vec<TxOp>)> {
        let now = self.now();
        let floor = counter
            .read_before
            .iter()
            .chain(counter.latest.iter())
            .map(|id| ms_of(id) + 1)
            .max()
            .unwrap_or(0);
        let ms = self.now_ms().max(floor);
        let id = ulid::Ulid::from_parts(ms, rand_bits()).to_string();
        let created_at = now;
        let note = Notification {
            user_id: user_id.to_string(),
            notification_id: id.clone(),
            category: new.category,
            title: new.title,
            body: new.body,
            link: new.link,
            data: new.data,
            created_at,
            read_at: None,
            expires_at: expiry_of_day(created_at.div_euclid(DAY), self.config.retention_days),
        };
        counter.count(note.day(), 1);
        counter.latest = Some(id);
        let ops = vec![
            TxOp::Put {
                item: note.to_item()?,
                condition: Condition::NotExists,
            },
            counter.save(now, self.config.retention_days)?,
        ];
        Ok((note, ops))
    }
}

/// 80 random bits for a ULID.
fn rand_bits() -> u128 {
    ulid::Ulid::new().random()
}

fn busy() -> NotifyError {
    NotifyError::Conflict("the notifications changed meanwhile too often; retry".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_covers_every_id_of_its_millisecond_and_before() {
        let w = highest_id_at(1_000);
        assert!(ulid::Ulid::from_parts(1_000, 0).to_string() <= w);
        assert!(ulid::Ulid::from_parts(999, u128::MAX >> 48).to_string() <= w);
        assert!(ulid::Ulid::from_parts(1_001, 0).to_string() > w);
        assert_eq!(ms_of(&w), 1_000);
    }

    #[test]
    fn counts_of_expired_days_are_left_out() {
        let mut counter = InboxCounter::empty("u");
        counter.count(10, 2);
        counter.count(11, 1);
        let retention = 7;
        assert_eq!(
            counter.unread_at(expiry_of_day(10, retention) - 1, retention),
            3
        );
        assert_eq!(
            counter.unread_at(expiry_of_day(10, retention), retention),
            1
        );
        assert_eq!(
            counter.unread_at(expiry_of_day(11, retention), retention),
            0
        );
    }
}
