//! Signing in and out: password login (with lockout), the 2FA step, refresh rotation, logout.

use lectern_messages::Template;
use lectern_shared::http::client::ClientInfo;
use serde::Serialize;

use lectern_shared::ratelimit::{RouteClass, Subject};
use lectern_shared::table::{Condition, Entity, Key, TableError, TxOp};

use super::{Accounts, TokenPair, origin};
use crate::audit::Action;
use crate::change::{Change, conflict};
use crate::errors::AccountError;
use crate::lockout::{self, AfterFailure};
use crate::sessions::{RefreshError, Session};
use crate::tokens::TokenKind;
use crate::users::{EmailClaim, Status, User};

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
    /// after the same amount of hashing work and the same storage round trips: an address nobody holds is
    /// counted, audited and locked under a pseudonym (a keyed digest of the address), exactly as an account is, so
    /// neither the answer nor its cost says whether the address is registered. (Once an unknown address's
    /// failures reach the lock, no email goes out — there is nobody to tell.)
    ///
    /// The caller has checked the client network's failure budget ([`Accounts::failure_budget`]).
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
        let source = self.source(client);
        // Two reads whoever asks: the address's claim, then the account (or its pseudonym's) with both lockout
        // counters in one batch.
        let subject = self.subject_of(email).await?;
        let user_key = User::key_of(&subject);
        let mut keys = vec![user_key.clone()];
        keys.extend(lockout::keys(&subject, &source));
        let mut items = self.platform.table.batch_get(&keys).await?;
        let user = match items
            .iter()
            .position(|i| Key::of(i).as_ref() == Some(&user_key))
        {
            Some(at) => Some(User::from_item(items.swap_remove(at))?),
            None => None,
        };
        let locked = lockout::locked_until(&items, now);
        let verified = match &user {
            Some(user) => Some(
                self.hasher
                    .verify(password, &user.password_hash)
                    .await
                    .map_err(|e| AccountError::Internal(e.to_string()))?,
            ),
            None => {
                self.hasher.verify_dummy(password).await;
                None
            }
        };
        let valid = verified.as_ref().is_some_and(|v| v.valid);
        if !valid || locked.is_some() {
            if locked.is_some() {
                // Even the right password does not open a locked account (for this source); the owner has been
                // emailed. Not counted again, so one source adds at most `threshold` to the account-wide count.
                self.record(self.event(Action::LoginFailed, None, &subject, client))
                    .await?;
                self.count_network_failure(client).await;
            } else {
                self.count_failure(&subject, user.as_ref(), client).await?;
            }
            return Err(AccountError::InvalidCredentials);
        }
        let (Some(user), Some(verified)) = (user, verified) else {
            return Err(AccountError::InvalidCredentials);
        };
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
        change.op(lockout::clear_source_op(&user.user_id, &source));
        let (session, refresh) = self.start_session(&mut change, &user, client).await?;
        self.commit(change).await.map_err(conflict)?;
        if verified.needs_rehash {
            self.rehash(&user, password).await;
        }
        self.mark_active(&user.user_id).await;
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
            .locked_until(&user.user_id, &self.source(client), self.epoch())
            .await?
            .is_some();
        let verified = self
            .hasher
            .verify(password, &user.password_hash)
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        if locked || !verified.valid {
            if !locked {
                self.count_failure(&user.user_id, Some(user), client)
                    .await?;
            }
            return Err(AccountError::field(
                field,
                "is not correct, or sign-in is temporarily locked",
            ));
        }
        Ok(())
    }

    /// Counts a failed password or code of `subject` (an account, or an unknown address's pseudonym) from the
    /// client's source toward lockout, and against the client network's failure budget. The failure that locks
    /// locks, audits it and emails the owner (when there is one) in one transaction.
    pub(crate) async fn count_failure(
        &self,
        subject: &str,
        owner: Option<&User>,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        self.record(self.event(Action::LoginFailed, None, subject, client))
            .await?;
        self.count_network_failure(client).await;
        let source = self.source(client);
        if let AfterFailure::Reached(scope, until) = self
            .lockout
            .record_failure(subject, &source, self.epoch())
            .await?
        {
            let until_at =
                time::OffsetDateTime::from_unix_timestamp(until).unwrap_or_else(|_| self.now());
            let mut change = Change::new();
            change.op(lockout::lock_op(subject, &source, scope, until));
            let mut details = serde_json::Map::new();
            let scope_name = match scope {
                lockout::Scope::Source => "source",
                lockout::Scope::Account => "account",
            };
            details.insert("scope".into(), scope_name.into());
            change.audit(self.event_with(Action::AccountLocked, None, subject, client, details));
            if let Some(user) = owner {
                change.send(self.email(
                    user,
                    None,
                    Template::AccountLocked { until: until_at },
                    &until.to_string(),
                )?);
            }
            match self.commit(change).await {
                // Another failure locked it at the same moment, with its own record and email.
                Ok(()) | Err(TableError::TransactionCancelled { index: Some(0), .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Spends one of the client network's failed checks (`failures` class). Best effort: the budget guards the
    /// next attempts, and a store hiccup here must not turn a wrong password into a 503.
    pub(crate) async fn count_network_failure(&self, client: &ClientInfo) {
        let network = Subject::ip(client.ip);
        if let Err(e) = self
            .platform
            .limiter
            .check(RouteClass::Failures, &network)
            .await
        {
            tracing::warn!(error = %e, "could not count a failed check against the network's budget");
        }
    }

    /// Refuses (429) a client network that has spent its budget of failed credential checks, before any check
    /// runs; credential routes call this first.
    pub fn failure_budget(&self, client: &ClientInfo) -> Result<(), lectern_shared::http::Problem> {
        match self
            .platform
            .limiter
            .spent(RouteClass::Failures, &Subject::ip(client.ip))
        {
            Some(decision) => decision.require(),
            None => Ok(()),
        }
    }

    /// The lockout's name for the client's source (its network, keyed; never the IP itself).
    pub(crate) fn source(&self, client: &ClientInfo) -> String {
        self.platform
            .limiter
            .digest("lockout-source", &Subject::ip(client.ip))
    }

    /// Who an address names, in one read of its claim: the account holding it, or else its pseudonym, so that an
    /// unknown address is treated (read, counted, audited) exactly like a registered one.
    pub(crate) async fn subject_of(&self, email: &str) -> Result<String, AccountError> {
        Ok(
            match self.platform.table.get(&EmailClaim::key_of(email)).await? {
                Some(item) => EmailClaim::from_item(item)?.user_id,
                None => self.pseudonym(email),
            },
        )
    }

    /// The stand-in account id of an address nobody holds, so its failures are counted like an account's.
    fn pseudonym(&self, email: &str) -> String {
        let digest = self.platform.limiter.digest(
            "login-pseudonym",
            &Subject::Account(crate::users::email_key(email)),
        );
        format!("unknown-{digest}")
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
                self.mark_active(&session.user_id).await;
                self.pair(&session, refresh)
            }
            Err(RefreshError::Invalid) => {
                // Not a guess worth making (256 bits), but a stream of them is someone probing: they count
                // against the network's budget of failed checks, as wrong passwords do.
                self.count_network_failure(client).await;
                Err(AccountError::InvalidToken)
            }
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
