//! Notification preferences: per type, which channels deliver it (in-app, email, push), and quiet hours, during
//! which email other than security mail is held until they end.
//!
//! Until an account saves its own (`PUT /v1/users/me/notification-preferences`), the defaults apply:
//!
//! | type | in_app | email | push |
//! |---|---|---|---|
//! | `security` | always | always | on |
//! | `exam_results` | on | on | on |
//! | `reminders` | on | off | on |
//! | `achievements` | on | on | on |
//! | `discussion_replies` | on | on | on |
//! | `announcements` | on | off | off |
//! | `weekly_report` | on | off | off |
//!
//! `security` cannot be switched off in-app or by email (its push choice is free). A `PUT` replaces the whole
//! set: a type it leaves out takes its default. Push is a stored choice only: no push channel delivers yet (the
//! delivery record says so), web push comes with its own slice of issue 11.

use lectern_messages::NotificationType;
use lectern_shared::locale::timezone_problem;
use lectern_shared::schedule::ScheduleZone;
use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, TxOp,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::errors::{NotifyError, NotifyResult};
use crate::service::Notifications;

/// The shape of a time of day (24-hour `HH:MM`).
pub const TIME_PATTERN: &str = "^([01][0-9]|2[0-3]):[0-5][0-9]$";

/// The channels of one type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    pub in_app: bool,
    pub email: bool,
    pub push: bool,
}

const fn on(in_app: bool, email: bool, push: bool) -> Channels {
    Channels {
        in_app,
        email,
        push,
    }
}

fn security() -> Channels {
    on(true, true, true)
}
fn exam_results() -> Channels {
    on(true, true, true)
}
fn reminders() -> Channels {
    on(true, false, true)
}
fn achievements() -> Channels {
    on(true, true, true)
}
fn discussion_replies() -> Channels {
    on(true, true, true)
}
fn announcements() -> Channels {
    on(true, false, false)
}
/// The weekly report's email is opt-in (issue 9): a parent asks for it; in-app it is there by default.
fn weekly_report() -> Channels {
    on(true, false, false)
}

/// The schema of `security`: in-app and email are always on.
fn security_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let always = || {
        ObjectBuilder::new()
            .schema_type(Type::Boolean)
            .enum_values(Some([true]))
            .description(Some(
                "Always on: security notifications cannot be switched off.",
            ))
            .build()
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("in_app", always())
        .required("in_app")
        .property("email", always())
        .required("email")
        .property(
            "push",
            ObjectBuilder::new().schema_type(Type::Boolean).build(),
        )
        .required("push")
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ))
        .description(Some(
            "Sign-ins, credentials, account changes: always delivered in-app and by email.",
        ))
        .build()
}

/// The channels of every type. In a `PUT`, a type left out takes its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelTable {
    #[serde(default = "security")]
    #[schema(schema_with = security_schema)]
    pub security: Channels,
    #[serde(default = "exam_results")]
    pub exam_results: Channels,
    #[serde(default = "reminders")]
    pub reminders: Channels,
    #[serde(default = "achievements")]
    pub achievements: Channels,
    #[serde(default = "discussion_replies")]
    pub discussion_replies: Channels,
    #[serde(default = "announcements")]
    pub announcements: Channels,
    #[serde(default = "weekly_report")]
    pub weekly_report: Channels,
}

impl Default for ChannelTable {
    fn default() -> Self {
        Self {
            security: security(),
            exam_results: exam_results(),
            reminders: reminders(),
            achievements: achievements(),
            discussion_replies: discussion_replies(),
            announcements: announcements(),
            weekly_report: weekly_report(),
        }
    }
}

impl ChannelTable {
    /// The channels of one type, security's in-app and email forced on whatever is stored.
    pub fn of(&self, category: NotificationType) -> Channels {
        match category {
            NotificationType::Security => Channels {
                in_app: true,
                email: true,
                ..self.security
            },
            NotificationType::ExamResults => self.exam_results,
            NotificationType::Reminders => self.reminders,
            NotificationType::Achievements => self.achievements,
            NotificationType::DiscussionReplies => self.discussion_replies,
            NotificationType::Announcements => self.announcements,
            NotificationType::WeeklyReport => self.weekly_report,
        }
    }
}

