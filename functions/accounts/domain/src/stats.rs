//! Account statistics for `GET /v1/admin/stats`, kept as events happen and never counted by a scan.
//!
//! Entities (declared once, here):
//! - `ACCOUNTSTATS` / `TOTALS` (`account_totals`): how many stored accounts have each role, tier and status
//!   (`role_<role>`, `tier_<tier>`, `status_<status>`), changed by atomic adds in the same transaction as the
//!   account: its creation (`Users::create_ops`), every role, tier or status change (`Accounts::guarded`, the one
//!   path those changes take) and its erasure. A deleted account counts as `status_deleted` until it is erased.
//! - `ACCOUNTSTATS` / `DAY#<yyyy-mm-dd>` (`account_day`): sign-ups of a UTC day (with the account's creation) and
//!   active accounts of the day (`active`).
//! - `ACTIVEDAY#<user_id>` / `<yyyy-mm-dd>` (`active_day`): the mark that an account was counted active on a day,
//!   kept 3 days. "Active" means signed in or refreshed a session that day: the first time, a transaction puts the
//!   mark (only if absent) and adds one to the day; later sign-ins of the day find the mark and add nothing. Each
//!   instance also remembers whom it counted today, so it tries at most once per account and day. Requests
//!   made with an access token issued the day before, and API keys, do not count (cheaper than a write on the
//!   first authenticated request: an active user refreshes every 15 minutes anyway).
//!
//! Counters start when this code is deployed: `lectern recount-account-stats` ([`Accounts::recount_stats`]) sets
//! the totals and past sign-ups from the accounts (run it once after upgrading; see the README). Active accounts
//! of days before the upgrade stay unknown.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use lectern_shared::table::{
    Condition, Entity, EntityInfo, Item, Key, KeyLayout, Shape, TableError, TxOp, Update,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, OffsetDateTime};

use crate::errors::AccountError;
use crate::service::Accounts;
use crate::users::User;

/// Every account's role, tier and status, counted.
pub const TOTALS: EntityInfo = EntityInfo::new(
    "account_totals",
    KeyLayout::new(Shape::fixed("ACCOUNTSTATS"), Shape::fixed("TOTALS")),
);
/// Sign-ups and active accounts of one UTC day.
pub const DAY: EntityInfo = EntityInfo::new(
    "account_day",
    KeyLayout::new(Shape::fixed("ACCOUNTSTATS"), Shape::new("DAY", &["day"])),
);
/// An account counted active on a day.
pub const ACTIVE_MARK: EntityInfo = EntityInfo::new(
    "active_day",
    KeyLayout::new(
        Shape::new("ACTIVEDAY", &["user_id"]),
        Shape::values(&["day"]),
    ),
);
/// The mark that `user_id` was counted active on `day` (only its key and its expiry are stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveMark {
    #[serde(skip_serializing)]
    pub user_id: String,
    #[serde(skip_serializing)]
    pub day: String,
    /// Only the item's `ttl`.
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

impl Entity for ActiveMark {
    const INFO: EntityInfo = ACTIVE_MARK;

