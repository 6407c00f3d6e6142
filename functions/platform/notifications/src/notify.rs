//! The notification centre's jobs: [`Notify`] (`platform.notify`, any domain's notification) and
//! [`AchievementEarned`] (`learning.achievement_earned`, delivered as an `achievements` notification to the
//! profile's owner). The delivery itself — channels from the preferences, each once per key — is the platform
//! domain's ([`lectern_platform::delivery`]); this lends it the account (from the accounts domain), the templates
//! and the mailer.

use std::sync::Arc;

use async_trait::async_trait;
use lectern_accounts::users::{Status, User, Users};
use lectern_messages::{AchievementEarned, NotificationContent, NotificationType, Notify};
use lectern_platform::Notifications;
use lectern_platform::delivery::{Delivered, DeliveryError, Ports, Recipient};
use lectern_platform::inbox::NewNotification;
use lectern_shared::mail::Mailer;
use lectern_shared::queue::worker::{JobError, JobHandler};
use lectern_shared::queue::{Job, JobKind};
use lectern_shared::table::{Condition, TxOp};
use serde_json::{Map, Value};

use crate::branding::Branding;
use crate::delivery::{decode, deliver};
use crate::templates::{in_app_text, render_notification};

/// What the delivery borrows from outside the platform domain: accounts, templates, the mailer.
pub struct AccountPorts {
    users: Users,
    mailer: Arc<dyn Mailer>,
    branding: Branding,
}

impl AccountPorts {
    pub fn new(users: Users, mailer: Arc<dyn Mailer>, branding: Branding) -> Self {
        Self {
            users,
            mailer,
            branding,
        }
    }
}

#[async_trait]
impl Ports for AccountPorts {
    async fn recipient(&self, user_id: &str) -> Result<Option<Recipient>, DeliveryError> {
        let user = self
            .users
            .get(user_id)
            .await
            .map_err(|e| DeliveryError::Retry(e.to_string()))?;
        Ok(user
            .filter(|u| u.status == Status::Active)
            .map(|u| Recipient {
                guard: TxOp::Check {
                    key: User::key_of(&u.user_id),
                    condition: Condition::equals("status", Status::Active.as_str()),
                },
                email: u.email,
                email_verified: u.email_verified,
                display_name: u.display_name,
                locale: u.preferences.locale,
            }))
    }

    fn in_app(
        &self,
        recipient: &Recipient,
        notify: &Notify,
    ) -> Result<NewNotification, DeliveryError> {
        let text = in_app_text(recipient.locale.as_deref(), &notify.content).map_err(|e| {
            DeliveryError::Permanent(format!(
                "cannot render the {} notification: {e}",
                notify.content.name()
            ))
        })?;
        Ok(NewNotification {
            category: notify.category,
            title: text.title,
            body: text.body,
            link: text.link,
            data: data_of(&notify.content),
        })
    }

    async fn send_email(
        &self,
        recipient: &Recipient,
        notify: &Notify,
    ) -> Result<(), DeliveryError> {
        let email = render_notification(
            &self.branding,
            &recipient.email,
            Some(&recipient.display_name),
            recipient.locale.as_deref(),
            notify.category,
            &notify.content,
        )
        .map_err(|e| {
            DeliveryError::Permanent(format!(
                "cannot render the {} email: {e}",
                notify.content.name()
            ))
        })?;
        deliver(self.mailer.as_ref(), &email)
            .await
            .map_err(|e| match e {
                JobError::Retry(reason) => DeliveryError::Retry(reason),
                JobError::Permanent(reason) => DeliveryError::Permanent(reason),
            })
    }
}

/// What the app needs to show a notification, beside its words: ids that name nobody.
fn data_of(content: &NotificationContent) -> Map<String, Value> {
    let mut data = Map::new();
    if let NotificationContent::AchievementEarned { achievement_id, .. } = content {
        data.insert("achievement_id".into(), achievement_id.clone().into());
    }
    data
}

/// Delivers `notify` and maps the outcome onto the job's.
async fn run(
    notifications: &Notifications,
    ports: &AccountPorts,
    notify: &Notify,
) -> Result<(), JobError> {
    match notifications.deliver(notify, ports).await {
        Ok(Delivered::Recorded(record)) => {
            tracing::info!(
                kind = notify.category.as_str(),
                template = notify.content.name(),
                in_app = ?record.in_app.status,
                email = ?record.email.status,
                push = ?record.push.status,
                "notification delivered"
            );
            Ok(())
        }
        Ok(Delivered::NoRecipient) => Ok(()),
        Err(DeliveryError::Retry(reason)) => Err(JobError::Retry(reason)),
        Err(DeliveryError::Permanent(reason)) => Err(JobError::Permanent(reason)),
    }
}

/// Delivers [`Notify`] jobs.
pub struct NotifyHandler {
    notifications: Arc<Notifications>,
    ports: Arc<AccountPorts>,
}

impl NotifyHandler {
    pub fn new(notifications: Arc<Notifications>, ports: Arc<AccountPorts>) -> Self {
        Self {
            notifications,
            ports,
        }
    }
}

#[async_trait]
impl JobHandler for NotifyHandler {
    fn kind(&self) -> &'static str {
        Notify::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let notify: Notify = decode(job)?;
        run(&self.notifications, &self.ports, &notify).await
    }
}

/// Delivers [`AchievementEarned`] jobs as `achievements` notifications to the profile's owner. The learning
/// domain sends them keyed `achievement:<profile_id>:<achievement_id>`, which keys the notification too: one per
/// achievement earned.
pub struct AchievementEarnedHandler {
    notifications: Arc<Notifications>,
    ports: Arc<AccountPorts>,
}

impl AchievementEarnedHandler {
    pub fn new(notifications: Arc<Notifications>, ports: Arc<AccountPorts>) -> Self {
        Self {
            notifications,
            ports,
        }
    }
}

/// The notification an earned achievement is (the child's display name and the achievement, nothing else).
pub fn achievement_notification(earned: &AchievementEarned, job_key: Option<&str>) -> Notify {
    let key = job_key.map(str::to_string).unwrap_or_else(|| {
        format!(
            "achievement:{}:{}",
            earned.profile_id, earned.achievement_id
        )
    });
    Notify {
        user_id: earned.owner_id.clone(),
        category: NotificationType::Achievements,
        content: NotificationContent::AchievementEarned {
            learner_name: earned.display_name.clone(),
            achievement_id: earned.achievement_id.clone(),
            achievement_name: earned.name.clone(),
        },
        key,
    }
}

#[async_trait]
impl JobHandler for AchievementEarnedHandler {
    fn kind(&self) -> &'static str {
        AchievementEarned::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let earned: AchievementEarned = decode(job)?;
        let notify = achievement_notification(&earned, job.idempotency_key.as_deref());
        run(&self.notifications, &self.ports, &notify).await
    }
}
