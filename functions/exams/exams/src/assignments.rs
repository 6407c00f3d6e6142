//! Assignments: instructors create them; learners read one with their attempts, attempt it through
//! `POST /v1/exams/start` (mode `assignment`) and read their grade.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_exams::assignments::{AssignmentResult, AssignmentView, CreateAssignment};
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::{Json, Path};
use lectern_shared::ids::Id;

use crate::{Ex, Result, learner};

/// Create an assignment: the settings of every attempt (source, count, mix, time limit, pass mark, navigation),
/// the attempts each learner has and how they make one grade, and an optional due date. Needs `content:write`.
#[utoipa::path(post, path = "/v1/assignments", tag = "exams", security(("bearer" = [])),
    request_body = CreateAssignment, responses(
    (status = 201, body = AssignmentView),
    (status = 400, description = "`validation`: e.g. two sources, no count for a draw, `max_attempts` outside 1 to 20, a due date in the past"),
    (status = 403, description = "`forbidden`: this needs `content:write`")))]
pub(crate) async fn create_assignment(
    State(exams): Ex,
    who: SessionIdentity,
    Json(input): Json<CreateAssignment>,
) -> Result<(StatusCode, Json<AssignmentView>)> {
    let viewer = learner(&who)?;
    Ok((
        StatusCode::CREATED,
        Json(exams.create_assignment(&viewer, input).await?),
    ))
}

/// An assignment, with the caller's attempts used and left.
#[utoipa::path(get, path = "/v1/assignments/{assignment_id}", tag = "exams", security(("bearer" = [])),
    params(("assignment_id" = inline(Id), Path)), responses(
    (status = 200, body = AssignmentView),
    (status = 403, description = "`forbidden`: this needs `content:read`"),
    (status = 404, description = "No such assignment")))]
pub(crate) async fn get_assignment(
    State(exams): Ex,
    who: SessionIdentity,
    Path(assignment_id): Path<Id>,
) -> Result<Json<AssignmentView>> {
    let viewer = learner(&who)?;
    Ok(Json(
        exams
            .assignment_view(&viewer, assignment_id.as_str())
            .await?,
    ))
}

/// The caller's grade in an assignment by its grading method: `highest` and `average` over completed attempts,
/// `first` and `last` the first and last submitted attempt. An attempt whose essays wait for grading counts only
/// once graded (`pending_grading`; `provisional` while any attempt may still change the grade).
#[utoipa::path(get, path = "/v1/assignments/{assignment_id}/result", tag = "exams", security(("bearer" = [])),
    params(("assignment_id" = inline(Id), Path)), responses(
    (status = 200, body = AssignmentResult),
    (status = 403, description = "`forbidden`: this needs `content:read`"),
    (status = 404, description = "No such assignment")))]
pub(crate) async fn assignment_result(
    State(exams): Ex,
    who: SessionIdentity,
    Path(assignment_id): Path<Id>,
) -> Result<Json<AssignmentResult>> {
    let viewer = learner(&who)?;
    Ok(Json(
        exams
            .assignment_result(&viewer, assignment_id.as_str())
            .await?,
    ))
}
