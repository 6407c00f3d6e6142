//! Delivering one notification: the channels its recipient's preferences choose, each at most once however often
//! its job is delivered.
//!
//! The first run of a notification key plans every channel from the preferences then in force and records the
//! plan — a [`Delivery`], `INBOX#<user_id>` / `DELIVERY#<sha-256 of the key>` (the key may name someone else, a
//! child's profile, so only its hash is kept) — in the same transaction that stores the in-app notification and
//! counts it. Every later run (a redelivered job, a race, a held email's next hop) reads the record and does only
//! what is still pending, each step a write conditional on the record's version:
//!
//! - **in-app**: stored with the record, so it exists exactly once;
//! - **email**: claimed (`sending`) before it is handed to the mailer and marked `delivered` after, so two runs
//!   never both send it. A run that dies between the mailer accepting the message and the mark leaves a claim;
//!   after [`SENDING_LEASE`] a redelivery sends again. That window (one mailer call) is the only way an email goes
//!   twice, the same as every account email's. During the recipient's quiet hours an email other than security
//!   mail is `held` until they end and carried there by delayed jobs ([`crate::quiet`]);
//! - **push**: recorded as the recipient's choice only (`skipped`: there is no push channel yet).
//!
//! Nothing is delivered to an account that is gone or not active, and the in-app notification's transaction
//! checks that the account is still active ([`Recipient::guard`]), so nothing is stored for an account once its
//! deletion began (its erasure would miss it).

use async_trait::async_trait;
use lectern_messages::{NotificationType, Notify};
use lectern_shared::queue::{NewJob, enqueue};
use lectern_shared::table::{
    Condition, Entity, EntityInfo, Key, KeyLayout, Shape, TableError, TxOp,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::errors::NotifyError;
use crate::inbox::{ATTEMPTS, InboxCounter, NewNotification, expiry_of_day};
use crate::preferences::{INBOX, NotificationPreferences, StoredPreferences};
use crate::quiet::{held_until, next_hop};
use crate::service::Notifications;

/// How long an email claimed for sending stays claimed: longer than any run of the worker (its Lambda times out
/// after 30 s), so a claim this old belongs to a run that died.
pub const SENDING_LEASE: i64 = 60;
/// Longest notification key.
pub const MAX_KEY: usize = 200;
/// How often one run reads again and retries after losing a race for the inbox's counter: a batch of jobs for one
/// account runs concurrently (up to ten at once), and each round only one of them wins.
const ROUNDS: usize = 16;

/// What a channel did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    /// To do.
    Pending,
    /// Done: stored in-app, or accepted by the mailer.
    Delivered,
    /// An email held by quiet hours until `until`.
    Held,
    /// An email claimed by a run handing it to the mailer since `at`.
    Sending,
    /// Switched off in the preferences.
    Off,
    /// Not delivered, for `reason` (an unverified address, no push channel).
    Skipped,
    /// Refused for good (`reason`): the mailer rejected it.
    Failed,
}

/// One channel's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelState {
    pub status: ChannelStatus,
    /// When it reached this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
    /// When a held email goes out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ChannelState {
    fn new(status: ChannelStatus, at: i64) -> Self {
        Self {
            status,
            at: Some(at),
            until: None,
            reason: None,
        }
    }

    fn because(status: ChannelStatus, at: i64, reason: &str) -> Self {
        Self {
            reason: Some(reason.to_string()),
            ..Self::new(status, at)
        }
    }
}

/// What was done for one notification key, per channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// In the key only.
    #[serde(skip_serializing)]
    pub user_id: String,
    /// In the key only: the SHA-256 of the notification key, hex.
    #[serde(skip_serializing)]
    pub key_hash: String,
    #[serde(rename = "type")]
    pub category: NotificationType,
    pub in_app: ChannelState,
    pub email: ChannelState,
    pub push: ChannelState,
    /// The in-app notification, once stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    pub created_at: i64,
    pub version: i64,
    /// Only the item's `ttl`: as long as the notification is kept.
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

