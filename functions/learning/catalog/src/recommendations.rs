//! `/v1/profiles/{id}/recommendations`: the games a profile might play next, from the curriculum, its weak skills
//! and what other learners played next (computed by the learning worker; see `lectern_learning::recommendations`).

use axum::extract::State;
use lectern_accounts::permissions::perm;
use lectern_learning::recommendations::RecommendationsView;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::{Json, Path};
use lectern_shared::ids::Id;

use crate::{Result, St, viewer};

/// What a profile might play next, best first: games of the curriculum modules it may work on now
/// (`curriculum`), games training the skills it scores lowest in (`weak_skill`), and games learners who finished
/// what it just played went on to (`similar_learners`). Computed after each batch of its results, so it is empty
/// (`computed_at: null`) until its first result was processed; games unpublished or blocked by the parental
/// controls since are left out.
#[utoipa::path(get, path = "/v1/profiles/{profile_id}/recommendations", tag = "catalog", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path)), responses(
    (status = 200, body = RecommendationsView),
    (status = 403, description = "`forbidden`: an API key (this route takes signed-in sessions only)"),
    (status = 404, description = "No such profile you may see")))]
pub(crate) async fn of_profile(
    State(learning): St,
    SessionIdentity(who): SessionIdentity,
    Path(id): Path<Id>,
) -> Result<Json<RecommendationsView>> {
    who.require(perm::LEARNING_PLAY)?;
    Ok(Json(
        learning.recommendations(&viewer(&who), id.as_str()).await?,
    ))
}
