//! Email jobs: the templated account email ([`NotifyEmail`]) and the pre-rendered one ([`SendEmail`]). The
//! notifications worker renders and sends both.

use std::net::IpAddr;

use lectern_shared::mail::Email;
use lectern_shared::queue::{JobKind, queues};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Job: render one account email and send it.
///
/// On the wire: `{"to": .., "name": .., "locale": .., "template": "password_reset", "data": {..}}`.
/// Enqueue it with an idempotency key (e.g. the token id or event id) so a retried request sends one email:
///
/// ```no_run
/// # async fn f(platform: &lectern_shared::Platform) -> Result<(), lectern_shared::queue::QueueError> {
/// use lectern_messages::{NotifyEmail, Template};
/// use lectern_shared::queue::{NewJob, enqueue};
///
/// let email = NotifyEmail::new(
///     "ada@example.com",
///     Template::PasswordReset { link: "https://app.example.com/reset#t=..".into(), expires_minutes: 30 },
/// )
/// .name("Ada")
/// .locale("en-GB");
/// let job = NewJob::new(&email)?.idempotency_key("reset:01J...");
/// enqueue::<NotifyEmail>(platform.queue.as_ref(), job).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyEmail {
    /// Recipient address.
    pub to: String,
    /// Recipient's display name, used in the greeting when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Preferred language as a BCP 47 tag (`fr-CA`) or an Accept-Language list; unknown languages fall back to
    /// English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Which email, with its data.
    #[serde(flatten)]
    pub template: Template,
}

impl NotifyEmail {
    /// An email to `to` with no display name and the default language.
    pub fn new(to: impl Into<String>, template: Template) -> Self {
        Self {
            to: to.into(),
            name: None,
            locale: None,
            template,
        }
    }

    /// Sets the recipient's display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the preferred language.
    pub fn locale(mut self, locale: impl Into<String>) -> Self {
        self.locale = Some(locale.into());
        self
    }
}

impl JobKind for NotifyEmail {
    const KIND: &'static str = "email.notify";
    const QUEUE: &'static str = queues::NOTIFICATIONS;
}

/// The account emails, each with the data it shows. Links must be absolute `http(s)` URLs; anything else fails
/// rendering (and the job, permanently). Times are shown in UTC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", content = "data", rename_all = "snake_case")]
pub enum Template {
    /// Confirm an email address (sign-up, or the new address of an email change).
    VerifyEmail {
        /// Confirmation link (holds the token).
        link: String,
        /// Short code to type in instead of opening the link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// How long the link and code stay valid.
        expires_minutes: u32,
    },
    /// Choose a new password after "forgot password".
    PasswordReset {
        /// Reset link (holds the token).
        link: String,
        /// How long the link stays valid.
        expires_minutes: u32,
    },
    /// Notice: the password was reset through a reset link.
    PasswordResetNotice,
    /// Notice: the password was changed from the account settings.
    PasswordChanged,
    /// Notice to the current address: someone asked to move the account to `new_email`.
    EmailChangeRequested {
        /// The requested address (shown masked).
        new_email: String,
    },
    /// Notice to the old address: the account now uses `new_email`.
    EmailChanged {
        /// The new address (shown masked).
        new_email: String,
    },
    /// Notice: sign-in is blocked after repeated failures.
    AccountLocked {
        /// When sign-in opens again (RFC 3339 on the wire).
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
    /// Notice: a sign-in from a device not seen before.
    NewLogin {
        /// What the device calls itself, e.g. "Firefox on Linux".
        device: String,
        /// Client address, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<IpAddr>,
        /// When the sign-in happened (RFC 3339 on the wire).
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Notice: two-factor authentication was turned on.
    TwoFactorEnabled,
    /// Notice: two-factor authentication was turned off.
    TwoFactorDisabled,
    /// Notice: a backup code was used to sign in.
    BackupCodeUsed {
        /// Backup codes left unused.
        remaining: u32,
    },
    /// Notice: someone tried to register a new account with this (already registered) address. Sent instead of
    /// a verification link so the answer to the registration request stays the same either way.
    RegistrationAttempt {
        /// Where the owner can reset a forgotten password.
        reset_link: String,
    },
    /// Answer to "forgot password" for an address with no active account: sent instead of a reset link, so the
    /// request costs and answers the same either way; tells whoever holds the address where to go instead.
    PasswordResetUnavailable {
        /// Where to create an account.
        signup_link: String,
    },
    /// Notice: an API key was created.
    ApiKeyCreated {
        /// The key's label (never the key itself).
        name: String,
    },
    /// The personal-data export the account asked for is ready to download until `expires_at`.
    DataExportReady {
        /// The download link (presigned; it holds its own authorisation).
        link: String,
        /// When the link stops working (RFC 3339 on the wire).
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// Notice: the account was deleted; signing in before `restore_until` restores it.
    AccountDeleted {
        /// When the account is removed for good (RFC 3339 on the wire).
        #[serde(with = "time::serde::rfc3339")]
        restore_until: OffsetDateTime,
    },
}

impl Template {
    /// The template's name as it travels (`password_reset`); safe to log.
    pub fn name(&self) -> &'static str {
        match self {
            Self::VerifyEmail { .. } => "verify_email",
            Self::PasswordReset { .. } => "password_reset",
            Self::PasswordResetNotice => "password_reset_notice",
            Self::PasswordChanged => "password_changed",
            Self::EmailChangeRequested { .. } => "email_change_requested",
            Self::EmailChanged { .. } => "email_changed",
            Self::AccountLocked { .. } => "account_locked",
            Self::NewLogin { .. } => "new_login",
            Self::TwoFactorEnabled => "two_factor_enabled",
            Self::TwoFactorDisabled => "two_factor_disabled",
            Self::BackupCodeUsed { .. } => "backup_code_used",
            Self::RegistrationAttempt { .. } => "registration_attempt",
            Self::PasswordResetUnavailable { .. } => "password_reset_unavailable",
            Self::ApiKeyCreated { .. } => "api_key_created",
            Self::AccountDeleted { .. } => "account_deleted",
            Self::DataExportReady { .. } => "data_export_ready",
        }
    }
}

/// Job: send one email its producer rendered itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SendEmail(pub Email);

impl JobKind for SendEmail {
    const KIND: &'static str = "email.send";
    const QUEUE: &'static str = queues::NOTIFICATIONS;
}
