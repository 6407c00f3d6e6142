//! Scheduled jobs: the one runner every schedule goes through (EventBridge on AWS, the dev server's scheduler
//! locally — the same handler either way), and the time-zone buckets that let an hourly job reach only the
//! people whose local hour is due.
//!
//! # The runner ([`run_exclusive`])
//!
//! Each named job has one [`JobState`] item, `SCHEDULED_JOB#<name>` / `STATE`, holding a lease and the record of
//! its last run (started, finished, outcome, counts, error) that `GET /v1/admin/jobs` shows. A run first takes the
//! lease with a write conditional on the version it read (so of two runs that overlap — EventBridge delivers at
//! least once, a slow run meets the next tick — exactly one wins; the other is refused and records nothing). The
//! lease expires after the job's [`ScheduledJob::lease`], longer than its function's timeout, so a run that crashed
//! without releasing it blocks the job for at most that long. The lease alone cannot stop every double effect (a
//! run may lose its lease while still working), so whatever a job sends is also idempotent per recipient and
//! period (a notification key such as `reminder:<local date>`): a rerun or an overlap sends nothing twice.
//!
//! # Time-zone buckets ([`ScheduleZone`])
//!
//! An hourly job that must reach people at their local time (reminders at 17:00, a weekly report on Monday
//! morning) keeps its members in an index partition per zone (and hour), written by the domain when the setting
//! changes. To find which partitions are due without scanning, the domain also records each zone in use under the
//! job's purpose, `SCHEDULE_ZONES#<purpose>` / `<zone>`, in the same transaction: the hourly run reads that one
//! partition (a few hundred zones at most), computes each zone's local time and reads only the due buckets. A
//! zone marker is never removed (an empty bucket costs one empty query an hour), which keeps every write to it a
//! blind put.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::table::{
    Condition, Entity, EntityInfo, Key, KeyLayout, Shape, Table, TableError, TableResult, TxOp,
};

/// A job that runs on a schedule, as the console lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduledJob {
    /// Stable name (`housekeeping`, `reminders`); the key of its state.
    pub name: &'static str,
    /// The EventBridge schedule expression the template gives it (`rate(1 hour)`).
    pub schedule: &'static str,
    /// What it does, in a sentence.
    pub description: &'static str,
    /// How long a run may hold the job: longer than the function's timeout, so only a crashed run's lease lapses.
    pub lease_secs: i64,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
}

/// The record of one finished run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LastRun {
    /// Epoch seconds.
    pub started_at: i64,
    /// Epoch seconds.
    pub finished_at: i64,
    pub outcome: Outcome,
    /// What the run counted (items removed, jobs enqueued …), by name.
    #[serde(default)]
    pub counts: BTreeMap<String, i64>,
    /// Why it failed (the error's message; never a secret: jobs' errors name keys and causes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One job's lease and last run: `SCHEDULED_JOB#<name>` / `STATE`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobState {
    /// In the key only.
    #[serde(skip_serializing)]
    pub name: String,
    /// Moves on every write; every write is conditional on the version read.
    pub version: i64,
    /// While a run holds the job: until when (epoch seconds), and since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_since: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<LastRun>,
}

impl JobState {
    pub fn key_of(name: &str) -> Key {
        Self::INFO.key(&[name], &[])
    }

    /// The state of each job named, in order (`None`: never ran), in one batch read.
    pub async fn load_all(table: &dyn Table, names: &[&str]) -> TableResult<Vec<Option<JobState>>> {
        let keys: Vec<Key> = names.iter().map(|n| Self::key_of(n)).collect();
        let mut found = BTreeMap::new();
        for item in table.batch_get(&keys).await? {
            let state = JobState::from_item(item)?;
            found.insert(state.name.clone(), state);
        }
        Ok(names.iter().map(|n| found.remove(*n)).collect())
    }

    /// Whether a run holds the job at `now`.
    pub fn leased_at(&self, now: i64) -> bool {
        self.lease_until.is_some_and(|until| until > now)
    }
}

impl Entity for JobState {
    const INFO: EntityInfo = EntityInfo::new(
        "scheduled_job",
        KeyLayout::new(
            Shape::new("SCHEDULED_JOB", &["name"]),
            Shape::fixed("STATE"),
        ),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.name)
    }
}

/// What [`run_exclusive`] did (what a scheduled Lambda answers: `{"finished": {...}}` or `{"refused": {...}}`).
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ran<T> {
    /// This run held the job and finished; its result.
    Finished(T),
    /// Another run holds the job (since `running_since`): nothing was done.
    Refused { running_since: Option<i64> },
}

