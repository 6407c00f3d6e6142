//! Request ids: taken from a well-formed `X-Request-Id` header, else from API Gateway's request context, else
//! generated. The id is returned in the response header, recorded on the request's tracing span (so it is in
//! every log line) and available to [`super::Problem`] through a task-local.
//!
//! The same middleware opens the request's span — request id, method, path, the route template (`route`, from
//! axum's [`MatchedPath`]) and, once the caller is known, its `user_id` — and counts the answer in the process's
//! [`crate::metrics`] by route.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header carrying the id in both directions.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, when called inside one.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `fut` with `id` as the current request id (workers use this so job logs carry an id too).
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// A client-supplied id is used only when it is short and plain, so it cannot forge log lines or headers.
fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:=+/".contains(&b))
}

fn choose(request: &Request) -> String {
    if let Some(id) = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
    {
        return id.to_string();
    }
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) =
        request
            .extensions()
            .get::<lambda_http::request::RequestContext>()
        && let Some(id) = ctx.request_id.as_deref().filter(|id| acceptable(id))
    {
        return id.to_string();
    }
    crate::ids::new_id()
}

/// What requests that matched no route are counted as: their raw paths would make one metric per path.
pub const UNMATCHED: &str = "unmatched";

/// Middleware: assigns the id, opens the request span, counts the answer, and stamps the response.
pub async fn middleware(request: Request, next: Next) -> Response {
    let id = choose(&request);
    // The template (`/v1/users/me/sessions/{session_id}`), never the path itself: it groups requests by route and
    // keeps ids out of metric dimensions. Present because this runs as a `Router::layer`, after routing.
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        route = template.as_deref().unwrap_or(UNMATCHED),
        // Recorded by the `Identity` extractor once the caller is known.
        user_id = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let route = match &template {
        Some(t) => format!("{} {t}", request.method()),
        None => UNMATCHED.to_owned(),
    };
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.record("status", status);
    span.in_scope(|| tracing::info!(status, elapsed_ms = elapsed.as_millis() as u64, "served"));
    if let Some(metrics) = crate::metrics::global() {
        metrics.record(&route, status, elapsed);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}
