//! The account owner's routes (`/v1/users/me/...`), one file per resource. Every route acts on the caller's own
//! account: there is no user id in these paths to guess. Thin wrappers over the accounts use cases.

mod api_keys;
mod credentials;
mod events;
pub mod exports;
mod profile;
mod sessions;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::permissions::perm;
use lectern_accounts::service::Accounts;
use lectern_shared::http::auth::{self, Identity};
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Problem, Routes};
use lectern_shared::ratelimit::RouteClass;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Accts = State<Arc<Accounts>>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags((name = "users", description = "The signed-in account: profile, security settings, sessions, API keys")))]
struct ApiDoc;

/// The owner's routes and their OpenAPI description, all in the General rate-limit class.
pub fn routes() -> Routes<Arc<Accounts>> {
    let routes = OpenApiRouter::new()
        .routes(routes!(profile::me, profile::update_me, profile::delete_me))
        .routes(routes!(profile::avatar_upload))
        .routes(routes!(profile::avatar_confirm))
        .routes(routes!(credentials::change_password))
        .routes(routes!(credentials::change_email))
        .routes(routes!(sessions::sessions))
        .routes(routes!(sessions::revoke_session))
        .routes(routes!(api_keys::api_keys, api_keys::create_api_key))
        .routes(routes!(api_keys::revoke_api_key))
        .routes(routes!(events::security_events))
        .routes(routes!(exports::request_export))
        .routes(routes!(exports::exports));
    Routes::new(ApiDoc::openapi()).limited(RouteClass::General, routes)
}

/// The owner's routes, with the accounts authenticator installed.
pub fn router(accounts: Arc<Accounts>) -> Router {
    routes()
        .router(&accounts.platform.limiter)
        .layer(auth::layer(Arc::new(AccountsAuthenticator::new(
            accounts.clone(),
        ))))
        .with_state(accounts)
}

/// 403 unless the caller may manage their own account (every role may; an API key only with that scope).
fn owner(who: &Identity) -> Result<()> {
    who.require(perm::SELF_MANAGE)
}

/// The `expensive` class (presigned uploads, new keys, mail to a new address), per IP and per account.
async fn expensive(accounts: &Accounts, client: &ClientInfo, who: &Identity) -> Result<()> {
    accounts
        .limit_expensive(client, &format!("user:{}", who.user_id))
        .await
}

/// 403 unless the caller signed in recently (never through an API key).
fn recent(accounts: &Accounts, who: &Identity) -> Result<()> {
    who.require_recent_auth(accounts.epoch(), accounts.config.reauth_max_age_secs)
}
