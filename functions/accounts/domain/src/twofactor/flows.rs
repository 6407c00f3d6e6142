//! The two-factor use cases: enrolment, the login step, and turning it off.

use lectern_messages::Template;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::table::{Condition, Entity, TableError, TxOp};
use serde::Serialize;

use super::challenges::SpentChallenge;
use super::{backup_codes, qr, totp};
use crate::audit::Action;
use crate::change::{Change, conflict};
use crate::errors::AccountError;
use crate::lockout;
use crate::service::{Accounts, TokenPair};
use crate::tokens::TokenKind;
use crate::users::{Status, TwoFactor, User, UserWriteError, Users};

/// How many backup codes enrolment hands out.
pub const BACKUP_CODES: usize = 10;

/// What `2fa/setup` returns: the secret in every form an authenticator app takes.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// Base32 secret, for typing in.
    pub secret: String,
    /// `otpauth://` URI, for links on mobile.
    pub otpauth_uri: String,
    /// The URI as a QR code (SVG document).
    pub qr_svg: String,
}

/// Which second factor passed.
enum Passed {
    Totp(u64),
    Backup(usize),
}

impl Accounts {
    fn totp_secret(&self, user: &User, two_factor: &TwoFactor) -> Result<Vec<u8>, AccountError> {
        self.secrets
            .open(&two_factor.sealed_secret, user.user_id.as_bytes())
            .map_err(|_| AccountError::Internal("stored TOTP secret does not open".into()))
    }

    /// Starts enrolment: a new secret, not yet required at login until confirmed with a code.
    pub async fn setup_two_factor(&self, user_id: &str) -> Result<Enrolment, AccountError> {
        let mut user = self.user(user_id).await?;
        if user.two_factor_enabled() {
            return Err(AccountError::Conflict(
                "two-factor authentication is already on; turn it off first".into(),
            ));
        }
        let secret = totp::generate_secret();
        let sealed = self
            .secrets
            .seal(&secret, user.user_id.as_bytes())
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        let uri = totp::otpauth_uri(&secret, &self.config.totp_issuer, &user.email);
        let qr_svg = qr::svg(&uri).map_err(|e| AccountError::Internal(e.to_string()))?;
        user.two_factor = Some(TwoFactor {
            sealed_secret: sealed,
            enabled: false,
            last_step: None,
            backup_codes: Vec::new(),
        });
        self.save(&mut user).await?;
        Ok(Enrolment {
            secret: totp::base32(&secret),
            otpauth_uri: uri,
            qr_svg,
        })
    }

    /// Confirms enrolment with a first code; returns the backup codes (shown once).
    pub async fn enable_two_factor(
        &self,
        user_id: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<Vec<String>, AccountError> {
        let mut user = self.user(user_id).await?;
        let Some(pending) = user.two_factor.clone().filter(|t| !t.enabled) else {
            return Err(AccountError::Conflict(
                "start with POST /v1/auth/2fa/setup".into(),
            ));
        };
        let secret = self.totp_secret(&user, &pending)?;
        let step = totp::verify(&secret, code, self.epoch() as u64, None)
            .ok_or(AccountError::InvalidCode)?;
        let codes = backup_codes::generate(BACKUP_CODES);
        let hashes = codes
            .iter()
            .map(|c| self.backup_codes.hash(&user.user_id, c))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| AccountError::Internal("no backup-code keys (TOTP ring)".into()))?;
        user.two_factor = Some(TwoFactor {
            sealed_secret: pending.sealed_secret,
            enabled: true,
            last_step: Some(step),
            backup_codes: hashes,
        });
        let mut change = Change::new();
        change.op(Users::save_op(&mut user, self.epoch())?);
        self.owner_changed(
            &mut change,
            &user,
            Action::TwoFactorEnabled,
            Template::TwoFactorEnabled,
            client,
        )?;
        self.commit(change).await.map_err(conflict)?;
        Ok(codes)
    }

    /// Turns 2FA off; needs the password and a current code (TOTP or backup).
    pub async fn disable_two_factor(
        &self,
        user_id: &str,
        password: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let mut user = self.user(user_id).await?;
        if !user.two_factor_enabled() {
            return Err(AccountError::Conflict(
                "two-factor authentication is not on".into(),
            ));
        }
        self.confirm_password(&user, password, "password", client)
            .await?;
        if self.check_second_factor(&user, code)?.is_none() {
            self.count_failure(&user.user_id, Some(&user), client)
                .await?;
            return Err(AccountError::InvalidCode);
        }
        user.two_factor = None;
        let mut change = Change::new();
        change.op(Users::save_op(&mut user, self.epoch())?);
        self.owner_changed(
            &mut change,
            &user,
            Action::TwoFactorDisabled,
            Template::TwoFactorDisabled,
            client,
        )?;
        self.commit(change).await.map_err(conflict)?;
        Ok(())
    }

