//! The dev server: every function's router on one port, the queue workers and scheduled jobs in-process, and
//! the signed blob URLs of the local store. Tests start it in-process through [`Server`].

pub mod aws_backup;
pub mod aws_resources;
pub mod backup;
pub mod control;
pub mod lambda_events;
pub mod openapi;
pub mod schedule;
pub mod seed;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use lectern_accounts::service::Accounts;
use lectern_learning::Learning;
use lectern_learning::config::LearningConfig;
use lectern_platform::Notifications;
use lectern_platform::config::NotificationsConfig;
use lectern_shared::Platform;
use lectern_shared::blobs::embedded;
use lectern_shared::http::layers;
use lectern_shared::queue::queues;
use lectern_shared::queue::worker::{self, Worker};
use lectern_shared::table::{Entity, EntityInfo};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Every entity the dev server itself stores. `tests/architecture/keys.rs` checks them together with every other
/// crate's: no two may share a key, and an entity declared but missing here fails the test.
pub const ENTITIES: &[EntityInfo] = &[seed::SeedMarker::INFO];

/// The learning service over the platform the accounts service uses (in tests: the counting one), configured
/// from the environment; a bad setting is logged and the defaults are used, as `lectern serve` checks them first.
pub fn learning(accounts: &Accounts) -> Arc<Learning> {
    learning_on(&accounts.platform)
}

/// The learning service over `platform`, configured from the environment (see [`learning`]).
pub fn learning_on(platform: &Platform) -> Arc<Learning> {
    let config = LearningConfig::from_env().unwrap_or_else(|e| {
        tracing::error!(error = %e, "learning settings refused; using the defaults");
        LearningConfig::from_lookup(|_| None).unwrap_or_else(|_| unreachable!("defaults are valid"))
    });
    Learning::new(platform.clone(), config)
}

/// The notification centre over `platform`, configured from the environment (a bad setting is logged and the
/// defaults are used, as `lectern serve` checks them first).
pub fn notifications_on(platform: &Platform) -> Arc<Notifications> {
    let config = NotificationsConfig::from_env().unwrap_or_else(|e| {
        tracing::error!(error = %e, "notification settings refused; using the defaults");
        NotificationsConfig::default()
    });
    Notifications::new(platform.clone(), config)
}

/// Every function's routes, layered exactly as each Lambda layers its own, plus the local blob routes.
pub fn app(platform: &Platform, accounts: Arc<Accounts>) -> Router {
    let functions = Router::new()
        .merge(lectern_platform_health::router(platform.clone()))
        .merge(lectern_accounts_auth::router(accounts.clone()))
        .merge(lectern_accounts_users::router(accounts.clone()))
        .merge(lectern_learning_profiles::router(
            learning(&accounts),
            accounts.clone(),
        ))
        .merge(lectern_learning_catalog::router(
            learning(&accounts),
            accounts.clone(),
        ))
        .merge(lectern_learning_progress::router(
            learning(&accounts),
            accounts.clone(),
        ))
        .merge(lectern_learning_achievements::router(
            learning(&accounts),
            accounts.clone(),
        ))
        .merge(lectern_learning_leaderboards::router(
            learning(&accounts),
            accounts.clone(),
        ))
        .merge(lectern_accounts_admin::router(accounts.clone()))
        .merge(lectern_platform_inbox::router(
            notifications_on(&accounts.platform),
            accounts.clone(),
        ))
        .merge(lectern_platform_console::router(
            accounts.platform.clone(),
            accounts.clone(),
        ))
        .merge(exams_routers(accounts.clone()))
        .merge(lectern_operations_settings::router(
            lectern_operations::Operations::new(accounts.platform.clone()),
            accounts.clone(),
        ))
        .merge(lectern_webhooks_endpoints::router(
            lectern_webhooks::Webhooks::new(accounts.platform.clone()),
            accounts,
        ));
    let mut app = layers::with_body_limit(functions, &platform.config);
    if let Some(blobs) = &platform.embedded_blobs {
        // Uploads carry their own signed size limit, so they sit outside the JSON body limit.
        app = app.merge(embedded::router(blobs.clone()));
    }
    layers::common(app, platform)
}

/// The exams domain's routers. They run on the accounts' platform, which tests wrap in counting adapters.
fn exams_routers(accounts: Arc<Accounts>) -> Router {
    let exams = lectern_exams::Exams::new(accounts.platform.clone());
    Router::new()
        .merge(lectern_exams_catalog::router(
            exams.clone(),
            accounts.clone(),
        ))
        .merge(lectern_exams_questions::router(
            exams.clone(),
            accounts.clone(),
        ))
        .merge(lectern_exams_exams::router(exams, accounts))
}

/// The workers of each queue, as the `notifications` and `jobs` Lambdas run them.
pub fn workers(platform: &Platform) -> Vec<(&'static str, Arc<Worker>)> {
    vec![
        (
            queues::NOTIFICATIONS,
            Arc::new(lectern_platform_notifications::worker(platform)),
        ),
        (
            queues::JOBS,
            Arc::new(lectern_platform_jobs::worker(platform)),
        ),
        (
            queues::LEARNING,
            Arc::new(lectern_learning_worker::worker(
                platform,
                learning_on(platform),
            )),
        ),
    ]
}

/// A running dev server.
pub struct Server {
    pub addr: std::net::SocketAddr,
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Server {
    /// Serves on an already bound listener, with the queue pollers and the scheduler running.
    pub async fn start_with(
        listener: TcpListener,
        platform: Platform,
        accounts: Arc<Accounts>,
    ) -> anyhow::Result<Self> {
        let addr = listener.local_addr().context("reading listen address")?;
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for (name, worker) in workers(&platform) {
            tasks.spawn(worker::poll(
                platform.queue.clone(),
                name,
                worker,
                platform.config.queue_visibility,
                stop.clone(),
            ));
        }
        tasks.spawn(schedule::run(platform.clone(), stop.clone()));
        let backups = backup::BackupSchedule::from_env(&platform.config.data_dir)?;
        tasks.spawn(control::scheduled(platform.clone(), backups, stop.clone()));
        if let Some(control) = control::listen(&platform) {
            tasks.spawn(control.serve(stop.clone()));
        }
        let app = app(&platform, accounts);
        let shutdown = stop.clone();
        tasks.spawn(async move {
            let served = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "http server failed");
            }
        });
        Ok(Self { addr, stop, tasks })
    }

    /// Stops accepting work, lets in-flight requests and job batches finish (bounded), and returns.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(30), drain)
            .await
            .is_err()
        {
            tracing::warn!(
                "tasks did not finish within 30 s; unacknowledged jobs will be redelivered"
            );
            self.tasks.abort_all();
        }
        // Metrics are written in batches; the last one would otherwise be lost with the process.
        if let Some(metrics) = lectern_shared::metrics::global() {
            metrics.flush();
        }
    }

    /// A token that stops the server when cancelled (for signal handling).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }
}
