//! Accounts as an administrator sees them: search, roles, tiers, suspension, forced sign-out.

use axum::extract::State;
use lectern_accounts::data_exports::ExportView;
use lectern_accounts::permissions::{Role, perm};
use lectern_accounts::service::admin::{AdminUserView, UserFilter};
use lectern_accounts::users::{Status, Tier};
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::pagination::{cursor_schema, limit_schema};
use lectern_shared::http::{Json, PageParams, Paginated, Path, Query};
use lectern_shared::ids::Id;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Accts, Result};

/// Filters of the user list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    #[param(schema_with = limit_schema)]
    pub limit: Option<usize>,
    #[param(schema_with = cursor_schema)]
    pub cursor: Option<String>,
    /// Email prefix (alone; not combined with role or status: 400).
    pub email: Option<String>,
    pub role: Option<Role>,
    /// Needs `role` too (400 without).
    pub status: Option<Status>,
}

/// Search accounts by email prefix, or filter by role (and status). Needs `users:read`.
#[utoipa::path(get, path = "/v1/admin/users", tag = "admin", security(("bearer" = [])), params(UserQuery), responses(
    (status = 200, body = Paginated<AdminUserView>),
    (status = 400, description = "`validation`: a parameter of the wrong shape, a cursor of another list, or filters that do not combine"),
    (status = 403, description = "`forbidden`: needs `users:read`")))]
pub(crate) async fn list_users(
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
    let (users, next) = accounts.list_users(&filter, limit, cursor).await?;
    Ok(Json(codec.page(&scope, users, next)))
}

/// One account. Needs `users:read`.
#[utoipa::path(get, path = "/v1/admin/users/{user_id}", tag = "admin", security(("bearer" = [])),
    params(("user_id" = inline(Id), Path)), responses(
    (status = 200, body = AdminUserView),
    (status = 403, description = "`forbidden`: needs `users:read`"),
    (status = 404, description = "No such account")))]
pub(crate) async fn get_user(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<AdminUserView>> {
    who.require(perm::USERS_READ)?;
    Ok(Json(accounts.admin_get_user(id.as_str()).await?))
}

/// A new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: Role,
}

/// Change an account's role (never leaving the system without an active admin). Needs `roles:assign`.
#[utoipa::path(patch, path = "/v1/admin/users/{user_id}/role", tag = "admin", security(("bearer" = [])),
    params(("user_id" = inline(Id), Path)), request_body = RoleChange, responses(
    (status = 200, body = AdminUserView),
    (status = 403, description = "`forbidden`: needs `roles:assign`"),
    (status = 404, description = "No such account"),
    (status = 409, description = "The last active admin keeps the role, or the account is busy")))]
pub(crate) async fn set_role(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
    Json(input): Json<RoleChange>,
) -> Result<Json<AdminUserView>> {
    who.require(perm::ROLES_ASSIGN)?;
    Ok(Json(
        accounts
            .set_role(&who.user_id, id.as_str(), input.role, &client)
            .await?,
    ))
}

/// A new subscription tier.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierChange {
    pub tier: Tier,
}

/// Change an account's subscription tier (`free` or `premium`). Needs `users:manage`.
#[utoipa::path(patch, path = "/v1/admin/users/{user_id}/tier", tag = "admin", security(("bearer" = [])),
    params(("user_id" = inline(Id), Path)), request_body = TierChange, responses(
    (status = 200, body = AdminUserView),
    (status = 403, description = "`forbidden`: needs `users:manage`"),
    (status = 404, description = "No such account"),
    (status = 409, description = "The account is busy; try again")))]
pub(crate) async fn set_tier(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
    Json(input): Json<TierChange>,
) -> Result<Json<AdminUserView>> {
    who.require(perm::USERS_MANAGE)?;
    Ok(Json(
        accounts
            .set_tier(&who.user_id, id.as_str(), input.tier, &client)
            .await?,
    ))
}

/// Suspend an account: its sessions and API keys stop working at once. Needs `users:manage`.
#[utoipa::path(post, path = "/v1/admin/users/{user_id}/suspend", tag = "admin", security(("bearer" = [])),
    params(("user_id" = inline(Id), Path)), responses(
    (status = 200, body = AdminUserView),
    (status = 403, description = "`forbidden`: needs `users:manage`"),
    (status = 404, description = "No such account"),
    (status = 409, description = "Deleted, the last active admin, or busy")))]
pub(crate) async fn suspend(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<AdminUserView>> {
    who.require(perm::USERS_MANAGE)?;
    Ok(Json(
        accounts.suspend(&who.user_id, id.as_str(), &client).await?,
    ))
}

/// Lift a suspension. Needs `users:manage`.
#[utoipa::path(post, path = "/v1/admin/users/{user_id}/activate", tag = "admin", security(("bearer" = [])),
    params(("user_id" = inline(Id), Path)), responses(
    (status = 200, body = AdminUserView),
    (status = 403, description = "`forbidden`: needs `users:manage`"),
    (status = 404, description = "No such account"),
    (status = 409, description = "Not suspended, or busy")))]
pub(crate) async fn activate(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<AdminUserView>> {
    who.require(perm::USERS_MANAGE)?;
    Ok(Json(
        accounts
            .activate(&who.user_id, id.as_str(), &client)
            .await?,
    ))
}

/// How many sessions a forced logout ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: usize,
}

/// End every session of an account. Needs `users:manage`.
#[utoipa::path(post, path = "/v1/admin/users/{user_id}/force-logout", tag = "admin", security(("bearer" = [])),
    params(("user_id" = inline(Id), Path)), responses(
    (status = 200, body = SessionsEnded),
    (status = 403, description = "`forbidden`: needs `users:manage`"),
    (status = 404, description = "No such account")))]
pub(crate) async fn force_logout(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<SessionsEnded>> {
    who.require(perm::USERS_MANAGE)?;
    let sessions_ended = accounts
        .force_logout(&who.user_id, id.as_str(), &client)
        .await?;
    Ok(Json(SessionsEnded { sessions_ended }))
}

/// Run a personal-data export of an account for a support case (audited as yours; it does not use the
/// account's weekly allowance). The link goes to the account's address and shows in the account's export list.
/// Needs `users:manage`.
#[utoipa::path(post, path = "/v1/admin/users/{user_id}/export", tag = "admin", security(("bearer" = [])),
    params(("user_id" = inline(Id), Path)), responses(
    (status = 202, body = ExportView, description = "Queued"),
    (status = 403, description = "`forbidden`: needs `users:manage`"),
    (status = 404, description = "No such account")))]
pub(crate) async fn export_user(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<(axum::http::StatusCode, Json<ExportView>)> {
    who.require(perm::USERS_MANAGE)?;
    let export = accounts
        .request_export(id.as_str(), Some(&who.user_id), &client)
        .await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(ExportView::of(&accounts, export).await?),
    ))
}

/// An account's exports of the last year, newest first (at most 50), with download links while they work.
/// Needs `users:manage` (the links give the account's data).
#[utoipa::path(get, path = "/v1/admin/users/{user_id}/exports", tag = "admin", security(("bearer" = [])),
    params(("user_id" = inline(Id), Path)), responses(
    (status = 200, body = Vec<ExportView>),
    (status = 403, description = "`forbidden`: needs `users:manage`"),
    (status = 404, description = "No such account")))]
pub(crate) async fn user_exports(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<Vec<ExportView>>> {
    who.require(perm::USERS_MANAGE)?;
    accounts.user(id.as_str()).await?;
    Ok(Json(ExportView::list(&accounts, id.as_str()).await?))
}
