//! The caller's personal-data exports: ask for one (at most one a week), and the history with download links.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_accounts::data_exports::ExportView;
use lectern_shared::http::Json;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;

use crate::{Accts, Result, owner};

/// Ask for a copy of everything kept about the account and its child profiles. It is written in the background
/// and a download link, valid 48 hours, is emailed to the account's address. One a week.
#[utoipa::path(post, path = "/v1/users/me/export", tag = "users", security(("bearer" = [])), responses(
    (status = 202, body = ExportView, description = "Queued; the link is emailed when it is ready"),
    (status = 429, description = "`export-too-soon`: one export a week; `Retry-After` says when the next may be asked for")))]
pub(crate) async fn request_export(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
) -> Result<(StatusCode, Json<ExportView>)> {
    owner(&who)?;
    let export = accounts.request_export(&who.user_id, None, &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ExportView::of(&accounts, export).await?),
    ))
}

/// The caller's exports of the last year, newest first (at most 50), each with a download link while it works.
#[utoipa::path(get, path = "/v1/users/me/exports", tag = "users", security(("bearer" = [])), responses(
    (status = 200, body = Vec<ExportView>)))]
pub(crate) async fn exports(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<Vec<ExportView>>> {
    owner(&who)?;
    Ok(Json(ExportView::list(&accounts, &who.user_id).await?))
}
