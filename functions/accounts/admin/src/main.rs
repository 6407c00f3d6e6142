//! Lambda entry of the admin function.

use lectern_accounts::service::Accounts;
use lectern_shared::{Config, Platform, http, lambda, telemetry};

// Lambda hands an environment one event at a time: worker threads would only cost start-up time and memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let platform = Platform::for_function(config.clone()).await?;
    let accounts = Accounts::from_env(platform)?;
    // The documented way to get the first admin on AWS: set LECTERN_BOOTSTRAP_ADMIN_EMAIL to a registered
    // account's address. It is promoted only while no active admin exists, so leaving it set is harmless.
    if let Some(email) = accounts.config.bootstrap_admin_email.clone() {
        match accounts.bootstrap_admin(&email).await {
            Ok(true) => tracing::info!("bootstrap admin promoted"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "bootstrap admin not promoted"),
        }
    }
    lambda::run_http(http::layers::api(
        lectern_accounts_admin::router(accounts),
        &config,
    ))
    .await
}
