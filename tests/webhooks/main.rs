//! Webhooks for integrators over real HTTP on the dev server: endpoints and their owners, signed deliveries to a
//! local receiver that verifies them as the Standard Webhooks specification says, retries, disabling after 410 or
//! five days of failures, secret rotation, test messages and the delivery history, the events each domain
//! publishes, the core path on the AWS adapters, and the storage round trips.
//! The servers that deliver run with the development switch on (the receiver is on 127.0.0.1); the SSRF guard's
//! refusals are proven with it off (here at the routes, and per range in `lectern-webhooks`' sender tests).

mod aws;
mod delivery;
mod endpoints;
mod events;
mod round_trips;

use lectern_e2e::DevServer;
use lectern_e2e::api::Api;

/// A dev server that may deliver to http://127.0.0.1 (the development switch).
pub async fn insecure_api() -> Api {
    let dir = tempfile::tempdir().expect("temp dir");
    Api::on(DevServer::start_configured(dir, |config| config.webhooks_allow_insecure = true).await)
}
