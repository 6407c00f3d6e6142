//! The accounts use cases, on the ports. Routes in the `auth`, `users` and `admin` functions are thin wrappers
//! around these methods.

pub mod admin;
pub mod bulk;
pub mod profile;
mod recovery;
mod signin;
pub mod signup;

use std::sync::Arc;

use lectern_shared::Platform;
use lectern_shared::config::Backend;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::secrets::Purpose;
use serde::Serialize;
use time::OffsetDateTime;

use crate::audit::AuditLog;
use crate::config::AccountsConfig;
use crate::crypto::SecretBox;
use crate::errors::AccountError;
use crate::lockout::Lockout;
use crate::onetime::OneTimeTokens;
use crate::password::{Argon2Params, PasswordHasher};
use crate::sessions::{Origin, Session, Sessions};
use crate::signing_keys::KeyRing;
use crate::tokens::{TokenKind, TokenService};
use crate::twofactor::backup_codes::CodeHasher;
use crate::users::{User, Users};

pub use signin::LoginOutcome;

/// Tokens handed to a client after sign-in or refresh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque, single-use token for `POST /v1/auth/refresh`.
    pub refresh_token: String,
    /// The session these tokens belong to.
    pub session_id: String,
}

/// Everything the accounts use cases need, built once per process.
pub struct Accounts {
    pub platform: Platform,
    pub config: AccountsConfig,
    pub users: Users,
    pub sessions: Sessions,
    pub tokens: TokenService,
    pub onetime: OneTimeTokens,
    pub lockout: Lockout,
    pub audit: AuditLog,
    pub hasher: PasswordHasher,
    pub(crate) secrets: SecretBox,
    pub(crate) backup_codes: CodeHasher,
    /// Whom this instance counted active today (`stats`).
    pub(crate) active_today: crate::stats::ActiveToday,
}

impl Accounts {
    /// Builds the service from the platform and the environment.
    /// The accounts as a function serving the accounts' own routes (`auth`, `users`, `admin`) needs them: its
    /// lists sign cursors and every change of an account may leave a job (an email, an audit record) in the
    /// outbox, so it refuses to start without the cursor and outbox rings. Functions that only authenticate
    /// their callers use [`Accounts::from_env`].
    pub fn for_account_routes(platform: Platform) -> anyhow::Result<Arc<Self>> {
        platform.keys.require(Purpose::Cursor)?;
        platform.keys.require(Purpose::Outbox)?;
        Self::from_env(platform)
    }

    /// The accounts from the environment, for any function: what authenticating callers and minting sessions
    /// need (the token keys, the rate-limit ring).
    pub fn from_env(platform: Platform) -> anyhow::Result<Arc<Self>> {
        let config = AccountsConfig::from_env(&platform.config)?;
        let argon = Argon2Params::from_lookup(|k| std::env::var(k).ok())?;
        Self::new(platform, config, argon)
    }

    pub fn new(
        platform: Platform,
        config: AccountsConfig,
        argon: Argon2Params,
    ) -> anyhow::Result<Arc<Self>> {
        // Each function gets what it uses (README, "Secrets and rotation"): the issuer of tokens its private keys,
        // every other function the public keys; only the functions that handle 2FA the TOTP keys.
        let keys = match (platform.keys.get(Purpose::Jwt), &config.jwt_public_keys) {
            (Some(ring), _) => KeyRing::from_ring(ring)?,
            (None, Some(public)) => KeyRing::verify_only(public)?,
            (None, None) if platform.config.backend == Backend::Embedded => {
                KeyRing::local(&platform.config.data_dir)?
            }
            (None, None) => anyhow::bail!(
                "no access-token keys: set LECTERN_SECRET_JWT (the issuer) or LECTERN_JWT_PUBLIC_KEYS (verifiers)"
            ),
        };
        // Rate limits are on every route of every function that authenticates (the accounts' own routes also
        // need the cursor and outbox rings: `Accounts::for_account_routes`).
        platform.keys.require(Purpose::RateLimit)?;
        let (secrets, backup_codes) = match platform.keys.get(Purpose::Totp) {
            Some(ring) => (SecretBox::from_ring(ring), CodeHasher::from_ring(ring)),
            None => {
                tracing::info!(
                    "no TOTP keys: this function does not handle two-factor authentication"
                );
                (SecretBox::none(), CodeHasher::none())
            }
        };
        let table = platform.table.clone();
        Ok(Arc::new(Self {
            users: Users::new(table.clone()),
            sessions: Sessions::new(table.clone(), config.sessions),
            tokens: TokenService::new(keys, config.issuer.clone(), config.audience.clone()),
            onetime: OneTimeTokens::new(table.clone()),
            lockout: Lockout::new(table.clone(), config.lockout),
            audit: AuditLog::new(table),
            hasher: PasswordHasher::new(argon)?,
            secrets,
            backup_codes,
            active_today: Default::default(),
            platform,
            config,
        }))
    }

    pub fn now(&self) -> OffsetDateTime {
        self.platform.clock.now()
    }

    pub fn epoch(&self) -> i64 {
        self.platform.clock.epoch_seconds()
    }

    /// Issues an access token for a session.
    pub fn access_token(&self, session: &Session) -> Result<(String, u64), AccountError> {
        let ttl = std::time::Duration::from_secs(self.config.access_ttl_secs);
        let (token, _) = self
            .tokens
            .issue(
                TokenKind::Access,
                &session.user_id,
                Some(&session.session_id),
                session.auth_time,
                self.now(),
                ttl,
            )
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        Ok((token, self.config.access_ttl_secs))
    }

    pub(crate) fn pair(
        &self,
        session: &Session,
        refresh_token: String,
    ) -> Result<TokenPair, AccountError> {
        let (access_token, expires_in) = self.access_token(session)?;
        Ok(TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in,
            refresh_token,
            session_id: session.session_id.clone(),
        })
    }

    /// Counts a request of the `expensive` class per client IP and per `account` (see
    /// [`lectern_shared::ratelimit::RateLimiter::enforce_expensive`]).
    pub async fn limit_expensive(
        &self,
        client: &ClientInfo,
        account: &str,
    ) -> Result<(), lectern_shared::http::Problem> {
        self.platform
            .limiter
            .enforce_expensive(client.ip, account)
            .await
    }

    /// The per-IP half of [`Accounts::limit_expensive`], for routes whose per-address budget is spent silently
    /// (forgot-password: an owner must never be refused recovery because someone else asked too often).
    pub async fn limit_expensive_network(
        &self,
        client: &ClientInfo,
    ) -> Result<(), lectern_shared::http::Problem> {
        use lectern_shared::ratelimit::{RouteClass, Subject};
        self.platform
            .limiter
            .enforce(RouteClass::Expensive, &Subject::ip(client.ip))
            .await?;
        Ok(())
    }

    /// Loads an account that must exist.
    pub async fn user(&self, user_id: &str) -> Result<User, AccountError> {
        self.users.get(user_id).await?.ok_or(AccountError::NotFound)
    }
}

/// The request origin recorded on sessions.
pub fn origin(client: &ClientInfo) -> Origin {
    Origin {
        ip: client.ip.map(|ip| ip.to_string()),
        user_agent: client.user_agent.clone(),
    }
}
