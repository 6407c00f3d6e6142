//! Leaderboards (`/v1/leaderboards/games/{game_id}`, `/v1/profiles/{id}/rank`): the best scores of a game per
//! week, month or all time, with display names and avatars only, and where one profile stands. The boards are
//! written by the learning worker from recorded results; this function only reads them. Thin wrappers over the
//! learning domain's `leaderboards`.

mod boards;

use std::sync::Arc;

use axum::Router;
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::service::Accounts;
use lectern_learning::Learning;
use lectern_shared::http::auth;
use lectern_shared::http::{Problem, Routes};
use lectern_shared::ratelimit::RouteClass;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type St = axum::extract::State<Arc<Learning>>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags((name = "leaderboards", description = "The best scores of a game per ISO week, calendar month (UTC) or all time, and a profile's rank")))]
struct ApiDoc;

/// The routes and their OpenAPI description.
pub fn routes() -> Routes<Arc<Learning>> {
    let general = OpenApiRouter::new()
        .routes(routes!(boards::top))
        .routes(routes!(boards::rank));
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
