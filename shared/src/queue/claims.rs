//! The idempotency record of a job: [`worker`](super::worker) claims it before running a job that has an
//! idempotency key, renews the claim while the job runs, and marks it `done` or `failed` afterwards, so a
//! redelivered duplicate is skipped. A claim names its owner (one random token per attempt): only the owner
//! renews, finishes or releases it, so a worker whose claim lapsed can never overwrite the claim of the worker that
//! took over.

use serde::{Deserialize, Serialize};

use crate::table::{Entity, EntityInfo, Key, KeyLayout, Shape};

/// A claimed job is `running`; a finished one `done` or `failed` (either way it is not run again).
pub const RUNNING: &str = "running";

/// One job's claim: `JOB#<kind>#<idempotency_key>` / `JOB`, expiring when its lease or retention ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobClaim {
    /// In the key only.
    #[serde(skip_serializing)]
    pub kind: String,
    /// In the key only; the last key part, so it may contain the separator.
    #[serde(skip_serializing)]
    pub idempotency_key: String,
    pub state: String,
    /// The attempt holding the claim (absent on claims written before owners were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Only the item's `ttl`.
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

impl JobClaim {
    /// A fresh claim of `owner`, held until `lease_until` unless renewed.
    pub fn running(kind: &str, idempotency_key: &str, owner: &str, lease_until: i64) -> Self {
        Self {
            kind: kind.into(),
            idempotency_key: idempotency_key.into(),
            state: RUNNING.into(),
            owner: Some(owner.into()),
            expires_at: lease_until,
        }
    }

    pub fn key_of(kind: &str, idempotency_key: &str) -> Key {
        Self::INFO.key(&[kind, idempotency_key], &[])
    }
}

impl Entity for JobClaim {
    const INFO: EntityInfo = EntityInfo::new(
        "job_claim",
        KeyLayout::new(
            Shape::new("JOB", &["kind", "idempotency_key"]),
            Shape::fixed("JOB"),
        ),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.kind, &self.idempotency_key)
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}
