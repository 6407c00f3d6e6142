//! `/v1/users/me/api-keys`: who may create keys, what a key may be, what it may do, and when it stops working.

use std::time::Duration;

use lectern_e2e::api::{Api, Auth, Body, PASSWORD, assert_problem, assert_validation};
use lectern_e2e::openapi::operations;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_an_api_key_needs_a_verified_email() {
    let api = Api::start().await;
    let email = "unverified@example.com";
    api.register(email, PASSWORD).await.expect_status(202);
    let user = api.login(email).await;
    assert_eq!(api.me(&user.access).await.body["email_verified"], false);
    let ci_key = json!({"name": "ci", "scopes": ["content:read"]});
    let reply = api.create_key(&user.access, ci_key.clone()).await;
    assert_problem(&reply, 403, "email-unverified");
    assert_eq!(api.api_keys(&user.access).await.body, json!([]));

    // Once verified, the same request works.
    let token = api.mailed_token(email, "verify-email").await;
    api.verify_email(&token).await.expect_status(204);
    api.create_key(&user.access, ci_key)
        .await
        .expect_status(201);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_creation_validates_scopes_names_and_expiry() {
    let api = Api::start().await;
    let user = api.signed_up("keys@example.com").await;
    for (body, field) in [
        (json!({"name": "k", "scopes": ["users:manage"]}), "scopes"),
        (json!({"name": "k", "scopes": ["content:write"]}), "scopes"),
        (json!({"name": "k", "scopes": ["root"]}), "scopes"),
        (
            json!({"name": "k", "scopes": ["content:read", "audit:read"]}),
            "scopes",
        ),
        (json!({"name": "k", "scopes": []}), "scopes"),
        (json!({"name": "", "scopes": ["content:read"]}), "name"),
        (json!({"name": "   ", "scopes": ["content:read"]}), "name"),
        (
            json!({"name": "x".repeat(65), "scopes": ["content:read"]}),
            "name",
        ),
        (
            json!({"name": "tab\there", "scopes": ["content:read"]}),
            "name",
        ),
        (
            json!({"name": "k", "scopes": ["content:read"], "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "k", "scopes": ["content:read"], "expires_in_days": 366}),
            "expires_in_days",
        ),
        (
            json!({"name": "k", "scopes": ["content:read"], "expires_in_days": -1}),
            "expires_in_days",
        ),
        (
            json!({"name": "k", "scopes": ["content:read"], "owner": "someone"}),
            "owner",
        ),
        (json!({"scopes": ["content:read"]}), "name"),
    ] {
        assert_validation(&api.create_key(&user.access, body).await, field);
    }
    assert_eq!(
        api.api_keys(&user.access).await.body,
        json!([]),
        "nothing created"
    );

    for body in [
        json!({"name": "x".repeat(64), "scopes": ["content:read"]}),
        json!({"name": "year", "scopes": ["content:read", "self:manage"], "expires_in_days": 365}),
        json!({"name": "day", "scopes": ["content:read"], "expires_in_days": 1}),
    ] {
        let (key, _) = api.new_key(&user.access, body).await;
        assert!(key.starts_with("lk_"), "{key}");
    }
    let keys = api.api_keys(&user.access).await.list();
    assert_eq!(keys.len(), 3);
    assert!(
        keys.iter()
            .all(|k| k.get("key").is_none() && k.get("hash").is_none()),
        "no secrets in the list: {keys:?}"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_act_only_within_their_scopes_and_stop_when_revoked_or_expired() {
    let api = Api::start().await;
    let user = api.signed_up("scoped@example.com").await;
    let make = async |body| api.new_key(&user.access, body).await;
    let (full, full_id) =
        make(json!({"name": "full", "scopes": ["self:manage", "content:read"]})).await;
    let (read_only, _) = make(json!({"name": "reader", "scopes": ["content:read"]})).await;
    let (daily, _) =
        make(json!({"name": "daily", "scopes": ["self:manage"], "expires_in_days": 1})).await;

    assert_eq!(api.me(Auth::Key(&full)).await.status, 200);
    // A content:read key reading the profile.
    assert_problem(&api.me(Auth::Key(&read_only)).await, 403, "forbidden");

    // A key creating a key, a key changing the password.
    let reply = api
        .create_key(
            Auth::Key(&full),
            json!({"name": "child", "scopes": ["self:manage"]}),
        )
        .await;
    assert_problem(&reply, 403, "forbidden");
    let reply = api
        .change_password(
            Auth::Key(&full),
            json!({"current_password": PASSWORD, "new_password": "hijacked passphrase 123"}),
        )
        .await;
    assert_problem(&reply, 403, "forbidden");
    let login = api.login_with("scoped@example.com", PASSWORD).await;
    assert_eq!(login.status, 200, "the password is unchanged");

    // Expiry: valid just before, refused just after.
    assert_eq!(api.me(Auth::Key(&daily)).await.status, 200);
    api.clock().advance(Duration::from_secs(24 * 3600 - 60));
    assert_eq!(
        api.me(Auth::Key(&daily)).await.status,
        200,
        "not yet expired"
    );
    api.clock().advance(Duration::from_secs(61));
    assert_problem(&api.me(Auth::Key(&daily)).await, 401, "unauthenticated");
    assert_eq!(
        api.me(Auth::Key(&full)).await.status,
        200,
        "keys without expiry live on"
    );

    // Revocation is immediate.
    let fresh = api.login("scoped@example.com").await;
    api.revoke_key(&fresh.access, &full_id)
        .await
        .expect_status(204);
    assert_problem(&api.me(Auth::Key(&full)).await, 401, "unauthenticated");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_holds_at_most_25_keys() {
    let api = Api::start().await;
    let user = api.signed_up("many@example.com").await;
    let key_named = |name: &str| json!({"name": name, "scopes": ["content:read"]});
    let mut last_id = String::new();
    for i in 0..25 {
        last_id = api
            .new_key(&user.access, key_named(&format!("key {i}")))
            .await
            .1;
    }
    let reply = api
        .create_key(&user.access, key_named("one too many"))
        .await;
    assert_problem(&reply, 409, "conflict");
    api.revoke_key(&user.access, &last_id)
        .await
        .expect_status(204);
    let reply = api.create_key(&user.access, key_named("room again")).await;
    assert_eq!(reply.status, 201, "revoking frees a slot: {reply}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_reach_only_the_routes_documented_for_them_whatever_their_scopes() {
    let api = Api::start().await;
    // An admin's key with every scope there is: only the kind of credential can stop it.
    let admin = api.admin("keyholder@example.com").await;
    let target = api.signed_up("target@example.com").await;
    let scopes = lectern_accounts::permissions::perm::ALL;
    let (key, key_id) = api
        .new_key(&admin.access, json!({"name": "all", "scopes": scopes}))
        .await;
    let mut refused = 0;
    for op in operations().iter().filter(|op| op.authenticated()) {
        // Real ids, so a missing check would have something to act on.
        let path = op.path_with(|param| match param {
            "user_id" => target.user_id.clone(),
            "key_id" => key_id.clone(),
            "session_id" => admin.session_id.clone(),
            _ => lectern_shared::ids::new_id(),
        });
        let body = match op.json_body {
            Some(_) => Body::Json(op.sample_body()),
            None => Body::Empty,
        };
        let reply = api
            .send(op.method.clone(), &path, Auth::Key(&key), body)
            .await;
        if op.security.iter().any(|scheme| scheme == "api_key") {
            // Past authentication and authorization. Routes of other domains may answer about the made-up ids
            // and the sample body (400, 404, 409: no such topic, no such question), never 401 or 403.
            let status = reply.status.as_u16();
            assert!(
                reply.status.is_success()
                    || (reply.status.is_client_error() && !matches!(status, 401 | 403)),
                "{op} takes API keys: {reply}"
            );
        } else {
            assert_problem(&reply, 403, "forbidden");
            refused += 1;
        }
    }
    assert!(refused >= 20, "only {refused} session-only routes walked");
    // Nothing happened: the admin is signed in with its one key, the target is an active learner.
    assert_eq!(api.me(&admin.access).await.body["role"], "admin");
    assert_eq!(api.api_keys(&admin.access).await.list().len(), 1);
    let profile = api.me(&target.access).await.expect_status(200);
    assert_eq!(profile.body["role"], "learner");
    assert_eq!(profile.body["tier"], "free");
    api.stop().await;
}
