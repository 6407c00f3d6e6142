//! Account recovery: a reset link by email, then a new password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use lectern_shared::http::Json;
use lectern_shared::http::client::ClientInfo;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::signup::EmailRequest;
use crate::{Accepted, Accts, Result, accepted};

/// Email a password reset link. Always 202 for a well-formed address, whether or not it is registered, and
/// whoever else asked for it: the emails one address receives are limited (over the limit nothing is sent, and
/// the answer is the same), so nobody can keep the owner from recovering the account. 429 only for the client's
/// own network sending too many.
#[utoipa::path(post, path = "/v1/auth/forgot-password", tag = "auth", request_body = EmailRequest, responses(
    (status = 202, body = Accepted)))]
pub(crate) async fn forgot_password(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<EmailRequest>,
) -> Result<impl IntoResponse> {
    accounts.limit_expensive_network(&client).await?;
    accounts.forgot_password(&input.email, &client).await?;
    Ok(accepted(
        "if the address belongs to an account, a reset link is on its way",
    ))
}

/// A reset token and the new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The token of the emailed link.
    pub token: String,
    #[schema(schema_with = lectern_accounts::schema::new_password)]
    pub password: String,
}

/// Set a new password with a reset token (single use, 15 min). Ends every session.
#[utoipa::path(post, path = "/v1/auth/reset-password", tag = "auth", request_body = ResetRequest, responses(
    (status = 204, description = "Password set; every session ended"),
    (status = 400, description = "`invalid-token`: unknown, used or expired; or `validation` naming the password"),
    (status = 409, description = "The account is busy; try again")))]
pub(crate) async fn reset_password(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<ResetRequest>,
) -> Result<StatusCode> {
    accounts
        .reset_password(&input.token, &input.password, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
