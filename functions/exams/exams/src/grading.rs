//! Instructors grade essays.

use axum::extract::State;
use lectern_accounts::permissions::perm;
use lectern_exams::Viewer;
use lectern_exams::exams::model::GradeInput;
use lectern_exams::exams::views::Summary;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::{Json, Path};
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
