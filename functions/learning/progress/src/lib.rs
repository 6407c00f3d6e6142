//! Progress (`/v1/profiles/{id}/progress...`): a profile's results, each recorded exactly once per
//! `Idempotency-Key` (alone or in offline batches of up to 100), listed by game and time, and summed up in
//! statistics with streaks in the profile's time zone. Thin wrappers over the learning domain's `progress`.

mod results;

use std::sync::Arc;

use axum::Router;
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::permissions::perm;
use lectern_accounts::service::Accounts;
use lectern_learning::{Learning, Viewer};
use lectern_shared::http::auth::{self, Identity};
use lectern_shared::http::{Problem, Routes};
use lectern_shared::ratelimit::RouteClass;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type St = axum::extract::State<Arc<Learning>>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags((name = "progress", description = "Results recorded once per Idempotency-Key, offline batches, statistics and streaks")))]
struct ApiDoc;

/// The routes and their OpenAPI description.
pub fn routes() -> Routes<Arc<Learning>> {
    let general = OpenApiRouter::new()
        .routes(routes!(results::record, results::list))
        .routes(routes!(results::record_batch))
        .routes(routes!(results::stats))
        .routes(routes!(results::play));
    Routes::new(ApiDoc::openapi()).limited(RouteClass::General, general)
}

/// The routes with the accounts authenticator that admits profile (device) sessions.
pub fn router(learning: Arc<Learning>, accounts: Arc<Accounts>) -> Router {
    let limiter = learning.platform.limiter.clone();
    routes()
        .router(&limiter)
        .layer(auth::layer(Arc::new(AccountsAuthenticator::with_profiles(
            accounts,
        ))))
        .with_state(learning)
}

/// The caller as the profile rules see it, once it may play at all.
pub(crate) fn player(who: &Identity) -> Result<Viewer> {
    who.require(perm::LEARNING_PLAY)?;
    Ok(Viewer::of(
        who,
        who.can(perm::PROFILES_ANY),
        who.can(perm::CHILDREN_MANAGE),
        who.can(perm::SELF_MANAGE),
    ))
}
