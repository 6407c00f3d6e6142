//! Auth routes (`/v1/auth/...`): thin wrappers over the accounts use cases.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::errors::AccountError;
use lectern_accounts::service::signup::Registration;
use lectern_accounts::service::{Accounts, LoginOutcome, TokenPair};
use lectern_accounts::signing_keys::Jwks;
use lectern_accounts::twofactor::Enrolment;
use lectern_shared::http::auth::{self, Identity, SessionIdentity};
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, Problem};
use lectern_shared::ratelimit::{self, RouteClass, Subject};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

type Accts = State<Arc<Accounts>>;
type Result<T> = std::result::Result<T, Problem>;

/// The auth routes, with the accounts authenticator installed.
pub fn router(accounts: Arc<Accounts>) -> Router {
    Router::new()
        .route("/v1/auth/register", post(register))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/logout-all", post(logout_all))
        .route("/v1/auth/verify-email", post(verify_email))
        .route("/v1/auth/resend-verification", post(resend_verification))
        .route("/v1/auth/forgot-password", post(forgot_password))
        .route("/v1/auth/reset-password", post(reset_password))
        .route("/v1/auth/2fa/setup", post(two_factor_setup))
        .route("/v1/auth/2fa/enable", post(two_factor_enable))
        .route("/v1/auth/2fa/disable", post(two_factor_disable))
        .route("/v1/auth/2fa/verify", post(two_factor_verify))
        // Strict per-IP limits on every credential-handling route; the JWKS below is public and cacheable.
        .route_layer(ratelimit::layer(
            accounts.platform.limiter.clone(),
            RouteClass::Auth,
        ))
        .route("/v1/auth/jwks.json", get(jwks))
        .layer(auth::layer(Arc::new(AccountsAuthenticator::new(
            accounts.clone(),
        ))))
        .with_state(accounts)
}

#[derive(OpenApi)]
#[openapi(
    paths(register, login, refresh, logout, logout_all, verify_email, resend_verification, forgot_password, reset_password,
          two_factor_setup, two_factor_enable, two_factor_disable, two_factor_verify, jwks),
    components(schemas(Registration, Credentials, RefreshRequest, TokenRequest, EmailRequest, ResetRequest, CodeRequest,
                       DisableRequest, ChallengeRequest, Accepted, BackupCodes, TokenPair, LoginOutcome, Enrolment, Jwks)),
    tags((name = "auth", description = "Registration, sign-in, tokens and account recovery"))
)]
pub struct ApiDoc;

/// Answer of requests whose outcome must not reveal whether an account exists.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Always `accepted`.
    pub status: &'static str,
    pub detail: &'static str,
}

fn accepted(detail: &'static str) -> impl IntoResponse {
    (
        StatusCode::ACCEPTED,
        Json(Accepted {
            status: "accepted",
            detail,
        }),
    )
}

/// Email and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub token: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// A 6-digit TOTP code.
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    pub password: String,
    /// A TOTP or backup code.
    pub code: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The `challenge` from `POST /v1/auth/login`.
    pub challenge: String,
    /// A TOTP or backup code.
    pub code: String,
}

/// Backup codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCodes {
    pub backup_codes: Vec<String>,
}

fn problem(e: AccountError) -> Problem {
    e.into()
}

/// The per-account limit of credential routes, keyed by the normalized email (whether or not it is registered,
/// so the limit itself reveals nothing).
async fn per_account(accounts: &Accounts, email: &str) -> Result<()> {
    let subject = Subject::Account(lectern_accounts::users::email_key(email));
    accounts
        .platform
        .limiter
        .enforce(RouteClass::Auth, &subject)
        .await
        .map(|_| ())
}

/// The `expensive` class of routes that email an address the request names (per IP and per that address).
async fn expensive(accounts: &Accounts, client: &ClientInfo, email: &str) -> Result<()> {
    let account = lectern_accounts::users::email_key(email);
    accounts.limit_expensive(client, &account).await
}

/// Register an account (learner or parent). Always 202 for a well-formed request, whether or not the email was
/// already registered; a verification link is emailed.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = Registration, responses(
    (status = 202, body = Accepted), (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited")))]
async fn register(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<Registration>,
) -> Result<impl IntoResponse> {
    per_account(&accounts, &input.email).await?;
    expensive(&accounts, &client, &input.email).await?;
    accounts.register(input, &client).await.map_err(problem)?;
    Ok(accepted(
        "if the address can be registered, a verification link is on its way",
    ))
}

/// Sign in with email and password. With 2FA on, answers a challenge to complete at `/v1/auth/2fa/verify`.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Credentials, responses(
    (status = 200, body = LoginOutcome), (status = 401, description = "Invalid credentials (same answer for unknown email, wrong password, locked account)"),
    (status = 403, description = "Account suspended"), (status = 429, description = "Rate limited")))]
async fn login(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<Credentials>,
) -> Result<Json<LoginOutcome>> {
    per_account(&accounts, &input.email).await?;
    accounts
        .login(&input.email, &input.password, &client)
        .await
        .map(Json)
        .map_err(problem)
}

/// Rotate a refresh token. The old token dies; presenting it again ends the session.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TokenPair), (status = 400, description = "Invalid or expired token"),
    (status = 401, description = "Token reuse detected; session ended"), (status = 409, description = "Refreshed concurrently")))]
async fn refresh(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<RefreshRequest>,
) -> Result<Json<TokenPair>> {
    accounts
        .refresh(&input.refresh_token, &client)
        .await
        .map(Json)
        .map_err(problem)
}

