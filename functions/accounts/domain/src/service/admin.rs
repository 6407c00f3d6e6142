//! Account administration: search, role changes, suspension, forced logout, and bootstrapping the first admin.
//! The number of active admins is kept in a counter item changed in the same transaction as the account, so two
//! admins demoting each other at once cannot leave the system without one.
//!
//! Entity (declared once, here): admin counter `ADMINS` / `COUNT`.

use lectern_shared::http::client::ClientInfo;
use lectern_shared::table::{
    Condition, Entity, EntityInfo, Key, KeyLayout, Page, Shape, SortKey, TableError, TxOp,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Accounts;
use crate::audit::Action;
use crate::change::{Change, conflict};
use crate::errors::AccountError;
use crate::permissions::Role;
use crate::users::{BY_EMAIL, BY_ROLE, Status, Tier, User, email_key};

/// How many active admins there are (`n`), written only by updates in the same transaction as the account.
pub const ADMIN_COUNT: EntityInfo = EntityInfo::new(
    "admin_count",
    KeyLayout::new(Shape::fixed("ADMINS"), Shape::fixed("COUNT")),
);

/// The counter's key (there is one).
pub fn admins_key() -> Key {
    ADMIN_COUNT.key(&[], &[])
}

/// An account as admins see it (no secrets).
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AdminUserView {
    pub user_id: String,
    pub email: String,
    pub email_verified: bool,
    pub display_name: String,
    pub role: Role,
    pub tier: Tier,
    pub status: Status,
    pub two_factor_enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

impl From<&User> for AdminUserView {
    fn from(u: &User) -> Self {
        Self {
            user_id: u.user_id.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            display_name: u.display_name.clone(),
            role: u.role,
            tier: u.tier,
            status: u.status,
            two_factor_enabled: u.two_factor_enabled(),
            created_at: u.created_at,
            updated_at: u.updated_at,
            deleted_at: u.deleted_at,
        }
    }
}

/// Filters of the admin user list.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub email_prefix: Option<String>,
    pub role: Option<Role>,
    pub status: Option<Status>,
}

fn counts_as_admin(user: &User) -> bool {
    user.role == Role::Admin && user.status == Status::Active
}

impl Accounts {
    /// One page of accounts. Email prefix search and role/status filters use their own index; an email prefix
    /// with a role or status filter is refused rather than silently under-filled.
    pub async fn list_users(
        &self,
        filter: &UserFilter,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<(Vec<AdminUserView>, Option<String>), AccountError> {
        let query = match (filter.email_prefix.as_deref(), filter.role, filter.status) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(AccountError::field(
                    "email",
                    "search by email alone, or filter by role and status",
                ));
            }
            // A prefix of the email itself, not whole key parts: `ada` finds `ada@…` and `adam@…`.
            (Some(prefix), None, None) => BY_EMAIL
                .query(&[])
                .sk(SortKey::BeginsWith(email_key(prefix))),
            (None, Some(role), status) => {
                let q = BY_ROLE.query(&[role.as_str()]);
                match status {
                    Some(s) => q.sk(BY_ROLE.key.sk.begins_with(&[s.as_str()])),
                    None => q,
                }
            }
            (None, None, Some(_)) => {
                return Err(AccountError::field(
                    "status",
                    "filter by status together with a role",
                ));
            }
            (None, None, None) => BY_EMAIL.query(&[]),
        };
        let Page { items, cursor } = self
            .platform
            .table
            .query(query.limit(limit).after(cursor))
            .await?;
        let users: Vec<AdminUserView> = items
            .into_iter()
            .filter_map(|i| User::from_item(i).ok())
            .map(|u| AdminUserView::from(&u))
            .collect();
        Ok((users, cursor))
    }

    /// One account, for admins.
    pub async fn admin_get_user(&self, user_id: &str) -> Result<AdminUserView, AccountError> {
        Ok(AdminUserView::from(&self.user(user_id).await?))
    }

    async fn admin_count(&self) -> Result<i64, AccountError> {
        let item = self.platform.table.get(&admins_key()).await?;
        Ok(item
            .and_then(|i| i.get("n").and_then(Value::as_i64))
            .unwrap_or(0))
    }

    /// Adds to `change` the write of a changed account, keeping the active-admin counter and the erasure index in
    /// step in the same transaction (the account's write is the change's next operation, the counter's the one
    /// after, then the erasure entry's). Answers the
    /// account as it will be stored. Refuses to take away the last active admin.
    pub(crate) async fn guarded(
        &self,
        change: &mut Change,
        before: &User,
        mut after: User,
    ) -> Result<User, AccountError> {
        let delta = i64::from(counts_as_admin(&after)) - i64::from(counts_as_admin(before));
        let now = self.epoch();
        after.version = before.version + 1;
        after.updated_at = now;
        change.op(TxOp::Put {
            item: after.to_item()?,
            condition: Condition::equals("version", before.version),
        });
        if delta < 0 {
            let n = self.admin_count().await?;
            if n <= 1 {
                return Err(AccountError::Conflict(
                    "this is the last admin; promote another admin first".into(),
                ));
            }
            change.op(TxOp::Update {
                key: admins_key(),
                update: ADMIN_COUNT.update().set("n", n - 1),
                condition: Condition::equals("n", n),
            });
        } else if delta > 0 {
            change.op(TxOp::Update {
                key: admins_key(),
                update: ADMIN_COUNT.update().add("n", 1),
                condition: Condition::Always,
            });
        }
        // Soft-deleting lists the account for erasure; restoring takes it off the list.
        change.ops(crate::erasure::due_ops(before, &after)?);
        // Every role, tier and status change passes here: the statistics move with it (`stats`).
        change.ops(crate::stats::changed_op(before, &after));
        Ok(after)
    }

    /// Saves a changed account on its own, guarded (see [`Accounts::guarded`]).
    pub(crate) async fn save_guarded(
        &self,
        before: &User,
        after: User,
    ) -> Result<User, AccountError> {
        let mut change = Change::new();
        let after = self.guarded(&mut change, before, after).await?;
        self.commit(change).await.map_err(conflict)?;
        Ok(after)
    }

    /// Changes an account's role.
    pub async fn set_role(
        &self,
        actor: &str,
        user_id: &str,
        role: Role,
        client: &ClientInfo,
    ) -> Result<AdminUserView, AccountError> {
        self.change_field(actor, user_id, client, Action::RoleChanged, |user| {
            let from = user.role.as_str().into();
            user.role = role;
            (from, role.as_str().into())
        })
        .await
    }

    /// Changes an account's subscription tier.
    pub async fn set_tier(
        &self,
        actor: &str,
        user_id: &str,
        tier: Tier,
        client: &ClientInfo,
    ) -> Result<AdminUserView, AccountError> {
        self.change_field(actor, user_id, client, Action::TierChanged, |user| {
            let from = serde_json::to_value(user.tier).unwrap_or_default();
            user.tier = tier;
            (from, serde_json::to_value(tier).unwrap_or_default())
        })
        .await
    }

    /// Applies one admin change to an account (`change` returns the old and new value); a change to the same
    /// value writes nothing, any other is saved guarded and audited with `from`/`to`, together.
    async fn change_field(
        &self,
        actor: &str,
        user_id: &str,
        client: &ClientInfo,
        action: Action,
        apply: impl FnOnce(&mut User) -> (Value, Value),
    ) -> Result<AdminUserView, AccountError> {
        let before = self.user(user_id).await?;
        let mut after = before.clone();
        let (from, to) = apply(&mut after);
        if from == to {
            return Ok(AdminUserView::from(&before));
        }
        let mut change = Change::new();
        let after = self.guarded(&mut change, &before, after).await?;
        let mut details = serde_json::Map::new();
        details.insert("from".into(), from);
        details.insert("to".into(), to);
        change.audit(self.event_with(action, Some(actor), user_id, client, details));
        self.commit(change).await.map_err(conflict)?;
        Ok(AdminUserView::from(&after))
    }

    /// Suspends an account: it can no longer sign in, refresh or use keys, and its sessions end now.
    pub async fn suspend(
        &self,
        actor: &str,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<AdminUserView, AccountError> {
        let before = self.user(user_id).await?;
        if before.status == Status::Deleted {
            return Err(AccountError::Conflict("the account is deleted".into()));
        }
        let mut after = before.clone();
        after.status = Status::Suspended;
        let mut change = Change::new();
        let after = self.guarded(&mut change, &before, after).await?;
        change.end_sessions(self.sessions.keys(user_id, None).await?);
        change.audit(self.event(Action::Suspended, Some(actor), user_id, client));
        self.commit(change).await.map_err(conflict)?;
        Ok(AdminUserView::from(&after))
    }

    /// Lifts a suspension.
    pub async fn activate(
        &self,
        actor: &str,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<AdminUserView, AccountError> {
        let before = self.user(user_id).await?;
        if before.status != Status::Suspended {
            return Err(AccountError::Conflict(
                "the account is not suspended".into(),
            ));
        }
        let mut after = before.clone();
        after.status = Status::Active;
        let mut change = Change::new();
        let after = self.guarded(&mut change, &before, after).await?;
        change.audit(self.event(Action::Activated, Some(actor), user_id, client));
        self.commit(change).await.map_err(conflict)?;
        Ok(AdminUserView::from(&after))
    }

    /// Ends every session of an account.
    pub async fn force_logout(
        &self,
        actor: &str,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<usize, AccountError> {
        self.user(user_id).await?;
        self.end_every_session(Action::ForceLogout, actor, user_id, client)
            .await
    }

    /// Makes the account with this email the first admin, but only while there is no active admin at all — safe to
    /// run at every start-up (`LECTERN_BOOTSTRAP_ADMIN_EMAIL`) and from `lectern make-admin`. Returns whether it
    /// promoted someone.
    ///
    /// Whoever holds the address when this runs is promoted, so the address must be proven: only an account whose
    /// *current* address was verified through the emailed link qualifies (changing the address clears
    /// `email_verified` in the same transaction, and a link only verifies the address it was sent to). Anyone can
    /// register an address or move their account to it; only its owner can open the link. The flag is never set
    /// here. `AllowUnverified` is for an operator at the console who knows the account (`make-admin
    /// --allow-unverified`). The promotion is logged and audited; the counter condition makes two concurrent
    /// bootstraps promote one account.
    pub async fn bootstrap_admin(
        &self,
        email: &str,
        policy: AdminBootstrap,
    ) -> Result<bool, AccountError> {
        let counter = self.platform.table.get(&admins_key()).await?;
        let admins = counter
            .as_ref()
            .and_then(|i| i.get("n").and_then(Value::as_i64));
        if admins.is_some_and(|n| n > 0) {
            return Ok(false);
        }
        let before = self
            .users
            .find_by_email(email)
            .await?
            .ok_or(AccountError::NotFound)?;
        if before.status != Status::Active {
            return Err(AccountError::Conflict("the account is not active".into()));
        }
        if !before.email_verified && policy == AdminBootstrap::RequireVerified {
            tracing::warn!(user_id = %before.user_id, "bootstrap admin refused: the address is not verified");
            return Err(AccountError::Forbidden(
                "the account's address is not verified: open the emailed link first".into(),
            ));
        }
        let mut after = before.clone();
        after.role = Role::Admin;
        after.version = before.version + 1;
        after.updated_at = self.epoch();
        // Promote only while the counter still says what it said when read: zero or absent.
        let no_admin = match (&counter, admins) {
            (None, _) => Condition::NotExists,
            (Some(_), Some(n)) => Condition::equals("n", n),
            (Some(_), None) => Condition::AttributeNotExists("n".into()),
        };
        let mut details = serde_json::Map::new();
        details.insert("from".into(), before.role.as_str().into());
        details.insert("to".into(), Role::Admin.as_str().into());
        details.insert("via".into(), "bootstrap".into());
        details.insert("email_verified".into(), before.email_verified.into());
        let mut change = Change::new();
        change.op(TxOp::Put {
            item: after.to_item()?,
            condition: Condition::equals("version", before.version),
        });
        change.op(TxOp::Update {
            key: admins_key(),
            update: ADMIN_COUNT.update().set("n", 1),
            condition: no_admin,
        });
        change.ops(crate::stats::changed_op(&before, &after));
        change.audit(self.event_with(
            Action::RoleChanged,
            None,
            &before.user_id,
            &ClientInfo::default(),
            details,
        ));
        match self.commit(change).await {
            Ok(()) => {}
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                return Err(AccountError::Conflict(
                    "the account changed meanwhile; try again".into(),
                ));
            }
            // Another bootstrap or an admin change won meanwhile: there may be an admin now.
            Err(TableError::TransactionCancelled { .. }) | Err(TableError::Retryable(_)) => {
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        }
        tracing::warn!(
            user_id = %before.user_id,
            email_verified = before.email_verified,
            "bootstrapped the first admin"
        );
        Ok(true)
    }
}

/// Whether [`Accounts::bootstrap_admin`] may promote an account whose address is not verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminBootstrap {
    /// The address must have been verified through the emailed link (start-up bootstrap, `make-admin`).
    RequireVerified,
    /// An operator vouches for the account (`make-admin --allow-unverified`); the address stays unverified.
    AllowUnverified,
}
