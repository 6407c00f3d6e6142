//! Account lockout: after `threshold` failed sign-ins (passwords or 2FA codes) within `window`, the account is
//! locked for `duration`. The counter lives in its own item so failed attempts never contend with account writes.
//!
//! Entity (declared once, here): `USER#<user_id>` / `LOCKOUT`, expiring with its window or lock.

use std::sync::Arc;

use lectern_shared::table::{
    Condition, EntityInfo, Key, KeyLayout, Shape, TTL, Table, TableResult,
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
    /// This failure locked the account until the given time (epoch seconds).
    LockedNow(i64),
}

/// The counter's key.
pub fn key(user_id: &str) -> Key {
    COUNTER.key(&[user_id], &[])
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

    /// Counts a failure (atomically) and locks the account when it reaches the threshold.
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
        // Exactly the failure that reaches the threshold locks (and notifies); later ones find it locked.
        if failures == self.policy.threshold {
            let until = now + self.policy.duration_secs;
            self.table
                .update(
                    &key(user_id),
                    COUNTER.update().set("locked_until", until).set(TTL, until),
                    Condition::Exists,
                )
                .await?;
            return Ok(AfterFailure::LockedNow(until));
        }
        Ok(AfterFailure::Counted)
    }

    /// Clears the counter after a successful sign-in.
    pub async fn clear(&self, user_id: &str) -> TableResult<()> {
        self.table.delete(&key(user_id), Condition::Always).await
    }
}
