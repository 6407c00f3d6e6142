//! `/v1/games`: the catalog and its authoring.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::permissions::perm;
use lectern_learning::catalog::{
    CatalogEntry, Difficulty, Filters, GameInput, GameView, Sort, normalize_term,
};
use lectern_learning::profiles::AgeBand;
use lectern_shared::http::auth::{Identity, SessionIdentity};
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::pagination::{cursor_schema, limit_schema};
use lectern_shared::http::{Json, PageParams, Paginated, Path, Problem, Query};
use lectern_shared::ids::Id;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{Result, St, viewer};

/// Filters, order and page of the catalog.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CatalogQuery {
    /// Games for this age band (their age range overlaps it).
    pub age: Option<AgeBand>,
    /// A category slug.
    #[param(pattern = "^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")]
    pub category: Option<String>,
    pub difficulty: Option<Difficulty>,
    /// A skill slug (not together with `q`).
    #[param(pattern = "^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")]
    pub skill: Option<String>,
    /// One word of the title, any case; a plural finds its singular (`letter` finds "Letters"). Not together
    /// with `skill`.
    #[param(pattern = "^[A-Za-z0-9]{2,32}$")]
    pub q: Option<String>,
    /// `title` (default), `newest` or `popular`.
    pub sort: Option<Sort>,
    #[param(schema_with = limit_schema)]
    pub limit: Option<usize>,
    #[param(schema_with = cursor_schema)]
    pub cursor: Option<String>,
}

fn slug(field: &str, value: Option<String>) -> Result<Option<String>> {
    match value {
        Some(v) if !lectern_learning::catalog::is_slug(&v) => {
            Err(Problem::validation("not a slug").field(
                format!("query.{field}"),
                "lowercase letters, digits and inner hyphens, 1 to 32",
            ))
        }
        other => Ok(other),
    }
}

/// The published catalog, filtered and sorted. Each page is one read of the store, however large the catalog. A
/// profile (device) session does not see what its parental controls block, so its pages may hold fewer than
/// `limit` games (follow `next_cursor`).
#[utoipa::path(get, path = "/v1/games", tag = "catalog", security(("bearer" = []), ("api_key" = [])),
    params(CatalogQuery), responses(
    (status = 200, body = Paginated<CatalogEntry>),
    (status = 403, description = "`forbidden`: an API key without the `content:read` scope")))]
pub(crate) async fn list(
    State(learning): St,
    who: Identity,
    Query(query): Query<CatalogQuery>,
) -> Result<Json<Paginated<CatalogEntry>>> {
    who.require(perm::CONTENT_READ)?;
    let limit = PageParams {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let term = match &query.q {
        Some(q) => Some(normalize_term(q).ok_or_else(|| {
            Problem::validation("q is one word")
                .field("query.q", "one word of 2 to 32 letters or digits")
        })?),
        None => None,
    };
    if term.is_some() && query.skill.is_some() {
        return Err(Problem::validation("q and skill do not combine").field(
            "query.q",
            "search within a skill is not offered: use one of q and skill",
        ));
    }
    let filters = Filters {
        age: query.age,
        category: slug("category", query.category)?,
        difficulty: query.difficulty,
        skill: slug("skill", query.skill)?,
        term,
    };
    let sort = query.sort.unwrap_or_default();
    let scope = format!("games:{}:{sort:?}", filters.facets());
    let cursors = &learning.platform.cursors;
    let position = cursors.decode_opt(&scope, query.cursor.as_deref())?;
    let mut page = learning
        .catalog_page(&filters, sort, limit, position)
        .await?;
    // A profile's device does not see what the parental controls block (the page may come shorter).
    if let Some(profile_id) = &who.profile_id {
        let profile = learning.visible_profile(&viewer(&who), profile_id).await?;
        page.items.retain(|entry| profile.controls().shows(entry));
    }
    Ok(Json(cursors.page(&scope, page.items, page.position)))
}

/// Which profile's variant to show.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GameQuery {
    /// Show the A/B variant of this profile of yours (a profile session always gets its own).
    pub profile_id: Option<Id>,
}

