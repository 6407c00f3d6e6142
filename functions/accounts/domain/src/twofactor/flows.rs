//! The two-factor use cases: enrolment, the login step, and turning it off.

use lectern_messages::Template;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::table::{Condition, Entity, TableError};
use serde::Serialize;

use super::challenges::SpentChallenge;
use super::{backup_codes, qr, totp};
use crate::audit::Action;
use crate::errors::AccountError;
use crate::service::{Accounts, TokenPair};
use crate::tokens::TokenKind;
use crate::users::{Status, TwoFactor, User, UserWriteError};

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
        user.two_factor = Some(TwoFactor {
            sealed_secret: pending.sealed_secret,
            enabled: true,
            last_step: Some(step),
            backup_codes: codes.iter().map(|c| backup_codes::hash(c)).collect(),
        });
        self.save(&mut user).await?;
        self.owner_changed(
            &user,
            Action::TwoFactorEnabled,
            Template::TwoFactorEnabled,
            client,
        )
        .await;
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
            self.count_failure(&user, client).await?;
            return Err(AccountError::InvalidCode);
        }
        user.two_factor = None;
        self.save(&mut user).await?;
        self.owner_changed(
            &user,
            Action::TwoFactorDisabled,
            Template::TwoFactorDisabled,
            client,
        )
        .await;
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
        if user.status != Status::Active || !user.two_factor_enabled() {
            return Err(AccountError::InvalidToken);
        }
        if self
            .lockout
            .locked_until(&user.user_id, self.epoch())
            .await?
            .is_some()
        {
            return Err(AccountError::InvalidCode);
        }
        let Some(passed) = self.check_second_factor(&user, code)? else {
            self.count_failure(&user, client).await?;
            return Err(AccountError::InvalidCode);
        };
        // Spend the challenge: a second use (even with another valid code) is refused.
        let spent = SpentChallenge {
            jti: claims.jti.clone(),
            expires_at: claims.exp + crate::tokens::LEEWAY_SECS,
        };
        match self
            .platform
            .table
            .put(spent.to_item()?, Condition::NotExists)
            .await
        {
            Ok(()) => {}
            Err(TableError::ConditionFailed) => return Err(AccountError::InvalidToken),
            Err(e) => return Err(e.into()),
        }
        // Record the used code; the version check makes a concurrent second use of the same code lose.
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
        }
        match self.users.save(&mut user, self.epoch()).await {
            Ok(()) => {}
            Err(UserWriteError::Conflict) => return Err(AccountError::InvalidCode),
            Err(e) => return Err(AccountError::Internal(e.to_string())),
        }
        if let Some(remaining) = remaining {
            self.audit(
                Action::BackupCodeUsed,
                Some(&user.user_id),
                &user.user_id,
                client,
            )
            .await;
            self.notify(
                &user,
                None,
                Template::BackupCodeUsed { remaining },
                &user.version.to_string(),
            )
            .await;
        }
        self.lockout.clear(&user.user_id).await?;
        self.start_session(&user, client).await
    }

    /// Which factor `code` satisfies, if any (no state is changed here).
    fn check_second_factor(&self, user: &User, code: &str) -> Result<Option<Passed>, AccountError> {
        let Some(tf) = user.two_factor.as_ref().filter(|t| t.enabled) else {
            return Ok(None);
        };
        let code = code.trim();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            let secret = self.totp_secret(user, tf)?;
            return Ok(
                totp::verify(&secret, code, self.epoch() as u64, tf.last_step).map(Passed::Totp),
            );
        }
        Ok(backup_codes::find(&tf.backup_codes, code).map(Passed::Backup))
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
