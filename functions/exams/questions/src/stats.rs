//! Question statistics and item analysis (authors and moderators).

use axum::extract::State;
use lectern_exams::exams::statistics::QuestionStatsView;
use lectern_shared::http::auth::Identity;
use lectern_shared::http::pagination::{cursor_schema, limit_schema};
use lectern_shared::http::{Json, PageParams, Paginated, Path, Query};
use lectern_shared::ids::Id;
use serde::Deserialize;

use crate::{Ex, Result, reader};

/// A question's statistics from completed exams: attempts, success rate, average time, facility and
/// discrimination indexes, and its Elo difficulty estimate.
#[utoipa::path(get, path = "/v1/questions/{question_id}/stats", tag = "questions", security(("bearer" = []), ("api_key" = [])),
    params(("question_id" = inline(Id), Path)), responses(
    (status = 200, body = QuestionStatsView),
    (status = 403, description = "`forbidden`: this needs `content:write` or `content:moderate`"),
    (status = 404, description = "No such question")))]
pub(crate) async fn question_stats(
    State(exams): Ex,
    who: Identity,
    Path(question_id): Path<Id>,
) -> Result<Json<QuestionStatsView>> {
    let viewer = reader(&who)?;
    Ok(Json(
        exams.question_stats(&viewer, question_id.as_str()).await?,
    ))
}

/// Where to look for the most missed questions: exactly one of `course` or `topic`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MissedQuery {
    #[param(value_type = Option<String>, schema_with = lectern_shared::http::constraints::id)]
    pub course: Option<Id>,
    #[param(value_type = Option<String>, schema_with = lectern_shared::http::constraints::id)]
    pub topic: Option<Id>,
    #[param(schema_with = limit_schema)]
    pub limit: Option<usize>,
    #[param(schema_with = cursor_schema)]
    pub cursor: Option<String>,
}

/// The questions of a course or topic by success rate, the most missed first (questions with attempts only).
#[utoipa::path(get, path = "/v1/questions/most-missed", tag = "questions", security(("bearer" = []), ("api_key" = [])),
    params(MissedQuery), responses(
    (status = 200, body = Paginated<QuestionStatsView>),
    (status = 400, description = "`validation`: neither or both of `course` and `topic`"),
    (status = 403, description = "`forbidden`: this needs `content:write` or `content:moderate`")))]
pub(crate) async fn most_missed(
    State(exams): Ex,
    who: Identity,
    Query(q): Query<MissedQuery>,
) -> Result<Json<Paginated<QuestionStatsView>>> {
    let viewer = reader(&who)?;
    let scope = crate::scope(q.course, q.topic)?;
    let limit = PageParams {
        limit: q.limit,
        cursor: None,
    }
    .limit()?;
    let key = format!("most-missed:{scope:?}");
    let codec = &exams.platform.cursors;
    let after = codec.decode_opt(&key, q.cursor.as_deref())?;
    let (items, next) = exams.most_missed(&viewer, &scope, limit, after).await?;
    Ok(Json(codec.page(&key, items, next)))
}
