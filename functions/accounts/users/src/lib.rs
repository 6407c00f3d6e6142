//! The account owner's routes (`/v1/users/me/...`). Every route acts on the caller's own account: there is no
//! user id in these paths to guess. Thin wrappers over the accounts use cases.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use lectern_accounts::apikeys::{ApiKey, CreatedApiKey, NewApiKey};
use lectern_accounts::audit::{Event, TimeRange};
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::errors::AccountError;
use lectern_accounts::permissions::perm;
use lectern_accounts::service::Accounts;
use lectern_accounts::service::profile::{ProfilePatch, ProfileView};
use lectern_shared::blobs::PresignedUpload;
use lectern_shared::http::auth::{self, Identity, SessionIdentity};
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, PageParams, Paginated, Path, Problem, Query};
use lectern_shared::ids::Id;
use lectern_shared::ratelimit::{self, RouteClass};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

type Accts = State<Arc<Accounts>>;
type Result<T> = std::result::Result<T, Problem>;

/// The owner's routes, with the accounts authenticator installed.
pub fn router(accounts: Arc<Accounts>) -> Router {
    Router::new()
        .route("/v1/users/me", get(me).patch(update_me).delete(delete_me))
        .route("/v1/users/me/password", post(change_password))
        .route("/v1/users/me/email", post(change_email))
        .route("/v1/users/me/avatar", post(avatar_upload))
        .route("/v1/users/me/avatar/confirm", post(avatar_confirm))
        .route("/v1/users/me/sessions", get(sessions))
        .route("/v1/users/me/sessions/{session_id}", delete(revoke_session))
        .route("/v1/users/me/api-keys", get(api_keys).post(create_api_key))
        .route("/v1/users/me/api-keys/{key_id}", delete(revoke_api_key))
        .route("/v1/users/me/security-events", get(security_events))
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
    paths(me, update_me, delete_me, change_password, change_email, avatar_upload, avatar_confirm, sessions, revoke_session,
          api_keys, create_api_key, revoke_api_key, security_events),
    components(schemas(ProfileView, ProfilePatch, PasswordChange, EmailChange, AvatarRequest, AvatarConfirm, SessionView,
                       ApiKey, NewApiKey, CreatedApiKey, Event, Deleted, PresignedUpload)),
    tags((name = "users", description = "The signed-in account: profile, security settings, sessions, API keys"))
)]
pub struct ApiDoc;

fn owner(who: &Identity) -> Result<()> {
    who.require(perm::SELF_MANAGE)
}

fn recent(accounts: &Accounts, who: &Identity) -> Result<()> {
    who.require_recent_auth(accounts.epoch(), accounts.config.reauth_max_age_secs)
}

fn problem(e: AccountError) -> Problem {
    e.into()
}

/// The `expensive` class (presigned uploads, new keys, mail to a new address), per IP and per account.
async fn expensive(accounts: &Accounts, client: &ClientInfo, who: &Identity) -> Result<()> {
    let account = format!("user:{}", who.user_id);
    accounts.limit_expensive(client, &account).await
}

/// The caller's profile.
#[utoipa::path(get, path = "/v1/users/me", tag = "users", security(("bearer" = []), ("api_key" = [])), responses((status = 200, body = ProfileView), (status = 401)))]
async fn me(State(accounts): Accts, who: Identity) -> Result<Json<ProfileView>> {
    owner(&who)?;
    accounts
        .profile(&who.user_id)
        .await
        .map(Json)
        .map_err(problem)
}

/// Change profile settings. Unknown or privileged fields (`role`, `email`, ...) are refused.
#[utoipa::path(patch, path = "/v1/users/me", tag = "users", security(("bearer" = [])), request_body = ProfilePatch, responses((status = 200, body = ProfileView), (status = 400), (status = 401), (status = 403, description = "An API key (these routes need a signed-in session)")))]
async fn update_me(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
    Json(patch): Json<ProfilePatch>,
) -> Result<Json<ProfileView>> {
    owner(&who)?;
    accounts
        .update_profile(&who.user_id, patch)
        .await
        .map(Json)
        .map_err(problem)
}

