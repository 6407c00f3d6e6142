//! `GET /v1/admin/stats`: accounts by role, tier and status, sign-ups and active accounts per day, from the counters
//! the accounts domain keeps as those things happen (`lectern_accounts::stats`): one batch read, never a scan.

use axum::extract::State;
use lectern_accounts::permissions::perm;
use lectern_accounts::stats::AccountStats;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::{Json, Query};
use serde::Deserialize;

use crate::{Accts, Result};

/// How many days to answer.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// UTC days back from today, today included (1–90, default 30).
    #[param(minimum = 1, maximum = 90)]
    pub days: Option<u32>,
}

/// Accounts by role, tier and status (a deleted account counts as `deleted` until it is erased), and sign-ups and
/// active accounts (signed in or refreshed a session) per UTC day, newest first. Counted since the counters were
/// deployed (see the README on the one-time recount). Needs `users:read`.
#[utoipa::path(get, path = "/v1/admin/stats", tag = "admin", security(("bearer" = [])), params(StatsQuery), responses(
    (status = 200, body = AccountStats),
    (status = 400, description = "`validation`: `query.days` outside 1–90"),
    (status = 403, description = "`forbidden`: needs `users:read`, or an API key was used")))]
pub(crate) async fn stats(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
    Query(q): Query<StatsQuery>,
) -> Result<Json<AccountStats>> {
    who.require(perm::USERS_READ)?;
    Ok(Json(accounts.stats(q.days.unwrap_or(30)).await?))
}
