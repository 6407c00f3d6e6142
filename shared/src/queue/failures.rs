//! The last error of each job that failed and will be retried: what `GET /v1/admin/dead-letters` shows beside a
//! dead letter (neither SQS nor the embedded queue keeps why a message was dead-lettered). One item per job,
//! `JOB_FAILURE#<job id>` / `LAST`, written by the worker when a run fails with a retryable error (a failure is
//! rare, so one more write then costs little), kept as long as a dead letter is (14 days) and a day more.

use serde::{Deserialize, Serialize};

use crate::table::{Condition, Entity, EntityInfo, Key, KeyLayout, Shape, Table, TableResult};

/// How long a failure is kept: SQS keeps a dead letter 14 days at most.
pub const KEEP_SECS: i64 = 15 * 24 * 3600;
/// Longest error kept.
const MAX_ERROR_CHARS: usize = 500;

/// A job's last failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFailure {
    /// In the key only.
    #[serde(skip_serializing)]
    pub job_id: String,
    pub kind: String,
    pub error: String,
    /// The delivery that failed (1 for the first).
    pub attempt: u32,
    /// Epoch seconds.
    pub failed_at: i64,
    /// Only the item's `ttl`.
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

impl JobFailure {
    pub fn new(job_id: &str, kind: &str, error: &str, attempt: u32, now: i64) -> Self {
        let mut error = error.to_string();
        if error.chars().count() > MAX_ERROR_CHARS {
            error = error.chars().take(MAX_ERROR_CHARS).collect::<String>() + "…";
        }
        Self {
            job_id: job_id.into(),
            kind: kind.into(),
            error,
            attempt,
            failed_at: now,
            expires_at: now + KEEP_SECS,
        }
    }

    pub fn key_of(job_id: &str) -> Key {
        Self::INFO.key(&[job_id], &[])
    }

    /// Records (replaces) the job's last failure.
    pub async fn record(&self, table: &dyn Table) -> TableResult<()> {
        table.put(self.to_item()?, Condition::Always).await
    }

    /// The last failures of these jobs (those recorded), in one batch read.
    pub async fn of_jobs(table: &dyn Table, job_ids: &[&str]) -> TableResult<Vec<JobFailure>> {
        if job_ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Key> = job_ids.iter().map(|id| Self::key_of(id)).collect();
        table
            .batch_get(&keys)
            .await?
            .into_iter()
            .map(Self::from_item)
            .collect()
    }
}

impl Entity for JobFailure {
    const INFO: EntityInfo = EntityInfo::new(
        "job_failure",
        KeyLayout::new(Shape::new("JOB_FAILURE", &["job_id"]), Shape::fixed("LAST")),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.job_id)
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}
