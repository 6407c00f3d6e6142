//! `/v1/profiles/{id}/report`: what a child did in a week or a month, for the family.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use lectern_accounts::permissions::perm;
use lectern_learning::reports::{Report, ReportPeriod, render_pdf};
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::{Json, Path, Query};
use lectern_shared::ids::Id;
use lectern_shared::pdf;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{Result, St, viewer};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `week` (from Monday 00:00) or `month` (from the 1st), in the profile's time zone.
    pub period: ReportPeriod,
    /// How many periods back: 0 (default) the current one so far, 1 the last complete one, up to 12.
    #[param(minimum = 0, maximum = 12)]
    pub offset: Option<u32>,
}

/// A child's week or month: time played, results, stars, days played, each game played, the skills practised,
/// achievements earned and streaks. For the family (and admins); not readable from the child's own device. With
/// `Accept: application/pdf`, the same report as a printable A4 PDF.
#[utoipa::path(get, path = "/v1/profiles/{profile_id}/report", tag = "profiles", security(("bearer" = [])),
    params(("profile_id" = inline(Id), Path), ReportQuery), responses(
    (status = 200, description = "The report", content(
        (Report = "application/json"),
        (Vec<u8> = "application/pdf"))),
    (status = 400, description = "`validation` on `query.period` or `query.offset`"),
    (status = 403, description = "`forbidden`: a profile (device) session, an API key (this route takes signed-in sessions only), or without `learning:play`"),
    (status = 404, description = "No such profile you may see")))]
pub(crate) async fn report(
    State(s): St,
    SessionIdentity(who): SessionIdentity,
    Path(profile_id): Path<Id>,
    headers: HeaderMap,
    Query(query): Query<ReportQuery>,
) -> Result<Response> {
    who.require(perm::LEARNING_PLAY)?;
    let report = s
        .learning
        .report(
            &viewer(&who),
            profile_id.as_str(),
            query.period,
            query.offset.unwrap_or(0),
        )
        .await?;
    if pdf::wanted(&headers) {
        let name = format!("report-{}-{}.pdf", report.profile_id, report.from);
        return Ok(pdf::response(render_pdf(&report), &name));
    }
    Ok(Json(report).into_response())
}
