//! Lambda entry of the scheduled housekeeping job (EventBridge schedule).

use lectern_shared::{Config, Platform, lambda, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let platform = Platform::from_config(Config::from_env()?).await?;
    lambda::run_scheduled(move || {
        let platform = platform.clone();
        async move { lectern_platform_housekeeping::run(&platform).await }
    })
    .await
}
