//! Forgotten and changed passwords.

use lectern_messages::Template;
use lectern_shared::http::client::ClientInfo;

use super::Accounts;
use super::signup::{valid_email, valid_password};
use crate::audit::Action;
use crate::errors::AccountError;
use crate::onetime::Purpose;
use crate::users::{Status, User, UserWriteError};

impl Accounts {
    /// Emails a reset link if the address belongs to an active account. The caller always answers 202.
    #[tracing::instrument(skip_all)]
    pub async fn forgot_password(
        &self,
        email: &str,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let email = valid_email(email)?;
        let Some(user) = self.users.find_by_email(&email).await? else {
            return Ok(());
        };
        if user.status != Status::Active {
            return Ok(());
        }
        let expires = self.epoch() + self.config.reset_password_ttl_secs;
        let token = self
            .onetime
            .issue(Purpose::ResetPassword, &user.user_id, &user.email, expires)
            .await?;
        let template = Template::PasswordReset {
            link: self.link("reset-password", &token),
            expires_minutes: (self.config.reset_password_ttl_secs / 60) as u32,
        };
        self.notify(&user, None, template, &crate::crypto::token_hash(&token))
            .await;
        self.audit(Action::PasswordResetRequested, None, &user.user_id, client)
            .await;
        Ok(())
    }

    /// Sets a new password with an emailed reset token (single use); ends every session and notifies the owner.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        // Validate before spending the token, so a refused password does not cost the user their link.
        let pending = self
            .onetime
            .peek(Purpose::ResetPassword, token)
            .await?
            .ok_or(AccountError::InvalidToken)?;
        let user = self
            .user(&pending.user_id)
            .await
            .map_err(|_| AccountError::InvalidToken)?;
        if user.status != Status::Active {
            return Err(AccountError::InvalidToken);
        }
        valid_password(new_password, &user.email, "password")?;
        self.onetime
            .redeem(Purpose::ResetPassword, token)
            .await?
            .ok_or(AccountError::InvalidToken)?;
        let user = self.set_password(user, new_password).await?;
        self.sessions.end_all(&user.user_id, None).await?;
        self.lockout.clear(&user.user_id).await?;
        self.owner_changed(
            &user,
            Action::PasswordReset,
            Template::PasswordResetNotice,
            client,
        )
        .await;
        Ok(())
    }

    /// Changes the password with the current one; ends every other session and notifies the owner.
    #[tracing::instrument(skip_all)]
    pub async fn change_password(
        &self,
        user_id: &str,
        session_id: Option<&str>,
        current: &str,
        new_password: &str,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let user = self.user(user_id).await?;
        self.confirm_password(&user, current, "current_password", client)
            .await?;
        valid_password(new_password, &user.email, "new_password")?;
        let user = self.set_password(user, new_password).await?;
        self.sessions.end_all(user_id, session_id).await?;
        if let Some(sid) = session_id {
            self.sessions.touch_auth(user_id, sid, self.epoch()).await?;
        }
        self.owner_changed(
            &user,
            Action::PasswordChanged,
            Template::PasswordChanged,
            client,
        )
        .await;
        Ok(())
    }

    async fn set_password(&self, mut user: User, new_password: &str) -> Result<User, AccountError> {
        let hash = self
            .hasher
            .hash(new_password)
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        let now = self.epoch();
        user.password_hash = hash;
        user.password_changed_at = Some(now);
        match self.users.save(&mut user, now).await {
            Ok(()) => Ok(user),
            Err(UserWriteError::Conflict) => Err(AccountError::Conflict(
                "the account changed meanwhile; try again".into(),
            )),
            Err(e) => Err(AccountError::Internal(e.to_string())),
        }
    }
}