/// Hours of the day, in `timezone`, when email other than security mail is held: from `start` up to, not
/// including, `end`; over midnight when `end` is earlier than `start` (`22:00`–`07:00`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "22:00")]
    pub start: String,
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "07:00")]
    pub end: String,
    #[schema(schema_with = timezone_schema)]
    pub timezone: String,
}

fn timezone_schema() -> utoipa::openapi::Object {
    lectern_shared::locale::timezone_schema(": quiet hours are counted in it")
}

/// Minutes since midnight of `HH:MM`.
pub fn minutes_of(t: &str) -> Option<i32> {
    let (h, m) = t.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !t.bytes().filter(|b| *b != b':').all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

/// The shape of a reminder's time: a whole hour (`17:00`), since the reminders job runs at the top of each hour.
pub const HOUR_PATTERN: &str = "^([01][0-9]|2[0-3]):00$";

/// When the account is reminded to play and study: every day at `at` (a whole hour) in `timezone`. Reminders
/// are delivered as `reminders` notifications, so their channels and quiet hours apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderTime {
    #[schema(pattern = "^([01][0-9]|2[0-3]):00$", example = "17:00")]
    pub at: String,
    #[schema(schema_with = reminder_timezone_schema)]
    pub timezone: String,
}

fn reminder_timezone_schema() -> utoipa::openapi::Object {
    lectern_shared::locale::timezone_schema(": the reminder's hour is counted in it")
}

impl ReminderTime {
    /// The local hour (0–23), when `at` is a whole hour.
    pub fn hour(&self) -> Option<i8> {
        let minutes = minutes_of(&self.at)?;
        (minutes % 60 == 0).then_some((minutes / 60) as i8)
    }
}

/// The bucket of the accounts reminded at one local hour of one zone: `REMINDERS#<zone>#<hour>` / `<user_id>` on
/// gsi2, carried by the preferences item itself, so the bucket changes in the very write that changes the setting
/// and the hourly job reads only the buckets whose hour begins (`lectern_shared::schedule`).
pub const REMINDER_SLOT: IndexLayout = IndexLayout::new(
    Index::Gsi2,
    KeyLayout::new(
        Shape::new("REMINDERS", &["zone", "hour"]),
        Shape::values(&["user_id"]),
    ),
);

/// The two-digit form of a bucket's hour.
pub fn hour_key(hour: i8) -> String {
    format!("{hour:02}")
}

/// An account's preferences, as `GET` answers them and `PUT` takes them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    /// Per type, the channels that deliver it.
    pub channels: ChannelTable,
    /// When email is held; `null`: never.
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    /// A daily play and study reminder; `null` (the default): none.
    #[serde(default)]
    pub reminder: Option<ReminderTime>,
}

/// The stored preferences of one account (`INBOX#<user_id>` / `PREFERENCES`); absent: the defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPreferences {
    /// In the key only.
    #[serde(skip_serializing)]
    pub user_id: String,
    pub channels: ChannelTable,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder: Option<ReminderTime>,
    pub updated_at: i64,
}

/// The partition of one account's notification centre.
pub const INBOX: Shape = Shape::new("INBOX", &["user_id"]);

impl StoredPreferences {
    pub fn key_of(user_id: &str) -> Key {
        Self::INFO.key(&[user_id], &[])
    }

    pub fn preferences(&self) -> NotificationPreferences {
        NotificationPreferences {
            channels: self.channels,
            quiet_hours: self.quiet_hours.clone(),
            reminder: self.reminder.clone(),
        }
    }
}

impl Entity for StoredPreferences {
    const INFO: EntityInfo = EntityInfo::new(
        "notification_preferences",
        KeyLayout::new(INBOX, Shape::fixed("PREFERENCES")),
    )
    .indexed(&[REMINDER_SLOT]);

    fn key(&self) -> Key {
        Self::key_of(&self.user_id)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        self.reminder
            .as_ref()
            .and_then(|r| {
                Some(REMINDER_SLOT.key(&[&r.timezone, &hour_key(r.hour()?)], &[&self.user_id]))
            })
            .into_iter()
            .collect()
    }
}

