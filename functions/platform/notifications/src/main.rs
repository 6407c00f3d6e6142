//! Lambda entry of the notifications worker (SQS, with ReportBatchItemFailures).

use std::sync::Arc;

use lectern_platform_notifications::Branding;
use lectern_shared::queue::queues;
use lectern_shared::{Config, Platform, lambda, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    // Read before anything else so a bad variable fails the cold start instead of every email.
    let branding = Branding::from_env()?;
    let platform = Platform::from_config(Config::from_env()?).await?;
    let worker = lectern_platform_notifications::worker_with(&platform, branding);
    lambda::run_sqs_worker(
        Arc::new(worker),
        platform.queue.clone(),
        queues::NOTIFICATIONS,
    )
    .await
}
