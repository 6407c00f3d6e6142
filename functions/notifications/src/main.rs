//! Lambda entry of the notifications worker (SQS, with ReportBatchItemFailures).

use std::sync::Arc;

use lectern_shared::{Config, Platform, lambda, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let platform = Platform::from_config(Config::from_env()?).await?;
    lambda::run_sqs_worker(Arc::new(lectern_notifications::worker(&platform))).await
}
