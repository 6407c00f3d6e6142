//! Sessions: password sign-in, refresh rotation, sign-out.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::service::{LoginOutcome, TokenPair};
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, Problem};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{Accts, Result};

/// Email and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

/// Sign in with email and password. With 2FA on, answers a challenge to complete at `/v1/auth/2fa/verify`.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Credentials, responses(
    (status = 200, body = LoginOutcome),
    (status = 401, description = "`invalid-credentials`: the same answer for an unknown email, a wrong password and a locked account"),
    (status = 403, description = "`account-suspended`")))]
pub(crate) async fn login(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<Credentials>,
) -> Result<Json<LoginOutcome>> {
    accounts.failure_budget(&client)?;
    Ok(Json(
        accounts
            .login(&input.email, &input.password, &client)
            .await?,
    ))
}

/// A refresh token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The `refresh_token` of the last sign-in or refresh.
    pub refresh_token: String,
}

/// Rotate a refresh token. The old token dies; presenting it again ends the session.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TokenPair),
    (status = 400, description = "`invalid-token`: unknown or expired (or another invalid input)"),
    (status = 401, description = "`refresh-token-reused`: the session has been ended"),
    (status = 409, description = "`refresh-token-used`: refreshed concurrently a moment ago"),
    (status = 429, description = "`rate-limited`: this network sent too many unknown tokens (or wrong passwords) lately; see `Retry-After`")))]
pub(crate) async fn refresh(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<RefreshRequest>,
) -> Result<Json<TokenPair>> {
    accounts.failure_budget(&client)?;
    Ok(Json(accounts.refresh(&input.refresh_token, &client).await?))
}

/// End this session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "Signed out")))]
pub(crate) async fn logout(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
) -> Result<StatusCode> {
    let session = who
        .session_id
        .as_deref()
        .ok_or_else(|| Problem::forbidden("API keys have no session"))?;
    accounts.logout(&who.user_id, session, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of this account.
#[utoipa::path(post, path = "/v1/auth/logout-all", tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "Every session ended")))]
pub(crate) async fn logout_all(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
) -> Result<StatusCode> {
    accounts.logout_all(&who.user_id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
