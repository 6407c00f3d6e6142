//! Random questions for learners.

use axum::extract::State;
use lectern_exams::questions::random::{RandomAnswer, RandomRequest};
use lectern_exams::questions::selection::{ADAPTIVE, Mix};
use lectern_shared::http::auth::Identity;
use lectern_shared::http::{Json, Query};
use lectern_shared::ids::Id;
use serde::Deserialize;

use crate::{Ex, Result, reader};

/// What to draw: from exactly one of `course` or `topic`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RandomQuery {
    /// Draw from this course (or give `topic`).
    #[param(value_type = Option<String>, schema_with = lectern_shared::http::constraints::id)]
    pub course: Option<Id>,
    /// Draw from this topic (or give `course`).
    #[param(value_type = Option<String>, schema_with = lectern_shared::http::constraints::id)]
    pub topic: Option<Id>,
    /// How many, 1 to 50.
    #[param(minimum = 1, maximum = 50)]
    pub count: u16,
    #[param(schema_with = lectern_exams::schema::random_mix)]
    pub mix: Option<String>,
    /// A `session_id` from an earlier draw: nothing it served comes back.
    #[param(value_type = Option<String>, schema_with = lectern_shared::http::constraints::id)]
    pub session: Option<Id>,
}

/// Approved questions drawn at random, weighted by difficulty, without repeats within the session, preferring
/// questions the caller has never seen, then the least recently seen. Fewer than asked (with `complete: false`
/// and a `message`) when the pool is too small.
#[utoipa::path(get, path = "/v1/questions/random", tag = "questions", security(("bearer" = []), ("api_key" = [])),
    params(RandomQuery), responses(
    (status = 200, body = RandomAnswer),
    (status = 400, description = "`validation`: neither or both of `course` and `topic`; a malformed `mix`"),
    (status = 403, description = "`forbidden`: an API key without the `content:read` scope"),
    (status = 404, description = "`not-found`: no such `session`, or another learner's"),
    (status = 409, description = "`invalid-state`: the session has served its most (500), or another draw in it ran at the same moment")))]
pub(crate) async fn random_questions(
    State(exams): Ex,
    who: Identity,
    Query(q): Query<RandomQuery>,
) -> Result<Json<RandomAnswer>> {
    let viewer = reader(&who)?;
    let scope = crate::scope(q.course, q.topic)?;
    let adaptive = q.mix.as_deref() == Some(ADAPTIVE);
    let mix = match q.mix.as_deref() {
        Some(ADAPTIVE) | None => None,
        Some(m) => Some(Mix::parse("query.mix", m)?),
    };
    let request = RandomRequest {
        scope,
        count: usize::from(q.count),
        mix,
        adaptive,
        session_id: q.session.map(|s| s.to_string()),
    };
    Ok(Json(exams.random_questions(&viewer, request).await?))
}
