//! Forgotten and changed passwords.

use lectern_messages::Template;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::table::TableError;

use super::Accounts;
use super::signup::{valid_email, valid_password};
use crate::audit::Action;
use crate::change::{Change, conflict};
use crate::errors::AccountError;
use crate::lockout;
use crate::onetime::{OneTimeTokens, Purpose};
use crate::users::{Status, User, Users};

impl Accounts {
    /// Emails a reset link if the address belongs to an active account, and otherwise a note that there is
    /// nothing to reset. The caller always answers 202. Every address costs the same: its email budget (one
    /// counter), two reads (the address's claim, then the account or its pseudonym), one transaction, one send —
    /// so neither the answer nor its cost tells whether the address is registered. Over the address's budget
    /// nothing is sent (the answer is the same), so others asking cannot lock the owner out of recovery for
    /// longer than the budget's window.
    #[tracing::instrument(skip_all)]
    pub async fn forgot_password(
        &self,
        email: &str,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        use lectern_shared::ratelimit::{RouteClass, Subject};
        let email = valid_email(email)?;
        let budget = self
            .platform
            .limiter
            .check(
                RouteClass::Expensive,
                &Subject::Account(crate::users::email_key(&email)),
            )
            .await?;
        if !budget.allowed {
            tracing::info!("reset emails of this address are over their budget; nothing sent");
            return Ok(());
        }
        let subject = self.subject_of(&email).await?;
        let Some(user) = self
            .users
            .get(&subject)
            .await?
            .filter(|u| u.status == Status::Active)
        else {
            let template = Template::PasswordResetUnavailable {
                signup_link: format!("{}/sign-up", self.config.app_url),
            };
            // One such note per address and hour, however often it is asked for.
            let hour = (self.epoch() / 3600).to_string();
            let mut change = Change::new();
            change.send(self.email_to_address(&email, &subject, template, &hour)?);
            change.audit(self.event(Action::PasswordResetRequested, None, &subject, client));
            return Ok(self.commit(change).await?);
        };
        let expires = self.epoch() + self.config.reset_password_ttl_secs;
        let (token, stored) =
            OneTimeTokens::mint(Purpose::ResetPassword, &user.user_id, &user.email, expires);
        let template = Template::PasswordReset {
            link: self.link("reset-password", &token),
            expires_minutes: (self.config.reset_password_ttl_secs / 60) as u32,
        };
        // The token, its email and the audit record commit together: a stored token always has its email.
        let mut change = Change::new();
        change.op(stored.put()?);
        change.send(self.email(&user, None, template, &stored.hash)?);
        change.audit(self.event(Action::PasswordResetRequested, None, &user.user_id, client));
        Ok(self.commit(change).await?)
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
        // One transaction: the token is spent, the password set, the lockout cleared, every session ended (as far
        // as one transaction holds them), the reset audited and the owner's notice queued.
        let mut change = Change::new();
        change.op(OneTimeTokens::redeem_op(Purpose::ResetPassword, token));
        let user = self.set_password(&mut change, user, new_password).await?;
        // The owner proved their mailbox: the account-wide lock and this source's end (other sources stay locked).
        change.op(lockout::clear_account_op(&user.user_id));
        change.op(lockout::clear_source_op(
            &user.user_id,
            &self.source(client),
        ));
        change.end_sessions(self.sessions.keys(&user.user_id, None).await?);
        self.owner_changed(
            &mut change,
            &user,
            Action::PasswordReset,
            Template::PasswordResetNotice,
            client,
        )?;
        match self.commit(change).await {
            Ok(()) => Ok(()),
            // Operation 0 spends the token: another request used it first.
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                Err(AccountError::InvalidToken)
            }
            Err(e) => Err(conflict(e)),
        }
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
        let mut change = Change::new();
        let user = self.set_password(&mut change, user, new_password).await?;
        change.end_sessions(self.sessions.keys(user_id, session_id).await?);
        self.owner_changed(
            &mut change,
            &user,
            Action::PasswordChanged,
            Template::PasswordChanged,
            client,
        )?;
        self.commit(change).await.map_err(conflict)?;
        if let Some(sid) = session_id {
            self.sessions.touch_auth(user_id, sid, self.epoch()).await?;
        }
        Ok(())
    }

    /// Adds the write of a new password to `change`; answers the account as it will be stored.
    async fn set_password(
        &self,
        change: &mut Change,
        mut user: User,
        new_password: &str,
    ) -> Result<User, AccountError> {
        let hash = self
            .hasher
            .hash(new_password)
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        let now = self.epoch();
        user.password_hash = hash;
        user.password_changed_at = Some(now);
        change.op(Users::save_op(&mut user, now)?);
        Ok(user)
    }
}