/// One game: published for readers; any status but deleted for authors. With a profile (a device session's own,
/// or `profile_id` of the family's), the profile's A/B variant.
#[utoipa::path(get, path = "/v1/games/{game_id}", tag = "catalog", security(("bearer" = [])),
    params(("game_id" = inline(Id), Path), GameQuery), responses(
    (status = 200, body = GameView),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such published game (or one the profile's parental controls block), or no such profile in your family")))]
pub(crate) async fn get_one(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
    Query(query): Query<GameQuery>,
) -> Result<Json<GameView>> {
    who.require(perm::CONTENT_READ)?;
    let asked = who
        .profile_id
        .clone()
        .or_else(|| query.profile_id.map(|p| p.as_str().to_string()));
    let profile = match asked {
        Some(id) => Some(learning.visible_profile(&viewer(&who), &id).await?),
        None => None,
    };
    let game = learning
        .visible_game(id.as_str(), who.can(perm::CONTENT_WRITE))
        .await?;
    // What the profile's parental controls block is not there for it.
    if let Some(p) = &profile
        && !p
            .controls()
            .allows(&game.game_id, &game.content.category, game.content.min_age)
    {
        return Err(lectern_learning::LearningError::NotFound.into());
    }
    Ok(Json(learning.game_view(
        game,
        profile.as_ref().map(|p| p.profile_id.as_str()),
    )))
}

/// Create a draft game.
#[utoipa::path(post, path = "/v1/games", tag = "catalog", security(("bearer" = [])),
    request_body = GameInput, responses(
    (status = 201, body = GameView),
    (status = 403, description = "`forbidden`: without `content:write`")))]
pub(crate) async fn create(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<GameInput>,
) -> Result<(StatusCode, Json<GameView>)> {
    who.require(perm::CONTENT_WRITE)?;
    let game = learning.create_game(&who.user_id, input).await?;
    Ok((StatusCode::CREATED, Json(learning.game_view(game, None))))
}

/// Replace a game's content (a published game's catalog entries follow).
#[utoipa::path(put, path = "/v1/games/{game_id}", tag = "catalog", security(("bearer" = [])),
    params(("game_id" = inline(Id), Path)), request_body = GameInput, responses(
    (status = 200, body = GameView),
    (status = 403, description = "`forbidden`: without `content:write`"),
    (status = 404, description = "No such game"),
    (status = 409, description = "`conflict`: the game changed meanwhile; retry")))]
pub(crate) async fn replace(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
    Json(input): Json<GameInput>,
) -> Result<Json<GameView>> {
    who.require(perm::CONTENT_WRITE)?;
    let game = learning.replace_game(id.as_str(), input).await?;
    Ok(Json(learning.game_view(game, None)))
}

/// Soft-delete a game: out of the catalog and every read; kept for the results that name it.
#[utoipa::path(delete, path = "/v1/games/{game_id}", tag = "catalog", security(("bearer" = [])),
    params(("game_id" = inline(Id), Path)), responses(
    (status = 204, description = "Deleted"),
    (status = 403, description = "`forbidden`: without `content:write`"),
    (status = 404, description = "No such game"),
    (status = 409, description = "`game-in-curriculum`: a curriculum module lists it; `conflict`: the game changed meanwhile, retry")))]
pub(crate) async fn delete(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<StatusCode> {
    who.require(perm::CONTENT_WRITE)?;
    learning.delete_game(id.as_str()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publish a game (again: refreshes its catalog entries and popularity). Counted in the `expensive` rate-limit
/// class.
#[utoipa::path(post, path = "/v1/games/{game_id}/publish", tag = "catalog", security(("bearer" = [])),
    params(("game_id" = inline(Id), Path)), responses(
    (status = 200, body = GameView),
    (status = 403, description = "`forbidden`: without `content:write`"),
    (status = 404, description = "No such game"),
    (status = 409, description = "`conflict`: the game changed meanwhile; retry")))]
pub(crate) async fn publish(
    State(learning): St,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<GameView>> {
    who.require(perm::CONTENT_WRITE)?;
    // About a hundred catalog entries written: the expensive class, per IP and per account.
    learning
        .platform
        .limiter
        .enforce_expensive(client.ip, &format!("user:{}", who.user_id))
        .await?;
    let game = learning.publish_game(id.as_str()).await?;
    Ok(Json(learning.game_view(game, None)))
}

/// Take a game out of the catalog (it stays a draft).
#[utoipa::path(post, path = "/v1/games/{game_id}/unpublish", tag = "catalog", security(("bearer" = [])),
    params(("game_id" = inline(Id), Path)), responses(
    (status = 200, body = GameView),
    (status = 403, description = "`forbidden`: without `content:write`"),
    (status = 404, description = "No such game"),
    (status = 409, description = "`conflict`: the game changed meanwhile; retry")))]
pub(crate) async fn unpublish(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<GameView>> {
    who.require(perm::CONTENT_WRITE)?;
    let game = learning.unpublish_game(id.as_str()).await?;
    Ok(Json(learning.game_view(game, None)))
}
