//! `/v1/curriculum`: modules grouped into learning paths, for everyone who reads content; authoring for
//! `content:write`; and `/v1/profiles/{id}/curriculum`, where one profile stands in each module.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::permissions::perm;
use lectern_learning::curriculum::{CurriculumView, Module, ModuleInput, ProfileCurriculum};
use lectern_shared::http::auth::{Identity, SessionIdentity};
use lectern_shared::http::{Json, Path};
use lectern_shared::ids::Id;

use crate::{Result, St, viewer};

/// The curriculum: learning paths (by slug) and their modules in order.
#[utoipa::path(get, path = "/v1/curriculum", tag = "catalog", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = CurriculumView),
    (status = 403, description = "`forbidden`: an API key without the `content:read` scope")))]
pub(crate) async fn list(State(learning): St, who: Identity) -> Result<Json<CurriculumView>> {
    who.require(perm::CONTENT_READ)?;
    Ok(Json(learning.curriculum().await?))
}

/// One module.
#[utoipa::path(get, path = "/v1/curriculum/{module_id}", tag = "catalog", security(("bearer" = [])),
    params(("module_id" = inline(Id), Path)), responses(
    (status = 200, body = Module),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such module")))]
pub(crate) async fn get_one(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<Module>> {
    who.require(perm::CONTENT_READ)?;
    Ok(Json(learning.module(id.as_str()).await?))
}

/// Add a module.
#[utoipa::path(post, path = "/v1/curriculum", tag = "catalog", security(("bearer" = [])),
    request_body = ModuleInput, responses(
    (status = 201, body = Module),
    (status = 400, description = "`validation`: also an unknown or deleted game, or an unknown prerequisite"),
    (status = 403, description = "`forbidden`: without `content:write`"),
    (status = 409, description = "`curriculum-full`: 200 modules already; `conflict`: the curriculum changed meanwhile, retry")))]
pub(crate) async fn create(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<ModuleInput>,
) -> Result<(StatusCode, Json<Module>)> {
    who.require(perm::CONTENT_WRITE)?;
    Ok((
        StatusCode::CREATED,
        Json(learning.create_module(input).await?),
    ))
}

/// Replace a module.
#[utoipa::path(put, path = "/v1/curriculum/{module_id}", tag = "catalog", security(("bearer" = [])),
    params(("module_id" = inline(Id), Path)), request_body = ModuleInput, responses(
    (status = 200, body = Module),
    (status = 400, description = "`validation`: also an unknown or deleted game, or an unknown prerequisite"),
    (status = 403, description = "`forbidden`: without `content:write`"),
    (status = 404, description = "No such module"),
    (status = 409, description = "`prerequisite-cycle`: the prerequisites would form a cycle; `curriculum-full`: too large; `conflict`: the curriculum changed meanwhile, retry")))]
pub(crate) async fn replace(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
    Json(input): Json<ModuleInput>,
) -> Result<Json<Module>> {
    who.require(perm::CONTENT_WRITE)?;
    Ok(Json(learning.replace_module(id.as_str(), input).await?))
}

/// Remove a module that no other module requires.
#[utoipa::path(delete, path = "/v1/curriculum/{module_id}", tag = "catalog", security(("bearer" = [])),
    params(("module_id" = inline(Id), Path)), responses(
    (status = 204, description = "Removed"),
    (status = 403, description = "`forbidden`: without `content:write`"),
    (status = 404, description = "No such module"),
    (status = 409, description = "`module-required`: another module lists it as a prerequisite; `conflict`: the curriculum changed meanwhile, retry")))]
pub(crate) async fn delete(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<StatusCode> {
    who.require(perm::CONTENT_WRITE)?;
    learning.delete_module(id.as_str()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where a profile stands in each module: `locked` (a prerequisite is not complete), `available`, `in_progress`
/// or `complete` (every game completed with at least the module's `min_stars`), from its recorded results.
#[utoipa::path(get, path = "/v1/profiles/{profile_id}/curriculum", tag = "catalog", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), responses(
    (status = 200, body = ProfileCurriculum),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such profile you may see")))]
pub(crate) async fn of_profile(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<ProfileCurriculum>> {
    who.require(perm::LEARNING_PLAY)?;
    Ok(Json(
        learning
            .profile_curriculum(&viewer(&who), id.as_str())
            .await?,
    ))
}
