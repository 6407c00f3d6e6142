//! The middleware stack, applied the same way on Lambda and in the dev server.
//!
//! Order (outermost first): request id → error shaping (every 4xx/5xx becomes problem+json) → panic catcher →
//! security headers → IP block list → CORS → compression → body limit → routes (and inside them authentication and
//! rate limits). The IP check comes before anything that does work for the caller (reading the body, checking a
//! token, counting a rate limit) and inside only what makes its 403 a well-formed answer (request id, problem
//! shape, security headers).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use super::client::client_ip;
use super::problem::{self, Problem};
use super::request_id;
use crate::Platform;
use crate::config::Config;
use crate::iprules::IpGuard;

/// Applies the body limit and the common stack, with the platform's IP rules: what every function's `main.rs`
/// serves.
pub fn api(routes: Router, platform: &Platform) -> Router {
    common(with_body_limit(routes, &platform.config), platform)
}

/// The common stack with the platform's IP block and allow lists checked first (see [`crate::iprules`]).
pub fn common(routes: Router, platform: &Platform) -> Router {
    stack(routes, &platform.config, Some(platform.ip_rules.clone()))
}

/// The common stack without IP rules, for in-process tests of the HTTP conventions that have no platform (no
/// function serves this: [`api`] and [`common`] always check the rules).
pub fn without_ip_rules(routes: Router, config: &Config) -> Router {
    stack(routes, config, None)
}

/// Limits request bodies to the configured size (413 problem beyond it).
pub fn with_body_limit(routes: Router, config: &Config) -> Router {
    let limit = config.max_body_bytes;
    routes
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            limit_body(limit, request, next)
        }))
        // axum's own extractor limit (2 MiB) would otherwise override a larger configured limit.
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// How much of an oversized body is read and thrown away before the 413 goes out (beyond the limit itself).
/// Answering and closing while the client is still sending makes its kernel see a reset: most clients then
/// report "broken pipe" or "connection reset" and never show the 413. Draining a moderate excess lets them finish
/// and read the answer; a body far over the limit is cut off instead, so a client cannot make us read without end.
pub const DRAIN_EXCESS_BYTES: usize = 8 * 1024 * 1024;
/// Longest time spent draining one oversized body (a client trickling bytes cannot hold us longer).
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the body up to `limit` bytes and hands the request on with the body in memory; an oversized body gets a
/// 413. A client that declares an oversized `Content-Length` together with `Expect: 100-continue` gets the 413
/// before it sends anything (the body is never polled, so no `100 Continue` goes out); one that sends it anyway
/// has a moderate excess drained first so it can read the answer.
async fn limit_body(limit: usize, request: Request, next: Next) -> Response {
    use http_body_util::BodyExt;

    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let expects_continue = request
        .headers()
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let too_large = || {
        let mut response = Problem::payload_too_large(limit).into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    };
    let (parts, mut body) = request.into_parts();
    if declared.is_some_and(|n| n > limit as u64) {
        let within_drain = declared.is_some_and(|n| n <= (limit + DRAIN_EXCESS_BYTES) as u64);
        if within_drain && !expects_continue {
            drain(body, limit + DRAIN_EXCESS_BYTES).await;
        }
        return too_large();
    }
    let mut bytes = Vec::new();
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if bytes.len() + data.len() > limit {
                        // A streamed body (no Content-Length) that outgrew the limit: read on a little so the
                        // client can finish, then refuse it.
                        drain(body, DRAIN_EXCESS_BYTES).await;
                        return too_large();
                    }
                    bytes.extend_from_slice(&data);
                }
            }
            Some(Err(e)) => {
                tracing::info!(error = %e, "request body could not be read");
                return Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request")
                    .detail("the request body could not be read")
                    .into_response();
            }
        }
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Reads and discards up to `max` bytes of `body`, for at most [`DRAIN_TIMEOUT`].
async fn drain(mut body: axum::body::Body, max: usize) {
    use http_body_util::BodyExt;

    let read = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen = seen.saturating_add(data.len());
                if seen > max {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, read).await;
}

