//! The audit log.

use axum::extract::State;
use lectern_accounts::audit::{Action, Event, TimeRange};
use lectern_accounts::permissions::perm;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::pagination::{cursor_schema, limit_schema};
use lectern_shared::http::{Json, PageParams, Paginated, Problem, Query};
use lectern_shared::ids::Id;
use serde::Deserialize;

use crate::{Accts, Result};

/// Filters of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    #[param(schema_with = limit_schema)]
    pub limit: Option<usize>,
    #[param(schema_with = cursor_schema)]
    pub cursor: Option<String>,
    /// Events about this account.
    #[param(inline)]
    pub user_id: Option<Id>,
    /// Events of this action (not combined with `user_id`: 400).
    pub action: Option<Action>,
    /// RFC 3339 lower bound.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339 upper bound.
    #[param(format = DateTime)]
    pub to: Option<String>,
}

/// The audit log, newest first, by account or by action, within an optional time range. Needs `audit:read`.
#[utoipa::path(get, path = "/v1/admin/audit-logs", tag = "admin", security(("bearer" = [])), params(AuditQuery), responses(
    (status = 200, body = Paginated<Event>),
    (status = 400, description = "`validation`: a parameter of the wrong shape, a cursor of another list, or both `user_id` and `action`"),
    (status = 403, description = "`forbidden`: needs `audit:read`")))]
pub(crate) async fn audit_logs(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Paginated<Event>>> {
    who.require(perm::AUDIT_READ)?;
    let limit = PageParams {
        limit: q.limit,
        cursor: None,
    }
    .limit()?;
    let range = TimeRange::parse(q.from.as_deref(), q.to.as_deref())?;
    let scope = format!(
        "admin-audit:{:?}:{:?}:{:?}:{:?}",
        q.user_id, q.action, range.from, range.to
    );
    let codec = &accounts.platform.cursors;
    let cursor = codec.decode_opt(&scope, q.cursor.as_deref())?;
    let page = match (q.user_id.as_ref(), q.action) {
        (Some(_), Some(_)) => {
            return Err(Problem::validation("filter by user or by action, not both")
                .field("query.action", "not with user_id"));
        }
        (Some(id), None) => {
            accounts
                .audit
                .for_user(id.as_str(), &range, limit, cursor)
                .await?
        }
        (None, action) => accounts.audit.all(action, &range, limit, cursor).await?,
    };
    let items = page
        .items
        .into_iter()
        .filter_map(|i| lectern_shared::table::from_item::<Event>(i).ok())
        .collect();
    Ok(Json(codec.page(&scope, items, page.cursor)))
}
