//! Auth routes (`/v1/auth/...`): thin wrappers over the accounts use cases, one file per resource.

mod recovery;
mod session;
mod signup;
mod two_factor;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::service::Accounts;
use lectern_accounts::signing_keys::Jwks;
use lectern_shared::http::auth;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, Problem, Routes};
use lectern_shared::ratelimit::{RouteClass, Subject};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Accts = State<Arc<Accounts>>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags((name = "auth", description = "Registration, sign-in, tokens and account recovery")))]
struct ApiDoc;

/// The auth routes and their OpenAPI description. Every credential-handling route has the strict per-IP limits
/// of the Auth class; the JWKS is public and cacheable, so it has none.
pub fn routes() -> Routes<Arc<Accounts>> {
    let credentials = OpenApiRouter::new()
        .routes(routes!(signup::register))
        .routes(routes!(signup::verify_email))
        .routes(routes!(signup::resend_verification))
        .routes(routes!(session::login))
        .routes(routes!(session::logout))
        .routes(routes!(session::logout_all))
        .routes(routes!(recovery::forgot_password))
        .routes(routes!(recovery::reset_password))
        .routes(routes!(two_factor::two_factor_setup))
        .routes(routes!(two_factor::two_factor_enable))
        .routes(routes!(two_factor::two_factor_disable))
        .routes(routes!(two_factor::two_factor_verify));
    Routes::new(ApiDoc::openapi())
        .limited(RouteClass::Auth, credentials)
        // Refresh is not limited per IP: a campus refreshes hundreds of sessions every 15 minutes behind one
        // address. Each token works once (so one session's refreshes are sequential), and unknown tokens spend
        // the network's budget of failed checks.
        .unlimited(OpenApiRouter::new().routes(routes!(session::refresh)))
        .unlimited(OpenApiRouter::new().routes(routes!(jwks)))
}

/// The auth routes, with the accounts authenticator installed.
pub fn router(accounts: Arc<Accounts>) -> Router {
    routes()
        .router(&accounts.platform.limiter)
        .layer(auth::layer(Arc::new(AccountsAuthenticator::new(
            accounts.clone(),
        ))))
        .with_state(accounts)
}

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

/// The per-account limit of credential routes, keyed by the normalized email (whether or not it is registered,
/// so the limit itself reveals nothing).
async fn per_account(accounts: &Accounts, email: &str) -> Result<()> {
    let subject = Subject::Account(lectern_accounts::users::email_key(email));
    accounts
        .platform
        .limiter
        .enforce(RouteClass::Auth, &subject)
        .await?;
    Ok(())
}

/// The `expensive` class of routes that email an address the request names (per IP and per that address).
async fn expensive(accounts: &Accounts, client: &ClientInfo, email: &str) -> Result<()> {
    let account = lectern_accounts::users::email_key(email);
    accounts.limit_expensive(client, &account).await
}

/// The public keys that verify access tokens.
#[utoipa::path(get, path = "/v1/auth/jwks.json", tag = "auth", responses((status = 200, body = Jwks)))]
async fn jwks(State(accounts): Accts) -> impl IntoResponse {
    (
        [(axum::http::header::CACHE_CONTROL, "public, max-age=300")],
        Json(accounts.tokens.keys().jwks()),
    )
}
