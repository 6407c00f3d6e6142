//! The learning domain's errors and the one place they become HTTP problems.

use axum::http::StatusCode;
use lectern_shared::http::Problem;
use lectern_shared::table::TableError;

/// Why a learning operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LearningError {
    /// Input failed validation: `(field, message)` pairs.
    #[error("invalid input")]
    Invalid(Vec<(String, String)>),
    /// No such resource, or one the caller may not see (the two are never told apart).
    #[error("not found")]
    NotFound,
    /// The caller may see the resource but not do this to it.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A family already has as many profiles of a kind as it may.
    #[error("profile limit reached: {0}")]
    ProfileLimit(String),
    /// An idempotency key came back with a different body.
    #[error("idempotency key reused")]
    KeyReused,
    /// A rule of the domain refuses this in the current state, with its own problem type.
    #[error("{kind}: {detail}")]
    Refused {
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: String,
    },
    /// The write lost a race with another one; retrying is safe.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("store: {0}")]
    Store(#[from] TableError),
    #[error("internal: {0}")]
    Internal(String),
}

impl LearningError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        LearningError::Invalid(vec![(field.to_string(), message.into())])
    }
}

pub type LearningResult<T> = Result<T, LearningError>;

impl From<LearningError> for Problem {
    fn from(e: LearningError) -> Problem {
        match e {
            LearningError::Invalid(fields) => Problem::invalid_fields(fields),
            LearningError::NotFound => Problem::not_found("no such resource"),
            LearningError::Forbidden(d) => Problem::forbidden(d),
            LearningError::ProfileLimit(d) => Problem::new(
                StatusCode::CONFLICT,
                "profile-limit-reached",
                "Profile limit reached",
            )
            .detail(d),
            LearningError::KeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
            )
            .detail("this Idempotency-Key was used with a different body; use a new key for a new result")
            .field("header.idempotency-key", "already used with another body"),
            LearningError::Refused {
                status,
                kind,
                title,
                detail,
            } => Problem::new(status, kind, title).detail(detail),
            LearningError::Conflict(d) => Problem::conflict(d),
            LearningError::Store(e) => e.into(),
            LearningError::Internal(e) => {
                tracing::error!(error = %e, "internal failure");
                Problem::internal()
            }
        }
    }
}

impl axum::response::IntoResponse for LearningError {
    fn into_response(self) -> axum::response::Response {
        Problem::from(self).into_response()
    }
}
