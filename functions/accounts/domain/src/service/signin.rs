//! Signing in and out: password login (with lockout), the 2FA step, refresh rotation, logout.

use lectern_messages::Template;
use lectern_shared::http::client::ClientInfo;
use serde::Serialize;

use lectern_shared::table::{Condition, TableError, TxOp};

use super::{Accounts, TokenPair, origin};
use crate::audit::Action;
use crate::change::{Change, conflict};
use crate::errors::AccountError;
use crate::lockout::{self, AfterFailure};
use crate::sessions::{RefreshError, Session};
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
            self.record(self.event(Action::LoginFailed, None, &user.user_id, client))
                .await?;
            return Err(AccountError::InvalidCredentials);
        }
        if !verified.valid {
            self.count_failure(&user, client).await?;
            return Err(AccountError::InvalidCredentials);
        }
        self.admissible(&user, client).await?;
        if user.two_factor_enabled() {
            // A deleted account is restored only once every factor checked out (`verify_two_factor`): a password
            // alone must not undo a deletion the owner asked for.
            if verified.needs_rehash {
                self.rehash(&user, password).await;
            }
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
        // Signed in: the lockout cleared, a deleted account restored, the session started and audited, together.
        let mut change = Change::new();
        let user = self.restore_if_deleted(&mut change, user, client).await?;
        change.op(lockout::clear_op(&user.user_id));
        let (session, refresh) = self.start_session(&mut change, &user, client).await?;
        self.commit(change).await.map_err(conflict)?;
        if verified.needs_rehash {
            self.rehash(&user, password).await;
        }
        Ok(LoginOutcome::Authenticated(self.pair(&session, refresh)?))
    }

    /// Checks the account may sign in at all: a suspended one may not, nor a deleted one past its grace period.
    /// Changes nothing: a deleted account inside its grace period is restored by [`Accounts::restore_if_deleted`]
    /// once every factor checked out.
    pub(crate) async fn admissible(
        &self,
        user: &User,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        match user.status {
            Status::Active => Ok(()),
            Status::Suspended => {
                self.record(self.event(Action::LoginFailed, None, &user.user_id, client))
                    .await?;
                Err(AccountError::Suspended)
            }
            Status::Deleted if user.purge_after.is_some_and(|p| p <= self.epoch()) => {
                Err(AccountError::InvalidCredentials)
            }
            Status::Deleted => Ok(()),
        }
    }

    /// Adds to `change` the restoration of a soft-deleted account (signing in within the grace period restores
    /// it), guarded like every status change, and its audit record. Answers the account as it will be stored.
    pub(crate) async fn restore_if_deleted(
        &self,
        change: &mut Change,
        user: User,
        client: &ClientInfo,
    ) -> Result<User, AccountError> {
        if user.status != Status::Deleted {
            return Ok(user);
        }
        let mut after = user.clone();
        after.status = Status::Active;
        after.deleted_at = None;
        after.purge_after = None;
        let after = self.guarded(change, &user, after).await?;
        change.audit(self.event(
            Action::AccountRestored,
            Some(&after.user_id),
            &after.user_id,
            client,
        ));
        Ok(after)
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

    /// Counts a failed password or code toward lockout; the failure that locks the account locks it, audits it
    /// and emails the owner in one transaction.
    pub(crate) async fn count_failure(
        &self,
        user: &User,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        self.record(self.event(Action::LoginFailed, None, &user.user_id, client))
            .await?;
        if let AfterFailure::Reached(until) = self
            .lockout
            .record_failure(&user.user_id, self.epoch())
            .await?
        {
            let until_at =
                time::OffsetDateTime::from_unix_timestamp(until).unwrap_or_else(|_| self.now());
            let mut change = Change::new();
            change.op(lockout::lock_op(&user.user_id, until));
            change.audit(self.event(Action::AccountLocked, None, &user.user_id, client));
            change.send(self.email(
                user,
                None,
                Template::AccountLocked { until: until_at },
                &until.to_string(),
            )?);
            match self.commit(change).await {
                // Another failure locked it at the same moment, with its own record and email.
                Ok(()) | Err(TableError::TransactionCancelled { index: Some(0), .. }) => {}
                Err(e) => return Err(e.into()),
            }
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

    /// Adds to `change` a session for a user whose every factor checked out, its audit record, and a warning to the
    /// owner about a device not seen before. Answers the session and its first refresh token (valid once committed).
    pub(crate) async fn start_session(
        &self,
        change: &mut Change,
        user: &User,
        client: &ClientInfo,
    ) -> Result<(Session, String), AccountError> {
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
        let (session, refresh, ops) =
            self.sessions
                .start_ops(&user.user_id, &origin(client), now)?;
        change.ops(ops);
        change.audit(self.event(
            Action::LoginSucceeded,
            Some(&user.user_id),
            &user.user_id,
            client,
        ));
        if !known_device {
            let template = Template::NewLogin {
                device: client.user_agent.clone().unwrap_or_default(),
                ip: client.ip,
                at: self.now(),
            };
            change.send(self.email(user, None, template, &session.session_id)?);
        }
        Ok((session, refresh))
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
                // Theft is likely: the session ends, and the reuse is audited, together.
                let mut change = Change::new();
                change.end_sessions([Session::key_of(&user_id, &session_id)]);
                let mut details = serde_json::Map::new();
                details.insert("session_id".into(), session_id.into());
                change.audit(self.event_with(
                    Action::RefreshReuseDetected,
                    None,
                    &user_id,
                    client,
                    details,
                ));
                self.commit(change).await?;
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
        let mut change = Change::new();
        change.end_sessions([Session::key_of(user_id, session_id)]);
        change.audit(self.event(Action::Logout, Some(user_id), user_id, client));
        Ok(self.commit(change).await?)
    }

    /// Ends every session of the caller.
    pub async fn logout_all(
        &self,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<usize, AccountError> {
        self.end_every_session(Action::LogoutAll, user_id, user_id, client)
            .await
    }

    /// Ends every session of `user_id` and records `action` by `actor`, together; answers how many ended.
    pub(crate) async fn end_every_session(
        &self,
        action: Action,
        actor: &str,
        user_id: &str,
        client: &ClientInfo,
    ) -> Result<usize, AccountError> {
        let sessions = self.sessions.keys(user_id, None).await?;
        let ended = sessions.len();
        let mut change = Change::new();
        change.end_sessions(sessions);
        change.audit(self.event(action, Some(actor), user_id, client));
        self.commit(change).await?;
        Ok(ended)
    }

    /// Ends one of the caller's sessions; `false` when there is no such session of theirs.
    pub async fn revoke_session(
        &self,
        user_id: &str,
        session_id: &str,
        client: &ClientInfo,
    ) -> Result<bool, AccountError> {
        let mut change = Change::new();
        change.op(TxOp::Delete {
            key: Session::key_of(user_id, session_id),
            condition: Condition::Exists,
        });
        change.audit(self.event(Action::SessionRevoked, Some(user_id), user_id, client));
        match self.commit(change).await {
            Ok(()) => Ok(true),
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
