//! Account administration routes (`/v1/admin/...`). Each checks a permission (`users:read`, `users:manage`,
//! `roles:assign`, `audit:read`), never a role name.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, patch, post};
use lectern_accounts::audit::{Action, Event, TimeRange};
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::errors::AccountError;
use lectern_accounts::permissions::{Role, perm};
use lectern_accounts::service::Accounts;
use lectern_accounts::service::admin::{AdminUserView, UserFilter};
use lectern_accounts::users::{Status, Tier};
use lectern_shared::http::auth::{self, SessionIdentity};
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, PageParams, Paginated, Path, Problem, Query};
use lectern_shared::ids::Id;
use lectern_shared::ratelimit::{self, RouteClass};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

type Accts = State<Arc<Accounts>>;
type Result<T> = std::result::Result<T, Problem>;

/// The admin routes, with the accounts authenticator installed.
pub fn router(accounts: Arc<Accounts>) -> Router {
    Router::new()
        .route("/v1/admin/users", get(list_users))
        .route("/v1/admin/users/{user_id}", get(get_user))
        .route("/v1/admin/users/{user_id}/role", patch(set_role))
        .route("/v1/admin/users/{user_id}/tier", patch(set_tier))
        .route("/v1/admin/users/{user_id}/suspend", post(suspend))
        .route("/v1/admin/users/{user_id}/activate", post(activate))
        .route("/v1/admin/users/{user_id}/force-logout", post(force_logout))
        .route("/v1/admin/audit-logs", get(audit_logs))
        .route_layer(ratelimit::layer(
            accounts.platform.limiter.clone(),
            RouteClass::General,
        ))
        .layer(auth::layer(Arc::new(AccountsAuthenticator::new(
            accounts.clone(),
        ))))
        .with_state(accounts)
}

#[derive(OpenApi)]
#[openapi(
    paths(list_users, get_user, set_role, set_tier, suspend, activate, force_logout, audit_logs),
    components(schemas(AdminUserView, RoleChange, TierChange, Tier, SessionsEnded, Role, Status, Action)),
    tags((name = "admin", description = "Account administration and the audit log"))
)]
pub struct ApiDoc;

fn problem(e: AccountError) -> Problem {
    e.into()
}

/// Filters of the user list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// Email prefix (alone; not combined with role or status).
    pub email: Option<String>,
    pub role: Option<Role>,
    /// Needs `role` too.
    pub status: Option<Status>,
}

/// Search accounts by email prefix, or filter by role (and status). Needs `users:read`.
#[utoipa::path(get, path = "/v1/admin/users", tag = "admin", security(("bearer" = [])), params(UserQuery), responses((status = 200, body = Paginated<AdminUserView>), (status = 400), (status = 401), (status = 403)))]
async fn list_users(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
    Query(q): Query<UserQuery>,
) -> Result<Json<Paginated<AdminUserView>>> {
    who.require(perm::USERS_READ)?;
    let limit = PageParams {
        limit: q.limit,
        cursor: None,
    }
    .limit()?;
    let filter = UserFilter {
        email_prefix: q.email.filter(|e| !e.trim().is_empty()),
        role: q.role,
        status: q.status,
    };
    // The cursor is bound to the filter it was made for.
    let scope = format!(
        "admin-users:{:?}:{:?}:{:?}",
        filter.email_prefix, filter.role, filter.status
    );
    let codec = &accounts.platform.cursors;
    let cursor = codec.decode_opt(&scope, q.cursor.as_deref())?;
    let (users, next) = accounts
        .list_users(&filter, limit, cursor)
        .await
        .map_err(problem)?;
    Ok(Json(codec.page(&scope, users, next)))
}

