//! Sessions: `logout`, `logout-all`, and the owner's `/v1/users/me/sessions`.

use lectern_e2e::DevServer;
use lectern_e2e::api::{Api, assert_problem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_all_ends_every_session() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let a = api.signed_up("everywhere@example.com").await;
    let b = api.login(&a.email).await;
    api.logout_all(&b.access).await.expect_status(204);
    for session in [&a, &b] {
        api.assert_signed_out(session, "after logout-all").await;
    }
    assert_problem(&api.logout_all(&b.access).await, 401, "unauthenticated");
    server.stop().await;
}
