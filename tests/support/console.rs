//! The operators' console routes as the tests use them (one helper per route, on [`Client`]), and the scheduled
//! jobs run as EventBridge would run them.

use lectern_messages::{Notify, RemindersPage, WeeklyReportsPage};
use lectern_platform::reminders::TickReport;
use lectern_platform_scheduler::WeeklyTick;
use lectern_shared::queue::claims::JobClaim;
use lectern_shared::queue::{JobKind, NewJob, QueueError};
use lectern_shared::schedule::Ran;
use lectern_shared::table::Entity;
use reqwest::Method;

use crate::api::{Api, Auth, Body, Client, Reply};

impl Client {
    // --- /v1/admin/jobs --------------------------------------------------------------------------------------

    pub async fn admin_jobs<'t>(&self, auth: impl Into<Auth<'t>>) -> Reply {
        self.send(Method::GET, "/v1/admin/jobs", auth.into(), Body::Empty)
            .await
    }

    // --- /v1/admin/dead-letters ------------------------------------------------------------------------------

    pub async fn dead_letters<'t>(&self, auth: impl Into<Auth<'t>>, query: &str) -> Reply {
        let path = if query.is_empty() {
            "/v1/admin/dead-letters".to_string()
        } else {
            format!("/v1/admin/dead-letters?{query}")
        };
        self.send(Method::GET, &path, auth.into(), Body::Empty)
            .await
    }

    pub async fn redrive_dead_letters<'t>(
        &self,
        auth: impl Into<Auth<'t>>,
        body: serde_json::Value,
    ) -> Reply {
        self.send(
            Method::POST,
            "/v1/admin/dead-letters/redrive",
            auth.into(),
            Body::Json(body),
        )
        .await
    }
}

impl Api {
    /// Runs the `reminders` job once (again while the dev server's own hourly run holds it: a test must not
    /// depend on the top of a real hour passing or not).
    pub async fn run_reminders(&self) -> TickReport {
        let platform = &self.server.platform;
        let notifications = lectern_local::notifications_on(platform);
        let ran = crate::poll(async || {
            match lectern_platform_scheduler::reminders(platform, &notifications)
                .await
                .expect("the reminders job runs")
            {
                Ran::Finished(report) => Some(report),
                Ran::Refused { .. } => None,
            }
        })
        .await;
        ran.expect("the reminders job ran")
    }

    /// Runs the `weekly-parent-reports` job once (see [`Api::run_reminders`]).
    pub async fn run_weekly_reports(&self) -> WeeklyTick {
        let platform = &self.server.platform;
        let ran = crate::poll(async || {
            match lectern_platform_scheduler::weekly_parent_reports(platform)
                .await
                .expect("the weekly reports job runs")
            {
                Ran::Finished(report) => Some(report),
                Ran::Refused { .. } => None,
            }
        })
        .await;
        ran.expect("the weekly reports job ran")
    }

    /// Waits (bounded) until the worker finished the job of `kind` keyed `key`; answers whether it did.
    pub async fn await_job_done(&self, kind: &str, key: &str) -> bool {
        let table = self.server.platform.table.clone();
        let claim = JobClaim::key_of(kind, key);
        crate::eventually(async || {
            table
                .get(&claim)
                .await
                .expect("the table answers")
                .map(|item| JobClaim::from_item(item).expect("a claim"))
                .is_some_and(|c| c.state == "done")
        })
        .await
    }

    /// Waits until the first page of the reminders of `zone` at `hour` on `date` was worked through.
    pub async fn await_reminders_page(&self, zone: &str, hour: i8, date: &str) {
        let page = RemindersPage {
            zone: zone.into(),
            hour,
            date: date.into(),
            cursor: None,
        };
        self.await_page(RemindersPage::KIND, page.job()).await;
    }

    /// Waits until the first page of the weekly reports of `zone` for the week of `week` was worked through.
    pub async fn await_weekly_page(&self, zone: &str, week: &str) {
        let page = WeeklyReportsPage {
            zone: zone.into(),
            week: week.into(),
            cursor: None,
        };
        self.await_page(WeeklyReportsPage::KIND, page.job()).await;
    }

    async fn await_page(&self, kind: &str, job: Result<NewJob, QueueError>) {
        let key = job.expect("a job").job.idempotency_key.expect("keyed");
        assert!(
            self.await_job_done(kind, &key).await,
            "the page {key} was handled"
        );
    }

    /// Waits until the notification keyed `key` for `user_id` was delivered by the worker.
    pub async fn await_notified(&self, user_id: &str, key: &str) {
        let idempotency = format!("notify:{user_id}:{key}");
        assert!(
            self.await_job_done(Notify::KIND, &idempotency).await,
            "{idempotency} was delivered"
        );
    }
}