/// Checks preferences: security stays on, quiet hours are two different times of day in a known zone.
pub fn validate(input: &NotificationPreferences) -> NotifyResult<()> {
    let mut errors = Vec::new();
    let security = input.channels.security;
    for (on, channel) in [(security.in_app, "in_app"), (security.email, "email")] {
        if !on {
            errors.push((
                format!("channels.security.{channel}"),
                "security notifications cannot be switched off".to_string(),
            ));
        }
    }
    if let Some(quiet) = &input.quiet_hours {
        let (start, end) = (minutes_of(&quiet.start), minutes_of(&quiet.end));
        for (value, field) in [(start, "start"), (end, "end")] {
            if value.is_none() {
                errors.push((
                    format!("quiet_hours.{field}"),
                    "a time of day as HH:MM (24-hour)".to_string(),
                ));
            }
        }
        if start.is_some() && start == end {
            errors.push((
                "quiet_hours.end".to_string(),
                "quiet hours need start and end to differ".to_string(),
            ));
        }
        if let Some(problem) = timezone_problem(&quiet.timezone) {
            errors.push(("quiet_hours.timezone".to_string(), problem.to_string()));
        }
    }
    if let Some(reminder) = &input.reminder {
        if reminder.hour().is_none() {
            errors.push((
                "reminder.at".to_string(),
                "a whole hour as HH:00 (24-hour)".to_string(),
            ));
        }
        if let Some(problem) = timezone_problem(&reminder.timezone) {
            errors.push(("reminder.timezone".to_string(), problem.to_string()));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(NotifyError::Invalid(errors))
    }
}

impl Notifications {
    /// An account's preferences (the defaults until it saves its own).
    pub async fn preferences(&self, user_id: &str) -> NotifyResult<NotificationPreferences> {
        Ok(self
            .platform
            .table
            .get(&StoredPreferences::key_of(user_id))
            .await?
            .map(StoredPreferences::from_item)
            .transpose()?
            .map(|p| p.preferences())
            .unwrap_or_default())
    }

    /// Replaces an account's preferences (a later `PUT` simply wins: they are one person's settings).
    pub async fn replace_preferences(
        &self,
        user_id: &str,
        input: NotificationPreferences,
    ) -> NotifyResult<NotificationPreferences> {
        validate(&input)?;
        let stored = StoredPreferences {
            user_id: user_id.to_string(),
            channels: input.channels,
            quiet_hours: input.quiet_hours,
            reminder: input.reminder,
            updated_at: self.now(),
        };
        let put = TxOp::Put {
            item: stored.to_item()?,
            condition: Condition::Always,
        };
        match &stored.reminder {
            // The reminder's zone is recorded in the same write, so the hourly job knows to look at its buckets.
            Some(reminder) => {
                self.platform
                    .table
                    .transact(vec![
                        put,
                        ScheduleZone::record(
                            lectern_messages::schedules::REMINDER_ZONES,
                            &reminder.timezone,
                        )?,
                    ])
                    .await?
            }
            None => {
                self.platform
                    .table
                    .put(stored.to_item()?, Condition::Always)
                    .await?
            }
        }
        Ok(stored.preferences())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_cannot_be_switched_off_and_quiet_hours_are_checked() {
        let mut prefs = NotificationPreferences::default();
        assert!(validate(&prefs).is_ok());
        prefs.channels.security.email = false;
        prefs.quiet_hours = Some(QuietHours {
            start: "22:00".into(),
            end: "22:00".into(),
            timezone: "Mars/Olympus".into(),
        });
        let Err(NotifyError::Invalid(errors)) = validate(&prefs) else {
            panic!("refused");
        };
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "channels.security.email",
                "quiet_hours.end",
                "quiet_hours.timezone"
            ]
        );
        assert_eq!(minutes_of("07:30"), Some(450));
        for bad in ["7:30", "24:00", "12:60", "ab:cd", "12-30"] {
            assert_eq!(minutes_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_stored_security_choice_never_turns_its_mail_off() {
        let table = ChannelTable {
            security: on(false, false, false),
            ..ChannelTable::default()
        };
        assert_eq!(table.of(NotificationType::Security), on(true, true, false));
        assert_eq!(table.of(NotificationType::Reminders), reminders());
    }

    #[test]
    fn the_time_pattern_is_the_validator() {
        let re = regex::Regex::new(TIME_PATTERN).unwrap();
        for t in [
            "00:00", "23:59", "07:30", "24:00", "7:30", "12:60", "ab:cd", "12:3a",
        ] {
            assert_eq!(re.is_match(t), minutes_of(t).is_some(), "{t}");
        }
    }
}
