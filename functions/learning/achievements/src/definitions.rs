//! `/v1/achievements`: the definitions.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::permissions::perm;
use lectern_learning::achievements::{Achievement, AchievementInput};
use lectern_shared::http::auth::{Identity, SessionIdentity};
use lectern_shared::http::{Json, Path};
use lectern_shared::ids::Id;

use crate::{Result, St};

/// Every achievement definition (at most 200), by id.
#[utoipa::path(get, path = "/v1/achievements", tag = "achievements", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = Vec<Achievement>),
    (status = 403, description = "`forbidden`: an API key without the `content:read` scope")))]
pub(crate) async fn list(State(learning): St, who: Identity) -> Result<Json<Vec<Achievement>>> {
    who.require(perm::CONTENT_READ)?;
    Ok(Json(learning.achievements().await?))
}

/// One definition.
#[utoipa::path(get, path = "/v1/achievements/{achievement_id}", tag = "achievements", security(("bearer" = [])),
    params(("achievement_id" = inline(Id), Path)), responses(
    (status = 200, body = Achievement),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such achievement")))]
pub(crate) async fn get_one(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<Achievement>> {
    who.require(perm::CONTENT_READ)?;
    Ok(Json(learning.achievement(id.as_str()).await?))
}

/// Add a definition. Profiles whose state already meets its rule earn it with their next recorded result.
#[utoipa::path(post, path = "/v1/achievements", tag = "achievements", security(("bearer" = [])),
    request_body = AchievementInput, responses(
    (status = 201, body = Achievement),
    (status = 403, description = "`forbidden`: without `achievements:manage`"),
    (status = 409, description = "`achievements-full`: 200 definitions already")))]
pub(crate) async fn create(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<AchievementInput>,
) -> Result<(StatusCode, Json<Achievement>)> {
    who.require(perm::ACHIEVEMENTS_MANAGE)?;
    Ok((
        StatusCode::CREATED,
        Json(learning.create_achievement(input).await?),
    ))
}

/// Replace a definition (achievements already earned keep the name and icon they were earned with).
#[utoipa::path(put, path = "/v1/achievements/{achievement_id}", tag = "achievements", security(("bearer" = [])),
    params(("achievement_id" = inline(Id), Path)), request_body = AchievementInput, responses(
    (status = 200, body = Achievement),
    (status = 403, description = "`forbidden`: without `achievements:manage`"),
    (status = 404, description = "No such achievement"),
    (status = 409, description = "`conflict`: the achievement changed meanwhile; retry")))]
pub(crate) async fn replace(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
    Json(input): Json<AchievementInput>,
) -> Result<Json<Achievement>> {
    who.require(perm::ACHIEVEMENTS_MANAGE)?;
    Ok(Json(
        learning.replace_achievement(id.as_str(), input).await?,
    ))
}

/// Remove a definition; profiles that earned it keep it.
#[utoipa::path(delete, path = "/v1/achievements/{achievement_id}", tag = "achievements", security(("bearer" = [])),
    params(("achievement_id" = inline(Id), Path)), responses(
    (status = 204, description = "Removed"),
    (status = 403, description = "`forbidden`: without `achievements:manage`"),
    (status = 404, description = "No such achievement")))]
pub(crate) async fn delete(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<StatusCode> {
    who.require(perm::ACHIEVEMENTS_MANAGE)?;
    learning.delete_achievement(id.as_str()).await?;
    Ok(StatusCode::NO_CONTENT)
}
