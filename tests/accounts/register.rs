//! `POST /v1/auth/register` and the verification that follows it.

use lectern_e2e::DevServer;
use lectern_e2e::api::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_verify_and_read_own_profile() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let me = api.signed_up("smoke@example.com").await;
    let profile = api.me(&me.access).await.expect_status(200);
    assert_eq!(profile.body["email_verified"], true);
    assert_eq!(profile.body["user_id"], me.user_id.as_str());
    server.stop().await;
}