/// When a deleted account is purged.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// Epoch seconds after which the account is gone for good; signing in before then restores it.
    pub purge_after: i64,
}

/// Delete the account (soft, restorable by signing in during the grace period). Needs a recent sign-in.
#[utoipa::path(delete, path = "/v1/users/me", tag = "users", security(("bearer" = [])), responses((status = 202, body = Deleted), (status = 401), (status = 403), (status = 409)))]
async fn delete_me(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
) -> Result<(StatusCode, Json<Deleted>)> {
    owner(&who)?;
    recent(&accounts, &who)?;
    let purge_after = accounts
        .delete_account(&who.user_id, &client)
        .await
        .map_err(problem)?;
    Ok((StatusCode::ACCEPTED, Json(Deleted { purge_after })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Change the password; every other session ends.
#[utoipa::path(post, path = "/v1/users/me/password", tag = "users", security(("bearer" = [])), request_body = PasswordChange, responses((status = 204), (status = 400), (status = 401), (status = 403, description = "An API key (these routes need a signed-in session)")))]
async fn change_password(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<PasswordChange>,
) -> Result<StatusCode> {
    owner(&who)?;
    accounts
        .change_password(
            &who.user_id,
            who.session_id.as_deref(),
            &input.current_password,
            &input.new_password,
            &client,
        )
        .await
        .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChange {
    pub new_email: String,
    pub password: String,
}

/// Move the account to a new email address (verified again; the old address is told). Needs a recent sign-in.
#[utoipa::path(post, path = "/v1/users/me/email", tag = "users", security(("bearer" = [])), request_body = EmailChange, responses((status = 202), (status = 400), (status = 401), (status = 403), (status = 429, description = "Rate limited (the expensive class)")))]
async fn change_email(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<EmailChange>,
) -> Result<StatusCode> {
    owner(&who)?;
    recent(&accounts, &who)?;
    expensive(&accounts, &client, &who).await?;
    accounts
        .change_email(&who.user_id, &input.new_email, &input.password, &client)
        .await
        .map_err(problem)?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvatarRequest {
    /// `image/png`, `image/jpeg` or `image/webp`.
    pub content_type: String,
}

/// A presigned form upload for a new avatar (at most 2 MiB); then call `/v1/users/me/avatar/confirm`.
#[utoipa::path(post, path = "/v1/users/me/avatar", tag = "users", security(("bearer" = [])), request_body = AvatarRequest, responses((status = 200, body = PresignedUpload), (status = 400), (status = 403, description = "An API key (these routes need a signed-in session)"), (status = 429, description = "Rate limited (the expensive class)")))]
async fn avatar_upload(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<AvatarRequest>,
) -> Result<Json<PresignedUpload>> {
    owner(&who)?;
    expensive(&accounts, &client, &who).await?;
    accounts
        .avatar_upload(&who.user_id, &input.content_type)
        .await
        .map(Json)
        .map_err(problem)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvatarConfirm {
    /// The `key` of the presigned upload.
    pub key: String,
    pub content_type: String,
}

/// Accept an uploaded avatar after checking its size and content.
#[utoipa::path(post, path = "/v1/users/me/avatar/confirm", tag = "users", security(("bearer" = [])), request_body = AvatarConfirm, responses((status = 200, body = ProfileView), (status = 400), (status = 403, description = "An API key (these routes need a signed-in session)")))]
async fn avatar_confirm(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<AvatarConfirm>,
) -> Result<Json<ProfileView>> {
    owner(&who)?;
    accounts
        .confirm_avatar(&who.user_id, &input.key, &input.content_type)
        .await
        .map(Json)
        .map_err(problem)
}

/// An active session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub session_id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request came through.
    pub current: bool,
}

/// The caller's active sessions, newest first.
#[utoipa::path(get, path = "/v1/users/me/sessions", tag = "users", security(("bearer" = [])), responses((status = 200, body = Vec<SessionView>), (status = 401), (status = 403, description = "An API key (these routes need a signed-in session)")))]
async fn sessions(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<Vec<SessionView>>> {
    owner(&who)?;
    let list = accounts
        .sessions
        .list(&who.user_id, accounts.epoch())
        .await
        .map_err(|e| problem(e.into()))?;
    Ok(Json(
        list.into_iter()
            .map(|s| SessionView {
                current: who.session_id.as_deref() == Some(s.session_id.as_str()),
                session_id: s.session_id,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect(),
    ))
}

/// End one of the caller's sessions. Another user's session id is simply not found.
#[utoipa::path(delete, path = "/v1/users/me/sessions/{session_id}", tag = "users", security(("bearer" = [])), params(("session_id" = String, Path)), responses((status = 204), (status = 404), (status = 403, description = "An API key (these routes need a signed-in session)")))]
async fn revoke_session(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(session_id): Path<Id>,
) -> Result<StatusCode> {
    owner(&who)?;
    let revoked = accounts.revoke_session(&who.user_id, session_id.as_str(), &client);
    if !revoked.await.map_err(problem)? {
        return Err(Problem::not_found("no such session"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's API keys (never the secrets).
#[utoipa::path(get, path = "/v1/users/me/api-keys", tag = "users", security(("bearer" = [])), responses((status = 200, body = Vec<ApiKey>), (status = 403, description = "An API key (these routes need a signed-in session)")))]
async fn api_keys(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<Vec<ApiKey>>> {
    owner(&who)?;
    accounts
        .list_api_keys(&who.user_id)
        .await
        .map(Json)
        .map_err(problem)
}

/// Create an API key; the `key` in the answer is shown only this once. Needs a verified email.
#[utoipa::path(post, path = "/v1/users/me/api-keys", tag = "users", security(("bearer" = [])), request_body = NewApiKey, responses((status = 201, body = CreatedApiKey), (status = 400), (status = 403), (status = 429, description = "Rate limited (the expensive class)")))]
async fn create_api_key(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>)> {
    owner(&who)?;
    who.require_verified()?;
    expensive(&accounts, &client, &who).await?;
    let created = accounts
        .create_api_key(&who, input, &client)
        .await
        .map_err(problem)?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(delete, path = "/v1/users/me/api-keys/{key_id}", tag = "users", security(("bearer" = [])), params(("key_id" = String, Path)), responses((status = 204), (status = 404), (status = 403, description = "An API key (these routes need a signed-in session)")))]
async fn revoke_api_key(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(key_id): Path<Id>,
) -> Result<StatusCode> {
    owner(&who)?;
    accounts
        .revoke_api_key(&who.user_id, key_id.as_str(), &client)
        .await
        .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filters of a security-event list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// RFC 3339 lower bound.
    pub from: Option<String>,
    /// RFC 3339 upper bound.
    pub to: Option<String>,
}

/// The caller's security events (sign-ins, password and 2FA changes...), newest first.
#[utoipa::path(get, path = "/v1/users/me/security-events", tag = "users", security(("bearer" = [])), params(EventQuery), responses((status = 200, body = Paginated<Event>), (status = 400), (status = 403, description = "An API key (these routes need a signed-in session)")))]
async fn security_events(
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
    let range = TimeRange::parse(q.from.as_deref(), q.to.as_deref()).map_err(problem)?;
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
        .await
        .map_err(|e| problem(e.into()))?;
    let items = page
        .items
        .into_iter()
        .filter_map(|i| lectern_shared::table::from_item::<Event>(i).ok())
        .collect();
    Ok(Json(codec.page(&scope, items, page.cursor)))
}
