//! The caller's sessions.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, Path, Problem};
use lectern_shared::ids::Id;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{Accts, Result, owner};

/// An active session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub session_id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session this request came through.
    pub current: bool,
    /// The learner profile a device (profile) session acts as; absent for the account's own sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
}

/// The caller's active sessions, newest first.
#[utoipa::path(get, path = "/v1/users/me/sessions", tag = "users", security(("bearer" = [])), responses(
    (status = 200, body = Vec<SessionView>)))]
pub(crate) async fn sessions(
    State(accounts): Accts,
    SessionIdentity(who): SessionIdentity,
) -> Result<Json<Vec<SessionView>>> {
    owner(&who)?;
    let sessions = accounts
        .sessions
        .list(&who.user_id, accounts.epoch())
        .await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionView {
                current: who.session_id.as_deref() == Some(s.session_id.as_str()),
                session_id: s.session_id,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                ip: s.ip,
                user_agent: s.user_agent,
                profile_id: s.profile_id,
            })
            .collect(),
    ))
}

/// End one of the caller's sessions. Another user's session id is simply not found.
#[utoipa::path(delete, path = "/v1/users/me/sessions/{session_id}", tag = "users", security(("bearer" = [])),
    params(("session_id" = inline(Id), Path)), responses(
    (status = 204, description = "Ended"),
    (status = 404, description = "No such session of yours")))]
pub(crate) async fn revoke_session(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(session_id): Path<Id>,
) -> Result<StatusCode> {
    owner(&who)?;
    // The session ends and its audit record is written in one transaction.
    let revoked = accounts.revoke_session(&who.user_id, session_id.as_str(), &client);
    if !revoked.await? {
        return Err(Problem::not_found("no such session"));
    }
    Ok(StatusCode::NO_CONTENT)
}
