//! The credentials of the account: its password and its email address.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_shared::http::Json;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{Accts, Result, expensive, owner, recent};

/// The current password and the new one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(format = Password)]
    pub current_password: String,
    #[schema(schema_with = lectern_accounts::schema::new_password)]
    pub new_password: String,
}

/// Change the password; every other session ends.
#[utoipa::path(post, path = "/v1/users/me/password", tag = "users", security(("bearer" = [])), request_body = PasswordChange, responses(
    (status = 204, description = "Changed; every other session ended"),
    (status = 400, description = "`validation`: the current password is not correct, or the new one is refused"),
    (status = 409, description = "The account is busy; try again")))]
pub(crate) async fn change_password(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<PasswordChange>,
) -> Result<StatusCode> {
    owner(&who)?;
    accounts
        .change_password(
            &who.user_id,
            who.session_id.as_deref(),
            &input.current_password,
            &input.new_password,
            &client,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The new address and the password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChange {
    #[schema(schema_with = lectern_accounts::schema::email)]
    pub new_email: String,
    #[schema(format = Password)]
    pub password: String,
}

/// Move the account to a new email address (verified again; the old address is told). Needs a recent sign-in.
#[utoipa::path(post, path = "/v1/users/me/email", tag = "users", security(("bearer" = [])), request_body = EmailChange, responses(
    (status = 202, description = "Moved; a verification link is on its way to the new address"),
    (status = 400, description = "`validation`: the password is not correct, or the address is the current one or cannot be used"),
    (status = 403, description = "`reauthentication-required`: sign in again first"),
    (status = 409, description = "The account is busy; try again")))]
pub(crate) async fn change_email(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<EmailChange>,
) -> Result<StatusCode> {
    owner(&who)?;
    recent(&accounts, &who)?;
    expensive(&accounts, &client, &who).await?;
    accounts
        .change_email(&who.user_id, &input.new_email, &input.password, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}
