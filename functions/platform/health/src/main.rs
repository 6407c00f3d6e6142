//! Lambda entry of the health function: clients are built once per execution environment, not per request.

use lectern_shared::{Config, Platform, http, lambda, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let platform = Platform::from_config(config.clone()).await?;
    lambda::run_http(http::layers::api(
        lectern_platform_health::router(platform),
        &config,
    ))
    .await
}
