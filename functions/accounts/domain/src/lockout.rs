//! Account lockout, "smart" the way large identity providers do it, because a school or campus puts hundreds of
//! people behind one address and an attacker must not be able to lock a chosen person out:
//!
//! - **Per account and source.** `threshold` failed checks (passwords or 2FA codes) for one account from one source
//!   (a client IP; IPv6 per /64) within `window` lock that account *for that source* for `duration`. The owner,
//!   signing in from anywhere else, is not affected.
//! - **Account-wide**, for attacks spread over many sources: `account_threshold` failures within `account_window`
//!   (much higher, much longer) lock the account from everywhere for `account_duration`. Failures refused because
//!   their source is locked are not checked and not counted, so one source adds at most `threshold` per window.
//! - Recovery stays open: a password reset (emailed to the owner) clears the account-wide counter and the resetting
//!   source's, and is never refused by a lock.
//!
//! Per-network budgets across accounts (credential stuffing) are the rate limiter's `failures` class; this module
//! only counts per account. The counters live in their own items so failures never contend with account writes.
//!
//! Entities (declared once, here): `USER#<user_id>` / `LOCKOUT` (account-wide) and `USER#<user_id>` /
//! `SRCLOCK#<source>` (per source; `source` is a keyed digest of the network, never the IP), each expiring with
//! its window or lock.

use std::sync::Arc;

use lectern_shared::table::{
    Condition, EntityInfo, Item, Key, KeyLayout, Shape, TTL, Table, TableResult, TxOp,
};
use serde_json::Value;

use crate::users::USER_PARTITION;

/// The account-wide failure counter, written only by the updates below (`failures`, `locked_until`, `ttl`).
pub const COUNTER: EntityInfo = EntityInfo::new(
    "lockout",
    KeyLayout::new(USER_PARTITION, Shape::fixed("LOCKOUT")),
);

/// The failure counter of one account from one source.
pub const SOURCE_COUNTER: EntityInfo = EntityInfo::new(
    "lockout_source",
    KeyLayout::new(USER_PARTITION, Shape::new("SRCLOCK", &["source"])),
);

/// Lockout thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures of one account from one source that lock it for that source.
    pub threshold: i64,
    pub window_secs: i64,
    pub duration_secs: i64,
    /// Failures of one account from all sources that lock it everywhere.
    pub account_threshold: i64,
    pub account_window_secs: i64,
    pub account_duration_secs: i64,
}

/// Which lock a failure reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The account, for the source the failures came from.
    Source,
    /// The account, from everywhere.
    Account,
}

/// What a failed attempt led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Still below the thresholds.
    Counted,
    /// This failure reached a threshold: the account is to be locked (for the source, or everywhere) until the given
    /// time (epoch seconds), by committing [`lock_op`] together with the audit record and the owner's email. When
    /// both are reached at once, the account-wide lock is the one reported.
    Reached(Scope, i64),
}

/// The account-wide counter's key.
pub fn key(user_id: &str) -> Key {
    COUNTER.key(&[user_id], &[])
}

/// The counter of one account from one source.
pub fn source_key(user_id: &str, source: &str) -> Key {
    SOURCE_COUNTER.key(&[user_id], &[source])
}

/// Both counters that decide whether `user_id` may sign in from `source`, for one batched read.
pub fn keys(user_id: &str, source: &str) -> [Key; 2] {
    [key(user_id), source_key(user_id, source)]
}

/// Until when sign-in is locked, from the items read with [`keys`] (either lock applies).
pub fn locked_until(items: &[Item], now: i64) -> Option<i64> {
    items
        .iter()
        .filter_map(|i| i.get("locked_until").and_then(Value::as_i64))
        .filter(|until| *until > now)
        .max()
}

/// The write that locks an account (for `source`, or everywhere) until `until` (epoch seconds), for the transaction
/// that also audits the lock and emails the owner: the lock and its email exist together or not at all.
pub fn lock_op(user_id: &str, source: &str, scope: Scope, until: i64) -> TxOp {
    let (key, info) = match scope {
        Scope::Source => (source_key(user_id, source), SOURCE_COUNTER),
        Scope::Account => (key(user_id), COUNTER),
    };
    TxOp::Update {
        key,
        update: info.update().set("locked_until", until).set(TTL, until),
        // Of two failures locking at once, one commits (with its one audit record and one email).
        condition: Condition::AttributeNotExists("locked_until".into()),
    }
}

/// The write that clears one source's counter after a successful sign-in from it (the account-wide counter keeps
/// counting an attack spread over other sources).
pub fn clear_source_op(user_id: &str, source: &str) -> TxOp {
    TxOp::Delete {
        key: source_key(user_id, source),
        condition: Condition::Always,
    }
}

/// The write that clears the account-wide counter (and lock): a password reset, which proves the mailbox.
pub fn clear_account_op(user_id: &str) -> TxOp {
    TxOp::Delete {
        key: key(user_id),
        condition: Condition::Always,
    }
}

/// Tracks failed sign-ins.
#[derive(Clone)]
pub struct Lockout {
    table: Arc<dyn Table>,
    policy: LockoutPolicy,
}

impl Lockout {
    pub fn new(table: Arc<dyn Table>, policy: LockoutPolicy) -> Self {
        Self { table, policy }
    }

    /// When the account is locked for `source` (or everywhere), until when. One batched read.
    pub async fn locked_until(
        &self,
        user_id: &str,
        source: &str,
        now: i64,
    ) -> TableResult<Option<i64>> {
        let items = self.table.batch_get(&keys(user_id, source)).await?;
        Ok(locked_until(&items, now))
    }

    /// Counts a failure from `source` on both counters (atomically each); says when one reaches its threshold
    /// (the caller commits the lock).
    pub async fn record_failure(
        &self,
        user_id: &str,
        source: &str,
        now: i64,
    ) -> TableResult<AfterFailure> {
        let policy = &self.policy;
        let account = self
            .count(&key(user_id), COUNTER, now + policy.account_window_secs)
            .await?;
        let from_source = self
            .count(
                &source_key(user_id, source),
                SOURCE_COUNTER,
                now + policy.window_secs,
            )
            .await?;
        // A failure at or over a threshold of a counter not locked yet locks it. Usually that is exactly the
        // failure that reaches the threshold; should its lock not have been committed (the store failed), the next
        // failure locks instead of the account staying open forever. `lock_op` lets one of racing lockers win.
        let reached =
            |(failures, locked): (i64, bool), threshold: i64| failures >= threshold && !locked;
        if reached(account, policy.account_threshold) {
            return Ok(AfterFailure::Reached(
                Scope::Account,
                now + policy.account_duration_secs,
            ));
        }
        if reached(from_source, policy.threshold) {
            return Ok(AfterFailure::Reached(
                Scope::Source,
                now + policy.duration_secs,
            ));
        }
        Ok(AfterFailure::Counted)
    }

    /// Adds one failure to a counter that expires at `expires` (set by its first failure); answers the count and
    /// whether it is locked already.
    async fn count(&self, key: &Key, info: EntityInfo, expires: i64) -> TableResult<(i64, bool)> {
        let item = self
            .table
            .update(
                key,
                info.update().add("failures", 1).set_if_absent(TTL, expires),
                Condition::Always,
            )
            .await?;
        let failures = item.get("failures").and_then(Value::as_i64).unwrap_or(0);
        Ok((failures, item.contains_key("locked_until")))
    }
}
