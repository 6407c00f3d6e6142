//! Sessions: `logout-all`, and the owner's `/v1/users/me/sessions` (and, alongside, whose sessions and keys an
//! owner can reach).

use lectern_e2e::api::{Api, Auth, Body, PASSWORD, Signed, USER_AGENT, assert_problem};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_all_ends_every_session() {
    let api = Api::start().await;
    let a = api.signed_up("everywhere@example.com").await;
    let b = api.login(&a.email).await;
    api.logout_all(&b.access).await.expect_status(204);
    for session in [&a, &b] {
        api.assert_signed_out(session, "after logout-all").await;
    }
    assert_problem(&api.logout_all(&b.access).await, 401, "unauthenticated");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_list_marks_the_current_one_and_revoking_ends_a_session_at_once() {
    let api = Api::start().await;
    let email = "sessions@example.com";
    let first = api.signed_up(email).await;
    let body = Body::Json(json!({"email": email, "password": PASSWORD}));
    let phone = api
        .send_with(
            Method::POST,
            "/v1/auth/login",
            Auth::Anonymous,
            body,
            &[("user-agent", "PhoneApp/2.0")],
        )
        .await
        .expect_status(200);
    let phone = Signed::from_tokens(email, &first.user_id, &phone.body);

    let list = async |access: &str| api.sessions(access).await.expect_status(200).list();
    for (access, current, agent) in [
        (&first.access, &first.session_id, USER_AGENT),
        (&phone.access, &phone.session_id, "PhoneApp/2.0"),
    ] {
        let sessions = list(access).await;
        assert_eq!(sessions.len(), 2, "{sessions:?}");
        let marked: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
        assert_eq!(marked.len(), 1, "{sessions:?}");
        assert_eq!(marked[0]["session_id"], current.as_str());
        assert_eq!(marked[0]["user_agent"], agent);
        assert_eq!(marked[0]["ip"], "127.0.0.1");
    }

    api.revoke_session(&first.access, &phone.session_id)
        .await
        .expect_status(204);
    assert_problem(&api.me(&phone.access).await, 401, "unauthenticated");
    let sessions = list(&first.access).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["session_id"], first.session_id.as_str());
    // Revoking twice.
    let reply = api.revoke_session(&first.access, &phone.session_id).await;
    assert_problem(&reply, 404, "not-found");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_users_sessions_and_keys_cannot_be_revoked_by_guessing_ids() {
    let api = Api::start().await;
    let alice = api.signed_up("alice@example.com").await;
    let bob = api.signed_up("bob@example.com").await;
    let (bob_key, bob_key_id) = api
        .new_key(
            &bob.access,
            json!({"name": "bob's script", "scopes": ["self:manage"]}),
        )
        .await;

    // Alice revoking Bob's session, then his key.
    let reply = api.revoke_session(&alice.access, &bob.session_id).await;
    assert_problem(&reply, 404, "not-found");
    let reply = api.revoke_key(&alice.access, &bob_key_id).await;
    assert_problem(&reply, 404, "not-found");
    // Random well-formed ids are not found either.
    for path in ["sessions", "api-keys"] {
        let path = format!("/v1/users/me/{path}/{}", lectern_shared::ids::new_id());
        let reply = api
            .send(
                Method::DELETE,
                &path,
                Auth::Bearer(&alice.access),
                Body::Empty,
            )
            .await;
        assert_problem(&reply, 404, "not-found");
    }

    assert_eq!(api.me(&bob.access).await.status, 200);
    let via_key = api.me(Auth::Key(&bob_key)).await.expect_status(200);
    assert_eq!(via_key.body["user_id"], bob.user_id.as_str());
    assert_eq!(api.api_keys(&bob.access).await.list().len(), 1);
    assert_eq!(
        api.api_keys(&alice.access).await.body,
        json!([]),
        "alice sees none of bob's keys"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_cannot_sign_its_owner_out() {
    let api = Api::start().await;
    let user = api.signed_up("reader@example.com").await;
    let (key, _) = api
        .new_key(
            &user.access,
            serde_json::json!({"name": "reader", "scopes": ["content:read"]}),
        )
        .await;
    let reply = api.logout_all(Auth::Key(&key)).await;
    assert_problem(&reply, 403, "forbidden");
    assert_problem(&api.logout(Auth::Key(&key)).await, 403, "forbidden");
    assert_eq!(api.me(&user.access).await.status, 200, "still signed in");
    api.stop().await;
}