/// The numbers of a job's report (its numeric fields), for the record of the run.
fn counts_of<T: Serialize>(report: &T) -> BTreeMap<String, i64> {
    match serde_json::to_value(report) {
        Ok(serde_json::Value::Object(fields)) => fields
            .into_iter()
            .filter_map(|(k, v)| v.as_i64().map(|n| (k, n)))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Longest error message kept in a run's record.
const MAX_ERROR_CHARS: usize = 500;

/// Runs `work` as the job `job`, unless another run holds it (see the module doc). The run's outcome is recorded
/// whatever it is; a failed run's error is also returned, so the caller (EventBridge, the dev server) sees it.
pub async fn run_exclusive<T, F, Fut>(
    table: &dyn Table,
    clock: &dyn crate::clock::Clock,
    job: &ScheduledJob,
    work: F,
) -> anyhow::Result<Ran<T>>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let started_at = clock.epoch_seconds();
    let key = JobState::key_of(job.name);
    let before = match table.get(&key).await? {
        Some(item) => JobState::from_item(item)?,
        None => JobState {
            name: job.name.into(),
            version: 0,
            lease_until: None,
            running_since: None,
            last_run: None,
        },
    };
    if before.leased_at(started_at) {
        tracing::info!(
            job = job.name,
            running_since = before.running_since,
            "another run holds the job; this one does nothing"
        );
        return Ok(Ran::Refused {
            running_since: before.running_since,
        });
    }
    let mut state = JobState {
        version: before.version + 1,
        lease_until: Some(started_at + job.lease_secs),
        running_since: Some(started_at),
        ..before.clone()
    };
    match table
        .put(state.to_item()?, Condition::at_version(before.version))
        .await
    {
        Ok(()) => {}
        Err(TableError::ConditionFailed) => {
            tracing::info!(job = job.name, "another run took the job first");
            return Ok(Ran::Refused {
                running_since: None,
            });
        }
        Err(e) => return Err(e.into()),
    }

    let result = work().await;
    let finished_at = clock.epoch_seconds();
    let (outcome, counts, error) = match &result {
        Ok(report) => (Outcome::Succeeded, counts_of(report), None),
        Err(e) => {
            let mut text = format!("{e:#}");
            if text.chars().count() > MAX_ERROR_CHARS {
                text = text.chars().take(MAX_ERROR_CHARS).collect::<String>() + "…";
            }
            (Outcome::Failed, BTreeMap::new(), Some(text))
        }
    };
    let held = state.version;
    state.version += 1;
    state.lease_until = None;
    state.running_since = None;
    state.last_run = Some(LastRun {
        started_at,
        finished_at,
        outcome,
        counts,
        error,
    });
    // Conditional on our own lease: a run that outlived it (and so may have been overtaken) does not overwrite the
    // newer run's state; its effects were idempotent anyway.
    if let Err(e) = table
        .put(state.to_item()?, Condition::at_version(held))
        .await
    {
        tracing::warn!(job = job.name, error = %e, "could not record the run's end");
    }
    match result {
        Ok(report) => Ok(Ran::Finished(report)),
        Err(e) => Err(e),
    }
}

/// [`run_exclusive`] on a platform's table and clock: what every scheduled function calls.
pub async fn run_scheduled<T, F, Fut>(
    platform: &crate::Platform,
    job: &ScheduledJob,
    work: F,
) -> anyhow::Result<Ran<T>>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    run_exclusive(platform.table.as_ref(), platform.clock.as_ref(), job, work).await
}

/// A zone in use by a scheduled purpose: `SCHEDULE_ZONES#<purpose>` / `<zone>` (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleZone {
    /// In the key only.
    #[serde(skip_serializing)]
    pub purpose: String,
    /// In the key only: an IANA zone name.
    #[serde(skip_serializing)]
    pub zone: String,
}

/// Most zones one purpose reads (the time zone database names about 600).
const MAX_ZONES: usize = 1000;

impl ScheduleZone {
    pub fn key_of(purpose: &str, zone: &str) -> Key {
        Self::INFO.key(&[purpose], &[zone])
    }

    /// The write recording that `zone` is in use for `purpose`, for the transaction that changes the setting.
    pub fn record(purpose: &str, zone: &str) -> TableResult<TxOp> {
        Ok(TxOp::Put {
            item: ScheduleZone {
                purpose: purpose.into(),
                zone: zone.into(),
            }
            .to_item()?,
            condition: Condition::Always,
        })
    }

    /// Every zone in use for `purpose` (one query).
    pub async fn in_use(table: &dyn Table, purpose: &str) -> TableResult<Vec<String>> {
        let page = table
            .query(Self::INFO.query(&[purpose]).limit(MAX_ZONES))
            .await?;
        page.items
            .into_iter()
            .map(|item| Ok(Self::from_item(item)?.zone))
            .collect()
    }

    /// Every zone in use for `purpose` with its local time at `now` (zones this build no longer knows are left out).
    pub async fn local_times(
        table: &dyn Table,
        purpose: &str,
        now: i64,
    ) -> TableResult<Vec<(String, jiff::Zoned)>> {
        let instant = jiff::Timestamp::from_second(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        Ok(Self::in_use(table, purpose)
            .await?
            .into_iter()
            .filter_map(|name| {
                let zone = crate::locale::timezone(&name)?;
                Some((name, instant.to_zoned(zone)))
            })
            .collect())
    }
}

impl Entity for ScheduleZone {
    const INFO: EntityInfo = EntityInfo::new(
        "schedule_zone",
        KeyLayout::new(
            Shape::new("SCHEDULE_ZONES", &["purpose"]),
            Shape::values(&["zone"]),
        ),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.purpose, &self.zone)
    }
}

/// A lease of `d`, in seconds (for [`ScheduledJob::lease_secs`]).
pub const fn lease(d: Duration) -> i64 {
    d.as_secs() as i64
}
