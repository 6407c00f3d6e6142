//! `GET /v1/admin/jobs`: every scheduled job with its schedule, whether a run holds it now, and its last run.

use lectern_accounts::permissions::perm;
use lectern_messages::schedules;
use lectern_shared::http::Json;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::schedule::{JobState, LastRun};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{Result, St};

/// One scheduled job.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct JobView {
    /// Stable name (`housekeeping`, `reminders`, …).
    pub name: String,
    /// Its EventBridge schedule expression (the dev server runs the same jobs on the same cadence or faster).
    pub schedule: String,
    pub description: String,
    /// When the run holding it now started (epoch seconds); `null` when none does.
    pub running_since: Option<i64>,
    /// Its last finished run; `null` until it has run once.
    pub last_run: Option<LastRun>,
}

/// Every scheduled job.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct JobsView {
    pub jobs: Vec<JobView>,
}

/// Every scheduled job, with its last run and outcome (one batched read).
#[utoipa::path(get, path = "/v1/admin/jobs", tag = "operations", security(("bearer" = [])), responses(
    (status = 200, body = JobsView),
    (status = 401, description = "`unauthorized`: no valid session or API key"),
    (status = 403, description = "`forbidden`: needs `operations:read`; or an API key was sent: this route needs a signed-in session")))]
pub(crate) async fn list_jobs(
    axum::extract::State(platform): St,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<JobsView>> {
    who.require(perm::OPERATIONS_READ)?;
    let names: Vec<&str> = schedules::ALL.iter().map(|j| j.name).collect();
    let states = JobState::load_all(platform.table.as_ref(), &names).await?;
    let now = platform.clock.epoch_seconds();
    let jobs = schedules::ALL
        .iter()
        .zip(states)
        .map(|(job, state)| JobView {
            name: job.name.to_string(),
            schedule: job.schedule.to_string(),
            description: job.description.to_string(),
            running_since: state
                .as_ref()
                .filter(|s| s.leased_at(now))
                .and_then(|s| s.running_since),
            last_run: state.and_then(|s| s.last_run),
        })
        .collect();
    Ok(Json(JobsView { jobs }))
}
