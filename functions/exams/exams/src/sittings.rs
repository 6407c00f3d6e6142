//! A learner's exams: start, view, answer, submit, summary and history.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_exams::exams::model::{AnswerInput, StartExam};
use lectern_exams::exams::statistics::Ability;
use lectern_exams::exams::views::{AnswerOutcome, ExamView, HistoryRow, Summary};
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::{Json, PageParams, Paginated, Path, Query};
use lectern_shared::ids::Id;

use crate::{Ex, Result, learner};

/// Start an exam. The server draws its questions (approved only, weighted by `mix`, the caller's unseen ones
/// first) or takes the listed ones, and fixes them, their versions and option order for the exam's life.
#[utoipa::path(post, path = "/v1/exams/start", tag = "exams", security(("bearer" = [])),
    request_body = StartExam, responses(
    (status = 201, body = ExamView),
    (status = 400, description = "`validation`: e.g. a timed exam without `time_limit_seconds`, two sources, a listed question that is not approved, `certifying` on anything but a timed exam drawn from a course, settings given with an assignment's attempt"),
    (status = 403, description = "`forbidden`: this needs `content:read`"),
    (status = 404, description = "No such assignment (mode `assignment`)"),
    (status = 409, description = "`not-enough-questions`: the source holds fewer approved questions than `count`; `attempts-exhausted`: every attempt of the assignment is used; `assignment-closed`: its due date has passed")))]
pub(crate) async fn start_exam(
    State(exams): Ex,
    who: SessionIdentity,
    Json(input): Json<StartExam>,
) -> Result<(StatusCode, Json<ExamView>)> {
    let viewer = learner(&who)?;
    Ok((
        StatusCode::CREATED,
        Json(exams.start_exam(&viewer, input).await?),
    ))
}

/// The caller's exams, newest first.
#[utoipa::path(get, path = "/v1/exams/history", tag = "exams", security(("bearer" = [])),
    params(PageParams), responses(
    (status = 200, body = Paginated<HistoryRow>),
    (status = 403, description = "`forbidden`: this needs `content:read`")))]
pub(crate) async fn exam_history(
    State(exams): Ex,
    who: SessionIdentity,
    Query(q): Query<PageParams>,
) -> Result<Json<Paginated<HistoryRow>>> {
    let viewer = learner(&who)?;
    let limit = q.limit()?;
    let scope = format!("exams:{}:history", viewer.user_id);
    let codec = &exams.platform.cursors;
    let after = codec.decode_opt(&scope, q.cursor.as_deref())?;
    let (items, next) = exams.exam_history(&viewer, limit, after).await?;
    Ok(Json(codec.page(&scope, items, next)))
}

/// The caller's exam as it stands: questions (without what is right until the learner may know it), answers,
/// time left by the server's clock. A timed exam past its deadline is submitted first.
#[utoipa::path(get, path = "/v1/exams/{exam_id}", tag = "exams", security(("bearer" = [])),
    params(("exam_id" = inline(Id), Path)), responses(
    (status = 200, body = ExamView),
    (status = 403, description = "`forbidden`: this needs `content:read`"),
    (status = 404, description = "No such exam of yours")))]
pub(crate) async fn get_exam(
    State(exams): Ex,
    who: SessionIdentity,
    Path(exam_id): Path<Id>,
) -> Result<Json<ExamView>> {
    let viewer = learner(&who)?;
    Ok(Json(exams.exam_view(&viewer, exam_id.as_str()).await?))
}

/// Answer one question. The same answer again answers the same (safe to retry). In practice the answer comes
/// back marked, with what was right; in a timed exam nothing is revealed until it is submitted.
#[utoipa::path(post, path = "/v1/exams/{exam_id}/answer", tag = "exams", security(("bearer" = [])),
    params(("exam_id" = inline(Id), Path)), request_body = AnswerInput, responses(
    (status = 200, body = AnswerOutcome),
    (status = 400, description = "`validation`: not a question of this exam, a response of another type, an option the question does not have, too long"),
    (status = 403, description = "`forbidden`: this needs `content:read`"),
    (status = 404, description = "No such exam of yours"),
    (status = 409, description = "`deadline-passed` (the exam was submitted as it stood), `exam-submitted`, `already-answered` (practice and sequential answers are final), `out-of-order` (a sequential exam is answered in order)")))]
pub(crate) async fn answer(
    State(exams): Ex,
    who: SessionIdentity,
    Path(exam_id): Path<Id>,
    Json(input): Json<AnswerInput>,
) -> Result<Json<AnswerOutcome>> {
    let viewer = learner(&who)?;
    Ok(Json(exams.answer(&viewer, exam_id.as_str(), input).await?))
}

/// Submit the exam. Submitting again answers the stored result; past the deadline it is the deadline's result.
#[utoipa::path(post, path = "/v1/exams/{exam_id}/submit", tag = "exams", security(("bearer" = [])),
    params(("exam_id" = inline(Id), Path)), responses(
    (status = 200, body = ExamView),
    (status = 403, description = "`forbidden`: this needs `content:read`"),
    (status = 404, description = "No such exam of yours")))]
pub(crate) async fn submit(
    State(exams): Ex,
    who: SessionIdentity,
    Path(exam_id): Path<Id>,
) -> Result<Json<ExamView>> {
    let viewer = learner(&who)?;
    Ok(Json(exams.submit_exam(&viewer, exam_id.as_str()).await?))
}

/// The result of a submitted exam: score, pass or fail, each question with the answer, what was right and why,
/// and the result by topic.
#[utoipa::path(get, path = "/v1/exams/{exam_id}/summary", tag = "exams", security(("bearer" = [])),
    params(("exam_id" = inline(Id), Path)), responses(
    (status = 200, body = Summary),
    (status = 403, description = "`forbidden`: this needs `content:read`"),
    (status = 404, description = "No such exam of yours"),
    (status = 409, description = "`invalid-state`: the exam is still in progress")))]
pub(crate) async fn summary(
    State(exams): Ex,
    who: SessionIdentity,
    Path(exam_id): Path<Id>,
) -> Result<Json<Summary>> {
    let viewer = learner(&who)?;
    Ok(Json(exams.summary(&viewer, exam_id.as_str()).await?))
}

/// The caller's ability estimates by topic (Elo θ: 0 is even odds on a question of difficulty 0), from their
/// completed exams.
#[utoipa::path(get, path = "/v1/users/me/abilities", tag = "exams", security(("bearer" = [])),
    params(PageParams), responses(
    (status = 200, body = Paginated<Ability>),
    (status = 403, description = "`forbidden`: this needs `content:read`")))]
pub(crate) async fn abilities(
    State(exams): Ex,
    who: SessionIdentity,
    Query(q): Query<PageParams>,
) -> Result<Json<Paginated<Ability>>> {
    let viewer = learner(&who)?;
    let limit = q.limit()?;
    let scope = format!("abilities:{}", viewer.user_id);
    let codec = &exams.platform.cursors;
    let after = codec.decode_opt(&scope, q.cursor.as_deref())?;
    let (items, next) = exams.abilities(&viewer, limit, after).await?;
    Ok(Json(codec.page(&scope, items, next)))
}