/// End this session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])), responses((status = 204), (status = 401), (status = 403, description = "An API key (these routes need a signed-in session)")))]
async fn logout(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
) -> Result<StatusCode> {
    let session = who
        .session_id
        .as_deref()
        .ok_or_else(|| Problem::forbidden("API keys have no session"))?;
    accounts
        .logout(&who.user_id, session, &client)
        .await
        .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of this account.
#[utoipa::path(post, path = "/v1/auth/logout-all", tag = "auth", security(("bearer" = [])), responses((status = 204), (status = 401), (status = 403, description = "An API key (these routes need a signed-in session)")))]
async fn logout_all(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
) -> Result<StatusCode> {
    accounts
        .logout_all(&who.user_id, &client)
        .await
        .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Verify an email address with the emailed token (single use, 24 h).
#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "auth", request_body = TokenRequest, responses((status = 204), (status = 400)))]
async fn verify_email(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<TokenRequest>,
) -> Result<StatusCode> {
    accounts
        .verify_email(&input.token, &client)
        .await
        .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a new verification link. Always 202.
#[utoipa::path(post, path = "/v1/auth/resend-verification", tag = "auth", request_body = EmailRequest, responses((status = 202, body = Accepted), (status = 429)))]
async fn resend_verification(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<EmailRequest>,
) -> Result<impl IntoResponse> {
    per_account(&accounts, &input.email).await?;
    expensive(&accounts, &client, &input.email).await?;
    accounts
        .resend_verification(&input.email)
        .await
        .map_err(problem)?;
    Ok(accepted(
        "if the address belongs to an unverified account, a new link is on its way",
    ))
}

/// Email a password reset link. Always 202.
#[utoipa::path(post, path = "/v1/auth/forgot-password", tag = "auth", request_body = EmailRequest, responses((status = 202, body = Accepted), (status = 429)))]
async fn forgot_password(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<EmailRequest>,
) -> Result<impl IntoResponse> {
    per_account(&accounts, &input.email).await?;
    expensive(&accounts, &client, &input.email).await?;
    accounts
        .forgot_password(&input.email, &client)
        .await
        .map_err(problem)?;
    Ok(accepted(
        "if the address belongs to an account, a reset link is on its way",
    ))
}

/// Set a new password with a reset token (single use, 15 min). Ends every session.
#[utoipa::path(post, path = "/v1/auth/reset-password", tag = "auth", request_body = ResetRequest, responses((status = 204), (status = 400)))]
async fn reset_password(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<ResetRequest>,
) -> Result<StatusCode> {
    accounts
        .reset_password(&input.token, &input.password, &client)
        .await
        .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

fn require_recent(accounts: &Accounts, who: &Identity) -> Result<()> {
    who.require_recent_auth(accounts.epoch(), accounts.config.reauth_max_age_secs)
}

/// Start 2FA enrolment: a secret, its otpauth URI and QR code. Needs a recent sign-in.
#[utoipa::path(post, path = "/v1/auth/2fa/setup", tag = "auth", security(("bearer" = [])), responses((status = 200, body = Enrolment), (status = 401), (status = 403), (status = 409)))]
async fn two_factor_setup(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<Enrolment>> {
    require_recent(&accounts, &who)?;
    accounts
        .setup_two_factor(&who.user_id)
        .await
        .map(Json)
        .map_err(problem)
}

/// Confirm enrolment with a code; answers the 10 backup codes (shown once).
#[utoipa::path(post, path = "/v1/auth/2fa/enable", tag = "auth", security(("bearer" = [])), request_body = CodeRequest, responses((status = 200, body = BackupCodes), (status = 401), (status = 409), (status = 403, description = "An API key (these routes need a signed-in session)")))]
async fn two_factor_enable(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<CodeRequest>,
) -> Result<Json<BackupCodes>> {
    require_recent(&accounts, &who)?;
    let backup_codes = accounts
        .enable_two_factor(&who.user_id, &input.code, &client)
        .await
        .map_err(problem)?;
    Ok(Json(BackupCodes { backup_codes }))
}

/// Turn 2FA off with the password and a code. Needs a recent sign-in.
#[utoipa::path(post, path = "/v1/auth/2fa/disable", tag = "auth", security(("bearer" = [])), request_body = DisableRequest, responses((status = 204), (status = 400), (status = 401), (status = 403), (status = 409)))]
async fn two_factor_disable(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<DisableRequest>,
) -> Result<StatusCode> {
    require_recent(&accounts, &who)?;
    accounts
        .disable_two_factor(&who.user_id, &input.password, &input.code, &client)
        .await
        .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Complete a 2FA sign-in with a TOTP or backup code.
#[utoipa::path(post, path = "/v1/auth/2fa/verify", tag = "auth", request_body = ChallengeRequest, responses((status = 200, body = TokenPair), (status = 400), (status = 401)))]
async fn two_factor_verify(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<ChallengeRequest>,
) -> Result<Json<TokenPair>> {
    accounts
        .verify_two_factor(&input.challenge, &input.code, &client)
        .await
        .map(Json)
        .map_err(problem)
}

/// The public keys that verify access tokens.
#[utoipa::path(get, path = "/v1/auth/jwks.json", tag = "auth", responses((status = 200, body = Jwks)))]
async fn jwks(State(accounts): Accts) -> impl IntoResponse {
    (
        [(axum::http::header::CACHE_CONTROL, "public, max-age=300")],
        Json(accounts.tokens.keys().jwks()),
    )
}
