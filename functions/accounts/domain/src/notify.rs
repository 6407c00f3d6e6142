//! Account emails: the accounts use cases enqueue a templated email; the notifications worker renders and sends
//! it. Each email has an idempotency key so a retried request or a redelivered job sends it once.

use lectern_messages::{NotifyEmail, Template};
use lectern_shared::http::client::ClientInfo;
use lectern_shared::queue::{NewJob, enqueue};

use crate::service::Accounts;
use crate::users::User;

impl Accounts {
    /// Queues a templated email to `user` (at `to`, which defaults to the account's address).
    /// A failure to queue is logged, not returned: the action it reports on has already happened.
    pub async fn notify(
        &self,
        user: &User,
        to: Option<&str>,
        template: Template,
        idempotency_key: &str,
    ) {
        let mut email =
            NotifyEmail::new(to.unwrap_or(&user.email), template).name(user.display_name.clone());
        if let Some(locale) = &user.preferences.locale {
            email = email.locale(locale.clone());
        }
        let kind = email.template.name();
        let job = match NewJob::new(&email) {
            Ok(job) => job.idempotency_key(format!("{kind}:{}:{idempotency_key}", user.user_id)),
            Err(e) => {
                tracing::error!(error = %e, kind, "could not build email job");
                return;
            }
        };
        if let Err(e) = enqueue::<NotifyEmail>(self.platform.queue.as_ref(), job).await {
            tracing::error!(error = %e, kind, user_id = %user.user_id, "could not queue email");
        }
    }

    /// Records a change the owner made to their own account and tells them about it (at the account's address),
    /// once per account version.
    pub async fn owner_changed(
        &self,
        user: &User,
        action: crate::audit::Action,
        template: Template,
        client: &ClientInfo,
    ) {
        self.audit(action, Some(&user.user_id), &user.user_id, client)
            .await;
        self.notify(user, None, template, &user.version.to_string())
            .await;
    }

    /// A link into the app, e.g. `link("verify-email", token)` → `https://app.example.com/verify-email?token=...`.
    pub fn link(&self, page: &str, token: &str) -> String {
        format!("{}/{page}?token={token}", self.config.app_url)
    }
}
