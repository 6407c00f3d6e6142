//! `/v1/family`: the account's family (counts, limit, consents) and the parent PIN.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::device_sessions::PIN_PATTERN;
use lectern_accounts::permissions::perm;
use lectern_accounts::service::TokenPair;
use lectern_learning::profiles::FamilyView;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, Problem};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{Result, St, viewer};

/// The account's family: how many profiles it has and may have, and every parental consent it gave.
#[utoipa::path(get, path = "/v1/family", tag = "profiles", security(("bearer" = [])), responses(
    (status = 200, body = FamilyView),
    (status = 403, description = "`forbidden`: a profile session, or an API key (this route takes signed-in sessions only)")))]
pub(crate) async fn family(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<FamilyView>> {
    who.require(perm::LEARNING_PLAY)?;
    Ok(Json(s.learning.family(&viewer(&who)).await?))
}

/// A parent PIN.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinInput {
    /// Four digits.
    #[schema(pattern = "^[0-9]{4}$", example = "4821")]
    pub pin: String,
}

/// Set (or replace) the parent PIN that switches a child's device back to the parent. Needs a recent sign-in.
#[utoipa::path(put, path = "/v1/family/pin", tag = "profiles", security(("bearer" = [])), request_body = PinInput, responses(
    (status = 204, description = "Set"),
    (status = 403, description = "`forbidden`: without `children:manage` (a profile session never has it); `reauthentication-required`: sign in again first")))]
pub(crate) async fn set_pin(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<PinInput>,
) -> Result<StatusCode> {
    who.require(perm::CHILDREN_MANAGE)?;
    who.require_recent_auth(s.accounts.epoch(), s.accounts.config.reauth_max_age_secs)?;
    debug_assert_eq!(PIN_PATTERN, "^[0-9]{4}$");
    s.accounts.set_parent_pin(&who.user_id, &input.pin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove the parent PIN.
#[utoipa::path(delete, path = "/v1/family/pin", tag = "profiles", security(("bearer" = [])), responses(
    (status = 204, description = "Removed"),
    (status = 403, description = "`forbidden`: without `children:manage` (a profile session never has it)"),
    (status = 404, description = "No PIN is set")))]
pub(crate) async fn clear_pin(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
) -> Result<StatusCode> {
    who.require(perm::CHILDREN_MANAGE)?;
    if s.accounts.clear_parent_pin(&who.user_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("no parent PIN is set"))
    }
}

/// From a child's device (its profile session): the parent PIN buys a session of the parent's account. That
/// session never counts as a recent sign-in. At most 5 guesses are checked per account per 15 minutes.
#[utoipa::path(post, path = "/v1/family/pin/switch", tag = "profiles", security(("bearer" = [])), request_body = PinInput, responses(
    (status = 200, body = TokenPair),
    (status = 400, description = "`validation` on `pin`: not the PIN, or none is set"),
    (status = 403, description = "`forbidden`: not a profile (device) session")))]
pub(crate) async fn switch_to_parent(
    State(s): St,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<PinInput>,
) -> Result<Json<TokenPair>> {
    Ok(Json(
        s.accounts
            .switch_to_parent(&who, &input.pin, &client)
            .await?,
    ))
}
