//! Lambda entry of the notifications worker (SQS, with ReportBatchItemFailures).

use std::sync::Arc;

use lectern_platform::Notifications;
use lectern_platform_notifications::Branding;
use lectern_shared::queue::queues;
use lectern_shared::{Config, Platform, lambda, telemetry};

// Lambda hands an environment one event at a time: worker threads would only cost start-up time and memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    // Read before anything else so a bad variable fails the cold start instead of every email.
    let branding = Branding::from_env()?;
    let platform = Platform::for_function(Config::from_env()?).await?;
    let notifications = Notifications::from_env(platform.clone())?;
    let worker = lectern_platform_notifications::worker_for(&platform, branding, notifications);
    lambda::run_sqs_worker(
        Arc::new(worker),
        platform.queue.clone(),
        queues::NOTIFICATIONS,
    )
    .await
}
