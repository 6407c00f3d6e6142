//! `POST /v1/admin/users/bulk`: one action on up to 100 accounts, named or selected by a filter, answered per
//! account (`lectern_accounts::service::bulk`).

use axum::extract::State;
use lectern_accounts::permissions::{Role, perm};
use lectern_accounts::service::admin::UserFilter;
use lectern_accounts::service::bulk::{BulkAction, BulkResult, MAX_BULK};
use lectern_accounts::users::{Status, Tier};
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, Problem};
use lectern_shared::ids::Id;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Accts, Result};

/// Which accounts a filter selects (a role, and optionally a status within it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkFilter {
    pub role: Role,
    pub status: Option<Status>,
}

/// One action on the accounts named in `user_ids` (1–100) or, instead, on the next 100 accounts `filter` selects
/// (continue with `cursor` from the previous answer).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub action: BulkAction,
    /// With `set_tier` only.
    pub tier: Option<Tier>,
    #[schema(min_items = 1, max_items = 100)]
    pub user_ids: Option<Vec<Id>>,
    pub filter: Option<BulkFilter>,
    /// From the previous answer of the same filter.
    pub cursor: Option<String>,
}

/// Each account's outcome, in the order given (duplicates once).
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkAnswer {
    pub results: Vec<BulkResult>,
    /// More accounts match the filter: send the same request with this cursor.
    pub next_cursor: Option<String>,
}

/// Activate, suspend, delete (soft: the owner can restore it by signing in within the grace period) or change the
/// tier of many accounts. Each account is changed and audited exactly as by its single-account route; each is
/// answered `ok`, `not_found`, `refused` (with why: your own account, the last active admin, a deleted or not
/// suspended account) or `failed` (retry). Needs `users:manage`.
#[utoipa::path(post, path = "/v1/admin/users/bulk", tag = "admin", security(("bearer" = [])),
    request_body = BulkRequest, responses(
    (status = 200, body = BulkAnswer),
    (status = 400, description = "`validation`: neither or both of `user_ids` and `filter`, no ids or over 100, `tier` missing for `set_tier` or given for another action, a cursor of another filter"),
    (status = 403, description = "`forbidden`: needs `users:manage`, or an API key was used")))]
pub(crate) async fn bulk(
    State(accounts): Accts,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Json(input): Json<BulkRequest>,
) -> Result<Json<BulkAnswer>> {
    who.require(perm::USERS_MANAGE)?;
    let (ids, next_cursor): (Vec<String>, _) = match (input.user_ids, input.filter) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > MAX_BULK {
                return Err(Problem::invalid_fields(vec![(
                    "user_ids".into(),
                    format!("1 to {MAX_BULK} ids"),
                )]));
            }
            if input.cursor.is_some() {
                return Err(Problem::invalid_fields(vec![(
                    "cursor".into(),
                    "only with a filter".into(),
                )]));
            }
            (ids.iter().map(|id| id.as_str().to_string()).collect(), None)
        }
        (None, Some(filter)) => {
            // The cursor is bound to the filter it was made for, like the user list's.
            let scope = format!("admin-users-bulk:{:?}:{:?}", filter.role, filter.status);
            let codec = &accounts.platform.cursors;
            let cursor = codec.decode_opt(&scope, input.cursor.as_deref())?;
            let filter = UserFilter {
                email_prefix: None,
                role: Some(filter.role),
                status: filter.status,
            };
            let (users, next) = accounts.list_users(&filter, MAX_BULK, cursor).await?;
            let next = next.map(|position| codec.encode(&scope, &position));
            (users.into_iter().map(|u| u.user_id).collect(), next)
        }
        _ => {
            return Err(Problem::invalid_fields(vec![(
                "user_ids".into(),
                "either user_ids or filter".into(),
            )]));
        }
    };
    let results = accounts
        .bulk(&who.user_id, input.action, input.tier, &ids, &client)
        .await?;
    Ok(Json(BulkAnswer {
        results,
        next_cursor,
    }))
}