/// The hash a notification key is stored under.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl Delivery {
    pub fn key_of(user_id: &str, key_hash: &str) -> Key {
        Self::INFO.key(&[user_id], &[key_hash])
    }

    /// The plan of a first run: each channel pending, off, or skipped, as the preferences and the account allow.
    fn planned(
        notify: &Notify,
        preferences: &NotificationPreferences,
        recipient: &Recipient,
        now: i64,
        retention_days: i64,
    ) -> Self {
        use ChannelStatus::*;
        let choice = preferences.channels.of(notify.category);
        let state = |on: bool| ChannelState::new(if on { Pending } else { Off }, now);
        // Mail to an address nobody proved is theirs goes only when it is about the account's security.
        let email = if choice.email
            && !recipient.email_verified
            && notify.category != NotificationType::Security
        {
            ChannelState::because(Skipped, now, "the address is not verified")
        } else {
            state(choice.email)
        };
        let push = if choice.push {
            ChannelState::because(Skipped, now, "no push channel yet")
        } else {
            state(false)
        };
        Self {
            user_id: notify.user_id.clone(),
            key_hash: key_hash(&notify.key),
            category: notify.category,
            in_app: state(choice.in_app),
            email,
            push,
            notification_id: None,
            created_at: now,
            version: 0,
            expires_at: expiry_of_day(now.div_euclid(86_400), retention_days),
        }
    }

    /// The write of the record as changed, conditional on the version read (bumped here).
    fn save(&mut self) -> Result<TxOp, TableError> {
        let condition = Condition::at_version(self.version);
        self.version += 1;
        Ok(TxOp::Put {
            item: self.to_item()?,
            condition,
        })
    }
}

impl Entity for Delivery {
    const INFO: EntityInfo = EntityInfo::new(
        "notification_delivery",
        KeyLayout::new(INBOX, Shape::new("DELIVERY", &["key_hash"])),
    );

    fn key(&self) -> Key {
        Self::key_of(&self.user_id, &self.key_hash)
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// The account a notification goes to, as the accounts domain lends it.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipient {
    pub email: String,
    pub email_verified: bool,
    pub display_name: String,
    /// Preferred language (BCP 47); the templates fall back to English.
    pub locale: Option<String>,
    /// A transaction check that holds while the account is active; it guards the in-app notification's write.
    pub guard: TxOp,
}

/// Why a channel's delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Might work later (the mailer or the store is down): the job is retried.
    #[error("retry: {0}")]
    Retry(String),
    /// Will never work (a payload that cannot render, an address the mailer refuses).
    #[error("permanent: {0}")]
    Permanent(String),
}

impl From<NotifyError> for DeliveryError {
    fn from(e: NotifyError) -> Self {
        match e {
            NotifyError::Invalid(fields) => {
                DeliveryError::Permanent(format!("invalid: {fields:?}"))
            }
            other => DeliveryError::Retry(other.to_string()),
        }
    }
}

impl From<TableError> for DeliveryError {
    fn from(e: TableError) -> Self {
        DeliveryError::Retry(e.to_string())
    }
}

/// What the worker lends the delivery: the account (from the accounts domain), and the rendering and sending of
/// its messages (the templates and the mailer).
#[async_trait]
pub trait Ports: Send + Sync {
    /// The account, when it exists and is active.
    async fn recipient(&self, user_id: &str) -> Result<Option<Recipient>, DeliveryError>;
    /// The in-app notification's words, in the recipient's language.
    fn in_app(
        &self,
        recipient: &Recipient,
        notify: &Notify,
    ) -> Result<NewNotification, DeliveryError>;
    /// Renders the email in the recipient's language and hands it to the mailer.
    async fn send_email(&self, recipient: &Recipient, notify: &Notify)
    -> Result<(), DeliveryError>;
}

/// What one run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivered {
    /// No active account: nothing delivered, nothing recorded.
    NoRecipient,
    /// The record as this run left it.
    Recorded(Box<Delivery>),
}

