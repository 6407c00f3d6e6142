//! The platform's domain library: today, the notification centre — what an account is told, in-app and by email,
//! and how it chooses (issue 11's first slice).
//!
//! # Why here
//!
//! Three platform functions share it: the `notifications` worker (`functions/platform/notifications`) delivers,
//! the `inbox` HTTP function (`functions/platform/inbox`: `/v1/notifications`, `/v1/users/me/
//! notification-preferences`) reads and marks, and the jobs worker erases an account's inbox with the account. A
//! domain library under `functions/platform/` is the one place all three may use without widening the dependency
//! rules (a function uses its own domain's library; a `functions/notifications/` domain would have needed the
//! worker moved or an exception for it), and the worker stays where it was. Like every domain library it knows
//! nothing of the accounts domain: the worker lends it the recipient's address, language and a guard that the
//! account is still active ([`delivery::Ports`]).
//!
//! # Key design
//!
//! One partition per account, `INBOX#<user_id>`; every route is one get, one batch get or one query of it (or of
//! one of its two index partitions); none scans.
//!
//! | entity | pk / sk | index | access pattern |
//! |---|---|---|---|
//! | `notification` | `INBOX#<user_id>` / `NOTE#<notification_id>` (TTL: retention) | gsi1 `INBOX_UNREAD#<user_id>` / `<notification_id>` while unread; gsi2 `INBOX_TYPE#<user_id>#<type>` / `<notification_id>` | the list, newest first (ids are ULIDs); `unread=true` is the gsi1 partition above the read-all watermark; `type=` the gsi2 partition |
//! | `inbox_counter` | `INBOX#<user_id>` / `COUNTER` | — | unread counts per creation day, the read-all watermark, the newest id; changed in the transaction of every write to a notification, conditional on its `version`: `unread-count` is one get |
//! | `notification_preferences` | `INBOX#<user_id>` / `PREFERENCES` | — | channels per type and quiet hours; absent: the defaults ([`preferences`]) |
//! | `notification_delivery` | `INBOX#<user_id>` / `DELIVERY#<key hash>` (TTL: retention) | — | what each channel did for one notification key: a redelivered job reads it and delivers nothing twice ([`delivery`]) |
//!
//! **Read state in O(1).** "Read all" moves a watermark (`read_before`, a ULID at least as high as every
//! notification stored) and empties the counts; a notification at or below it is read without being touched. One
//! marked read on its own gets `read_at` and leaves the unread index. New notifications are given ids above the
//! watermark they saw, and their transaction is conditional on the counter's version, so one racing "read all" is
//! either covered by it or sees it.
//!
//! **Expiry.** A notification lives `LECTERN_NOTIFICATION_RETENTION_DAYS` (default 90) after the end of the UTC day
//! it was made on, so every notification of a day expires at once with that day's unread count, and the count
//! ignores expired days: it stays exact although DynamoDB deletes expired items only eventually (and the embedded
//! store when housekeeping sweeps). Reads never return expired items (the table port filters them).

pub mod config;
pub mod delivery;
pub mod erasure;
pub mod errors;
pub mod export;
pub mod inbox;
pub mod preferences;
pub mod quiet;
pub mod reminders;
pub mod service;

pub use errors::{NotifyError, NotifyResult};
pub use service::Notifications;

use lectern_shared::table::{Entity, EntityInfo};

/// Every entity this library stores (checked with every other crate's by `tests/architecture/keys.rs`).
pub const ENTITIES: &[EntityInfo] = &[
    inbox::Notification::INFO,
    inbox::InboxCounter::INFO,
    preferences::StoredPreferences::INFO,
    delivery::Delivery::INFO,
];
