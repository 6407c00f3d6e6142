//! Lambda entry of the exam deadline job (EventBridge schedule, every minute).

use lectern_shared::{Config, Platform, lambda, telemetry};

// Lambda hands an environment one event at a time: worker threads would only cost start-up time and memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let platform = Platform::for_function(Config::from_env()?).await?;
    lambda::run_scheduled(move || {
        let platform = platform.clone();
        async move { lectern_exams_deadlines::scheduled(&platform).await }
    })
    .await
}