    /// Completes a 2FA login: the challenge from `login` plus a TOTP or backup code. Each code and each challenge
    /// works once; failures count toward lockout.
    #[tracing::instrument(skip_all)]
    pub async fn verify_two_factor(
        &self,
        challenge: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<TokenPair, AccountError> {
        let claims = self
            .tokens
            .verify(TokenKind::Challenge, challenge, self.now())
            .map_err(|_| AccountError::InvalidToken)?;
        let mut user = self
            .user(&claims.sub)
            .await
            .map_err(|_| AccountError::InvalidToken)?;
        // A deleted account inside its grace period may complete the sign-in that restores it.
        let restorable =
            user.status == Status::Deleted && user.purge_after.is_some_and(|p| p > self.epoch());
        if !(user.status == Status::Active || restorable) || !user.two_factor_enabled() {
            return Err(AccountError::InvalidToken);
        }
        if self
            .lockout
            .locked_until(&user.user_id, &self.source(client), self.epoch())
            .await?
            .is_some()
        {
            return Err(AccountError::InvalidCode);
        }
        let Some(passed) = self.check_second_factor(&user, code)? else {
            self.count_failure(&user.user_id, Some(&user), client)
                .await?;
            return Err(AccountError::InvalidCode);
        };
        // One transaction: the challenge spent (operation 0: a second use, even with another valid code, is
        // refused), the code recorded (operation 1: the version check makes a concurrent second use of the same
        // code lose), the lockout cleared, the session started, and what happened audited and mailed.
        let spent = SpentChallenge {
            jti: claims.jti.clone(),
            expires_at: claims.exp + crate::tokens::LEEWAY_SECS,
        };
        let mut change = Change::new();
        change.op(TxOp::Put {
            item: spent.to_item()?,
            condition: Condition::NotExists,
        });
        let before = user.clone();
        let mut remaining = None;
        if let Some(tf) = user.two_factor.as_mut() {
            match passed {
                Passed::Totp(step) => tf.last_step = Some(step),
                Passed::Backup(index) => {
                    tf.backup_codes[index].clear();
                    remaining =
                        Some(tf.backup_codes.iter().filter(|c| !c.is_empty()).count() as u32);
                }
            }
            // Entries from before backup codes were keyed are upgraded with this write.
            self.backup_codes
                .upgrade(&user.user_id, &mut tf.backup_codes);
        }
        if restorable {
            user.status = Status::Active;
            user.deleted_at = None;
            user.purge_after = None;
            change.audit(self.event(
                Action::AccountRestored,
                Some(&user.user_id),
                &user.user_id,
                client,
            ));
        }
        // One write of the account: the code's bookkeeping and, when deleted, its restoration (guarded, so a
        // restored admin counts again).
        let user = self.guarded(&mut change, &before, user).await?;
        change.op(lockout::clear_source_op(
            &user.user_id,
            &self.source(client),
        ));
        if let Some(remaining) = remaining {
            change.audit(self.event(
                Action::BackupCodeUsed,
                Some(&user.user_id),
                &user.user_id,
                client,
            ));
            change.send(self.notice(&user, Template::BackupCodeUsed { remaining })?);
        }
        let (session, refresh) = self.start_session(&mut change, &user, client).await?;
        match self.commit(change).await {
            Ok(()) => {
                self.mark_active(&session.user_id).await;
                self.pair(&session, refresh)
            }
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                Err(AccountError::InvalidToken)
            }
            Err(TableError::TransactionCancelled { .. }) | Err(TableError::Retryable(_)) => {
                Err(AccountError::InvalidCode)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Which factor `code` satisfies, if any (no state is changed here).
    fn check_second_factor(&self, user: &User, code: &str) -> Result<Option<Passed>, AccountError> {
        let Some(tf) = user.two_factor.as_ref().filter(|t| t.enabled) else {
            return Ok(None);
        };
        // Authenticator apps show `123 456`; people type it that way. Six digits once the spaces are gone are a
        // TOTP code (a backup code has letters and is eight characters), so it must not be tried, and counted as a
        // failure, as a backup code.
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            let secret = self.totp_secret(user, tf)?;
            return Ok(
                totp::verify(&secret, &digits, self.epoch() as u64, tf.last_step).map(Passed::Totp),
            );
        }
        Ok(self
            .backup_codes
            .find(&user.user_id, &tf.backup_codes, code)
            .map(Passed::Backup))
    }

    /// Upgrades the unkeyed backup-code hashes of every account to keyed ones (the codes stay valid): run once
    /// after upgrading (`lectern migrate-backup-codes`), so a table dump no longer yields any account's codes.
    /// Idempotent; answers how many accounts changed.
    pub async fn migrate_backup_codes(&self) -> Result<usize, AccountError> {
        let mut migrated = 0;
        let mut cursor = None;
        loop {
            let page = self
                .platform
                .table
                .query(crate::users::BY_EMAIL.query(&[]).limit(100).after(cursor))
                .await?;
            for item in page.items {
                let Ok(listed) = User::from_item(item) else {
                    continue;
                };
                if self.upgrade_backup_codes(&listed.user_id).await? {
                    migrated += 1;
                }
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(migrated),
            }
        }
    }

    /// Upgrades one account's unkeyed backup-code hashes; answers whether it had any.
    async fn upgrade_backup_codes(&self, user_id: &str) -> Result<bool, AccountError> {
        for _ in 0..3 {
            let Some(mut user) = self.users.get(user_id).await? else {
                return Ok(false);
            };
            let Some(tf) = user.two_factor.as_mut() else {
                return Ok(false);
            };
            if !self.backup_codes.upgrade(user_id, &mut tf.backup_codes) {
                return Ok(false);
            }
            match self.users.save(&mut user, self.epoch()).await {
                Ok(()) => return Ok(true),
                Err(UserWriteError::Conflict) => continue,
                Err(e) => return Err(AccountError::Internal(e.to_string())),
            }
        }
        Err(AccountError::Conflict(format!(
            "account {user_id} kept changing; run the migration again"
        )))
    }

    async fn save(&self, user: &mut User) -> Result<(), AccountError> {
        match self.users.save(user, self.epoch()).await {
            Ok(()) => Ok(()),
            Err(UserWriteError::Conflict) => Err(AccountError::Conflict(
                "the account changed meanwhile; try again".into(),
            )),
            Err(e) => Err(AccountError::Internal(e.to_string())),
        }
    }
}
