//! Lambda entry of the admin function (one event at a time, so a current-thread runtime, as every function's).

use lectern_accounts::service::Accounts;
use lectern_accounts::service::admin::AdminBootstrap;
use lectern_shared::{Config, Platform, http, lambda, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let platform = Platform::for_function(config).await?;
    let accounts = Accounts::for_account_routes(platform.clone())?;
    // The first admin on AWS: LECTERN_BOOTSTRAP_ADMIN_EMAIL names a registered account whose address was verified
    // through the emailed link; it is promoted (and audited) only while no active admin exists.
    if let Some(email) = accounts.config.bootstrap_admin_email.clone() {
        match accounts
            .bootstrap_admin(&email, AdminBootstrap::RequireVerified)
            .await
        {
            Ok(true) => tracing::info!("bootstrap admin promoted"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "bootstrap admin not promoted"),
        }
    }
    lambda::run_http(http::layers::api(
        lectern_accounts_admin::router(accounts),
        &platform,
    ))
    .await
}
