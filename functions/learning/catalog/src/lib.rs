//! The content of the learning domain: the activity catalog (`/v1/games`) — published games for everyone who
//! reads content (a child's device included), filtered and sorted in pages that each cost one query; drafts,
//! changes, publication and soft deletion for authors (`content:write`) — and the curriculum (`/v1/curriculum`,
//! modules in learning paths, `/v1/profiles/{id}/curriculum`, where a profile stands, and
//! `/v1/profiles/{id}/recommendations`, what it might play next). Both are authored
//! content with the same readers and authors, so they share one function. Thin wrappers over the learning
//! domain's `catalog` and `curriculum`.

mod curriculum;
mod games;
mod recommendations;

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

/// The schemas the routes name by reference without registering them themselves: a query parameter's enum and
/// id, and the value type of a map field.
#[derive(OpenApi)]
#[openapi(
    tags((name = "catalog", description = "Games as data: the published catalog, filtered and sorted; the curriculum of modules in learning paths; authoring for instructors and admins")),
    components(schemas(lectern_learning::catalog::Sort, lectern_learning::catalog::LocaleText, lectern_shared::ids::Id))
)]
struct ApiDoc;

/// The routes and their OpenAPI description.
pub fn routes() -> Routes<Arc<Learning>> {
    let general = OpenApiRouter::new()
        .routes(routes!(games::list, games::create))
        .routes(routes!(games::get_one, games::replace, games::delete))
        .routes(routes!(games::publish))
        .routes(routes!(games::unpublish))
        .routes(routes!(curriculum::list, curriculum::create))
        .routes(routes!(
            curriculum::get_one,
            curriculum::replace,
            curriculum::delete
        ))
        .routes(routes!(curriculum::of_profile))
        .routes(routes!(recommendations::of_profile));
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