/// The stack every response passes through, plus problem answers for unknown routes and methods.
fn stack(routes: Router, config: &Config, ip_rules: Option<Arc<IpGuard>>) -> Router {
    let min = config.compression_min_bytes;
    let compression = CompressionLayer::new().compress_when(
        SizeAbove::new(min)
            .and(NotForContentType::GRPC)
            .and(NotForContentType::IMAGES),
    );
    let mut router = routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(compression);
    if let Some(cors) = cors(&config.cors_origins) {
        router = router.layer(cors);
    }
    if let Some(guard) = ip_rules {
        router = router.layer(middleware::from_fn(move |request: Request, next: Next| {
            refuse_blocked(guard.clone(), request, next)
        }));
    }
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ))
        // API answers are per-user; nothing may be cached by shared caches unless a route says otherwise.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("handler panicked");
                Problem::internal().into_response()
            },
        ))
        .layer(middleware::from_fn(problem_shape))
        .layer(middleware::from_fn(request_id::middleware))
}

/// 403 `ip-blocked` for a caller inside a live block rule and no allow rule. The address is the one the platform
/// observed (`client_ip`), never a header; the rules come from this process's copy (one read lock; a storage read
/// only once per cache period).
async fn refuse_blocked(guard: Arc<IpGuard>, request: Request, next: Next) -> Response {
    if let Some(ip) = client_ip(request.extensions())
        && guard.is_blocked(ip).await
    {
        tracing::info!(%ip, "request refused by an IP block rule");
        return Problem::new(StatusCode::FORBIDDEN, IP_BLOCKED, "Network blocked")
            .detail("requests from this network are not accepted")
            .into_response();
    }
    next.run(request).await
}

/// The problem type of a request refused by the IP block list.
pub const IP_BLOCKED: &str = "ip-blocked";

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allowed))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static(request_id::HEADER),
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([
                HeaderName::from_static(request_id::HEADER),
                header::RETRY_AFTER,
                HeaderName::from_static("ratelimit-limit"),
                HeaderName::from_static("ratelimit-remaining"),
                HeaderName::from_static("ratelimit-reset"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

async fn not_found() -> Problem {
    Problem::not_found("no route matches this path")
}

async fn method_not_allowed() -> Problem {
    Problem::method_not_allowed()
}

/// Turns any error response that is not already a problem (axum rejections, tower-http's 413, a bare status)
/// into one, so clients only ever parse one error shape. 5xx bodies are replaced; their cause is logged.
async fn problem_shape(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let status = response.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The unread rest of the body is still on the wire: close the connection rather than let a keep-alive
        // client send its next request into it.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(problem::CONTENT_TYPE));
    if is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Keep headers that matter to clients (Allow, Retry-After, rate limits, CORS).
    let keep: Vec<(HeaderName, HeaderValue)> = parts
        .headers
        .iter()
        .filter(|(name, _)| *name != header::CONTENT_TYPE && *name != header::CONTENT_LENGTH)
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    let detail = if status.is_client_error() {
        // Rejection texts from axum are safe and helpful ("Failed to parse the request body as JSON: ...").
        axum::body::to_bytes(body, 4096)
            .await
            .ok()
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
            .filter(|s| !s.is_empty())
    } else {
        drop(body);
        None
    };
    let problem = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            Problem::new(status, "payload-too-large", "Request body too large")
        }
        StatusCode::NOT_FOUND => Problem::not_found("no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => Problem::method_not_allowed(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Problem::new(status, "unsupported-media-type", "Unsupported media type")
        }
        s if s.is_server_error() => {
            tracing::error!(status = s.as_u16(), "error response without a problem body");
            Problem::new(s, "internal", "Internal error")
        }
        s => Problem::new(s, "bad-request", "Bad request"),
    };
    let problem = match detail {
        Some(d) if problem.detail.is_none() => problem.detail(d),
        _ => problem,
    };
    let mut shaped = problem.into_response();
    for (name, value) in keep {
        shaped.headers_mut().insert(name, value);
    }
    shaped
}
