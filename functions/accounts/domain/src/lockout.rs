//! Account lockout: after `threshold` failed sign-ins (passwords or 2FA codes) within `window`, the account is
//! locked for `duration`. The counter lives in its own item so failed attempts never contend with account writes.
//!
//! Entity (declared once, here): `USER#<user_id>` / `LOCKOUT`, expiring with its window or lock.

use std::sync::Arc;

use lectern_shared::table::{
    Condition, EntityInfo, Key, KeyLayout, Shape, TTL, Table, TableResult, TxOp,
};
use serde_json::Value;

use crate::users::USER_PARTITION;

/// The failure counter of one account, written only by the updates below (`failures`, `locked_until`, `ttl`).
pub const COUNTER: EntityInfo = EntityInfo::new(
    "lockout",
    KeyLayout::new(USER_PARTITION, Shape::fixed("LOCKOUT")),
);

/// Lockout thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub threshold: i64,
    pub window_secs: i64,
    pub duration_secs: i64,
}

/// What a failed attempt led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Still below the threshold.
    Counted,
    /// This failure reached the threshold: the account is to be locked until the given time (epoch seconds), by
    /// committing [`lock_op`] together with the audit record and the owner's email.
    Reached(i64),
}

/// The counter's key.
pub fn key(user_id: &str) -> Key {
    COUNTER.key(&[user_id], &[])
}

/// The write that locks an account until `until` (epoch seconds), for the transaction that also audits the lock
/// and emails the owner: the lock and its email exist together or not at all.
pub fn lock_op(user_id: &str, until: i64) -> TxOp {
    TxOp::Update {
        key: key(user_id),
        update: COUNTER.update().set("locked_until", until).set(TTL, until),
        // Of two failures locking at once, one commits (with its one audit record and one email).
        condition: Condition::AttributeNotExists("locked_until".into()),
    }
}

/// The write that clears the counter after a successful sign-in or a password reset.
pub fn clear_op(user_id: &str) -> TxOp {
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

    /// When the account is locked, until when.
    pub async fn locked_until(&self, user_id: &str, now: i64) -> TableResult<Option<i64>> {
        let item = self.table.get(&key(user_id)).await?;
        Ok(item
            .and_then(|i| i.get("locked_until").and_then(Value::as_i64))
            .filter(|until| *until > now))
    }

    /// Counts a failure (atomically); says when it reaches the threshold (the caller commits the lock).
    pub async fn record_failure(&self, user_id: &str, now: i64) -> TableResult<AfterFailure> {
        let item = self
            .table
            .update(
                &key(user_id),
                COUNTER
                    .update()
                    .add("failures", 1)
                    .set_if_absent(TTL, now + self.policy.window_secs),
                Condition::Always,
            )
            .await?;
        let failures = item.get("failures").and_then(Value::as_i64).unwrap_or(0);
        // A failure at or over the threshold of an account not locked yet locks it. Usually that is exactly the
        // failure that reaches the threshold; should its lock not have been committed (the store failed), the next
        // failure locks instead of the account staying open forever. `lock_op` lets one of racing lockers win.
        if failures >= self.policy.threshold && !item.contains_key("locked_until") {
            return Ok(AfterFailure::Reached(now + self.policy.duration_secs));
        }
        Ok(AfterFailure::Counted)
    }

    /// Clears the counter after a successful sign-in.
    pub async fn clear(&self, user_id: &str) -> TableResult<()> {
        self.table.delete(&key(user_id), Condition::Always).await
    }
}
