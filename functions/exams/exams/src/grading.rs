//! Instructors grade essays, finding them in the grading queue.

use axum::extract::State;
use lectern_accounts::permissions::perm;
use lectern_exams::Viewer;
use lectern_exams::exams::model::GradeInput;
use lectern_exams::exams::queue::GradingEntry;
use lectern_exams::exams::views::Summary;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::{Json, PageParams, Paginated, Path, Query};
use lectern_shared::ids::Id;

use crate::{Ex, Result};

/// Grade essays of a submitted exam (0 to 1 each, with an optional note). Once none is left to grade, the score
/// and pass or fail are final; grading again replaces a grade.
#[utoipa::path(post, path = "/v1/exams/{exam_id}/grade", tag = "exams", security(("bearer" = [])),
    params(("exam_id" = inline(Id), Path)), request_body = GradeInput, responses(
    (status = 200, body = Summary),
    (status = 400, description = "`validation`: not an essay of this exam, not answered, a mark outside 0 to 1"),
    (status = 403, description = "`forbidden`: this needs `exams:grade`"),
    (status = 404, description = "No such exam"),
    (status = 409, description = "`invalid-state`: the exam is in progress, or another grade landed at the same time")))]
pub(crate) async fn grade(
    State(exams): Ex,
    who: SessionIdentity,
    Path(exam_id): Path<Id>,
    Json(input): Json<GradeInput>,
) -> Result<Json<Summary>> {
    who.require(perm::EXAMS_GRADE)?;
    let grader = Viewer::new(
        &who,
        who.can(perm::CONTENT_WRITE),
        who.can(perm::CONTENT_MODERATE),
    );
    Ok(Json(exams.grade(&grader, exam_id.as_str(), input).await?))
}

/// The exams whose essays wait for grading, oldest submitted first (everyone's: graders grade any exam). Needs
/// `exams:grade`.
#[utoipa::path(get, path = "/v1/exams/grading-queue", tag = "exams", security(("bearer" = [])),
    params(PageParams), responses(
    (status = 200, body = Paginated<GradingEntry>),
    (status = 403, description = "`forbidden`: this needs `exams:grade`")))]
pub(crate) async fn grading_queue(
    State(exams): Ex,
    who: SessionIdentity,
    Query(q): Query<PageParams>,
) -> Result<Json<Paginated<GradingEntry>>> {
    who.require(perm::EXAMS_GRADE)?;
    let grader = Viewer::new(
        &who,
        who.can(perm::CONTENT_WRITE),
        who.can(perm::CONTENT_MODERATE),
    );
    let limit = q.limit()?;
    let scope = "exams:grading-queue";
    let codec = &exams.platform.cursors;
    let after = codec.decode_opt(scope, q.cursor.as_deref())?;
    let (items, next) = exams.grading_queue(&grader, limit, after).await?;
    Ok(Json(codec.page(scope, items, next)))
}
