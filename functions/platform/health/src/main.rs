//! Lambda entry of the health function: clients are built once per execution environment, not per request.

use lectern_shared::{Config, Platform, http, lambda, telemetry};

// Lambda hands an environment one event at a time: worker threads would only cost start-up time and memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let platform = Platform::for_function(config).await?;
    lambda::run_http(http::layers::api(
        lectern_platform_health::router(platform.clone()),
        &platform,
    ))
    .await
}
