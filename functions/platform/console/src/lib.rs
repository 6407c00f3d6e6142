//! The operators' console (`/v1/admin/jobs`, `/v1/admin/dead-letters`): what the scheduled jobs did last, and
//! the messages no worker could handle. A platform function of its own: it reads what every domain's jobs leave
//! behind (the job states of `lectern_shared::schedule`, the queues' dead letters) through the shared ports and
//! the catalog in `lectern_messages::schedules`, never through another domain.
//!
//! Every route checks a permission (`operations:read`, `operations:manage`; admins hold both) and takes a
//! signed-in session only (403 for an API key), like the accounts' admin routes: operators act as people.

mod dead_letters;
mod jobs;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::service::Accounts;
use lectern_shared::Platform;
use lectern_shared::http::auth;
use lectern_shared::http::{Problem, Routes};
use lectern_shared::ratelimit::RouteClass;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use dead_letters::{DeadLetterView, DeadLettersView, QueueDeadLetters, RedriveView};
pub use jobs::{JobView, JobsView};

type St = State<Platform>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags((name = "operations", description = "The scheduled jobs' runs and the dead-letter queues")))]
struct ApiDoc;

/// The console's routes and their OpenAPI description, all in the General rate-limit class.
pub fn routes() -> Routes<Platform> {
    let routes = OpenApiRouter::new()
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(dead_letters::list_dead_letters))
        .routes(routes!(dead_letters::redrive));
    Routes::new(ApiDoc::openapi()).limited(RouteClass::General, routes)
}

/// The routes with the accounts authenticator installed.
pub fn router(platform: Platform, accounts: Arc<Accounts>) -> Router {
    routes()
        .router(&platform.limiter)
        .layer(auth::layer(Arc::new(AccountsAuthenticator::new(accounts))))
        .with_state(platform)
}
