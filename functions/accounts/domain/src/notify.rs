//! Account emails and audit records as parts of a [`Change`]: the use cases add a templated email (sent by the
//! notifications worker once the change is committed) and the audit events that describe the change. Each email has
//! an idempotency key, so a retried request, a redelivered job or a second send by the outbox relay sends it once.

use lectern_messages::{NotifyEmail, Template};
use lectern_shared::http::client::ClientInfo;
use lectern_shared::queue::NewJob;
use lectern_shared::queue::outbox::OutboxEntry;
use serde_json::{Map, Value};

use crate::audit::{Action, AuditLog, StoredEvent};
use crate::change::Change;
use crate::errors::AccountError;
use crate::service::Accounts;
use crate::users::User;

impl Accounts {
    /// A templated email to `user` (at `to`, which defaults to the account's address), as an outbox entry for a
    /// change. `idempotency_key` names this email among the account's emails of this template.
    pub(crate) fn email(
        &self,
        user: &User,
        to: Option<&str>,
        template: Template,
        idempotency_key: &str,
    ) -> Result<OutboxEntry, AccountError> {
        let mut email =
            NotifyEmail::new(to.unwrap_or(&user.email), template).name(user.display_name.clone());
        if let Some(locale) = &user.preferences.locale {
            email = email.locale(locale.clone());
        }
        self.email_entry(email, &user.user_id, idempotency_key)
    }

    /// A templated email to an address that belongs to no account; `subject` names it in idempotency keys (a
    /// pseudonym, never the address).
    pub(crate) fn email_to_address(
        &self,
        address: &str,
        subject: &str,
        template: Template,
        idempotency_key: &str,
    ) -> Result<OutboxEntry, AccountError> {
        self.email_entry(
            NotifyEmail::new(address, template),
            subject,
            idempotency_key,
        )
    }

    fn email_entry(
        &self,
        email: NotifyEmail,
        subject: &str,
        idempotency_key: &str,
    ) -> Result<OutboxEntry, AccountError> {
        let kind = email.template.name();
        let job = NewJob::new(&email)
            .map_err(|e| AccountError::Internal(format!("could not build a {kind} email: {e}")))?
            .idempotency_key(format!("{kind}:{subject}:{idempotency_key}"));
        Ok(self.outbox_entry::<NotifyEmail>(job)?)
    }

    /// An audit event at the current time, for a change.
    pub(crate) fn event(
        &self,
        action: Action,
        actor: Option<&str>,
        target: &str,
        client: &ClientInfo,
    ) -> StoredEvent {
        self.event_with(action, actor, target, client, Map::new())
    }

    /// [`Accounts::event`] with details.
    pub(crate) fn event_with(
        &self,
        action: Action,
        actor: Option<&str>,
        target: &str,
        client: &ClientInfo,
        details: Map<String, Value>,
    ) -> StoredEvent {
        AuditLog::event(action, actor, target, client, self.now(), details)
    }

    /// Records, in `change`, a change the owner made to their own account, and tells them about it (at the
    /// account's address), once per account version.
    pub(crate) fn owner_changed(
        &self,
        change: &mut Change,
        user: &User,
        action: Action,
        template: Template,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        change.audit(self.event(action, Some(&user.user_id), &user.user_id, client));
        change.send(self.notice(user, template)?);
        Ok(())
    }

    /// A notice to the account's address about the change that makes `user` what it is: one per account version,
    /// so a retried request or a second send by the relay still mails one.
    pub(crate) fn notice(
        &self,
        user: &User,
        template: Template,
    ) -> Result<OutboxEntry, AccountError> {
        self.email(user, None, template, &user.version.to_string())
    }

    /// Records an event that changes nothing else (a failed sign-in, a detected token reuse) on its own.
    pub(crate) async fn record(&self, event: StoredEvent) -> Result<(), AccountError> {
        let mut change = Change::new();
        change.audit(event);
        Ok(self.commit(change).await?)
    }

    /// A link into the app, e.g. `link("verify-email", token)` → `https://app.example.com/verify-email?token=...`.
    pub fn link(&self, page: &str, token: &str) -> String {
        format!("{}/{page}?token={token}", self.config.app_url)
    }
}
