//! The user account: its item, its email claim, and the reads and writes on them.
//!
//! Keys (declared once, here):
//! - account `USER#<id>` / `PROFILE`, also on `gsi1` as `USERS` / `<email>` (admin search by email prefix) and on
//!   `gsi2` as `ROLE#<role>` / `<status>#<email>` (admin filter by role and status);
//! - email claim `EMAIL#<lowercased email>` / `EMAIL` → user id, written in the same transaction as the account
//!   with a not-exists condition, which is what makes emails unique under concurrent registrations.

use lectern_shared::table::{
    Condition, Item, Key, Table, TableError, TableResult, TxOp, from_item, keys, to_item,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::permissions::Role;

pub const USER_PK: &str = "USER";
pub const PROFILE_SK: &str = "PROFILE";
pub const EMAIL_PK: &str = "EMAIL";
/// gsi1 partition holding every account, sorted by email.
pub const ALL_USERS_GSI1: &str = "USERS";
/// gsi2 partition prefix: accounts of one role, sorted by status then email.
pub const ROLE_GSI2: &str = "ROLE";

/// Subscription tier, for later features.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[default]
    Free,
    Premium,
}

/// Account status. Only `active` accounts may sign in or use tokens and keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Active,
    Suspended,
    /// Soft-deleted: restorable by signing in before `purge_after`.
    Deleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Deleted => "deleted",
        }
    }
}

/// Enrolled second factor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactor {
    /// TOTP secret sealed with `crypto::SecretBox` (bound to the user id).
    pub sealed_secret: String,
    /// Whether login requires it (false while enrolment awaits its first code).
    pub enabled: bool,
    /// Highest TOTP time step accepted so far (replay protection).
    #[serde(default)]
    pub last_step: Option<u64>,
    /// SHA-256 of each unused backup code; a used code's slot becomes empty.
    #[serde(default)]
    pub backup_codes: Vec<String>,
}

/// Profile preferences the user edits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    #[serde(default)]
    pub accessibility: Map<String, Value>,
    #[serde(default)]
    pub notifications: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_key: Option<String>,
}

/// An account as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub user_id: String,
    /// As the user typed it (display); `email_key` is the lowercased form that must be unique.
    pub email: String,
    pub display_name: String,
    pub role: Role,
    #[serde(default)]
    pub tier: Tier,
    #[serde(default)]
    pub status: Status,
    #[serde(default)]
    pub email_verified: bool,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Optimistic-locking version; every write checks and bumps it.
    pub version: i64,
    #[serde(default)]
    pub preferences: Preferences,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<TwoFactor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_after: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_changed_at: Option<i64>,
}

/// Lowercases and trims an email for uniqueness and lookups.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl User {
    pub fn key_of(user_id: &str) -> Key {
        Key::new(keys::compose(&[USER_PK, user_id]), PROFILE_SK)
    }

    pub fn key(&self) -> Key {
        Self::key_of(&self.user_id)
    }

    pub fn email_claim_key(email: &str) -> Key {
        Key::new(keys::compose(&[EMAIL_PK, &email_key(email)]), EMAIL_PK)
    }

    pub fn two_factor_enabled(&self) -> bool {
        self.two_factor.as_ref().is_some_and(|t| t.enabled)
    }

    /// The stored item, with its index attributes.
    pub fn to_item(&self) -> TableResult<Item> {
        let mut item = to_item(self)?;
        let key = self.key();
        let email = email_key(&self.email);
        item.insert("pk".into(), key.pk.into());
        item.insert("sk".into(), key.sk.into());
        item.insert("gsi1pk".into(), ALL_USERS_GSI1.into());
        item.insert("gsi1sk".into(), format!("{email}#{}", self.user_id).into());
        item.insert(
            "gsi2pk".into(),
            keys::compose(&[ROLE_GSI2, self.role.as_str()]).into(),
        );
        item.insert(
            "gsi2sk".into(),
            format!("{}#{email}#{}", self.status.as_str(), self.user_id).into(),
        );
        Ok(item)
    }

    fn email_claim(&self) -> Item {
        let key = Self::email_claim_key(&self.email);
        let mut item = Item::new();
        item.insert("pk".into(), key.pk.into());
        item.insert("sk".into(), key.sk.into());
        item.insert("user_id".into(), self.user_id.clone().into());
        item
    }
}

/// Why a user write failed.
#[derive(Debug, thiserror::Error)]
pub enum UserWriteError {
    #[error("email already registered")]
    EmailTaken,
    #[error("account changed concurrently")]
    Conflict,
    #[error(transparent)]
    Store(#[from] TableError),
}

/// Reads and writes accounts.
#[derive(Clone)]
pub struct Users {
    table: std::sync::Arc<dyn Table>,
}

impl Users {
    pub fn new(table: std::sync::Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// Creates an account and claims its email in one transaction.
    pub async fn create(&self, user: &User) -> Result<(), UserWriteError> {
        let ops = vec![
            TxOp::Put {
                item: user.email_claim(),
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: user.to_item()?,
                condition: Condition::NotExists,
            },
        ];
        match self.table.transact(ops).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                Err(UserWriteError::EmailTaken)
            }
            Err(TableError::TransactionCancelled { .. }) => Err(UserWriteError::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, user_id: &str) -> TableResult<Option<User>> {
        match self.table.get(&User::key_of(user_id)).await? {
            Some(item) => Ok(Some(from_item(item)?)),
            None => Ok(None),
        }
    }

    /// Finds an account by email (case-insensitive).
    pub async fn find_by_email(&self, email: &str) -> TableResult<Option<User>> {
        let Some(claim) = self.table.get(&User::email_claim_key(email)).await? else {
            return Ok(None);
        };
        match claim.get("user_id").and_then(Value::as_str) {
            Some(id) => self.get(id).await,
            None => Ok(None),
        }
    }

    /// Writes a changed account if nobody changed it since `user.version` was read; bumps the version.
    pub async fn save(&self, user: &mut User, now: i64) -> Result<(), UserWriteError> {
        let expected = user.version;
        user.version += 1;
        user.updated_at = now;
        let result = self
            .table
            .put(user.to_item()?, Condition::equals("version", expected))
            .await;
        match result {
            Ok(()) => Ok(()),
            Err(TableError::ConditionFailed) => {
                user.version = expected;
                Err(UserWriteError::Conflict)
            }
            Err(e) => {
                user.version = expected;
                Err(e.into())
            }
        }
    }

    /// Moves an account to a new email: claims the new address, releases the old one and saves the account,
    /// all or nothing.
    pub async fn change_email(
        &self,
        user: &mut User,
        new_email: &str,
        now: i64,
    ) -> Result<(), UserWriteError> {
        let old_claim = User::email_claim_key(&user.email);
        let expected = user.version;
        let mut next = user.clone();
        next.email = new_email.trim().to_string();
        next.email_verified = false;
        next.version += 1;
        next.updated_at = now;
        let ops = vec![
            TxOp::Put {
                item: next.email_claim(),
                condition: Condition::NotExists,
            },
            TxOp::Delete {
                key: old_claim,
                condition: Condition::equals("user_id", user.user_id.clone()),
            },
            TxOp::Put {
                item: next.to_item()?,
                condition: Condition::equals("version", expected),
            },
        ];
        match self.table.transact(ops).await {
            Ok(()) => {
                *user = next;
                Ok(())
            }
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                Err(UserWriteError::EmailTaken)
            }
            Err(TableError::TransactionCancelled { .. }) => Err(UserWriteError::Conflict),
            Err(e) => Err(e.into()),
        }
    }
}
