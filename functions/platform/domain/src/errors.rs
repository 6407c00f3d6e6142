//! The notification centre's errors and the one place they become HTTP problems.

use lectern_shared::http::Problem;
use lectern_shared::table::TableError;

/// Why a notification-centre operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Input failed validation: `(field, message)` pairs.
    #[error("invalid input")]
    Invalid(Vec<(String, String)>),
    /// No such notification, or another account's (the two are never told apart).
    #[error("not found")]
    NotFound,
    /// The write lost races with other writes too often; retrying is safe.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("store: {0}")]
    Store(#[from] TableError),
    #[error("internal: {0}")]
    Internal(String),
}

impl NotifyError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        NotifyError::Invalid(vec![(field.to_string(), message.into())])
    }
}

pub type NotifyResult<T> = Result<T, NotifyError>;

impl From<NotifyError> for Problem {
    fn from(e: NotifyError) -> Problem {
        match e {
            NotifyError::Invalid(fields) => Problem::invalid_fields(fields),
            NotifyError::NotFound => Problem::not_found("no such notification"),
            NotifyError::Conflict(d) => Problem::conflict(d),
            NotifyError::Store(e) => e.into(),
            NotifyError::Internal(e) => {
                tracing::error!(error = %e, "internal failure");
                Problem::internal()
            }
        }
    }
}

impl axum::response::IntoResponse for NotifyError {
    fn into_response(self) -> axum::response::Response {
        Problem::from(self).into_response()
    }
}
