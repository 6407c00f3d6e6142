//! The webhooks domain's errors and the one place they become HTTP problems.

use lectern_shared::http::Problem;
use lectern_shared::table::TableError;

/// Why a webhooks operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Input failed validation: `(field, message)` pairs.
    #[error("invalid input")]
    Invalid(Vec<(String, String)>),
    /// No such endpoint, or another account's (the two are never told apart).
    #[error("not found")]
    NotFound,
    /// The endpoint changed meanwhile; retrying is safe.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("store: {0}")]
    Store(#[from] TableError),
    #[error("internal: {0}")]
    Internal(String),
}

impl WebhookError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        WebhookError::Invalid(vec![(field.to_string(), message.into())])
    }
}

pub type WebhookResult<T> = Result<T, WebhookError>;

impl From<WebhookError> for Problem {
    fn from(e: WebhookError) -> Problem {
        match e {
            WebhookError::Invalid(fields) => Problem::invalid_fields(fields),
            WebhookError::NotFound => Problem::not_found("no such webhook endpoint"),
            WebhookError::Conflict(d) => Problem::conflict(d),
            WebhookError::Store(e) => e.into(),
            WebhookError::Internal(e) => {
                tracing::error!(error = %e, "internal failure");
                Problem::internal()
            }
        }
    }
}

impl axum::response::IntoResponse for WebhookError {
    fn into_response(self) -> axum::response::Response {
        Problem::from(self).into_response()
    }
}
