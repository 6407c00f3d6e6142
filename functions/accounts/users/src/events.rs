//! The caller's security events.

use axum::extract::State;
use lectern_accounts::audit::{Event, TimeRange};
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::pagination::{cursor_schema, limit_schema};
use lectern_shared::http::{Json, PageParams, Paginated, Query};
use serde::Deserialize;

use crate::{Accts, Result, owner};

/// Filters of a security-event list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    #[param(schema_with = limit_schema)]
    pub limit: Option<usize>,
    #[param(schema_with = cursor_schema)]
    pub cursor: Option<String>,
    /// RFC 3339 lower bound.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339 upper bound.
    #[param(format = DateTime)]
    pub to: Option<String>,
}

/// The caller's security events (sign-ins, password and 2FA changes...), newest first.
#[utoipa::path(get, path = "/v1/users/me/security-events", tag = "users", security(("bearer" = [])), params(EventQuery), responses(
    (status = 200, body = Paginated<Event>)))]
pub(crate) async fn security_events(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
    Query(q): Query<EventQuery>,
) -> Result<Json<Paginated<Event>>> {
    owner(&who)?;
    let limit = PageParams {
        limit: q.limit,
        cursor: None,
    }
    .limit()?;
    let range = TimeRange::parse(q.from.as_deref(), q.to.as_deref())?;
    // The cursor is bound to the window it was made for: reused with another, it would page a different list.
    let scope = format!(
        "user:{}:security-events:{:?}:{:?}",
        who.user_id, range.from, range.to
    );
    let codec = &accounts.platform.cursors;
    let cursor = codec.decode_opt(&scope, q.cursor.as_deref())?;
    let page = accounts
        .audit
        .for_user(&who.user_id, &range, limit, cursor)
        .await?;
    let items = page
        .items
        .into_iter()
        .filter_map(|i| lectern_shared::table::from_item::<Event>(i).ok())
        .collect();
    Ok(Json(codec.page(&scope, items, page.cursor)))
}
