//! The hourly jobs that reach people at their local time, each run through the scheduled-job runner
//! (`lectern_shared::schedule`: one run at a time, its last run recorded for `GET /v1/admin/jobs`):
//!
//! - `reminders`: the first page of each reminder bucket whose local hour begins (`lectern_platform::reminders`);
//! - `weekly-parent-reports`: where Monday 08:00 begins, the first page of that zone's weekly report bucket, a
//!   `learning.weekly_reports_page` job the learning worker works through (`lectern_learning::weekly`). This
//!   function knows nothing of the learning domain: it reads the zones in use (a shared entity) and sends a
//!   message type; the learning worker reads its own bucket.
//!
//! Both only enqueue pages, so a run stays short whatever the number of people; whatever the pages send is keyed
//! per recipient and period, so an overlapping or repeated run sends nothing twice.

use lectern_messages::WeeklyReportsPage;
use lectern_messages::schedules::{self, WEEKLY_REPORT_HOUR, WEEKLY_REPORT_ZONES};
use lectern_platform::Notifications;
use lectern_platform::reminders::TickReport;
use lectern_shared::Platform;
use lectern_shared::queue::{JobKind, MAX_BATCH};
use lectern_shared::schedule::{Ran, ScheduleZone, run_scheduled};
use serde::Serialize;

/// What one run of the function did, per job.
#[derive(Debug, PartialEq, Serialize)]
pub struct Report {
    pub reminders: Ran<TickReport>,
    pub weekly_parent_reports: Ran<WeeklyTick>,
}

/// What the weekly report's tick did.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct WeeklyTick {
    pub zones: i64,
    pub pages_enqueued: i64,
}

/// One run of both hourly jobs; called by the scheduled Lambda and by the dev server's scheduler.
#[tracing::instrument(skip_all)]
pub async fn run(platform: &Platform, notifications: &Notifications) -> anyhow::Result<Report> {
    let reminders = reminders(platform, notifications).await;
    let weekly = weekly_parent_reports(platform).await;
    // One job failing does not stop the other; the function fails (and alarms) when either did.
    Ok(Report {
        reminders: reminders?,
        weekly_parent_reports: weekly?,
    })
}

/// The `reminders` job.
pub async fn reminders(
    platform: &Platform,
    notifications: &Notifications,
) -> anyhow::Result<Ran<TickReport>> {
    run_scheduled(platform, &schedules::REMINDERS, || {
        notifications.reminders_tick()
    })
    .await
}

/// The `weekly-parent-reports` job.
pub async fn weekly_parent_reports(platform: &Platform) -> anyhow::Result<Ran<WeeklyTick>> {
    run_scheduled(platform, &schedules::WEEKLY_PARENT_REPORTS, || {
        weekly_tick(platform)
    })
    .await
}

/// Enqueues the first page of each zone where Monday [`WEEKLY_REPORT_HOUR`]:00 begins, for the week before.
async fn weekly_tick(platform: &Platform) -> anyhow::Result<WeeklyTick> {
    let now = platform.clock.epoch_seconds();
    let zones =
        ScheduleZone::local_times(platform.table.as_ref(), WEEKLY_REPORT_ZONES, now).await?;
    let mut jobs = Vec::new();
    for (zone, local) in &zones {
        if local.weekday() != jiff::civil::Weekday::Monday || local.hour() != WEEKLY_REPORT_HOUR {
            continue;
        }
        let week = local.date().checked_sub(jiff::Span::new().days(7))?;
        jobs.push(
            WeeklyReportsPage {
                zone: zone.clone(),
                week: week.to_string(),
                cursor: None,
            }
            .job()?,
        );
    }
    let pages = jobs.len() as i64;
    for chunk in jobs.chunks(MAX_BATCH) {
        platform
            .queue
            .send(WeeklyReportsPage::QUEUE, chunk.to_vec())
            .await?;
    }
    Ok(WeeklyTick {
        zones: zones.len() as i64,
        pages_enqueued: pages,
    })
}
