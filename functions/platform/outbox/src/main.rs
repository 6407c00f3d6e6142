//! Lambda entry of the outbox relay (EventBridge schedule, every minute).

use lectern_shared::{Config, Platform, lambda, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let platform = Platform::from_config(Config::from_env()?).await?;
    lambda::run_scheduled(move || {
        let platform = platform.clone();
        async move { lectern_platform_outbox::run(&platform).await }
    })
    .await
}
