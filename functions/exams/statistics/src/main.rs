//! Lambda entry of the exam statistics worker (SQS jobs queue, with ReportBatchItemFailures).

use std::sync::Arc;

use lectern_shared::{Config, Platform, lambda, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let platform = Platform::from_config(Config::from_env()?).await?;
    lambda::run_sqs_worker(Arc::new(lectern_exams_statistics::worker(&platform))).await
}
