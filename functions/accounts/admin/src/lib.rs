//! Account administration routes (`/v1/admin/...`), one file per resource. Each checks a permission
//! (`users:read`, `users:manage`, `roles:assign`, `audit:read`), never a role name.

mod audit;
mod bulk;
mod stats;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use lectern_accounts::authenticator::AccountsAuthenticator;
use lectern_accounts::service::Accounts;
use lectern_shared::http::auth;
use lectern_shared::http::{Problem, Routes};
use lectern_shared::ratelimit::RouteClass;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Accts = State<Arc<Accounts>>;
type Result<T> = std::result::Result<T, Problem>;

#[derive(OpenApi)]
#[openapi(tags((name = "admin", description = "Account administration and the audit log")))]
struct ApiDoc;

/// The admin routes and their OpenAPI description, all in the General rate-limit class.
pub fn routes() -> Routes<Arc<Accounts>> {
    let routes = OpenApiRouter::new()
        .routes(routes!(users::list_users))
        .routes(routes!(users::get_user))
        .routes(routes!(users::set_role))
        .routes(routes!(users::set_tier))
        .routes(routes!(users::suspend))
        .routes(routes!(users::activate))
        .routes(routes!(users::force_logout))
        .routes(routes!(users::export_user))
        .routes(routes!(users::user_exports))
        .routes(routes!(audit::audit_logs))
        .routes(routes!(stats::stats))
        .routes(routes!(bulk::bulk));
    Routes::new(ApiDoc::openapi()).limited(RouteClass::General, routes)
}

/// The admin routes, with the accounts authenticator installed.
pub fn router(accounts: Arc<Accounts>) -> Router {
    routes()
        .router(&accounts.platform.limiter)
        .layer(auth::layer(Arc::new(AccountsAuthenticator::new(
            accounts.clone(),
        ))))
        .with_state(accounts)
}
