//! `POST /v1/profiles/{id}/device-sessions`: a session for a child's device that acts only as that profile.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::service::TokenPair;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, Path, Problem};
use lectern_shared::ids::Id;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{Result, St, viewer};

/// A device session: tokens that act only as `profile_id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceSession {
    pub profile_id: String,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

/// Mint a device session acting only as this profile: it plays, records progress and reads the profile's
/// catalog, achievements and boards, and nothing of the account. It refreshes like any session
/// (`POST /v1/auth/refresh`), is listed in `GET /v1/users/me/sessions` with its `profile_id`, and ends there
/// (`DELETE /v1/users/me/sessions/{id}`) or when the profile is deleted.
#[utoipa::path(post, path = "/v1/profiles/{profile_id}/device-sessions", tag = "profiles", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), responses(
    (status = 201, body = DeviceSession),
    (status = 403, description = "`forbidden`: a profile session or an API key, a child's profile without `children:manage`, or a profile of another account"),
    (status = 404, description = "No such profile in your family")))]
pub(crate) async fn create_device_session(
    State(s): St,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<(StatusCode, Json<DeviceSession>)> {
    let profile = s
        .learning
        .managed_profile(&viewer(&who), id.as_str())
        .await?;
    // The session belongs to the account that owns the profile: an admin may manage a family's profile but
    // never holds a session in that family's account.
    if profile.owner_id != who.user_id {
        return Err(Problem::forbidden(
            "device sessions are minted by the account that owns the profile",
        ));
    }
    let tokens = s
        .accounts
        .start_profile_session(&who, &profile.profile_id, &client)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DeviceSession {
            profile_id: profile.profile_id,
            tokens,
        }),
    ))
}
