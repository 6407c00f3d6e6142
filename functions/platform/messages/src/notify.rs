//! The notification centre's one job: tell an account something ([`Notify`]), in-app and, as its preferences
//! allow, by email. Any domain sends it; the notifications worker decides the channels from the recipient's
//! preferences, writes the in-app notification, renders the email in the recipient's language and records what
//! each channel did (see `lectern_platform::delivery`).

use lectern_shared::queue::{JobKind, NewJob, QueueError, queues};
use serde::{Deserialize, Serialize};

/// What a notification is about: the unit a recipient turns channels on and off for
/// (`/v1/users/me/notification-preferences`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NotificationType {
    /// Sign-ins, credentials, account changes: always delivered in-app and by email.
    Security,
    /// An exam's result is ready.
    ExamResults,
    /// Study and play reminders.
    Reminders,
    /// A learner (a parent's child, or the account's own profile) earned an achievement.
    Achievements,
    /// Someone answered in a discussion.
    DiscussionReplies,
    /// News from the operators.
    Announcements,
    /// The weekly report on a parent's children.
    WeeklyReport,
}

impl NotificationType {
    /// Every type, in the order the preferences list them.
    pub const ALL: [NotificationType; 7] = [
        Self::Security,
        Self::ExamResults,
        Self::Reminders,
        Self::Achievements,
        Self::DiscussionReplies,
        Self::Announcements,
        Self::WeeklyReport,
    ];

    /// The name as it travels and is stored (`exam_results`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Security => "security",
            Self::ExamResults => "exam_results",
            Self::Reminders => "reminders",
            Self::Achievements => "achievements",
            Self::DiscussionReplies => "discussion_replies",
            Self::Announcements => "announcements",
            Self::WeeklyReport => "weekly_report",
        }
    }
}

/// What a notification says: a template with its parameters, rendered per locale by the worker (in-app text
/// and email), or words the producer wrote itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", content = "params", rename_all = "snake_case")]
pub enum NotificationContent {
    /// A learner earned an achievement. Only the learner's display name travels (what the message shows), never
    /// the profile's id: the parent's notification outlives nothing of the child's but the name they chose.
    AchievementEarned {
        learner_name: String,
        achievement_id: String,
        achievement_name: String,
    },
    /// A play and study reminder, at the hour the account chose (`reminders`).
    Reminder {},
    /// The weekly report on a parent's children: each child's week (`weekly_report`). Only what the report shows
    /// travels: display names, numbers, game titles, achievement and skill names — never a profile id.
    WeeklyReport {
        /// The week's first and last day (`YYYY-MM-DD`, in the family's zone).
        from: String,
        to: String,
        children: Vec<ChildWeek>,
    },
    /// A title and a body the producer wrote (one language), and optionally an absolute http(s) link into the app.
    Message {
        title: String,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
    },
}

impl NotificationContent {
    /// The template's name as it travels (`achievement_earned`); safe to log.
    pub fn name(&self) -> &'static str {
        match self {
            Self::AchievementEarned { .. } => "achievement_earned",
            Self::Message { .. } => "message",
            Self::Reminder {} => "reminder",
            Self::WeeklyReport { .. } => "weekly_report",
        }
    }
}

/// One child's week in a [`NotificationContent::WeeklyReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildWeek {
    /// The child's display name.
    pub name: String,
    pub seconds: i64,
    pub results: i64,
    pub completed: i64,
    pub stars: i64,
    pub days_played: i64,
    /// The games played most (at most five).
    #[serde(default)]
    pub games: Vec<GameWeek>,
    /// The achievements earned in the week, by name.
    #[serde(default)]
    pub achievements: Vec<String>,
    /// The skills mastered in the week (mastery at least two thirds), by name.
    #[serde(default)]
    pub skills_mastered: Vec<String>,
}

/// One game in a child's week.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameWeek {
    pub title: String,
    pub plays: i64,
    pub best_stars: i32,
}

/// Job: notify one account.
///
/// On the wire: `{"user_id": "01J…", "type": "exam_results", "template": "message", "params": {"title": ..,
/// "body": ..}, "key": "exam:01J…"}`. `key` makes it one notification: however often the job is sent or
/// delivered, the recipient gets one in-app notification and at most one email for a key (per recipient).
/// Send it with [`Notify::job`], which sets the queue's idempotency key from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notify {
    /// The recipient account.
    pub user_id: String,
    #[serde(rename = "type")]
    pub category: NotificationType,
    #[serde(flatten)]
    pub content: NotificationContent,
    /// What makes this notification one (an event id, `exam:<id>`); 1 to 200 characters.
    pub key: String,
}

impl Notify {
    /// The job to send (or to write to the outbox), keyed for the worker by recipient and key.
    pub fn job(&self) -> Result<NewJob, QueueError> {
        Ok(NewJob::new(self)?.idempotency_key(format!("notify:{}:{}", self.user_id, self.key)))
    }
}

impl JobKind for Notify {
    const KIND: &'static str = "platform.notify";
    const QUEUE: &'static str = queues::NOTIFICATIONS;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shape_is_pinned() {
        let job = Notify {
            user_id: "U".into(),
            category: NotificationType::Achievements,
            content: NotificationContent::AchievementEarned {
                learner_name: "Kid".into(),
                achievement_id: "A".into(),
                achievement_name: "First steps".into(),
            },
            key: "achievement:P:A".into(),
        };
        let wire = serde_json::json!({
            "user_id": "U", "type": "achievements", "template": "achievement_earned",
            "params": {"learner_name": "Kid", "achievement_id": "A", "achievement_name": "First steps"},
            "key": "achievement:P:A"
        });
        assert_eq!(serde_json::to_value(&job).unwrap(), wire);
        assert_eq!(serde_json::from_value::<Notify>(wire).unwrap(), job);
        assert_eq!(
            (Notify::KIND, Notify::QUEUE),
            ("platform.notify", "notifications")
        );
        assert_eq!(
            job.job().unwrap().job.idempotency_key.as_deref(),
            Some("notify:U:achievement:P:A")
        );
        for t in NotificationType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }
}
