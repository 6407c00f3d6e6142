//! The caller's API keys.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::apikeys::{ApiKey, CreatedApiKey, NewApiKey};
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, Path};
use lectern_shared::ids::Id;

use crate::{Accts, Result, expensive, owner};

/// The caller's API keys (never the secrets).
#[utoipa::path(get, path = "/v1/users/me/api-keys", tag = "users", security(("bearer" = [])), responses(
    (status = 200, body = Vec<ApiKey>)))]
pub(crate) async fn api_keys(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<Vec<ApiKey>>> {
    owner(&who)?;
    Ok(Json(accounts.list_api_keys(&who.user_id).await?))
}

/// Create an API key; the `key` in the answer is shown only this once. Needs a verified email.
#[utoipa::path(post, path = "/v1/users/me/api-keys", tag = "users", security(("bearer" = [])), request_body = NewApiKey, responses(
    (status = 201, body = CreatedApiKey),
    (status = 400, description = "`validation`: a scope you do not hold (or another invalid input)"),
    (status = 403, description = "`email-unverified`: verify your address first"),
    (status = 409, description = "Too many keys; revoke one first")))]
pub(crate) async fn create_api_key(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>)> {
    owner(&who)?;
    who.require_verified()?;
    expensive(&accounts, &client, &who).await?;
    let created = accounts.create_api_key(&who, input, &client).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(delete, path = "/v1/users/me/api-keys/{key_id}", tag = "users", security(("bearer" = [])),
    params(("key_id" = inline(Id), Path)), responses(
    (status = 204, description = "Revoked"),
    (status = 404, description = "No such key of yours")))]
pub(crate) async fn revoke_api_key(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(key_id): Path<Id>,
) -> Result<StatusCode> {
    owner(&who)?;
    accounts
        .revoke_api_key(&who.user_id, key_id.as_str(), &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
