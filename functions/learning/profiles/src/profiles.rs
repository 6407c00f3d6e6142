//! `/v1/profiles`: create, list, read, change and delete learner profiles; their avatars.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::permissions::perm;
use lectern_learning::profiles::{NewProfile, ProfileKind, ProfilePatch, ProfileView};
use lectern_shared::blobs::PresignedUpload;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, Path};
use lectern_shared::ids::Id;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{Result, St, viewer};

/// The profiles the caller sees: the account's (a profile session: its own).
#[utoipa::path(get, path = "/v1/profiles", tag = "profiles", security(("bearer" = [])), responses(
    (status = 200, body = Vec<ProfileView>),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)")))]
pub(crate) async fn list(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<Vec<ProfileView>>> {
    who.require(perm::LEARNING_PLAY)?;
    Ok(Json(s.learning.profiles(&viewer(&who)).await?))
}

/// Create a profile: a child's (parents; records the consent given with `parental_consent: true`) or the
/// account's own (one per account).
#[utoipa::path(post, path = "/v1/profiles", tag = "profiles", security(("bearer" = [])), request_body = NewProfile, responses(
    (status = 201, body = ProfileView),
    (status = 403, description = "`forbidden`: a child profile without `children:manage`, or from a profile session; `email-unverified`: a child profile before the address is verified"),
    (status = 409, description = "`profile-limit-reached`: the account has as many profiles of this kind as it may; `conflict`: another was created at the same moment, retry")))]
pub(crate) async fn create(
    State(s): St,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<NewProfile>,
) -> Result<(StatusCode, Json<ProfileView>)> {
    let kind = input.kind.unwrap_or(if who.can(perm::CHILDREN_MANAGE) {
        ProfileKind::Child
    } else {
        ProfileKind::Own
    });
    match kind {
        ProfileKind::Child => {
            who.require(perm::CHILDREN_MANAGE)?;
            who.require_verified()?;
        }
        ProfileKind::Own => who.require(perm::LEARNING_PLAY)?,
    }
    let ip = client.ip.map(|ip| ip.to_string());
    let view = s
        .learning
        .create_profile(&viewer(&who), kind, input, ip)
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// One profile of the caller's family (admins: any).
#[utoipa::path(get, path = "/v1/profiles/{profile_id}", tag = "profiles", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), responses(
    (status = 200, body = ProfileView),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such profile in your family")))]
pub(crate) async fn get_one(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<ProfileView>> {
    who.require(perm::LEARNING_PLAY)?;
    Ok(Json(s.learning.profile(&viewer(&who), id.as_str()).await?))
}

/// Change a profile. Not from a profile session.
#[utoipa::path(patch, path = "/v1/profiles/{profile_id}", tag = "profiles", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), request_body = ProfilePatch, responses(
    (status = 200, body = ProfileView),
    (status = 403, description = "`forbidden`: a profile session, or a child's profile without `children:manage`"),
    (status = 404, description = "No such profile in your family"),
    (status = 409, description = "`conflict`: the profile changed meanwhile; retry")))]
pub(crate) async fn update(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
    Json(patch): Json<ProfilePatch>,
) -> Result<Json<ProfileView>> {
    Ok(Json(
        s.learning
            .update_profile(&viewer(&who), id.as_str(), patch)
            .await?,
    ))
}

/// Delete a profile: its device sessions end; a child's consent record is kept, marked deleted.
#[utoipa::path(delete, path = "/v1/profiles/{profile_id}", tag = "profiles", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), responses(
    (status = 204, description = "Deleted"),
    (status = 403, description = "`forbidden`: a profile session, or a child's profile without `children:manage`"),
    (status = 404, description = "No such profile in your family"),
    (status = 409, description = "`conflict`: the profile changed meanwhile; retry")))]
pub(crate) async fn delete(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<StatusCode> {
    let deleted = s
        .learning
        .delete_profile(&viewer(&who), id.as_str())
        .await?;
    s.accounts
        .end_profile_sessions(&deleted.owner_id, &deleted.profile_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The type of the avatar to upload.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ProfileAvatarRequest)]
#[serde(deny_unknown_fields)]
pub struct AvatarRequest {
    #[schema(schema_with = lectern_learning::schema::avatar_type)]
    pub content_type: String,
}

/// A presigned form upload for the profile's avatar (at most 1 MiB); then confirm it. Counted in the `expensive`
/// rate-limit class.
#[utoipa::path(post, path = "/v1/profiles/{profile_id}/avatar", tag = "profiles", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), request_body = AvatarRequest, responses(
    (status = 200, body = PresignedUpload),
    (status = 403, description = "`forbidden`: a profile session, or a child's profile without `children:manage`"),
    (status = 404, description = "No such profile in your family")))]
pub(crate) async fn avatar_upload(
    State(s): St,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
    Json(input): Json<AvatarRequest>,
) -> Result<Json<PresignedUpload>> {
    // A presigned upload costs storage: the expensive class, per IP and per account.
    s.accounts
        .limit_expensive(&client, &format!("user:{}", who.user_id))
        .await?;
    Ok(Json(
        s.learning
            .avatar_upload(&viewer(&who), id.as_str(), &input.content_type)
            .await?,
    ))
}

/// An uploaded avatar to accept.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ProfileAvatarConfirm)]
#[serde(deny_unknown_fields)]
pub struct AvatarConfirm {
    /// The `key` of the presigned upload.
    #[schema(max_length = 1024)]
    pub key: String,
    #[schema(schema_with = lectern_learning::schema::avatar_type)]
    pub content_type: String,
}

/// Accept the uploaded avatar after checking its size and content.
#[utoipa::path(post, path = "/v1/profiles/{profile_id}/avatar/confirm", tag = "profiles", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), request_body = AvatarConfirm, responses(
    (status = 200, body = ProfileView),
    (status = 400, description = "`validation`: not an upload of this profile, nothing uploaded, too large or not the declared type"),
    (status = 403, description = "`forbidden`: a profile session, or a child's profile without `children:manage`"),
    (status = 404, description = "No such profile in your family"),
    (status = 409, description = "`conflict`: the profile changed meanwhile; retry")))]
pub(crate) async fn avatar_confirm(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
    Json(input): Json<AvatarConfirm>,
) -> Result<Json<ProfileView>> {
    Ok(Json(
        s.learning
            .confirm_avatar(&viewer(&who), id.as_str(), &input.key, &input.content_type)
            .await?,
    ))
}
