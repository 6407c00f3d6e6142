//! The profile: reading and changing it, deleting the account, the avatar.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::authenticator::SignedIn;
use lectern_accounts::service::profile::{ProfilePatch, ProfileView};
use lectern_shared::blobs::PresignedUpload;
use lectern_shared::http::Json;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Accts, Result, expensive, owner, recent};

/// The caller's profile.
#[utoipa::path(get, path = "/v1/users/me", tag = "users", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ProfileView),
    (status = 403, description = "`forbidden`: an API key without the `self:manage` scope")))]
pub(crate) async fn me(State(accounts): Accts, me: SignedIn) -> Result<Json<ProfileView>> {
    owner(&me.identity)?;
    // The authenticator read the account with the session: showing it costs no second read.
    Ok(Json(accounts.profile_of(&me.user).await?))
}

/// Change profile settings. Unknown or privileged fields (`role`, `email`, ...) are refused.
#[utoipa::path(patch, path = "/v1/users/me", tag = "users", security(("bearer" = [])), request_body = ProfilePatch, responses(
    (status = 200, body = ProfileView),
    (status = 409, description = "The account is busy; try again")))]
pub(crate) async fn update_me(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
    Json(patch): Json<ProfilePatch>,
) -> Result<Json<ProfileView>> {
    owner(&who)?;
    Ok(Json(accounts.update_profile(&who.user_id, patch).await?))
}

/// When a deleted account is purged.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// Epoch seconds after which the account is gone for good; signing in before then restores it.
    pub purge_after: i64,
}

/// Delete the account (soft, restorable by signing in during the grace period). Needs a recent sign-in.
#[utoipa::path(delete, path = "/v1/users/me", tag = "users", security(("bearer" = [])), responses(
    (status = 202, body = Deleted),
    (status = 403, description = "`reauthentication-required`: sign in again first"),
    (status = 409, description = "The last active admin cannot go, or the account is busy")))]
pub(crate) async fn delete_me(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
) -> Result<(StatusCode, Json<Deleted>)> {
    owner(&who)?;
    recent(&accounts, &who)?;
    let purge_after = accounts.delete_account(&who.user_id, &client).await?;
    Ok((StatusCode::ACCEPTED, Json(Deleted { purge_after })))
}

/// The type of the avatar to upload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvatarRequest {
    #[schema(schema_with = lectern_accounts::schema::avatar_type)]
    pub content_type: String,
}

/// A presigned form upload for a new avatar (at most 2 MiB); then call `/v1/users/me/avatar/confirm`.
#[utoipa::path(post, path = "/v1/users/me/avatar", tag = "users", security(("bearer" = [])), request_body = AvatarRequest, responses(
    (status = 200, body = PresignedUpload)))]
pub(crate) async fn avatar_upload(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<AvatarRequest>,
) -> Result<Json<PresignedUpload>> {
    owner(&who)?;
    expensive(&accounts, &client, &who).await?;
    Ok(Json(
        accounts
            .avatar_upload(&who.user_id, &input.content_type)
            .await?,
    ))
}

/// An uploaded avatar to accept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvatarConfirm {
    /// The `key` of the presigned upload.
    pub key: String,
    #[schema(schema_with = lectern_accounts::schema::avatar_type)]
    pub content_type: String,
}

/// Accept an uploaded avatar after checking its size and content.
#[utoipa::path(post, path = "/v1/users/me/avatar/confirm", tag = "users", security(("bearer" = [])), request_body = AvatarConfirm, responses(
    (status = 200, body = ProfileView),
    (status = 400, description = "`validation`: not an upload of yours, nothing uploaded, too large or not the declared type"),
    (status = 409, description = "The account is busy; try again")))]
pub(crate) async fn avatar_confirm(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<AvatarConfirm>,
) -> Result<Json<ProfileView>> {
    owner(&who)?;
    Ok(Json(
        accounts
            .confirm_avatar(&who.user_id, &input.key, &input.content_type)
            .await?,
    ))
}
