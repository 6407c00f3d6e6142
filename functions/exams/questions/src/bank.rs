//! Questions: create, list, read, new versions, submit for review, history and comments.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_exams::hierarchy::valid_level;
use lectern_exams::questions::listing::Filter;
use lectern_exams::questions::model::{Difficulty, QuestionInput, QuestionType, Status};
use lectern_exams::questions::store::{Comment, Listing, Question, QuestionVersion};
use lectern_exams::questions::{NewComment, QuestionAnswer, QuestionEdit};
use lectern_shared::http::auth::Identity;
use lectern_shared::http::pagination::{cursor_schema, limit_schema};
use lectern_shared::http::{Json, PageParams, Paginated, Path, Problem, Query};
use lectern_shared::ids::Id;
use serde::Deserialize;

use crate::{Ex, Result, reader};

/// Filters of the question list. The list reads one partition picked from the most selective filter given
/// (topic, course, tag, subject, level, else every question of the status) and checks the others on at most
/// 400 summaries per request: a page may come back short, even empty, with a `next_cursor` to continue.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuestionQuery {
    #[param(schema_with = limit_schema)]
    pub limit: Option<usize>,
    #[param(schema_with = cursor_schema)]
    pub cursor: Option<String>,
    /// Default `approved`.
    pub status: Option<Status>,
    #[param(value_type = Option<String>, schema_with = lectern_shared::http::constraints::id)]
    pub topic: Option<Id>,
    #[param(value_type = Option<String>, schema_with = lectern_shared::http::constraints::id)]
    pub course: Option<Id>,
    /// Course level: 100, 200, ... 900.
    #[param(minimum = 100, maximum = 900, multiple_of = 100)]
    pub level: Option<u16>,
    pub difficulty: Option<Difficulty>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<QuestionType>,
    #[param(schema_with = lectern_exams::schema::slug)]
    pub subject: Option<String>,
    #[param(schema_with = lectern_exams::schema::slug)]
    pub tag: Option<String>,
}

impl QuestionQuery {
    fn filter(&self) -> Result<Filter> {
        if self.level.is_some_and(|l| !valid_level(l)) {
            return Err(Problem::validation("level is 100, 200, ... 900")
                .field("query.level", "100, 200, ... 900"));
        }
        let slug = |name: &str, v: &Option<String>| -> Result<Option<String>> {
            v.as_deref()
                .map(|s| lectern_exams::text::slug(name, s))
                .transpose()
                .map_err(|_| {
                    Problem::validation(format!("{name} is a slug"))
                        .field(format!("query.{name}"), "a slug")
                })
        };
        Ok(Filter {
            status: self.status,
            topic_id: self.topic.as_ref().map(|i| i.to_string()),
            course_id: self.course.as_ref().map(|i| i.to_string()),
            level: self.level,
            subject: slug("subject", &self.subject)?,
            tag: slug("tag", &self.tag)?,
            difficulty: self.difficulty,
            kind: self.kind,
        })
    }
}

/// The cursor scope of a list: the filters, so a cursor never continues another list.
fn scope(f: &Filter) -> String {
    format!("questions:{f:?}")
}

/// Questions matching the filters, as summaries (authors and moderators).
#[utoipa::path(get, path = "/v1/questions", tag = "questions", security(("bearer" = []), ("api_key" = [])),
    params(QuestionQuery), responses(
    (status = 200, body = Paginated<Listing>),
    (status = 403, description = "`forbidden`: this needs `content:write` or `content:moderate`")))]
pub(crate) async fn list_questions(
    State(exams): Ex,
    who: Identity,
    Query(q): Query<QuestionQuery>,
) -> Result<Json<Paginated<Listing>>> {
    let viewer = reader(&who)?;
    viewer.require_staff()?;
    let limit = PageParams {
        limit: q.limit,
        cursor: None,
    }
    .limit()?;
    let filter = q.filter()?;
    let scope = scope(&filter);
    let codec = &exams.platform.cursors;
    let after = codec.decode_opt(&scope, q.cursor.as_deref())?;
    let (items, next) = exams.list_questions(&filter, limit, after).await?;
    Ok(Json(codec.page(&scope, items, next)))
}

/// Create a question (a draft, version 1).
#[utoipa::path(post, path = "/v1/questions", tag = "questions", security(("bearer" = []), ("api_key" = [])),
    request_body = QuestionInput, responses(
    (status = 201, body = Question),
    (status = 400, description = "`validation`: e.g. an unknown topic, a right answer past the last option, two right answers to a single-choice question"),
    (status = 403, description = "`forbidden`: this needs `content:write`")))]
pub(crate) async fn create_question(
    State(exams): Ex,
    who: Identity,
    Json(input): Json<QuestionInput>,
) -> Result<(StatusCode, Json<Question>)> {
    let viewer = reader(&who)?;
    Ok((
        StatusCode::CREATED,
        Json(exams.create_question(&viewer, input).await?),
    ))
}

/// A question: everything for authors and moderators; for learners an approved question without its answer or
/// explanation (404 for any other).
#[utoipa::path(get, path = "/v1/questions/{question_id}", tag = "questions", security(("bearer" = []), ("api_key" = [])),
    params(("question_id" = inline(Id), Path)), responses(
    (status = 200, body = QuestionAnswer),
    (status = 403, description = "`forbidden`: an API key without the `content:read` scope"),
    (status = 404, description = "No such question (or, for learners, none approved)")))]
