//! Lambda entry of the jobs worker (SQS, with ReportBatchItemFailures).

use std::sync::Arc;

use lectern_shared::queue::queues;
use lectern_shared::{Config, Platform, lambda, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let platform = Platform::from_config(Config::from_env()?).await?;
    let worker = lectern_platform_jobs::worker(&platform);
    lambda::run_sqs_worker(Arc::new(worker), platform.queue.clone(), queues::JOBS).await
}
