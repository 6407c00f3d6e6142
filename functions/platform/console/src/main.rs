//! Lambda entry of the console function (the operators' routes).

use lectern_accounts::service::Accounts;
use lectern_shared::{Config, Platform, http, lambda, telemetry};

// Lambda hands an environment one event at a time: worker threads would only cost start-up time and memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let platform = Platform::for_function(config).await?;
    let accounts = Accounts::from_env(platform.clone())?;
    lambda::run_http(http::layers::api(
        lectern_platform_console::router(platform.clone(), accounts),
        &platform,
    ))
    .await
}
