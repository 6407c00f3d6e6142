//! Two-factor authentication: enrolment, sign-in with a code, turning it off.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::service::{Accounts, TokenPair};
use lectern_accounts::twofactor::Enrolment;
use lectern_shared::http::Json;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Accts, Result};

fn require_recent(accounts: &Accounts, who: &lectern_shared::http::auth::Identity) -> Result<()> {
    who.require_recent_auth(accounts.epoch(), accounts.config.reauth_max_age_secs)
}

/// Start 2FA enrolment: a secret, its otpauth URI and QR code. Needs a recent sign-in.
#[utoipa::path(post, path = "/v1/auth/2fa/setup", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = Enrolment),
    (status = 403, description = "`reauthentication-required`: sign in again first (API keys never can)"),
    (status = 409, description = "2FA is already on")))]
pub(crate) async fn two_factor_setup(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<Enrolment>> {
    require_recent(&accounts, &who)?;
    Ok(Json(accounts.setup_two_factor(&who.user_id).await?))
}

/// A TOTP code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// A 6-digit TOTP code.
    pub code: String,
}

/// Backup codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCodes {
    pub backup_codes: Vec<String>,
}

/// Confirm enrolment with a code; answers the 10 backup codes (shown once). Needs a recent sign-in.
#[utoipa::path(post, path = "/v1/auth/2fa/enable", tag = "auth", security(("bearer" = [])), request_body = CodeRequest, responses(
    (status = 200, body = BackupCodes),
    (status = 401, description = "`invalid-code` (or `unauthenticated`)"),
    (status = 403, description = "`reauthentication-required`: sign in again first (API keys never can)"),
    (status = 409, description = "No enrolment in progress: start with `/v1/auth/2fa/setup`")))]
pub(crate) async fn two_factor_enable(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<CodeRequest>,
) -> Result<Json<BackupCodes>> {
    require_recent(&accounts, &who)?;
    let backup_codes = accounts
        .enable_two_factor(&who.user_id, &input.code, &client)
        .await?;
    Ok(Json(BackupCodes { backup_codes }))
}

/// The password and a code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    #[schema(format = Password)]
    pub password: String,
    /// A TOTP or backup code.
    pub code: String,
}

/// Turn 2FA off with the password and a code. Needs a recent sign-in.
#[utoipa::path(post, path = "/v1/auth/2fa/disable", tag = "auth", security(("bearer" = [])), request_body = DisableRequest, responses(
    (status = 204, description = "2FA is off"),
    (status = 400, description = "`validation`: the password is not correct (or another invalid input)"),
    (status = 401, description = "`invalid-code` (or `unauthenticated`)"),
    (status = 403, description = "`reauthentication-required`: sign in again first"),
    (status = 409, description = "2FA is not on")))]
pub(crate) async fn two_factor_disable(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<DisableRequest>,
) -> Result<StatusCode> {
    // Like every other 2FA change: a stolen session must not be enough to turn the second factor off.
    require_recent(&accounts, &who)?;
    accounts
        .disable_two_factor(&who.user_id, &input.password, &input.code, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The login challenge and a code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The `challenge` from `POST /v1/auth/login`.
    pub challenge: String,
    /// A TOTP or backup code.
    pub code: String,
}

/// Complete a 2FA sign-in with a TOTP or backup code.
#[utoipa::path(post, path = "/v1/auth/2fa/verify", tag = "auth", request_body = ChallengeRequest, responses(
    (status = 200, body = TokenPair),
    (status = 400, description = "`invalid-token`: the challenge is unknown, used or expired (or another invalid input)"),
    (status = 401, description = "`invalid-code`")))]
pub(crate) async fn two_factor_verify(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<ChallengeRequest>,
) -> Result<Json<TokenPair>> {
    accounts.failure_budget(&client)?;
    Ok(Json(
        accounts
            .verify_two_factor(&input.challenge, &input.code, &client)
            .await?,
    ))
}
