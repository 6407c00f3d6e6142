//! The review queue: pending questions, batch approval and rejection (moderators). Administration: a signed-in
//! session only, never an API key (`SessionIdentity`).

use axum::extract::State;
use lectern_exams::questions::moderation::{BatchAnswer, BatchApprove, BatchReject};
use lectern_exams::questions::store::Listing;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::{Json, PageParams, Paginated, Query};

use crate::{Ex, Result, reader};

/// Questions waiting for review.
#[utoipa::path(get, path = "/v1/admin/questions/pending", tag = "questions", security(("bearer" = [])),
    params(PageParams), responses(
    (status = 200, body = Paginated<Listing>),
    (status = 403, description = "`forbidden`: this needs `content:moderate`")))]
pub(crate) async fn pending_questions(
    State(exams): Ex,
    who: SessionIdentity,
    Query(q): Query<PageParams>,
) -> Result<Json<Paginated<Listing>>> {
    let viewer = reader(&who)?;
    let limit = q.limit()?;
    let scope = "questions:pending";
    let codec = &exams.platform.cursors;
    let after = codec.decode_opt(scope, q.cursor.as_deref())?;
    let (items, next) = exams.pending(&viewer, limit, after).await?;
    Ok(Json(codec.page(scope, items, next)))
}

/// Approve pending questions; each id is answered on its own (`approved`, `not_found`, `not_pending`,
/// `conflict`), so one bad id never fails the others.
#[utoipa::path(post, path = "/v1/admin/questions/batch-approve", tag = "questions", security(("bearer" = [])),
    request_body = BatchApprove, responses(
    (status = 200, body = BatchAnswer),
    (status = 403, description = "`forbidden`: this needs `content:moderate`")))]
pub(crate) async fn batch_approve(
    State(exams): Ex,
    who: SessionIdentity,
    Json(input): Json<BatchApprove>,
) -> Result<Json<BatchAnswer>> {
    let viewer = reader(&who)?;
    Ok(Json(exams.batch_approve(&viewer, input).await?))
}

/// Reject pending questions with a reason their authors read; each id is answered on its own.
#[utoipa::path(post, path = "/v1/admin/questions/batch-reject", tag = "questions", security(("bearer" = [])),
    request_body = BatchReject, responses(
    (status = 200, body = BatchAnswer),
    (status = 403, description = "`forbidden`: this needs `content:moderate`")))]
pub(crate) async fn batch_reject(
    State(exams): Ex,
    who: SessionIdentity,
    Json(input): Json<BatchReject>,
) -> Result<Json<BatchAnswer>> {
    let viewer = reader(&who)?;
    Ok(Json(exams.batch_reject(&viewer, input).await?))
}
