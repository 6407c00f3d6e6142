//! The boards and ranks.

use axum::extract::State;
use lectern_accounts::permissions::perm;
use lectern_learning::Viewer;
use lectern_learning::leaderboards::{Leaderboard, Period, Rank};
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::{Json, Path, Query};
use lectern_shared::ids::Id;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{Result, St};

/// Which board, and how much of it.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// `weekly` (the ISO week, from Monday 00:00 UTC), `monthly` (the calendar month, UTC) or `all-time`; default
    /// `weekly`.
    pub period: Option<Period>,
    /// How many lines, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

/// The top of a game's board for the current period: rank, display name, avatar and best score of each profile
/// shown (profiles hidden by their parents are left out; their ranks still count, so a number may be skipped).
#[utoipa::path(get, path = "/v1/leaderboards/games/{game_id}", tag = "leaderboards", security(("bearer" = [])),
    params(("game_id" = inline(Id), Path), BoardQuery), responses(
    (status = 200, body = Leaderboard),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only), or without `learning:play`")))]
pub(crate) async fn top(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(game_id): Path<Id>,
    Query(query): Query<BoardQuery>,
) -> Result<Json<Leaderboard>> {
    who.require(perm::LEARNING_PLAY)?;
    let limit = match query.limit {
        Some(n) if !(1..=100).contains(&n) => {
            return Err(
                lectern_shared::http::Problem::validation("limit is 1 to 100")
                    .field("query.limit", "1 to 100"),
            );
        }
        Some(n) => n,
        None => 10,
    };
    Ok(Json(
        learning
            .leaderboard(
                game_id.as_str(),
                query.period.unwrap_or(Period::Weekly),
                limit,
            )
            .await?,
    ))
}

/// Which board to rank on.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RankQuery {
    #[param(inline)]
    pub game_id: Id,
    /// `weekly`, `monthly` or `all-time`; default `weekly`.
    pub period: Option<Period>,
}

/// A profile's rank on a game's board for the current period: exact within the top 100, beyond that a band
/// (`rank_from`..`rank_to`, the profiles within 19% of its score); no rank when it has not played the game in
/// the period.
#[utoipa::path(get, path = "/v1/profiles/{profile_id}/rank", tag = "leaderboards", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path), RankQuery), responses(
    (status = 200, body = Rank),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only), or without `learning:play`"),
    (status = 404, description = "No such profile you may see")))]
pub(crate) async fn rank(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(profile_id): Path<Id>,
    Query(query): Query<RankQuery>,
) -> Result<Json<Rank>> {
    who.require(perm::LEARNING_PLAY)?;
    let viewer = Viewer::of(
        &who,
        who.can(perm::PROFILES_ANY),
        who.can(perm::CHILDREN_MANAGE),
        who.can(perm::SELF_MANAGE),
    );
    Ok(Json(
        learning
            .rank(
                &viewer,
                profile_id.as_str(),
                query.game_id.as_str(),
                query.period.unwrap_or(Period::Weekly),
            )
            .await?,
    ))
}
