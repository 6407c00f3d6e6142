//! Bulk account operations for admins (`POST /v1/admin/users/bulk`): activate, suspend, delete or change the tier
//! of up to [`MAX_BULK`] accounts named by id or selected by a filter. Each account goes through the same use case
//! as its single-account route (the same guards — never the last active admin — the same transaction with its
//! audit record), one after the other, and is answered on its own: a refusal or a missing account does not stop
//! the others, and nothing is half-applied to any one account.

use std::collections::BTreeSet;

use lectern_shared::http::client::ClientInfo;
use serde::{Deserialize, Serialize};

use super::Accounts;
use super::admin::AdminUserView;
use crate::errors::AccountError;
use crate::users::Tier;

/// Most accounts one bulk request touches.
pub const MAX_BULK: usize = 100;

/// What to do to each account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    Activate,
    Suspend,
    /// Soft-delete: sessions end, the owner is emailed and can restore it by signing in within the grace period;
    /// then it is erased.
    Delete,
    /// Needs `tier`.
    SetTier,
}

/// How one account fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkOutcome {
    /// Done (or already so: a tier set to what it is).
    Ok,
    NotFound,
    /// Not allowed or not possible for this account (`detail` says why): yourself, the last active admin, a
    /// deleted account, one not suspended.
    Refused,
    /// The store failed for this account; it is unchanged and may be retried.
    Failed,
}

/// One account's answer.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BulkResult {
    pub user_id: String,
    pub outcome: BulkOutcome,
    pub detail: Option<String>,
    /// The account after the change, when it was made.
    pub user: Option<AdminUserView>,
}

impl Accounts {
    /// Applies `action` to each of `user_ids` (duplicates once, in the order given), as `actor`. An admin can
    /// neither suspend nor delete their own account in bulk (a mistyped filter must not lock its author out).
    pub async fn bulk(
        &self,
        actor: &str,
        action: BulkAction,
        tier: Option<Tier>,
        user_ids: &[String],
        client: &ClientInfo,
    ) -> Result<Vec<BulkResult>, AccountError> {
        if user_ids.len() > MAX_BULK {
            return Err(AccountError::field(
                "user_ids",
                format!("at most {MAX_BULK}"),
            ));
        }
        let tier = match (action, tier) {
            (BulkAction::SetTier, None) => {
                return Err(AccountError::field("tier", "needed to set the tier"));
            }
            (BulkAction::SetTier, Some(t)) => Some(t),
            (_, Some(_)) => {
                return Err(AccountError::field("tier", "only with set_tier"));
            }
            (_, None) => None,
        };
        let mut seen = BTreeSet::new();
        let mut results = Vec::with_capacity(user_ids.len());
        for user_id in user_ids {
            if !seen.insert(user_id.as_str()) {
                continue;
            }
            let done =
                if user_id == actor && matches!(action, BulkAction::Suspend | BulkAction::Delete) {
                    Err(AccountError::Conflict(
                        "you cannot suspend or delete your own account in bulk".into(),
                    ))
                } else {
                    match (action, tier) {
                        (BulkAction::Activate, _) => self.activate(actor, user_id, client).await,
                        (BulkAction::Suspend, _) => self.suspend(actor, user_id, client).await,
                        (BulkAction::SetTier, Some(t)) => {
                            self.set_tier(actor, user_id, t, client).await
                        }
                        (BulkAction::SetTier, None) => unreachable!("checked above"),
                        (BulkAction::Delete, _) => {
                            match self.delete_account_by(actor, user_id, client).await {
                                Ok(_) => self.admin_get_user(user_id).await,
                                Err(e) => Err(e),
                            }
                        }
                    }
                };
            results.push(result(user_id, done));
        }
        Ok(results)
    }
}

fn result(user_id: &str, done: Result<AdminUserView, AccountError>) -> BulkResult {
    let (outcome, detail, user) = match done {
        Ok(user) => (BulkOutcome::Ok, None, Some(user)),
        Err(AccountError::NotFound) => (BulkOutcome::NotFound, None, None),
        Err(AccountError::Conflict(why) | AccountError::Forbidden(why)) => {
            (BulkOutcome::Refused, Some(why), None)
        }
        Err(e) => {
            tracing::warn!(error = %e, user_id, "a bulk operation failed for one account");
            (
                BulkOutcome::Failed,
                Some("the store failed; try again".into()),
                None,
            )
        }
    };
    BulkResult {
        user_id: user_id.to_string(),
        outcome,
        detail,
        user,
    }
}
