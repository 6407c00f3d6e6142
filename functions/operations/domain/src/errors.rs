//! The operations domain's errors and the one place they become HTTP problems.

use axum::http::StatusCode;
use lectern_shared::http::Problem;
use lectern_shared::table::TableError;

/// Why an operations use case failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// Input failed validation: `(field, message)` pairs.
    #[error("invalid input")]
    Invalid(Vec<(String, String)>),
    /// No such flag or rule.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A write made against a version that is no longer current: read again, then write.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The write lost races with other writes too often, or would break a limit; nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("store: {0}")]
    Store(#[from] TableError),
}

impl OpsError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        OpsError::Invalid(vec![(field.to_string(), message.into())])
    }
}

pub type OpsResult<T> = Result<T, OpsError>;

/// The problem type of a conditional write against a stale version.
pub const PRECONDITION_FAILED: &str = "precondition-failed";

impl From<OpsError> for Problem {
    fn from(e: OpsError) -> Problem {
        match e {
            OpsError::Invalid(fields) => Problem::invalid_fields(fields),
            OpsError::NotFound(what) => Problem::not_found(format!("no such {what}")),
            OpsError::PreconditionFailed => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                PRECONDITION_FAILED,
                "Precondition failed",
            )
            .detail("changed since you read it: read it again, then write"),
            OpsError::Conflict(d) => Problem::conflict(d),
            OpsError::Store(e) => e.into(),
        }
    }
}

impl axum::response::IntoResponse for OpsError {
    fn into_response(self) -> axum::response::Response {
        Problem::from(self).into_response()
    }
}