impl Notifications {
    /// Delivers `notify` on each channel its recipient's preferences choose, doing only what earlier runs of the
    /// same key left pending (see the module doc).
    pub async fn deliver(
        &self,
        notify: &Notify,
        ports: &dyn Ports,
    ) -> Result<Delivered, DeliveryError> {
        if !lectern_shared::ids::is_id(&notify.user_id) {
            return Err(DeliveryError::Permanent("user_id is not an id".into()));
        }
        if notify.key.is_empty() || notify.key.chars().count() > MAX_KEY {
            return Err(DeliveryError::Permanent(format!(
                "key must have 1 to {MAX_KEY} characters"
            )));
        }
        let Some(recipient) = ports.recipient(&notify.user_id).await? else {
            tracing::info!("no active account to notify; nothing delivered");
            return Ok(Delivered::NoRecipient);
        };
        let hash = key_hash(&notify.key);
        for _ in 0..ROUNDS {
            let (preferences, mut counter, record) =
                self.delivery_state(&notify.user_id, &hash).await?;
            let now = self.now();
            let mut record = record.unwrap_or_else(|| {
                Delivery::planned(
                    notify,
                    &preferences,
                    &recipient,
                    now,
                    self.config.retention_days,
                )
            });
            let unchanged = record.clone();
            let mut ops = Vec::new();
            let mut guard_at = None;
            if record.in_app.status == ChannelStatus::Pending {
                let new = ports.in_app(&recipient, notify)?;
                let (note, insert) = self.insert_ops(&notify.user_id, &mut counter, new)?;
                ops.extend(insert);
                guard_at = Some(ops.len());
                ops.push(recipient.guard.clone());
                record.in_app = ChannelState::new(ChannelStatus::Delivered, now);
                record.notification_id = Some(note.notification_id);
            }
            let step = email_step(&record.email, notify.category, &preferences, now)?;
            match &step {
                EmailStep::Send => record.email = ChannelState::new(ChannelStatus::Sending, now),
                EmailStep::Hold(until) => {
                    record.email = ChannelState {
                        until: Some(*until),
                        ..ChannelState::new(ChannelStatus::Held, now)
                    };
                    if unchanged.email.status == ChannelStatus::Held
                        && unchanged.email.until == Some(*until)
                    {
                        record.email = unchanged.email.clone();
                    }
                }
                EmailStep::SwitchedOff => {
                    record.email = ChannelState::because(
                        ChannelStatus::Off,
                        now,
                        "switched off while held by quiet hours",
                    )
                }
                EmailStep::Nothing => {}
            }
            if record != unchanged || unchanged.version == 0 {
                ops.push(record.save()?);
            }
            if !ops.is_empty() {
                match self.platform.table.transact(ops).await {
                    Ok(()) => {}
                    Err(TableError::TransactionCancelled { index: Some(i), .. })
                        if Some(i) == guard_at =>
                    {
                        tracing::info!("the account is no longer active; nothing delivered");
                        return Ok(Delivered::NoRecipient);
                    }
                    // Another run (or a read, a read-all) changed the inbox meanwhile: look again.
                    Err(TableError::TransactionCancelled { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            match step {
                EmailStep::Send => self.send(notify, ports, &recipient, &mut record).await?,
                EmailStep::Hold(until) => self.hold(notify, until, now).await?,
                EmailStep::SwitchedOff | EmailStep::Nothing => {}
            }
            return Ok(Delivered::Recorded(Box::new(record)));
        }
        Err(DeliveryError::Retry(
            "the inbox changed meanwhile too often".into(),
        ))
    }

    /// Hands the claimed email to the mailer and records how that went.
    async fn send(
        &self,
        notify: &Notify,
        ports: &dyn Ports,
        recipient: &Recipient,
        record: &mut Delivery,
    ) -> Result<(), DeliveryError> {
        let sent = ports.send_email(recipient, notify).await;
        let now = self.now();
        let state = match &sent {
            Ok(()) => ChannelState::new(ChannelStatus::Delivered, now),
            Err(DeliveryError::Permanent(reason)) => {
                ChannelState::because(ChannelStatus::Failed, now, reason)
            }
            // Let the retry claim it again at once.
            Err(DeliveryError::Retry(_)) => ChannelState::new(ChannelStatus::Pending, now),
        };
        for _ in 0..ATTEMPTS {
            record.email = state.clone();
            match self.platform.table.transact(vec![record.save()?]).await {
                Ok(()) => break,
                Err(TableError::TransactionCancelled { .. }) => {
                    // Changed meanwhile (not the email: it is ours while claimed): take the new version.
                    let (_, _, stored) = self
                        .delivery_state(&record.user_id, &record.key_hash)
                        .await?;
                    match stored {
                        Some(stored) if stored.email.status == ChannelStatus::Sending => {
                            *record = stored
                        }
                        _ => break,
                    }
                }
                Err(e) => {
                    // The email went out; a lost mark only means a redelivery after the lease may send it again.
                    tracing::warn!(error = %e, "could not record the email as sent");
                    break;
                }
            }
        }
        match sent {
            Ok(()) | Err(DeliveryError::Permanent(_)) => Ok(()),
            Err(retry) => Err(retry),
        }
    }

    /// Sends the next hop of a held email (the same job, keyed by the hop's time, delayed).
    async fn hold(&self, notify: &Notify, until: i64, now: i64) -> Result<(), DeliveryError> {
        let (due, delay) = next_hop(now, until);
        let job = NewJob::new(notify)
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?
            .idempotency_key(format!(
                "notify:{}:{}#held#{due}",
                notify.user_id, notify.key
            ))
            .delay(delay);
        enqueue::<Notify>(self.platform.queue.as_ref(), job)
            .await
            .map_err(|e| DeliveryError::Retry(e.to_string()))?;
        tracing::info!(until, next_in = ?delay, "email held by quiet hours");
        Ok(())
    }

    /// The account's preferences and counter and the key's record, in one batch read.
    async fn delivery_state(
        &self,
        user_id: &str,
        hash: &str,
    ) -> Result<(NotificationPreferences, InboxCounter, Option<Delivery>), DeliveryError> {
        let keys = [
            StoredPreferences::key_of(user_id),
            InboxCounter::key_of(user_id),
            Delivery::key_of(user_id, hash),
        ];
        let mut preferences = NotificationPreferences::default();
        let mut counter = InboxCounter {
            user_id: user_id.to_string(),
            ..InboxCounter::default()
        };
        let mut record = None;
        for item in self.platform.table.batch_get(&keys).await? {
            match Key::of(&item) {
                Some(k) if k == keys[0] => {
                    preferences = StoredPreferences::from_item(item)?.preferences()
                }
                Some(k) if k == keys[1] => counter = InboxCounter::from_item(item)?,
                _ => record = Some(Delivery::from_item(item)?),
            }
        }
        Ok((preferences, counter, record))
    }
}

/// What this run does with the email.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EmailStep {
    Send,
    Hold(i64),
    /// A held email whose type's email was switched off meanwhile: it is not sent.
    SwitchedOff,
    Nothing,
}

fn email_step(
    email: &ChannelState,
    category: NotificationType,
    preferences: &NotificationPreferences,
    now: i64,
) -> Result<EmailStep, DeliveryError> {
    use ChannelStatus::*;
    let due = match email.status {
        Pending => true,
        Held => email.until.is_none_or(|until| until <= now),
        Sending => {
            if email.at.is_some_and(|at| at + SENDING_LEASE <= now) {
                true
            } else {
                // Another run is handing it to the mailer: come back when its claim would have lapsed.
                return Err(DeliveryError::Retry(
                    "the email is being sent by another run".into(),
                ));
            }
        }
        Delivered | Off | Skipped | Failed => return Ok(EmailStep::Nothing),
    };
    if !due {
        // Held and not due: make sure the next hop is on its way (a run that died may have left none).
        return Ok(email.until.map_or(EmailStep::Nothing, EmailStep::Hold));
    }
    // The preferences may have changed while the email was held: they decide when it would go.
    if email.status == Held && !preferences.channels.of(category).email {
        return Ok(EmailStep::SwitchedOff);
    }
    let quiet = match category {
        // Security mail is never held.
        NotificationType::Security => None,
        _ => preferences
            .quiet_hours
            .as_ref()
            .and_then(|q| held_until(now, q)),
    };
    Ok(match quiet {
        Some(until) => EmailStep::Hold(until),
        None => EmailStep::Send,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preferences::QuietHours;

    fn state(status: ChannelStatus, at: i64) -> ChannelState {
        ChannelState::new(status, at)
    }

    #[test]
    fn email_steps_follow_the_record_and_the_quiet_hours() {
        let mut prefs = NotificationPreferences::default();
        let now = 1_768_000_000;
        let pending = state(ChannelStatus::Pending, now);
        assert_eq!(
            email_step(&pending, NotificationType::Achievements, &prefs, now).unwrap(),
            EmailStep::Send
        );
        prefs.quiet_hours = Some(QuietHours {
            start: "00:00".into(),
            end: "23:59".into(),
            timezone: "UTC".into(),
        });
        let held = email_step(&pending, NotificationType::Achievements, &prefs, now).unwrap();
        assert!(
            matches!(held, EmailStep::Hold(until) if until > now),
            "{held:?}"
        );
        assert_eq!(
            email_step(&pending, NotificationType::Security, &prefs, now).unwrap(),
            EmailStep::Send,
            "security mail is never held"
        );
        let claimed = state(ChannelStatus::Sending, now - 10);
        assert!(email_step(&claimed, NotificationType::Achievements, &prefs, now).is_err());
        let lapsed = state(ChannelStatus::Sending, now - SENDING_LEASE);
        assert!(matches!(
            email_step(
                &lapsed,
                NotificationType::Achievements,
                &NotificationPreferences::default(),
                now
            ),
            Ok(EmailStep::Send)
        ));
        // Held, due, and its type's email switched off meanwhile: not sent.
        let mut off = NotificationPreferences::default();
        off.channels.achievements.email = false;
        let due = ChannelState {
            until: Some(now),
            ..state(ChannelStatus::Held, now - 3_600)
        };
        assert_eq!(
            email_step(&due, NotificationType::Achievements, &off, now).unwrap(),
            EmailStep::SwitchedOff
        );
        assert_eq!(
            email_step(
                &due,
                NotificationType::Achievements,
                &NotificationPreferences::default(),
                now
            )
            .unwrap(),
            EmailStep::Send
        );
        for done in [
            ChannelStatus::Delivered,
            ChannelStatus::Off,
            ChannelStatus::Failed,
        ] {
            assert_eq!(
                email_step(
                    &state(done, now),
                    NotificationType::Achievements,
                    &prefs,
                    now
                )
                .unwrap(),
                EmailStep::Nothing
            );
        }
    }

    #[test]
    fn keys_are_kept_only_as_hashes() {
        let hash = key_hash("achievement:01JPROFILE:01JACHIEVEMENT");
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains("01JPROFILE"));
    }
}
