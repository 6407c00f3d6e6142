//! Routes declared once. A handler's `#[utoipa::path]` holds its method and path; `utoipa_axum::routes!`
//! registers the handler under them in an [`OpenApiRouter`], which builds the axum router and the handler's
//! OpenAPI operation together, so the served routes and the document cannot disagree.
//!
//! A function groups its routes by the rate-limit class guarding them in a [`Routes`]; from it come both its
//! router (each group behind the limiter's layer of its class) and its OpenAPI fragment (each operation with the
//! answers its group's layers add, see [`super::openapi`]):
//!
//! ```ignore
//! pub fn routes() -> Routes<Arc<Accounts>> {
//!     Routes::new(ApiDoc::openapi())
//!         .limited(RouteClass::Auth, OpenApiRouter::new().routes(routes!(login)))
//!         .unlimited(OpenApiRouter::new().routes(routes!(jwks)))
//! }
//!
//! pub fn router(accounts: Arc<Accounts>) -> Router {
//!     routes().router(&accounts.platform.limiter).with_state(accounts)
//! }
//! ```

use std::sync::Arc;

use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use super::openapi::{document_common_responses, open_flattened_requests};
use crate::ratelimit::{self, RateLimiter, RouteClass};

/// A function's routes, grouped by the rate-limit class that guards them (`None`: no rate limit).
pub struct Routes<S> {
    doc: OpenApi,
    groups: Vec<(Option<RouteClass>, OpenApiRouter<S>)>,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// No routes yet; `doc` holds what the function's routes do not say themselves (its tags).
    pub fn new(doc: OpenApi) -> Self {
        Self {
            doc,
            groups: Vec::new(),
        }
    }

    /// Routes counted against the per-IP limit of `class`.
    pub fn limited(mut self, class: RouteClass, routes: OpenApiRouter<S>) -> Self {
        self.groups.push((Some(class), routes));
        self
    }

    /// Routes no rate limit guards.
    pub fn unlimited(mut self, routes: OpenApiRouter<S>) -> Self {
        self.groups.push((None, routes));
        self
    }

    /// The OpenAPI fragment of these routes, with the answers their layers add.
    pub fn openapi(self) -> OpenApi {
        let mut doc = self.doc;
        for (class, routes) in self.groups {
            let mut part = routes.into_openapi();
            document_common_responses(&mut part, class);
            doc.merge(part);
        }
        open_flattened_requests(&mut doc);
        doc
    }

    /// The router: each limited group behind `limiter`'s layer of its class (as a route layer, so unknown paths
    /// are not counted).
    pub fn router(self, limiter: &Arc<RateLimiter>) -> Router<S> {
        self.groups
            .into_iter()
            .fold(Router::new(), |router, (class, routes)| {
                let (routes, _) = routes.split_for_parts();
                let routes = match class {
                    Some(class) => routes.route_layer(ratelimit::layer(limiter.clone(), class)),
                    None => routes,
                };
                router.merge(routes)
            })
    }
}
