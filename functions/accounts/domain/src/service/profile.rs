//! The account owner's own settings: profile preferences, email change, avatar, deletion.

use std::time::Duration;

use lectern_messages::Template;
use lectern_shared::blobs::UploadRules;
use lectern_shared::blobs::confirm::confirm_upload;
use lectern_shared::blobs::pending::{PendingUpload, presign_pending};
use lectern_shared::http::client::ClientInfo;
use lectern_shared::locale;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use lectern_shared::table::TableError;

use super::Accounts;
use super::signup::{valid_display_name, valid_email};
use crate::audit::Action;
use crate::change::{Change, conflict};
use crate::errors::AccountError;
use crate::permissions::Role;
use crate::users::{Status, Tier, User, UserWriteError, Users};

/// Largest avatar accepted.
pub const AVATAR_MAX_BYTES: u64 = 2 * 1024 * 1024;
/// Image types accepted as avatars.
pub const AVATAR_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/webp"];
/// How long a presigned avatar upload stays valid.
pub const AVATAR_UPLOAD_TTL: Duration = Duration::from_secs(600);
/// How long avatar download links stay valid.
pub const AVATAR_URL_TTL: Duration = Duration::from_secs(3600);
/// The themes a profile may choose.
pub const THEMES: [&str; 3] = ["light", "dark", "system"];
/// Most entries of a preference map (`accessibility`, `notifications`).
pub const MAX_FLAGS: usize = 32;
/// Longest name of a preference entry.
pub const MAX_FLAG_KEY: usize = 64;
/// Longest text value of a preference entry, in characters.
pub const MAX_FLAG_TEXT: usize = 64;

/// The profile the owner sees.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProfileView {
    pub user_id: String,
    pub email: String,
    pub email_verified: bool,
    pub display_name: String,
    pub role: Role,
    pub tier: Tier,
    pub status: Status,
    pub two_factor_enabled: bool,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub theme: Option<String>,
    #[schema(value_type = Object)]
    pub accessibility: Map<String, Value>,
    #[schema(value_type = Object)]
    pub notifications: Map<String, Value>,
    /// A short-lived link to the avatar image.
    pub avatar_url: Option<String>,
    pub created_at: i64,
}

/// Profile changes. Fields not listed here (role, email, status...) are refused, not ignored.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[schema(schema_with = crate::schema::display_name_or_null)]
    pub display_name: Option<String>,
    /// BCP 47 language tag, e.g. `en` or `pt-BR`.
    #[schema(schema_with = crate::schema::locale_or_null)]
    pub locale: Option<String>,
    /// IANA time zone, e.g. `Europe/Paris`.
    #[schema(schema_with = crate::schema::timezone_or_null)]
    pub timezone: Option<String>,
    /// `light`, `dark` or `system`.
    #[schema(schema_with = crate::schema::theme_or_null)]
    pub theme: Option<String>,
    /// Flags such as `{"reduced_motion": true, "font_scale": "large"}` (booleans, numbers, short strings).
    #[schema(schema_with = crate::schema::flags_or_null)]
    pub accessibility: Option<Map<String, Value>>,
    /// Per-channel notification choices, e.g. `{"email_digest": false}`.
    #[schema(schema_with = crate::schema::flags_or_null)]
    pub notifications: Option<Map<String, Value>>,
}

/// Preference maps: at most [`MAX_FLAGS`] flat entries with short keys and scalar values.
fn valid_flags(map: &Map<String, Value>) -> bool {
    map.len() <= MAX_FLAGS
        && map.iter().all(|(k, v)| {
            (1..=MAX_FLAG_KEY).contains(&k.len())
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && match v {
                    Value::Bool(_) | Value::Number(_) => true,
                    Value::String(s) => s.chars().count() <= MAX_FLAG_TEXT,
                    _ => false,
                }
        })
}

impl Accounts {
    /// The owner's profile.
    pub async fn profile(&self, user_id: &str) -> Result<ProfileView, AccountError> {
        let user = self.user(user_id).await?;
        self.profile_of(&user).await
    }

