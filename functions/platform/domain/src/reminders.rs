//! Play and study reminders, every day at the hour each account chose in its own zone
//! ([`crate::preferences::ReminderTime`]).
//!
//! The hourly tick ([`Notifications::reminders_tick`], the `reminders` scheduled job) reads the zones in use
//! (`lectern_shared::schedule::ScheduleZone`), and for each enqueues the first page of the one bucket whose local
//! hour begins now ([`crate::preferences::REMINDER_SLOT`]); nothing else is read, and no account of another hour
//! or zone is touched. Each page ([`Notifications::reminders_page`], a `platform.reminders_page` job) reads up to
//! [`PAGE`] accounts, sends each a `platform.notify` job keyed `reminder:<local date>`, and enqueues the next page:
//! a bucket of any size is worked through in short runs. The notification key makes a reminder one per account
//! and local day, however often the tick or a page runs (an overlap, a crash and rerun, a redelivery, an hour a
//! clock change repeats); the delivery applies the account's channels for `reminders` and its quiet hours.
//!
//! Zones with a half-hour offset are reminded at the first top of a UTC hour inside the chosen local hour (17:30
//! for 17:00 in India). An hour a clock change skips is not reminded that day.

use lectern_messages::schedules::REMINDER_ZONES;
use lectern_messages::{NotificationContent, NotificationType, Notify, RemindersPage};
use lectern_shared::queue::{JobKind, MAX_BATCH, NewJob};
use lectern_shared::schedule::ScheduleZone;
use lectern_shared::table::Entity;
use serde::Serialize;

use crate::preferences::{REMINDER_SLOT, StoredPreferences, hour_key};
use crate::service::Notifications;

/// Accounts one page reminds.
pub const PAGE: usize = 100;

/// What a tick did.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    pub zones: i64,
    pub pages_enqueued: i64,
}

/// What a page did.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct PageReport {
    pub reminded: i64,
    pub skipped: i64,
    pub more: bool,
}

impl Notifications {
    /// Enqueues the first page of every bucket whose local hour begins at `now` (see the module doc).
    pub async fn reminders_tick(&self) -> anyhow::Result<TickReport> {
        let now = self.now();
        let zones =
            ScheduleZone::local_times(self.platform.table.as_ref(), REMINDER_ZONES, now).await?;
        let jobs = zones
            .iter()
            .map(|(zone, local)| {
                RemindersPage {
                    zone: zone.clone(),
                    hour: local.hour(),
                    date: local.date().to_string(),
                    cursor: None,
                }
                .job()
            })
            .collect::<Result<Vec<NewJob>, _>>()?;
        let pages = jobs.len() as i64;
        self.send_all(RemindersPage::QUEUE, jobs).await?;
        Ok(TickReport {
            zones: zones.len() as i64,
            pages_enqueued: pages,
        })
    }

    /// Reminds one page of a bucket and enqueues the next (see the module doc).
    pub async fn reminders_page(&self, page: &RemindersPage) -> anyhow::Result<PageReport> {
        let found = self
            .platform
            .table
            .query(
                REMINDER_SLOT
                    .query(&[&page.zone, &hour_key(page.hour)])
                    .limit(PAGE)
                    .after(page.cursor.clone()),
            )
            .await?;
        let mut report = PageReport::default();
        let mut jobs = Vec::new();
        for item in found.items {
            let stored = StoredPreferences::from_item(item)?;
            // A reminder switched off in every channel that delivers anything is not worth a job.
            let channels = stored.channels.of(NotificationType::Reminders);
            if !channels.in_app && !channels.email {
                report.skipped += 1;
                continue;
            }
            jobs.push(
                Notify {
                    user_id: stored.user_id,
                    category: NotificationType::Reminders,
                    content: NotificationContent::Reminder {},
                    key: format!("reminder:{}", page.date),
                }
                .job()?,
            );
            report.reminded += 1;
        }
        if let Some(cursor) = found.cursor {
            report.more = true;
            jobs.push(
                RemindersPage {
                    cursor: Some(cursor),
                    ..page.clone()
                }
                .job()?,
            );
        }
        // Every job goes to the notifications queue: the reminders and the next page alike.
        self.send_all(Notify::QUEUE, jobs).await?;
        Ok(report)
    }

    /// Sends jobs in batches the queue accepts.
    async fn send_all(&self, queue: &str, jobs: Vec<NewJob>) -> anyhow::Result<()> {
        for chunk in jobs.chunks(MAX_BATCH) {
            self.platform.queue.send(queue, chunk.to_vec()).await?;
        }
        Ok(())
    }
}
