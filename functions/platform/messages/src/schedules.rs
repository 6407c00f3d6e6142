//! Every scheduled job, named once: the schedule the template gives it, what it does and how long a run may hold
//! it (`lectern_shared::schedule`). The functions that run them and the console that lists them
//! (`GET /v1/admin/jobs`) read this catalog, so a job cannot run under one name and be listed under another. The
//! hourly jobs' fan-out pages travel as jobs ([`RemindersPage`], [`WeeklyReportsPage`]), so a big time-zone bucket
//! is worked through in many short runs instead of one long one.

use lectern_shared::queue::{JobKind, NewJob, QueueError, queues};
use lectern_shared::schedule::ScheduledJob;
use serde::{Deserialize, Serialize};

/// Sweeps expired items (tokens, sessions, idempotency records, notifications, abandoned uploads) and enqueues due
/// account purges. `housekeeping`, Timeout 300 s.
pub const HOUSEKEEPING: ScheduledJob = ScheduledJob {
    name: "housekeeping",
    schedule: "rate(1 hour)",
    description: "Removes expired items and abandoned uploads, and enqueues the purges of accounts whose grace period is over.",
    lease_secs: 600,
};

/// Sends the jobs requests committed to the outbox but did not send. `outbox`, Timeout 50 s.
pub const OUTBOX_RELAY: ScheduledJob = ScheduledJob {
    name: "outbox-relay",
    schedule: "rate(1 minute)",
    description: "Sends the jobs that requests committed to the outbox but could not send themselves.",
    lease_secs: 120,
};

/// Closes exam attempts whose deadline passed. `exam-deadlines`, Timeout 50 s.
pub const EXAM_DEADLINES: ScheduledJob = ScheduledJob {
    name: "exam-deadlines",
    schedule: "rate(1 minute)",
    description: "Submits the exam attempts whose time is up.",
    lease_secs: 120,
};

/// Play and study reminders at each account's chosen local hour. `scheduler`, Timeout 60 s.
pub const REMINDERS: ScheduledJob = ScheduledJob {
    name: "reminders",
    schedule: "cron(0 * * * ? *)",
    description: "Every hour: enqueues the reminders of the accounts whose chosen local hour begins, one page of a time-zone bucket per job.",
    lease_secs: 300,
};

/// The weekly report to parents, Monday 08:00 in the family's zone. `scheduler`, Timeout 60 s.
pub const WEEKLY_PARENT_REPORTS: ScheduledJob = ScheduledJob {
    name: "weekly-parent-reports",
    schedule: "cron(0 * * * ? *)",
    description: "Every hour: where it is Monday 08:00, enqueues the weekly report of each family with children in that time zone, one page per job.",
    lease_secs: 300,
};

/// Every scheduled job, in the order the console lists them.
pub const ALL: [ScheduledJob; 5] = [
    HOUSEKEEPING,
    OUTBOX_RELAY,
    EXAM_DEADLINES,
    REMINDERS,
    WEEKLY_PARENT_REPORTS,
];

/// The purpose the reminders' zones are recorded under (`lectern_shared::schedule::ScheduleZone`).
pub const REMINDER_ZONES: &str = "reminders";
/// The purpose the weekly report's zones are recorded under (zones of child profiles).
pub const WEEKLY_REPORT_ZONES: &str = "weekly_report";
/// The local hour (Monday) the weekly parent report goes out at.
pub const WEEKLY_REPORT_HOUR: i8 = 8;

/// Job: remind one page of the accounts whose reminder is at `hour` in `zone`, on the local `date`; then send the
/// next page. On the wire: `{"zone": "Europe/Paris", "hour": 17, "date": "2026-11-30", "cursor": null}`, keyed
/// `reminders:<zone>:<date>:<hour>:<cursor>` so a repeated tick or page enqueues each page once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemindersPage {
    pub zone: String,
    pub hour: i8,
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl RemindersPage {
    pub fn job(&self) -> Result<NewJob, QueueError> {
        Ok(NewJob::new(self)?.idempotency_key(format!(
            "reminders:{}:{}:{}:{}",
            self.zone,
            self.date,
            self.hour,
            self.cursor.as_deref().unwrap_or("start")
        )))
    }
}

impl JobKind for RemindersPage {
    const KIND: &'static str = "platform.reminders_page";
    const QUEUE: &'static str = queues::NOTIFICATIONS;
}

/// Job: send the weekly report of one page of the families whose children live in `zone`, for the week that
/// began on Monday `week` (`YYYY-MM-DD`, the last complete week there); then send the next page. Keyed
/// `weekly-reports:<zone>:<week>:<cursor>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyReportsPage {
    pub zone: String,
    pub week: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl WeeklyReportsPage {
    pub fn job(&self) -> Result<NewJob, QueueError> {
        Ok(NewJob::new(self)?.idempotency_key(format!(
            "weekly-reports:{}:{}:{}",
            self.zone,
            self.week,
            self.cursor.as_deref().unwrap_or("start")
        )))
    }
}

impl JobKind for WeeklyReportsPage {
    const KIND: &'static str = "learning.weekly_reports_page";
    const QUEUE: &'static str = queues::LEARNING;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shapes_are_pinned_and_names_unique() {
        let page = RemindersPage {
            zone: "Europe/Paris".into(),
            hour: 17,
            date: "2026-11-30".into(),
            cursor: None,
        };
        assert_eq!(
            serde_json::to_value(&page).unwrap(),
            serde_json::json!({"zone": "Europe/Paris", "hour": 17, "date": "2026-11-30"})
        );
        assert_eq!(
            page.job().unwrap().job.idempotency_key.as_deref(),
            Some("reminders:Europe/Paris:2026-11-30:17:start")
        );
        let weekly = WeeklyReportsPage {
            zone: "UTC".into(),
            week: "2026-11-23".into(),
            cursor: Some("c".into()),
        };
        assert_eq!(
            serde_json::to_value(&weekly).unwrap(),
            serde_json::json!({"zone": "UTC", "week": "2026-11-23", "cursor": "c"})
        );
        let mut names: Vec<&str> = ALL.iter().map(|j| j.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }
}