/// One account. Needs `users:read`.
#[utoipa::path(get, path = "/v1/admin/users/{user_id}", tag = "admin", security(("bearer" = [])), params(("user_id" = String, Path)), responses((status = 200, body = AdminUserView), (status = 403), (status = 404)))]
async fn get_user(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<AdminUserView>> {
    who.require(perm::USERS_READ)?;
    accounts
        .admin_get_user(id.as_str())
        .await
        .map(Json)
        .map_err(problem)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: Role,
}

/// Change an account's role (never leaving the system without an active admin). Needs `roles:assign`.
#[utoipa::path(patch, path = "/v1/admin/users/{user_id}/role", tag = "admin", security(("bearer" = [])), params(("user_id" = String, Path)), request_body = RoleChange, responses((status = 200, body = AdminUserView), (status = 403), (status = 404), (status = 409)))]
async fn set_role(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
    Json(input): Json<RoleChange>,
) -> Result<Json<AdminUserView>> {
    who.require(perm::ROLES_ASSIGN)?;
    accounts
        .set_role(&who.user_id, id.as_str(), input.role, &client)
        .await
        .map(Json)
        .map_err(problem)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierChange {
    pub tier: Tier,
}

/// Change an account's subscription tier (`free` or `premium`). Needs `users:manage`.
#[utoipa::path(patch, path = "/v1/admin/users/{user_id}/tier", tag = "admin", security(("bearer" = [])), params(("user_id" = String, Path)), request_body = TierChange, responses((status = 200, body = AdminUserView), (status = 400), (status = 403), (status = 404)))]
async fn set_tier(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
    Json(input): Json<TierChange>,
) -> Result<Json<AdminUserView>> {
    who.require(perm::USERS_MANAGE)?;
    accounts
        .set_tier(&who.user_id, id.as_str(), input.tier, &client)
        .await
        .map(Json)
        .map_err(problem)
}

/// Suspend an account: its sessions and API keys stop working at once. Needs `users:manage`.
#[utoipa::path(post, path = "/v1/admin/users/{user_id}/suspend", tag = "admin", security(("bearer" = [])), params(("user_id" = String, Path)), responses((status = 200, body = AdminUserView), (status = 403), (status = 404), (status = 409)))]
async fn suspend(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<AdminUserView>> {
    who.require(perm::USERS_MANAGE)?;
    accounts
        .suspend(&who.user_id, id.as_str(), &client)
        .await
        .map(Json)
        .map_err(problem)
}

/// Lift a suspension. Needs `users:manage`.
#[utoipa::path(post, path = "/v1/admin/users/{user_id}/activate", tag = "admin", security(("bearer" = [])), params(("user_id" = String, Path)), responses((status = 200, body = AdminUserView), (status = 403), (status = 404), (status = 409)))]
async fn activate(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<AdminUserView>> {
    who.require(perm::USERS_MANAGE)?;
    accounts
        .activate(&who.user_id, id.as_str(), &client)
        .await
        .map(Json)
        .map_err(problem)
}

/// How many sessions a forced logout ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: usize,
}

/// End every session of an account. Needs `users:manage`.
#[utoipa::path(post, path = "/v1/admin/users/{user_id}/force-logout", tag = "admin", security(("bearer" = [])), params(("user_id" = String, Path)), responses((status = 200, body = SessionsEnded), (status = 403), (status = 404)))]
async fn force_logout(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<SessionsEnded>> {
    who.require(perm::USERS_MANAGE)?;
    let sessions_ended = accounts
        .force_logout(&who.user_id, id.as_str(), &client)
        .await
        .map_err(problem)?;
    Ok(Json(SessionsEnded { sessions_ended }))
}

/// Filters of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// Events about this account.
    #[param(value_type = Option<String>)]
    pub user_id: Option<Id>,
    /// Events of this action (not combined with `user_id`).
    pub action: Option<Action>,
    /// RFC 3339 lower bound.
    pub from: Option<String>,
    /// RFC 3339 upper bound.
    pub to: Option<String>,
}

/// The audit log, newest first, by account or by action, within an optional time range. Needs `audit:read`.
#[utoipa::path(get, path = "/v1/admin/audit-logs", tag = "admin", security(("bearer" = [])), params(AuditQuery), responses((status = 200, body = Paginated<Event>), (status = 400), (status = 403)))]
async fn audit_logs(
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
    let range = TimeRange::parse(q.from.as_deref(), q.to.as_deref()).map_err(problem)?;
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
                .await
        }
        (None, action) => accounts.audit.all(action, &range, limit, cursor).await,
    }
    .map_err(|e| problem(e.into()))?;
    let items = page
        .items
        .into_iter()
        .filter_map(|i| lectern_shared::table::from_item::<Event>(i).ok())
        .collect();
    Ok(Json(codec.page(&scope, items, page.cursor)))
}