    fn key(&self) -> Key {
        ACTIVE_MARK.key(&[&self.user_id], &[&self.day])
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// How long an active mark is kept (past its day, so a sign-in at 23:59 on an instance whose clock is a little
/// behind still finds it).
const MARK_SECS: i64 = 3 * 24 * 3600;
/// Most days one stats answer covers.
pub const MAX_DAYS: u32 = 90;

fn totals_key() -> Key {
    TOTALS.key(&[], &[])
}

/// The UTC day of an epoch second, `yyyy-mm-dd`.
pub fn day_of(epoch: i64) -> String {
    let date = OffsetDateTime::from_unix_timestamp(epoch)
        .map(|t| t.date())
        .unwrap_or(Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The three counters an account is in.
fn counters(user: &User) -> [String; 3] {
    [
        format!("role_{}", user.role.as_str()),
        format!("tier_{}", user.tier.as_str()),
        format!("status_{}", user.status.as_str()),
    ]
}

fn add_all(update: Update, names: &[String], by: i64) -> Update {
    names.iter().fold(update, |u, name| u.add(name.clone(), by))
}

/// With a new account's creation: it counts in its role, tier and status, and as a sign-up of its day.
pub fn created_ops(user: &User) -> Vec<TxOp> {
    let day = day_of(user.created_at);
    vec![
        TxOp::Update {
            key: totals_key(),
            update: add_all(TOTALS.update(), &counters(user), 1),
            condition: Condition::Always,
        },
        TxOp::Update {
            key: DAY.key(&[], &[&day]),
            update: DAY.update().add("signups", 1),
            condition: Condition::Always,
        },
    ]
}

/// With a changed account: moves it between counters when its role, tier or status changed (none otherwise).
pub fn changed_op(before: &User, after: &User) -> Option<TxOp> {
    let (old, new) = (counters(before), counters(after));
    let mut update = TOTALS.update();
    let mut moved = false;
    for (o, n) in old.iter().zip(new.iter()) {
        if o != n {
            update = update.add(o.clone(), -1).add(n.clone(), 1);
            moved = true;
        }
    }
    moved.then(|| TxOp::Update {
        key: totals_key(),
        update,
        condition: Condition::Always,
    })
}

/// With an account's erasure: it leaves its counters.
pub fn erased_op(user: &User) -> TxOp {
    TxOp::Update {
        key: totals_key(),
        update: add_all(TOTALS.update(), &counters(user), -1),
        condition: Condition::Always,
    }
}

/// The accounts counted on this instance today, so a session refreshed every 15 minutes costs one attempt a day.
#[derive(Debug, Default)]
pub struct ActiveToday(Mutex<(String, HashSet<String>)>);

impl ActiveToday {
    /// Whether `user_id` still needs counting on `day` here; remembers it from now on.
    fn first(&self, day: &str, user_id: &str) -> bool {
        let Ok(mut seen) = self.0.lock() else {
            return true;
        };
        if seen.0 != day {
            *seen = (day.to_string(), HashSet::new());
        }
        seen.1.insert(user_id.to_string())
    }
}

/// Counters by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountCounts {
    pub by_role: BTreeMap<String, i64>,
    pub by_tier: BTreeMap<String, i64>,
    pub by_status: BTreeMap<String, i64>,
}

impl AccountCounts {
    /// The counts from counter names (`role_<role>`, `tier_<tier>`, `status_<status>`) and values.
    fn from_counters<'a>(counters: impl Iterator<Item = (&'a str, i64)>) -> Self {
        let mut counts = Self::default();
        for (name, n) in counters {
            if let Some(role) = name.strip_prefix("role_") {
                counts.by_role.insert(role.into(), n);
            } else if let Some(tier) = name.strip_prefix("tier_") {
                counts.by_tier.insert(tier.into(), n);
            } else if let Some(status) = name.strip_prefix("status_") {
                counts.by_status.insert(status.into(), n);
            }
        }
        counts
    }
}

/// One UTC day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DayStats {
    /// `yyyy-mm-dd`.
    pub day: String,
    pub signups: i64,
    /// Accounts that signed in or refreshed a session that day.
    pub active: i64,
}

/// What `GET /v1/admin/stats` answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountStats {
    pub accounts: AccountCounts,
    /// The last `days` UTC days, newest first (today included).
    pub days: Vec<DayStats>,
}

fn number(item: &Item, name: &str) -> i64 {
    item.get(name).and_then(Value::as_i64).unwrap_or(0)
}

impl Accounts {
    /// Counts `user_id` active today, once per day (see the module). Never fails the sign-in it follows: a
    /// failed count is logged and lost.
    pub(crate) async fn mark_active(&self, user_id: &str) {
        let now = self.epoch();
        let day = day_of(now);
        if !self.active_today.first(&day, user_id) {
            return;
        }
        let mark = ActiveMark {
            user_id: user_id.to_string(),
            day: day.clone(),
            expires_at: now + MARK_SECS,
        };
        let Ok(item) = mark.to_item() else {
            return;
        };
        let ops = vec![
            TxOp::Put {
                item,
                condition: Condition::NotExists,
            },
            TxOp::Update {
                key: DAY.key(&[], &[&day]),
                update: DAY.update().add("active", 1),
                condition: Condition::Always,
            },
        ];
        match self.platform.table.transact(ops).await {
            Ok(()) | Err(TableError::TransactionCancelled { index: Some(0), .. }) => {}
            Err(e) => tracing::warn!(error = %e, "the active-accounts count was not updated"),
        }
    }

