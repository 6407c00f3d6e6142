//! Lambda entry of the learning worker (SQS, the learning queue, with ReportBatchItemFailures).

use std::sync::Arc;

use lectern_learning::Learning;
use lectern_shared::queue::queues;
use lectern_shared::{Config, Platform, lambda, telemetry};

// Lambda hands an environment one event at a time: worker threads would only cost start-up time and memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let platform = Platform::for_function(Config::from_env()?).await?;
    let learning = Learning::from_env(platform.clone())?;
    let worker = lectern_learning_worker::worker(&platform, learning);
    lambda::run_sqs_worker(Arc::new(worker), platform.queue.clone(), queues::LEARNING).await
}
