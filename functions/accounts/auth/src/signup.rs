//! Registration and email verification.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use lectern_accounts::service::signup::Registration;
use lectern_shared::http::Json;
use lectern_shared::http::client::ClientInfo;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{Accepted, Accts, Result, accepted, expensive, per_account};

/// Register an account (learner or parent). Always 202 for a well-formed request, whether or not the email was
/// already registered; a verification link is emailed.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = Registration, responses(
    (status = 202, body = Accepted),
    (status = 409, description = "A concurrent write to the same account; try again")))]
pub(crate) async fn register(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<Registration>,
) -> Result<impl IntoResponse> {
    per_account(&accounts, &input.email).await?;
    expensive(&accounts, &client, &input.email).await?;
    accounts.register(input, &client).await?;
    Ok(accepted(
        "if the address can be registered, a verification link is on its way",
    ))
}

/// The token of an emailed link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub token: String,
}

/// Verify an email address with the emailed token (single use, 24 h).
#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "auth", request_body = TokenRequest, responses(
    (status = 204, description = "Verified"),
    (status = 400, description = "`invalid-token`: unknown, used or expired (or another invalid input)"),
    (status = 409, description = "The account is busy; try again")))]
pub(crate) async fn verify_email(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<TokenRequest>,
) -> Result<StatusCode> {
    accounts.verify_email(&input.token, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An email address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    #[schema(schema_with = lectern_accounts::schema::email)]
    pub email: String,
}

/// Send a new verification link. Always 202 for a well-formed address.
#[utoipa::path(post, path = "/v1/auth/resend-verification", tag = "auth", request_body = EmailRequest, responses(
    (status = 202, body = Accepted)))]
pub(crate) async fn resend_verification(
    State(accounts): Accts,
    client: ClientInfo,
    Json(input): Json<EmailRequest>,
) -> Result<impl IntoResponse> {
    per_account(&accounts, &input.email).await?;
    expensive(&accounts, &client, &input.email).await?;
    accounts.resend_verification(&input.email).await?;
    Ok(accepted(
        "if the address belongs to an unverified account, a new link is on its way",
    ))
}
