//! `/v1/profiles/{id}/controls` and `/usage`: the family's parental controls, and today's time.

use axum::extract::State;
use lectern_accounts::permissions::perm;
use lectern_learning::controls::{Controls, Usage};
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::{Json, Path};
use lectern_shared::ids::Id;

use crate::{Result, St, viewer};

/// A profile's parental controls (its device reads them too).
#[utoipa::path(get, path = "/v1/profiles/{profile_id}/controls", tag = "profiles", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), responses(
    (status = 200, body = Controls),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such profile you may see")))]
pub(crate) async fn get(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<Controls>> {
    who.require(perm::LEARNING_PLAY)?;
    Ok(Json(s.learning.controls(&viewer(&who), id.as_str()).await?))
}

/// Replace a profile's parental controls: daily time limit, allowed hours (in the profile's time zone), blocked
/// games and categories, maximum age rating, leaderboard visibility. The family only, never from the child's own
/// device. They apply at once: to starting play, to recorded results, to the catalog the profile reads and to the
/// public leaderboards.
#[utoipa::path(put, path = "/v1/profiles/{profile_id}/controls", tag = "profiles", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), request_body = Controls, responses(
    (status = 200, body = Controls),
    (status = 403, description = "`forbidden`: a profile (device) session, an API key, or a child's profile without `children:manage`"),
    (status = 404, description = "No such profile in your family"),
    (status = 409, description = "`conflict`: the profile changed meanwhile; retry")))]
pub(crate) async fn put(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
    Json(input): Json<Controls>,
) -> Result<Json<Controls>> {
    Ok(Json(
        s.learning
            .set_controls(&viewer(&who), id.as_str(), input)
            .await?,
    ))
}

/// Time played today (in the profile's time zone), what is left of the daily limit, and whether now is inside
/// the allowed hours.
#[utoipa::path(get, path = "/v1/profiles/{profile_id}/usage", tag = "profiles", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), responses(
    (status = 200, body = Usage),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such profile you may see")))]
pub(crate) async fn usage(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<Usage>> {
    who.require(perm::LEARNING_PLAY)?;
    Ok(Json(s.learning.usage(&viewer(&who), id.as_str()).await?))
}