    /// The profile of an account already read (the authenticator's [`crate::authenticator::SignedIn`]): no
    /// table read; an avatar link is signed locally (S3 presigning is a computation, not a request).
    pub async fn profile_of(&self, user: &User) -> Result<ProfileView, AccountError> {
        let avatar_url = match &user.preferences.avatar_key {
            Some(key) => self
                .platform
                .blobs
                .presign_download(key, AVATAR_URL_TTL)
                .await
                .ok(),
            None => None,
        };
        let p = &user.preferences;
        Ok(ProfileView {
            user_id: user.user_id.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            display_name: user.display_name.clone(),
            role: user.role,
            tier: user.tier,
            status: user.status,
            two_factor_enabled: user.two_factor_enabled(),
            locale: p.locale.clone(),
            timezone: p.timezone.clone(),
            theme: p.theme.clone(),
            accessibility: p.accessibility.clone(),
            notifications: p.notifications.clone(),
            avatar_url,
            created_at: user.created_at,
        })
    }

    /// Applies profile changes (all validated before any is applied).
    pub async fn update_profile(
        &self,
        user_id: &str,
        patch: ProfilePatch,
    ) -> Result<ProfileView, AccountError> {
        let mut errors = Vec::new();
        let display_name = match patch
            .display_name
            .as_deref()
            .map(valid_display_name)
            .transpose()
        {
            Ok(v) => v,
            Err(AccountError::Invalid(f)) => {
                errors.extend(f);
                None
            }
            Err(e) => return Err(e),
        };
        if patch
            .locale
            .as_deref()
            .is_some_and(|v| !locale::valid_locale(v))
        {
            errors.push(("locale".into(), locale::LOCALE_PROBLEM.into()));
        }
        if let Some(problem) = patch.timezone.as_deref().and_then(locale::timezone_problem) {
            errors.push(("timezone".into(), problem.into()));
        }
        if patch.theme.as_deref().is_some_and(|v| !THEMES.contains(&v)) {
            errors.push(("theme".into(), "light, dark or system".into()));
        }
        if patch
            .accessibility
            .as_ref()
            .is_some_and(|m| !valid_flags(m))
        {
            errors.push((
                "accessibility".into(),
                "at most 32 flat entries of booleans, numbers or short strings".into(),
            ));
        }
        if patch
            .notifications
            .as_ref()
            .is_some_and(|m| !valid_flags(m))
        {
            errors.push((
                "notifications".into(),
                "at most 32 flat entries of booleans, numbers or short strings".into(),
            ));
        }
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        for _ in 0..3 {
            let mut user = self.user(user_id).await?;
            if let Some(name) = &display_name {
                user.display_name = name.clone();
            }
            let p = &mut user.preferences;
            if let Some(v) = &patch.locale {
                p.locale = Some(v.clone());
            }
            if let Some(v) = &patch.timezone {
                p.timezone = Some(v.clone());
            }
            if let Some(v) = &patch.theme {
                p.theme = Some(v.clone());
            }
            if let Some(v) = &patch.accessibility {
                p.accessibility = v.clone();
            }
            if let Some(v) = &patch.notifications {
                p.notifications = v.clone();
            }
            match self.users.save(&mut user, self.epoch()).await {
                Ok(()) => return self.profile(user_id).await,
                Err(UserWriteError::Conflict) => continue,
                Err(e) => return Err(AccountError::Internal(e.to_string())),
            }
        }
        Err(AccountError::Conflict(
            "the account is busy; try again".into(),
        ))
    }