    /// The totals and the last `days` days (1..=[`MAX_DAYS`]), in one batch read.
    pub async fn stats(&self, days: u32) -> Result<AccountStats, AccountError> {
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(AccountError::field(
                "query.days",
                format!("1 to {MAX_DAYS}"),
            ));
        }
        let now = self.epoch();
        let names: Vec<String> = (0..i64::from(days))
            .map(|back| day_of(now - back * 86_400))
            .collect();
        let mut keys = vec![totals_key()];
        keys.extend(names.iter().map(|d| DAY.key(&[], &[d])));
        let items = self.platform.table.batch_get(&keys).await?;
        let mut stats = AccountStats::default();
        let mut by_key: BTreeMap<Key, &Item> = BTreeMap::new();
        for item in &items {
            if let Some(key) = Key::of(item) {
                by_key.insert(key, item);
            }
        }
        if let Some(totals) = by_key.get(&totals_key()) {
            stats.accounts = AccountCounts::from_counters(
                totals
                    .iter()
                    .filter_map(|(name, value)| Some((name.as_str(), value.as_i64()?))),
            );
        }
        stats.days = names
            .into_iter()
            .map(|day| {
                let item = by_key.get(&DAY.key(&[], &[&day]));
                DayStats {
                    signups: item.map(|i| number(i, "signups")).unwrap_or(0),
                    active: item.map(|i| number(i, "active")).unwrap_or(0),
                    day,
                }
            })
            .collect();
        Ok(stats)
    }
}

impl Accounts {
    /// Sets the totals, and the sign-ups of every day an account still stored was created on, from the accounts
    /// themselves: once after upgrading to a version that keeps the counters (`lectern recount-account-stats`),
    /// since they start at zero. Reads every account (a paged query of the email index), so run it when admins are
    /// not changing accounts: a change committed while it runs may be counted twice or not at all (run it again).
    /// Active accounts of past days cannot be recovered. Answers the totals written.
    pub async fn recount_stats(&self) -> Result<AccountCounts, AccountError> {
        use crate::permissions::Role;
        use crate::users::{BY_EMAIL, Status, Tier};
        let mut totals: BTreeMap<String, i64> = Role::ALL
            .iter()
            .map(|r| format!("role_{}", r.as_str()))
            .chain(Tier::ALL.iter().map(|t| format!("tier_{}", t.as_str())))
            .chain(Status::ALL.iter().map(|s| format!("status_{}", s.as_str())))
            .map(|name| (name, 0))
            .collect();
        let mut signups: BTreeMap<String, i64> = BTreeMap::new();
        let mut cursor = None;
        loop {
            let page = self
                .platform
                .table
                .query(BY_EMAIL.query(&[]).limit(100).after(cursor))
                .await?;
            for item in page.items {
                let Ok(user) = User::from_item(item) else {
                    continue;
                };
                for name in counters(&user) {
                    *totals.entry(name).or_default() += 1;
                }
                *signups.entry(day_of(user.created_at)).or_default() += 1;
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let update = totals
            .iter()
            .fold(TOTALS.update(), |u, (name, n)| u.set(name.clone(), *n));
        self.platform
            .table
            .update(&totals_key(), update, Condition::Always)
            .await?;
        for (day, n) in &signups {
            self.platform
                .table
                .update(
                    &DAY.key(&[], &[day]),
                    DAY.update().set("signups", *n),
                    Condition::Always,
                )
                .await?;
        }
        Ok(AccountCounts::from_counters(
            totals.iter().map(|(name, n)| (name.as_str(), *n)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_calendar_days() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(1_900_000_000), "2030-03-17");
        assert_eq!(day_of(1_899_935_999), "2030-03-16");
        assert_eq!(day_of(1_899_936_000), "2030-03-17");
    }

    #[test]
    fn an_instance_counts_an_account_once_a_day() {
        let seen = ActiveToday::default();
        assert!(seen.first("2030-03-17", "a"));
        assert!(!seen.first("2030-03-17", "a"));
        assert!(seen.first("2030-03-17", "b"));
        assert!(seen.first("2030-03-18", "a"));
    }
}
