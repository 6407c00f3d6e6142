//! Health: liveness (`GET /v1/health`), readiness (`GET /v1/health/ready`, which checks every adapter), and the
//! OpenAPI document (`GET /v1/openapi.json`).

pub mod checks;

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use lectern_shared::Platform;
use lectern_shared::http::{Json, Problem, Routes};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The committed OpenAPI document of the whole API (a test keeps it equal to the code's).
pub const OPENAPI_JSON: &str = include_str!("../../../../docs/openapi.json");

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok` when the process answers.
    pub status: &'static str,
    /// Crate version.
    pub version: &'static str,
    /// Commit the binary was built from.
    pub git_sha: &'static str,
    /// Seconds since this process (or Lambda execution environment) started.
    pub uptime_seconds: u64,
}

/// Readiness answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: &'static str,
    /// Each dependency and `ok`.
    pub checks: std::collections::BTreeMap<&'static str, &'static str>,
}

#[derive(OpenApi)]
#[openapi(tags((name = "health", description = "Liveness, readiness and API description")))]
struct ApiDoc;

/// The health routes and their OpenAPI description. Probes are not rate limited: load balancers and monitors
/// call them often, and they cost nothing.
pub fn routes() -> Routes<Platform> {
    Routes::new(ApiDoc::openapi()).unlimited(
        OpenApiRouter::new()
            .routes(routes!(liveness))
            .routes(routes!(readiness))
            .routes(routes!(openapi_json)),
    )
}

/// The health routes.
pub fn router(platform: Platform) -> Router {
    STARTED.get_or_init(Instant::now);
    let limiter = platform.limiter.clone();
    routes().router(&limiter).with_state(platform)
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/v1/health", tag = "health", responses((status = 200, description = "Alive", body = Liveness)))]
async fn liveness() -> Json<Liveness> {
    Json(Liveness {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        git_sha: env!("LECTERN_BUILD_SHA"),
        uptime_seconds: STARTED.get_or_init(Instant::now).elapsed().as_secs(),
    })
}

/// Readiness: every adapter (table, blobs, queue) answers. 503 names the failing checks.
#[utoipa::path(get, path = "/v1/health/ready", tag = "health", responses(
    (status = 200, description = "Every dependency answers", body = Readiness),
    (status = 503, description = "A dependency is down; `errors` names it", body = Problem, content_type = "application/problem+json"),
))]
#[tracing::instrument(skip_all)]
async fn readiness(State(platform): State<Platform>) -> Result<Json<Readiness>, Problem> {
    let results = checks::run(&platform).await;
    let failed: Vec<_> = results
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| *name)
        .collect();
    if failed.is_empty() {
        return Ok(Json(Readiness {
            status: "ready",
            checks: results.into_iter().map(|(n, _)| (n, "ok")).collect(),
        }));
    }
    let mut problem = Problem::unavailable(format!("not ready: {} unreachable", failed.join(", ")));
    for name in failed {
        problem = problem.field(format!("checks.{name}"), "unreachable");
    }
    Err(problem)
}

/// The OpenAPI 3.1 description of the whole API.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "health", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        OPENAPI_JSON,
    )
        .into_response()
}
