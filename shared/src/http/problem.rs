//! RFC 9457 problem details: the one error shape of every route.
//!
//! Each kind of problem has a stable `type` URI (`https://lectern.dev/problems/<slug>`) that clients can switch on;
//! `title` is fixed per type, `detail` explains this occurrence, `errors` names the offending fields, and
//! `request_id` ties the response to the server's logs.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::request_id;

/// Base of every problem `type` URI.
pub const TYPE_BASE: &str = "https://lectern.dev/problems/";

/// The media type of problem responses.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// One invalid input: where it was (`body`, `query`, `path` or `header` plus a dotted/pointer name) and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, e.g. `email`, `items[2].id`, `query.limit`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// A problem response body (RFC 9457) plus the status it is sent with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct Problem {
    /// Stable identifier of the problem kind.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short, fixed summary of the problem kind.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What happened this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Offending fields, when the input was at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id (also in the `X-Request-Id` header and the logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Seconds to wait before retrying (sent as `Retry-After` too).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem of kind `slug` (appended to [`TYPE_BASE`]).
    pub fn new(status: StatusCode, slug: &str, title: &str) -> Self {
        Self {
            type_uri: format!("{TYPE_BASE}{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
            request_id: None,
            retry_after: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    // The common kinds, so every crate uses the same slug for the same thing.

    /// 400: the input failed validation; name the fields with [`Problem::field`].
    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation", "Request is invalid").detail(detail)
    }
    /// 400: the input failed validation on these `(field, message)` pairs: each is named in `errors`, and the
    /// detail lists them all. What every domain's `Invalid` error becomes.
    pub fn invalid_fields(fields: Vec<(String, String)>) -> Self {
        let detail = fields
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join("; ");
        fields
            .into_iter()
            .fold(Self::validation(detail), |p, (f, m)| p.field(f, m))
    }
    /// 400: the body is not well-formed JSON.
    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Body is not valid JSON",
        )
        .detail(detail)
    }
    /// 401: no or bad credentials.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
        )
        .detail(detail)
    }
    /// 403: authenticated but not allowed.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed").detail(detail)
    }
    /// 404: no such resource (also used for resources the caller may not see).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found").detail(detail)
    }
    /// 405: the route exists but not with this method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
        )
    }
    /// 409: the write conflicts with the current state (duplicate, stale version).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict").detail(detail)
    }
    /// 413: the body is over the configured limit.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Request body too large",
        )
        .detail(format!("the limit is {limit} bytes"))
    }
    /// 415: the body is not in a media type this route accepts.
    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
        )
        .detail(format!("send {expected}"))
        .field("header.content-type", format!("must be {expected}"))
    }
    /// 429: over a rate limit.
    pub fn rate_limited(retry_after: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
        )
        .detail(format!("retry in {retry_after} s"))
        .retry_after(retry_after)
    }
    /// 500: our fault. The detail never carries internals; the logs do, under the request id.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
        )
        .detail("something went wrong on our side; quote the request id if you report it")
    }
    /// 503: a dependency is down; retry later.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
        )
        .detail(detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        if self.request_id.is_none() {
            self.request_id = request_id::current();
        }
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

impl From<crate::table::TableError> for Problem {
    /// A store failure: throttling or a conflicting transaction is worth retrying (503); anything else is ours
    /// (500, logged here because the client only sees the request id).
    fn from(e: crate::table::TableError) -> Problem {
        match e {
            crate::table::TableError::Retryable(_) => {
                Problem::unavailable("busy; retry shortly").retry_after(1)
            }
            e => {
                tracing::error!(error = %e, "store failure");
                Problem::internal()
            }
        }
    }
}
