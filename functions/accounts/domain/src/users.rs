//! The user account: its item, its email claim, and the reads and writes on them.
//!
//! Entities (declared once, here):
//! - account `USER#<user_id>` / `PROFILE`, also on `gsi1` as `USERS` / `<email_key>#<user_id>` (admin search by
//!   email prefix) and on `gsi2` as `ROLE#<role>` / `<status>#<email_key>#<user_id>` (admin filter by role and
//!   status);
//! - email claim `EMAIL#<email_key>` / `EMAIL` → user id, written in the same transaction as the account with a
//!   not-exists condition, which is what makes emails unique under concurrent registrations.
//!
//! The `USER#<user_id>` partition also holds the account's sessions, API key listings and lockout counter.

use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, Table,
    TableError, TableResult, TxOp,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::permissions::Role;

/// The partition of everything that belongs to one account.
pub const USER_PARTITION: Shape = Shape::new("USER", &["user_id"]);
/// gsi1: every account in one partition, sorted by email (admin search by email prefix).
pub const BY_EMAIL: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::fixed("USERS"),
        Shape::values(&["email_key", "user_id"]),
    ),
);
/// gsi2: the accounts of one role, sorted by status then email.
///
/// An email may itself contain `#`, and in both index sort keys it is not the last part; that is harmless because
/// they are only ever matched from their start (a status, an email prefix) and never split back into parts.
pub const BY_ROLE: IndexLayout = IndexLayout::new(
    Index::Gsi2,
    KeyLayout::new(
        Shape::new("ROLE", &["role"]),
        Shape::values(&["status", "email_key", "user_id"]),
    ),
);

/// Subscription tier, for later features.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[default]
    Free,
    Premium,
}

impl Tier {
    pub const ALL: [Tier; 2] = [Tier::Free, Tier::Premium];

    /// The tier's name, as serialized (and as `Identity::tier` carries it).
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Premium => "premium",
        }
    }
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
    pub const ALL: [Status; 3] = [Status::Active, Status::Suspended, Status::Deleted];

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
    /// The keyed hash of each unused backup code (`hk:<key id>:<hex>`, see `twofactor::backup_codes`; older
    /// accounts may still hold unkeyed SHA-256 entries until upgraded); a used code's slot becomes empty.
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
        Self::INFO.key(&[user_id], &[])
    }

    pub fn two_factor_enabled(&self) -> bool {
        self.two_factor.as_ref().is_some_and(|t| t.enabled)
    }

    fn email_claim(&self) -> EmailClaim {
        EmailClaim {
            email_key: email_key(&self.email),
            user_id: self.user_id.clone(),
        }
    }
}

impl Entity for User {
    const INFO: EntityInfo = EntityInfo::new(
        "user",
        KeyLayout::new(USER_PARTITION, Shape::fixed("PROFILE")),
    )
    .indexed(&[BY_EMAIL, BY_ROLE]);

    fn key(&self) -> Key {
        Self::key_of(&self.user_id)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        let email = email_key(&self.email);
        vec![
            BY_EMAIL.key(&[], &[&email, &self.user_id]),
            BY_ROLE.key(
                &[self.role.as_str()],
                &[self.status.as_str(), &email, &self.user_id],
            ),
        ]
    }
}

/// The claim that makes an email unique: which account holds the address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailClaim {
    /// The lowercased address; in the key only.
    #[serde(skip_serializing)]
    pub email_key: String,
    pub user_id: String,
}

impl EmailClaim {
    /// The claim's key for an address as typed (it is lowercased first).
    pub fn key_of(email: &str) -> Key {
        Self::INFO.key(&[&email_key(email)], &[])
    }
}

impl Entity for EmailClaim {
    const INFO: EntityInfo = EntityInfo::new(
        "email_claim",
        KeyLayout::new(Shape::new("EMAIL", &["email_key"]), Shape::fixed("EMAIL")),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.email_key)
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

    /// The writes that create an account and claim its email: the claim first, so a cancelled transaction naming
    /// operation 0 means the address is taken.
    pub fn create_ops(user: &User) -> TableResult<Vec<TxOp>> {
        let mut ops = vec![
            TxOp::Put {
                item: user.email_claim().to_item()?,
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: user.to_item()?,
                condition: Condition::NotExists,
            },
        ];
        // The account counts in the admin statistics from the moment it exists, and as a sign-up of its day.
        ops.extend(crate::stats::created_ops(user));
        Ok(ops)
    }

    /// Creates an account and claims its email in one transaction.
    pub async fn create(&self, user: &User) -> Result<(), UserWriteError> {
        match self.table.transact(Self::create_ops(user)?).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                Err(UserWriteError::EmailTaken)
            }
            Err(TableError::TransactionCancelled { .. }) => Err(UserWriteError::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, user_id: &str) -> TableResult<Option<User>> {
        self.table
            .get(&User::key_of(user_id))
            .await?
            .map(User::from_item)
            .transpose()
    }

    /// Finds an account by email (case-insensitive).
    pub async fn find_by_email(&self, email: &str) -> TableResult<Option<User>> {
        let Some(claim) = self.table.get(&EmailClaim::key_of(email)).await? else {
            return Ok(None);
        };
        self.get(&EmailClaim::from_item(claim)?.user_id).await
    }

    /// The write of a changed account, if nobody changed it since `user.version` was read: bumps `user.version`
    /// and `updated_at` to what will be stored (a caller whose transaction fails reads the account again).
    pub fn save_op(user: &mut User, now: i64) -> TableResult<TxOp> {
        let expected = user.version;
        user.version += 1;
        user.updated_at = now;
        Ok(TxOp::Put {
            item: user.to_item()?,
            condition: Condition::equals("version", expected),
        })
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

    /// The writes that move an account to a new email: claim the new address (operation 0, so a cancelled
    /// transaction naming it means the address is taken), release the old one, save the account (unverified: a
    /// link to the new address must be opened). Answers the account as it will be stored.
    pub fn change_email_ops(
        user: &User,
        new_email: &str,
        now: i64,
    ) -> TableResult<(User, Vec<TxOp>)> {
        let old_claim = EmailClaim::key_of(&user.email);
        let mut next = user.clone();
        next.email = new_email.trim().to_string();
        next.email_verified = false;
        next.version += 1;
        next.updated_at = now;
        let ops = vec![
            TxOp::Put {
                item: next.email_claim().to_item()?,
                condition: Condition::NotExists,
            },
            TxOp::Delete {
                key: old_claim,
                condition: Condition::equals("user_id", user.user_id.clone()),
            },
            TxOp::Put {
                item: next.to_item()?,
                condition: Condition::equals("version", user.version),
            },
        ];
        Ok((next, ops))
    }
}
