//! Signing in and out: password login (with lockout), the 2FA step, refresh rotation, logout.

use lectern_messages::Template;
use lectern_shared::http::client::ClientInfo;
use serde::Serialize;

use super::{Accounts, TokenPair, origin};
use crate::audit::Action;
use crate::errors::AccountError;
use crate::lockout::AfterFailure;
use crate::sessions::RefreshError;
use crate::tokens::TokenKind;
use crate::users::{Status, User};

/// The result of a correct password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LoginOutcome {
    /// Signed in.
    Authenticated(TokenPair),
    /// 2FA is on: send `challenge` with a TOTP or backup code to `POST /v1/auth/2fa/verify`.
    TwoFactorRequired {
        challenge: String,
        /// Seconds the challenge stays valid.
        expires_in: u64,
    },
}

/// The largest password we even look at (the policy caps new ones at 128; this bounds hashing work).
const MAX_PASSWORD_BYTES: usize = 1024;

impl Accounts {
    /// Password sign-in. Unknown email, wrong password and a locked account all answer `InvalidCredentials`,
    /// after the same amount of hashing work.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<LoginOutcome, AccountError> {
        // No account has such an address: registration refuses over-long ones and control characters, and a NUL
        // cannot even be looked up (no store key may hold one).
        if password.len() > MAX_PASSWORD_BYTES || email.len() > 320 || email.contains('\0') {
            return Err(AccountError::InvalidCredentials);
        }
        let now = self.epoch();
        let Some(user) = self.users.find_by_email(email).await? else {
            self.hasher.verify_dummy(password).await;
            self.audit_anonymous_failure(client).await;
            return Err(AccountError::InvalidCredentials);
        };
        let locked = self.lockout.locked_until(&user.user_id, now).await?;
        let verified = self
            .hasher
            .verify(password, &user.password_hash)
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        if locked.is_some() {
            // Even the right password does not open a locked account; the owner has been emailed.
            self.audit(Action::LoginFailed, None, &user.user_id, client)
                .await;
            return Err(AccountError::InvalidCredentials);
        }
        if !verified.valid {
            self.count_failure(&user, client).await?;
            return Err(AccountError::InvalidCredentials);
        }
        let user = self.admit(user, client).await?;
        if verified.needs_rehash {
            self.rehash(&user, password).await;
        }
        if user.two_factor_enabled() {
            let ttl = std::time::Duration::from_secs(self.config.challenge_ttl_secs);
            let (challenge, _) = self
                .tokens
                .issue(
                    TokenKind::Challenge,
                    &user.user_id,
                    None,
                    now,
                    self.now(),
                    ttl,
                )
                .map_err(|e| AccountError::Internal(e.to_string()))?;
            return Ok(LoginOutcome::TwoFactorRequired {
                challenge,
                expires_in: self.config.challenge_ttl_secs,
            });
        }
        self.lockout.clear(&user.user_id).await?;
        Ok(LoginOutcome::Authenticated(
            self.start_session(&user, client).await?,
        ))
    }

    /// Checks the account may sign in; a deleted account inside its grace period is restored by signing in.
    async fn admit(&self, mut user: User, client: &ClientInfo) -> Result<User, AccountError> {
        match user.status {
            Status::Active => Ok(user),
            Status::Suspended => {
                self.audit(Action::LoginFailed, None, &user.user_id, client)
                    .await;
                Err(AccountError::Suspended)
            }
            Status::Deleted => {
                let now = self.epoch();
                if user.purge_after.is_some_and(|p| p <= now) {
                    return Err(AccountError::InvalidCredentials);
                }
                let before = user.clone();
                user.status = Status::Active;
                user.deleted_at = None;
                user.purge_after = None;
                let user = self.save_guarded(&before, user).await?;
                self.audit(
                    Action::AccountRestored,
                    Some(&user.user_id),
                    &user.user_id,
                    client,
                )
                .await;
                Ok(user)
            }
        }
    }

    /// Checks the password of a signed-in user before a sensitive change. While sign-in is locked the answer is
    /// the same as for a wrong password, so a stolen session cannot keep guessing past the lockout.
    pub(crate) async fn confirm_password(
        &self,
        user: &User,
        password: &str,
        field: &str,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let locked = self
            .lockout
            .locked_until(&user.user_id, self.epoch())
            .await?
            .is_some();
        let verified = self
            .hasher
            .verify(password, &user.password_hash)
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        if locked || !verified.valid {
            if !locked {
                self.count_failure(user, client).await?;
            }
            return Err(AccountError::field(
                field,
                "is not correct, or sign-in is temporarily locked",
            ));
        }
        Ok(())
    }

    /// Counts a failed password or code toward lockout; the failure that locks the account is audited and the
    /// owner emailed.
    pub(crate) async fn count_failure(
        &self,
        user: &User,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        self.audit(Action::LoginFailed, None, &user.user_id, client)
            .await;
        if let AfterFailure::LockedNow(until) = self
            .lockout
            .record_failure(&user.user_id, self.epoch())
            .await?
        {
            self.audit(Action::AccountLocked, None, &user.user_id, client)
                .await;
            let until_at =
                time::OffsetDateTime::from_unix_timestamp(until).unwrap_or_else(|_| self.now());
            self.notify(
                user,
                None,
                Template::AccountLocked { until: until_at },
                &until.to_string(),
            )
            .await;
        }
        Ok(())
    }

    async fn audit_anonymous_failure(&self, client: &ClientInfo) {
        // No account to file it under: keep it in the logs (with the request id) rather than the table.
        tracing::info!(ip = ?client.ip, "login for unknown email");
    }

    /// Re-hashes a password whose hash used older parameters. Best effort.
    async fn rehash(&self, user: &User, password: &str) {
        let Ok(hash) = self.hasher.hash(password).await else {
            return;
        };
        let mut user = user.clone();
        user.password_hash = hash;
        if let Err(e) = self.users.save(&mut user, self.epoch()).await {
            tracing::info!(error = %e, "password rehash skipped");
        }
    }

    /// Starts a session after every factor checked out; warns the owner about a device not seen before.
    pub(crate) async fn start_session(
        &self,
        user: &User,
        client: &ClientInfo,
    ) -> Result<TokenPair, AccountError> {
        let now = self.epoch();
        let known_device = match &client.user_agent {
            Some(ua) => self
                .sessions
                .list(&user.user_id, now)
                .await?
                .iter()
                .any(|s| s.user_agent.as_deref() == Some(ua)),
            None => true,
        };
        let (session, refresh) = self
            .sessions
            .start(&user.user_id, &origin(client), now)
            .await?;
        self.audit(
            Action::LoginSucceeded,
            Some(&user.user_id),
            &user.user_id,
            client,
        )
        .await;
        if !known_device {
            let template = Template::NewLogin {
                device: client.user_agent.clone().unwrap_or_default(),
                ip: client.ip,
                at: self.now(),
            };
            self.notify(user, None, template, &session.session_id).await;
        }
        self.pair(&session, refresh)
    }

    /// Rotates a refresh token. Reuse of a rotated token ends the session and is audited.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> Result<TokenPair, AccountError> {
        match self
            .sessions
            .rotate(token, &origin(client), self.epoch())
            .await
        {
            Ok((session, refresh)) => {
                // The account may have been suspended or deleted since: its sessions must not live on.
                let user = self.users.get(&session.user_id).await?;
                if !user.is_some_and(|u| u.status == Status::Active) {
                    self.sessions
                        .end(&session.user_id, &session.session_id)
                        .await?;
                    return Err(AccountError::InvalidToken);
                }
                self.pair(&session, refresh)
            }
            Err(RefreshError::Invalid) => Err(AccountError::InvalidToken),
            Err(RefreshError::Raced) => Err(AccountError::RefreshRaced),
            Err(RefreshError::Reused {
                user_id,
                session_id,
            }) => {
                let mut details = serde_json::Map::new();
                details.insert("session_id".into(), session_id.into());
                self.audit_with(
                    Action::RefreshReuseDetected,
                    None,
                    &user_id,
                    client,
                    details,
                )
                .await;
                Err(AccountError::RefreshReused)
            }
            Err(RefreshError::Store(e)) => Err(e.into()),
        }
    }

    /// Ends the caller's session.
    pub async fn logout(
        &self,
        user_id: &str,
        session_id: &str,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        self.sessions.end(user_id, session_id).await?;
        self.audit(Action::Logout, Some(user_id), user_id, client)
            .await;
        Ok(())
    }

    /// Ends every session of the caller.
    pub async fn logout_all(
        &self,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<usize, AccountError> {
        let ended = self.sessions.end_all(user_id, None).await?;
        self.audit(Action::LogoutAll, Some(user_id), user_id, client)
            .await;
        Ok(ended)
    }
}
