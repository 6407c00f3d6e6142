//! Lambda entry of the hourly scheduler (EventBridge schedule): reminders and the weekly parent reports.

use lectern_platform::Notifications;
use lectern_shared::{Config, Platform, lambda, telemetry};

// Lambda hands an environment one event at a time: worker threads would only cost start-up time and memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let platform = Platform::for_function(Config::from_env()?).await?;
    let notifications = Notifications::from_env(platform.clone())?;
    lambda::run_scheduled(move || {
        let (platform, notifications) = (platform.clone(), notifications.clone());
        async move { lectern_platform_scheduler::run(&platform, &notifications).await }
    })
    .await
}
