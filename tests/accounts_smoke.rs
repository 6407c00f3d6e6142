//! A quick check that the account helpers work end to end (the full flows live in their own files).

use lectern_e2e::DevServer;
use lectern_e2e::api::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_verify_and_read_own_profile() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let me = api.signed_up("smoke@example.com").await;
    let profile = api.get("/v1/users/me", Some(&me.access)).await;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.body["email_verified"], true);
    assert_eq!(profile.body["user_id"], me.user_id.as_str());
    server.stop().await;
}
