//! The platform around the domains: health and readiness, the Lambda entry points fed the sample events of
//! `events/`, the dev server as a user meets it, its backups, and the committed OpenAPI document.

mod aws_backup;
mod backup;
mod cleanup;
mod console;
mod dev_server;
mod health;
mod lambda_events;
mod openapi;

use lectern_shared::Platform;
use lectern_shared::http::layers;

/// The health function's router with the API layers, as its Lambda serves it.
fn health_router(platform: &Platform) -> axum::Router {
    layers::api(lectern_platform_health::router(platform.clone()), platform)
}
