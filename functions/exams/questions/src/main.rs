//! Lambda entry of the questions function.

use lectern_accounts::service::Accounts;
use lectern_exams::Exams;
use lectern_shared::{Config, Platform, http, lambda, telemetry};

// Lambda hands an environment one event at a time: worker threads would only cost start-up time and memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let platform = Platform::for_function(config).await?;
    let accounts = Accounts::from_env(platform.clone())?;
    let router = lectern_exams_questions::router(Exams::new(platform.clone()), accounts);
    lambda::run_http(http::layers::api(router, &platform)).await
}
