//! Accounts configuration, read from the environment next to the platform's [`lectern_shared::Config`]. Every
//! variable is in the README's configuration table.

use lectern_shared::config::{Backend, ConfigError};
use lectern_shared::secrets::Purpose;

use crate::lockout::LockoutPolicy;
use crate::sessions::SessionPolicy;

/// Accounts settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountsConfig {
    /// `iss` of our tokens (default: the public URL).
    pub issuer: String,
    /// `aud` of our tokens.
    pub audience: String,
    /// `kid:base64url(x)` public keys of the access-token issuer, for functions that only verify tokens (on AWS
    /// every function but `auth`; the private keys are the platform's `jwt` key ring).
    pub jwt_public_keys: Option<String>,
    pub access_ttl_secs: u64,
    pub challenge_ttl_secs: u64,
    pub sessions: SessionPolicy,
    pub lockout: LockoutPolicy,
    pub verify_email_ttl_secs: i64,
    pub reset_password_ttl_secs: i64,
    /// How recent a sign-in must be for email/2FA/password changes.
    pub reauth_max_age_secs: i64,
    /// How long a deleted account can be restored by signing in.
    pub deletion_grace_secs: i64,
    /// Where links in emails point (the app's verify/reset pages).
    pub app_url: String,
    /// Shown in authenticator apps.
    pub totp_issuer: String,
    /// Email of the account to promote to admin at start-up (bootstrap on AWS).
    pub bootstrap_admin_email: Option<String>,
    /// Whether a request sends the emails it committed right away (the outbox's fast path). Always on in service;
    /// tests turn it off to stand for a process that died between the commit and the send, leaving the emails to
    /// the relay.
    pub outbox_fast_path: bool,
}

impl AccountsConfig {
    pub fn from_env(platform: &lectern_shared::Config) -> Result<Self, ConfigError> {
        Self::from_lookup(platform, |k| std::env::var(k).ok())
    }

    pub fn from_lookup(
        platform: &lectern_shared::Config,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let num =
            |name: &'static str, default: i64, min: i64, max: i64| -> Result<i64, ConfigError> {
                match var(name) {
                    None => Ok(default),
                    Some(v) => match v.trim().parse::<i64>() {
                        Ok(n) if (min..=max).contains(&n) => Ok(n),
                        _ => Err(ConfigError {
                            var: name,
                            problem: format!("{v:?} is not a number in {min}..={max}"),
                        }),
                    },
                }
            };
        let jwt_public_keys = var("LECTERN_JWT_PUBLIC_KEYS");
        if platform.backend == Backend::Aws
            && jwt_public_keys.is_none()
            && !platform.secrets.secrets.contains_key(&Purpose::Jwt)
        {
            return Err(ConfigError {
                var: "LECTERN_JWT_PUBLIC_KEYS",
                problem: "required on the aws backend, unless this function issues tokens (LECTERN_SECRET_JWT)"
                    .into(),
            });
        }
        const DAY: i64 = 24 * 3600;
        Ok(Self {
            issuer: var("LECTERN_JWT_ISSUER").unwrap_or_else(|| platform.public_url.clone()),
            audience: var("LECTERN_JWT_AUDIENCE").unwrap_or_else(|| "lectern".into()),
            jwt_public_keys,
            access_ttl_secs: num("LECTERN_ACCESS_TOKEN_TTL_SECS", 900, 60, 3600)? as u64,
            challenge_ttl_secs: 300,
            sessions: SessionPolicy {
                idle_secs: num("LECTERN_SESSION_IDLE_SECS", 14 * DAY, 300, 90 * DAY)?,
                absolute_secs: num("LECTERN_SESSION_ABSOLUTE_SECS", 60 * DAY, 3600, 365 * DAY)?,
                reuse_grace_secs: num("LECTERN_REFRESH_REUSE_GRACE_SECS", 5, 0, 60)?,
            },
            lockout: LockoutPolicy {
                threshold: num("LECTERN_LOCKOUT_THRESHOLD", 5, 3, 100)?,
                window_secs: num("LECTERN_LOCKOUT_WINDOW_SECS", 900, 60, DAY)?,
                duration_secs: num("LECTERN_LOCKOUT_DURATION_SECS", 900, 60, 7 * DAY)?,
                account_threshold: num("LECTERN_LOCKOUT_ACCOUNT_THRESHOLD", 50, 10, 10_000)?,
                account_window_secs: num("LECTERN_LOCKOUT_ACCOUNT_WINDOW_SECS", DAY, 900, 7 * DAY)?,
                account_duration_secs: num(
                    "LECTERN_LOCKOUT_ACCOUNT_DURATION_SECS",
                    3600,
                    60,
                    7 * DAY,
                )?,
            },
            verify_email_ttl_secs: DAY,
            reset_password_ttl_secs: 900,
            reauth_max_age_secs: num("LECTERN_REAUTH_MAX_AGE_SECS", 600, 60, DAY)?,
            // At least a week: job claims keep an email's idempotency key (it holds the user id) for 7 days, and
            // the purge at the end of the grace period must find nothing of the account left.
            deletion_grace_secs: num("LECTERN_DELETION_GRACE_DAYS", 30, 7, 365)? * DAY,
            // The same default as the notifications worker's branding, so links and footers agree.
            app_url: var("LECTERN_APP_URL")
                .unwrap_or_else(|| "http://localhost:3000".into())
                .trim_end_matches('/')
                .to_string(),
            totp_issuer: var("LECTERN_PRODUCT_NAME").unwrap_or_else(|| "Lectern".into()),
            bootstrap_admin_email: var("LECTERN_BOOTSTRAP_ADMIN_EMAIL"),
            outbox_fast_path: true,
        })
    }
}
