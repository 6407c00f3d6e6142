//! The accounts domain's errors and the one place they become HTTP problems.

use axum::http::StatusCode;
use lectern_shared::http::Problem;
use lectern_shared::table::TableError;

/// Why an accounts operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Input failed validation: `(field, message)` pairs.
    #[error("invalid input")]
    Invalid(Vec<(String, String)>),
    /// Unknown email, wrong password, or a locked account: one answer for all, so none can be told apart.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("invalid or expired token")]
    InvalidToken,
    #[error("refresh token reuse detected")]
    RefreshReused,
    #[error("refresh token already used")]
    RefreshRaced,
    #[error("invalid two-factor code")]
    InvalidCode,
    #[error("account suspended")]
    Suspended,
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Too many attempts (a parent PIN); retry after this many seconds.
    #[error("too many attempts")]
    TooManyAttempts(u64),
    /// A data export was asked for within a week of the last one; the next is allowed after this many seconds.
    #[error("an export was asked for less than a week ago")]
    ExportTooSoon(u64),
    #[error("store: {0}")]
    Store(#[from] TableError),
    #[error("internal: {0}")]
    Internal(String),
}

impl AccountError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AccountError::Invalid(vec![(field.to_string(), message.into())])
    }
}

impl From<AccountError> for Problem {
    fn from(e: AccountError) -> Problem {
        match e {
            AccountError::Invalid(fields) => Problem::invalid_fields(fields),
            AccountError::InvalidCredentials => Problem::new(StatusCode::UNAUTHORIZED, "invalid-credentials", "Invalid credentials")
                .detail("the email or password is wrong, or the account is temporarily locked"),
            AccountError::InvalidToken => {
                Problem::new(StatusCode::BAD_REQUEST, "invalid-token", "Invalid or expired token").field("token", "invalid, used or expired")
            }
            AccountError::RefreshReused => Problem::new(StatusCode::UNAUTHORIZED, "refresh-token-reused", "Refresh token reused")
                .detail("this refresh token was already used; the session has been ended for safety — sign in again"),
            AccountError::RefreshRaced => Problem::new(StatusCode::CONFLICT, "refresh-token-used", "Refresh token already used")
                .detail("another request refreshed this session a moment ago; use the token it received"),
            AccountError::InvalidCode => Problem::new(StatusCode::UNAUTHORIZED, "invalid-code", "Invalid code")
                .field("code", "wrong, expired or already used"),
            AccountError::Suspended => Problem::new(StatusCode::FORBIDDEN, "account-suspended", "Account suspended")
                .detail("this account is suspended; contact support"),
            AccountError::NotFound => Problem::not_found("no such resource"),
            AccountError::Conflict(d) => Problem::conflict(d),
            AccountError::Forbidden(d) => Problem::forbidden(d),
            AccountError::TooManyAttempts(secs) => Problem::rate_limited(secs),
            AccountError::ExportTooSoon(secs) => Problem::new(StatusCode::TOO_MANY_REQUESTS, "export-too-soon", "One data export a week")
                .detail(format!("the last export was asked for less than a week ago; the next can be asked for in {secs} s"))
                .retry_after(secs),
            AccountError::Store(e) => e.into(),
            AccountError::Internal(e) => {
                tracing::error!(error = %e, "internal failure");
                Problem::internal()
            }
        }
    }
}

impl axum::response::IntoResponse for AccountError {
    fn into_response(self) -> axum::response::Response {
        Problem::from(self).into_response()
    }
}
