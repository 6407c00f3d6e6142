//! `/v1/profiles/{id}/achievements`: what a profile earned, and awards by hand.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::permissions::perm;
use lectern_learning::achievements::EarnedView;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::pagination::{cursor_schema, limit_schema};
use lectern_shared::http::{Json, PageParams, Paginated, Path, Problem, Query};
use lectern_shared::ids::Id;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{Result, St, viewer};

/// A page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[param(schema_with = limit_schema)]
    pub limit: Option<usize>,
    #[param(schema_with = cursor_schema)]
    pub cursor: Option<String>,
}

/// The achievements a profile earned, by achievement id.
#[utoipa::path(get, path = "/v1/profiles/{profile_id}/achievements", tag = "achievements", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path), PageQuery), responses(
    (status = 200, body = Paginated<EarnedView>),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such profile you may see")))]
pub(crate) async fn list(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(profile_id): Path<Id>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Paginated<EarnedView>>> {
    who.require(perm::LEARNING_PLAY)?;
    let limit = PageParams {
        limit: query.limit,
        cursor: None,
    }
    .limit()?;
    let scope = format!("achievements:{profile_id}");
    let cursors = &learning.platform.cursors;
    let position = cursors.decode_opt(&scope, query.cursor.as_deref())?;
    let (items, next) = learning
        .earned(&viewer(&who), profile_id.as_str(), limit, position)
        .await?;
    Ok(Json(cursors.page(&scope, items, next)))
}

/// Award an achievement by hand (instructors, admins): 201 when this call awarded it, 200 with the achievement as
/// it was when the profile had it already (earned once, whoever got there first). The parent is notified once.
#[utoipa::path(post, path = "/v1/profiles/{profile_id}/achievements/{achievement_id}", tag = "achievements", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path), ("achievement_id" = inline(Id), Path)), responses(
    (status = 201, body = EarnedView, description = "Awarded"),
    (status = 200, body = EarnedView, description = "Earned before; unchanged"),
    (status = 403, description = "`forbidden`: without `achievements:award`"),
    (status = 404, description = "No such profile or achievement")))]
pub(crate) async fn award(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path((profile_id, achievement_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<EarnedView>)> {
    // Two ids: each is checked here so that the problem names the one at fault.
    for (name, value) in [
        ("profile_id", &profile_id),
        ("achievement_id", &achievement_id),
    ] {
        if !lectern_shared::ids::is_id(value) {
            let message = "not an id (26 characters of Crockford base32)";
            return Err(
                Problem::validation(format!("bad path parameter: {message}"))
                    .field(format!("path.{name}"), message),
            );
        }
    }
    who.require(perm::ACHIEVEMENTS_AWARD)?;
    let (earned, new) = learning
        .award(&profile_id, &achievement_id, &who.user_id)
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(earned)))
}
