//! Achievements (`/v1/achievements`, `/v1/profiles/{id}/achievements`): definitions are data, read by everyone who
//! reads content and written by holders of `achievements:manage`; a profile's earned achievements, seen by its
//! family (and its own device); awards by hand for holders of `achievements:award`. Earning by rule is the
//! learning worker's (`lectern-learning-worker`). Thin wrappers over the learning domain's `achievements`.

mod definitions;
mod earned;

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
#[openapi(tags((name = "achievements", description = "Achievement definitions as data, what a profile earned (exactly once), awards by hand")))]
struct ApiDoc;

/// The routes and their OpenAPI description.
pub fn routes() -> Routes<Arc<Learning>> {
    let general = OpenApiRouter::new()
        .routes(routes!(definitions::list, definitions::create))
        .routes(routes!(
            definitions::get_one,
            definitions::replace,
            definitions::delete
        ))
        .routes(routes!(earned::list))
        .routes(routes!(earned::award));
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

/// The caller as the profile rules see it.
pub(crate) fn viewer(who: &Identity) -> Viewer {
    Viewer::of(
        who,
        who.can(perm::PROFILES_ANY),
        who.can(perm::CHILDREN_MANAGE),
        who.can(perm::SELF_MANAGE),
    )
}