pub(crate) async fn get_question(
    State(exams): Ex,
    who: Identity,
    Path(question_id): Path<Id>,
) -> Result<Json<QuestionAnswer>> {
    let viewer = reader(&who)?;
    Ok(Json(
        exams.question_for(&viewer, question_id.as_str()).await?,
    ))
}

/// Save a new version of a question (its author, or a moderator who can author). It goes back to `draft`;
/// earlier versions stay as they were.
#[utoipa::path(put, path = "/v1/questions/{question_id}", tag = "questions", security(("bearer" = []), ("api_key" = [])),
    params(("question_id" = inline(Id), Path)), request_body = QuestionEdit, responses(
    (status = 200, body = Question),
    (status = 400, description = "`validation`"),
    (status = 403, description = "`forbidden`: not your question, or no `content:write`"),
    (status = 404, description = "No such question"),
    (status = 409, description = "`stale-version`: a newer version was saved since the one you sent")))]
pub(crate) async fn edit_question(
    State(exams): Ex,
    who: Identity,
    Path(question_id): Path<Id>,
    Json(edit): Json<QuestionEdit>,
) -> Result<Json<Question>> {
    let viewer = reader(&who)?;
    Ok(Json(
        exams
            .edit_question(&viewer, question_id.as_str(), edit)
            .await?,
    ))
}

/// Send a draft (or rejected) question to review.
#[utoipa::path(post, path = "/v1/questions/{question_id}/submit", tag = "questions", security(("bearer" = []), ("api_key" = [])),
    params(("question_id" = inline(Id), Path)), responses(
    (status = 200, body = Question),
    (status = 403, description = "`forbidden`: not your question, or no `content:write`"),
    (status = 404, description = "No such question"),
    (status = 409, description = "`invalid-state`: already pending or approved; `stale-version`: it changed meanwhile")))]
pub(crate) async fn submit_question(
    State(exams): Ex,
    who: Identity,
    Path(question_id): Path<Id>,
) -> Result<Json<Question>> {
    let viewer = reader(&who)?;
    Ok(Json(
        exams.submit_question(&viewer, question_id.as_str()).await?,
    ))
}

/// Every version of a question, newest first (authors and moderators).
#[utoipa::path(get, path = "/v1/questions/{question_id}/history", tag = "questions", security(("bearer" = []), ("api_key" = [])),
    params(("question_id" = inline(Id), Path), PageParams), responses(
    (status = 200, body = Paginated<QuestionVersion>),
    (status = 403, description = "`forbidden`: this needs `content:write` or `content:moderate`"),
    (status = 404, description = "No such question")))]
pub(crate) async fn question_history(
    State(exams): Ex,
    who: Identity,
    Path(question_id): Path<Id>,
    Query(q): Query<PageParams>,
) -> Result<Json<Paginated<QuestionVersion>>> {
    let viewer = reader(&who)?;
    let limit = q.limit()?;
    let scope = format!("question:{question_id}:history");
    let codec = &exams.platform.cursors;
    let cursor = codec.decode_opt(&scope, q.cursor.as_deref())?;
    let (items, next) = exams
        .history(&viewer, question_id.as_str(), limit, cursor)
        .await?;
    Ok(Json(codec.page(&scope, items, next)))
}

/// The review discussion of a question, oldest first (authors and moderators).
#[utoipa::path(get, path = "/v1/questions/{question_id}/comments", tag = "questions", security(("bearer" = []), ("api_key" = [])),
    params(("question_id" = inline(Id), Path), PageParams), responses(
    (status = 200, body = Paginated<Comment>),
    (status = 403, description = "`forbidden`: this needs `content:write` or `content:moderate`"),
    (status = 404, description = "No such question")))]
pub(crate) async fn list_comments(
    State(exams): Ex,
    who: Identity,
    Path(question_id): Path<Id>,
    Query(q): Query<PageParams>,
) -> Result<Json<Paginated<Comment>>> {
    let viewer = reader(&who)?;
    let limit = q.limit()?;
    let scope = format!("question:{question_id}:comments");
    let codec = &exams.platform.cursors;
    let cursor = codec.decode_opt(&scope, q.cursor.as_deref())?;
    let (items, next) = exams
        .comments(&viewer, question_id.as_str(), limit, cursor)
        .await?;
    Ok(Json(codec.page(&scope, items, next)))
}

/// Comment on a question (authors and moderators).
#[utoipa::path(post, path = "/v1/questions/{question_id}/comments", tag = "questions", security(("bearer" = []), ("api_key" = [])),
    params(("question_id" = inline(Id), Path)), request_body = NewComment, responses(
    (status = 201, body = Comment),
    (status = 400, description = "`validation`"),
    (status = 403, description = "`forbidden`: this needs `content:write` or `content:moderate`"),
    (status = 404, description = "No such question")))]
pub(crate) async fn add_comment(
    State(exams): Ex,
    who: Identity,
    Path(question_id): Path<Id>,
    Json(input): Json<NewComment>,
) -> Result<(StatusCode, Json<Comment>)> {
    let viewer = reader(&who)?;
    Ok((
        StatusCode::CREATED,
        Json(
            exams
                .add_comment(&viewer, question_id.as_str(), input)
                .await?,
        ),
    ))
}
