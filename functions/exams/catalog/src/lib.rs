//! The academic hierarchy (`/v1/hierarchy/...`): institution → faculty → department → course (with a level) →
//! topic. Everyone signed in reads it (`content:read`); authors (`content:write`: instructors and admins) create,
//! change and delete nodes. Thin wrappers over `lectern_exams::hierarchy`.

mod nodes;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::permissions::perm;
use lectern_accounts::service::Accounts;
use lectern_exams::{Exams, Viewer};
use lectern_shared::http::auth::{self, Identity};
use lectern_shared::http::{Problem, Routes};
use lectern_shared::ratelimit::RouteClass;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ex = State<Exams>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags((name = "hierarchy", description = "The academic hierarchy: institutions, faculties, departments, courses and topics")))]
struct ApiDoc;

/// The hierarchy's routes and their OpenAPI description, all in the General rate-limit class.
pub fn routes() -> Routes<Exams> {
    let routes = OpenApiRouter::new()
        .routes(routes!(nodes::list_institutions))
        .routes(routes!(nodes::create_node))
        .routes(routes!(
            nodes::get_node,
            nodes::update_node,
            nodes::delete_node
        ))
        .routes(routes!(nodes::list_children));
    Routes::new(ApiDoc::openapi()).limited(RouteClass::General, routes)
}

/// The hierarchy's routes, with the accounts authenticator installed.
pub fn router(exams: Exams, accounts: Arc<Accounts>) -> Router {
    routes()
        .router(&exams.platform.limiter)
        .layer(auth::layer(Arc::new(AccountsAuthenticator::new(accounts))))
        .with_state(exams)
}

/// The caller, after checking they may read content at all.
fn reader(who: &Identity) -> Result<Viewer> {
    who.require(perm::CONTENT_READ)?;
    Ok(Viewer::new(
        who,
        who.can(perm::CONTENT_WRITE),
        who.can(perm::CONTENT_MODERATE),
    ))
}