    /// Moves the account to a new address (needs the password): the new address must be verified again, the old
    /// one is told.
    pub async fn change_email(
        &self,
        user_id: &str,
        new_email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let new_email = valid_email(new_email)?;
        let user = self.user(user_id).await?;
        self.confirm_password(&user, password, "password", client)
            .await?;
        if crate::users::email_key(&new_email) == crate::users::email_key(&user.email) {
            return Err(AccountError::field(
                "email",
                "is already the account's address",
            ));
        }
        // The move, its audit record, the notice to the old address and the link to the new one: all or nothing.
        let (moved, ops) = Users::change_email_ops(&user, &new_email, self.epoch())?;
        let mut change = Change::new();
        change.ops(ops);
        change.audit(self.event(Action::EmailChanged, Some(user_id), user_id, client));
        change.send(self.email(
            &user,
            Some(&user.email),
            Template::EmailChanged {
                new_email: new_email.clone(),
            },
            &moved.version.to_string(),
        )?);
        self.send_verification(&mut change, &moved, &new_email)?;
        match self.commit(change).await {
            Ok(()) => Ok(()),
            // Operation 0 claims the new address. Saying it is taken would leak that it is in use, but only to a
            // signed-in owner who also proved their password.
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                Err(AccountError::field("email", "cannot be used"))
            }
            Err(TableError::TransactionCancelled { .. }) => {
                Err(AccountError::Conflict("try again".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A presigned upload for a new avatar image.
    pub async fn avatar_upload(
        &self,
        user_id: &str,
        content_type: &str,
    ) -> Result<lectern_shared::blobs::PresignedUpload, AccountError> {
        if !AVATAR_TYPES.contains(&content_type) {
            return Err(AccountError::field(
                "content_type",
                format!("one of {}", AVATAR_TYPES.join(", ")),
            ));
        }
        let key = format!(
            "{}{}",
            avatar_prefix(user_id),
            lectern_shared::ids::new_id()
        );
        // Removed by housekeeping unless confirmed (lectern_shared::blobs::pending).
        presign_pending(
            self.platform.blobs.as_ref(),
            self.platform.table.as_ref(),
            &key,
            &avatar_rules(content_type),
            self.epoch(),
        )
        .await
        .map_err(|e| AccountError::Internal(e.to_string()))
    }

    /// Accepts an uploaded avatar after checking its size and magic bytes; the key must be one of the caller's.
    pub async fn confirm_avatar(
        &self,
        user_id: &str,
        key: &str,
        content_type: &str,
    ) -> Result<ProfileView, AccountError> {
        if !key.starts_with(&avatar_prefix(user_id))
            || lectern_shared::blobs::validate_key(key).is_err()
        {
            return Err(AccountError::field("key", "not an avatar upload of yours"));
        }
        if !AVATAR_TYPES.contains(&content_type) {
            return Err(AccountError::field(
                "content_type",
                format!("one of {}", AVATAR_TYPES.join(", ")),
            ));
        }
        match confirm_upload(
            self.platform.blobs.as_ref(),
            key,
            &avatar_rules(content_type),
        )
        .await
        {
            Ok(_) => {}
            Err(refused) => {
                return Err(match refused.client_field() {
                    Ok((field, message)) => AccountError::field(field, message),
                    Err(store) => AccountError::Internal(store.to_string()),
                });
            }
        }
        // Kept from now on (before the save: a crash in between leaks the object, never deletes one in use).
        PendingUpload::settle(self.platform.table.as_ref(), key)
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        let mut user = self.user(user_id).await?;
        let previous = user.preferences.avatar_key.replace(key.to_string());
        self.users
            .save(&mut user, self.epoch())
            .await
            .map_err(|e| AccountError::Conflict(e.to_string()))?;
        // Confirming the current avatar again must not delete it.
        if let Some(old) = previous.filter(|old| old != key)
            && let Err(e) = self.platform.blobs.delete(&old).await
        {
            tracing::warn!(error = %e, "old avatar not deleted");
        }
        self.profile(user_id).await
    }

    /// Soft-deletes the account: sessions end now, the owner is emailed; signing in within the grace period (with
    /// every factor) restores it.
    pub async fn delete_account(
        &self,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<i64, AccountError> {
        self.delete_account_by(user_id, user_id, client).await
    }

    /// [`Accounts::delete_account`] done by `actor` (the owner, or an admin in a bulk operation; the audit record
    /// names who). The owner is emailed either way and can restore the account by signing in within the grace
    /// period.
    pub async fn delete_account_by(
        &self,
        actor: &str,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<i64, AccountError> {
        let before: User = self.user(user_id).await?;
        let now = self.epoch();
        let purge_after = now + self.config.deletion_grace_secs;
        let mut after = before.clone();
        after.status = Status::Deleted;
        after.deleted_at = Some(now);
        after.purge_after = Some(purge_after);
        // Guarded like an admin action: the last admin cannot delete themselves. The account, its sessions and the
        // audit record change together.
        let mut change = Change::new();
        let after = self.guarded(&mut change, &before, after).await?;
        change.end_sessions(self.sessions.keys(user_id, None).await?);
        change.audit(self.event(Action::AccountDeleted, Some(actor), user_id, client));
        let restore_until = time::OffsetDateTime::from_unix_timestamp(purge_after)
            .map_err(|e| AccountError::Internal(format!("purge time out of range: {e}")))?;
        change.send(self.notice(&after, Template::AccountDeleted { restore_until })?);
        self.commit(change).await.map_err(conflict)?;
        Ok(purge_after)
    }
}

/// Where an account's avatars are stored (erasing the account deletes everything under it).
pub fn avatar_prefix(user_id: &str) -> String {
    format!("avatars/{user_id}/")
}

fn avatar_rules(content_type: &str) -> UploadRules {
    UploadRules {
        content_type: content_type.to_string(),
        min_bytes: 1,
        max_bytes: AVATAR_MAX_BYTES,
        expires_in: AVATAR_UPLOAD_TTL,
    }
}
