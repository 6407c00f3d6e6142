//! The job payloads Lectern's domains send each other through the queues (the "messages" of the
//! aws-lambda-rust-runtime examples' shared crate). A producer depends on this crate to enqueue work; it never
//! depends on the worker that does the work, and the worker depends on this crate to read it. Each payload knows its
//! kind and queue ([`lectern_shared::queue::JobKind`]); the wire shape is pinned by tests, because an old message
//! may still be in a queue when a new deployment reads it.

pub mod accounts;
pub mod email;
pub mod exams;
pub mod learning;
pub mod notify;
pub mod schedules;
pub mod webhooks;

pub use accounts::{ExportAccount, PurgeAccount};
pub use email::{NotifyEmail, SendEmail, Template};
pub use learning::{AchievementEarned, EraseProfile, RecordedScore, ResultsRecorded};
pub use notify::{ChildWeek, GameWeek, NotificationContent, NotificationType, Notify};
pub use schedules::{RemindersPage, WeeklyReportsPage};
pub use webhooks::{WebhookDelivery, WebhookEvent};
