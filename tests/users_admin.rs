//! The account owner's routes (`/v1/users/me/...`) and the admin routes (`/v1/admin/...`) from the outside, over
//! real HTTP on the dev server, with the wrong credentials, the wrong role, other people's ids and hostile input.

use std::time::Duration;

use lectern_e2e::DevServer;
use lectern_e2e::api::{Api, PASSWORD, Reply, Signed};
use lectern_shared::clock::Clock;
use reqwest::Method;
use serde_json::{Value, json};

/// How a request authenticates.
#[derive(Clone, Copy)]
enum Auth<'a> {
    Anonymous,
    Bearer(&'a str),
    Key(&'a str),
}

/// What a request carries.
enum Body {
    Empty,
    Json(Value),
    /// A body sent verbatim as `application/json`.
    RawJson(Vec<u8>),
}

async fn send(api: &Api<'_>, method: Method, path: &str, auth: Auth<'_>, body: Body) -> Reply {
    let mut req = api.http.request(method, api.server.url(path));
    req = match auth {
        Auth::Anonymous => req,
        Auth::Bearer(token) => req.bearer_auth(token),
        Auth::Key(key) => req.header("X-API-Key", key),
    };
    req = match body {
        Body::Empty => req,
        Body::Json(v) => req.json(&v),
        Body::RawJson(bytes) => req.header("content-type", "application/json").body(bytes),
    };
    let resp = req.send().await.expect("request");
    Reply::read(resp).await
}

#[track_caller]
fn assert_problem(reply: &Reply, status: u16, slug: &str, what: &str) {
    assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
    assert_eq!(reply.problem_type(), Some(slug), "{what}: {:?}", reply.body);
    assert_eq!(
        reply.headers["content-type"], "application/problem+json",
        "{what}"
    );
}

#[track_caller]
fn assert_validation(reply: &Reply, field: &str, what: &str) {
    assert_problem(reply, 400, "validation", what);
    assert!(
        reply.fields().iter().any(|f| f == field),
        "{what}: expected field {field}, got {:?}",
        reply.body
    );
}

fn new_id() -> String {
    lectern_shared::ids::new_id()
}

/// Signs up `email`, then has `admin` give it `role` (the role applies to its live tokens at once).
async fn with_role(api: &Api<'_>, admin: &Signed, email: &str, role: &str) -> Signed {
    let user = api.signed_up(email).await;
    let reply = send(
        api,
        Method::PATCH,
        &format!("/v1/admin/users/{}/role", user.user_id),
        Auth::Bearer(&admin.access),
        Body::Json(json!({ "role": role })),
    )
    .await;
    assert_eq!(reply.status, 200, "set role: {:?}", reply.body);
    assert_eq!(reply.body["role"], role);
    user
}

async fn create_key(api: &Api<'_>, user: &Signed, body: Value) -> Reply {
    send(
        api,
        Method::POST,
        "/v1/users/me/api-keys",
        Auth::Bearer(&user.access),
        Body::Json(body),
    )
    .await
}

async fn me(api: &Api<'_>, auth: Auth<'_>) -> Reply {
    send(api, Method::GET, "/v1/users/me", auth, Body::Empty).await
}

async fn refresh(api: &Api<'_>, refresh_token: &str) -> Value {
    let reply = api
        .post(
            "/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh_token }),
        )
        .await;
    assert_eq!(reply.status, 200, "refresh: {:?}", reply.body);
    reply.body
}

/// Every owner route with a body that would be accepted from a signed-in learner (ids are well-formed).
fn user_routes() -> Vec<(Method, String, Body)> {
    vec![
        (Method::GET, "/v1/users/me".into(), Body::Empty),
        (
            Method::PATCH,
            "/v1/users/me".into(),
            Body::Json(json!({"theme": "dark"})),
        ),
        (Method::DELETE, "/v1/users/me".into(), Body::Empty),
        (
            Method::POST,
            "/v1/users/me/password".into(),
            Body::Json(
                json!({"current_password": PASSWORD, "new_password": "another fine passphrase"}),
            ),
        ),
        (
            Method::POST,
            "/v1/users/me/email".into(),
            Body::Json(json!({"new_email": "new@example.com", "password": PASSWORD})),
        ),
        (
            Method::POST,
            "/v1/users/me/avatar".into(),
            Body::Json(json!({"content_type": "image/png"})),
        ),
        (
            Method::POST,
            "/v1/users/me/avatar/confirm".into(),
            Body::Json(json!({"key": "avatars/x/y", "content_type": "image/png"})),
        ),
        (Method::GET, "/v1/users/me/sessions".into(), Body::Empty),
        (
            Method::DELETE,
            format!("/v1/users/me/sessions/{}", new_id()),
            Body::Empty,
        ),
        (Method::GET, "/v1/users/me/api-keys".into(), Body::Empty),
        (
            Method::POST,
            "/v1/users/me/api-keys".into(),
            Body::Json(json!({"name": "ci", "scopes": ["content:read"]})),
        ),
        (
            Method::DELETE,
            format!("/v1/users/me/api-keys/{}", new_id()),
            Body::Empty,
        ),
        (
            Method::GET,
            "/v1/users/me/security-events".into(),
            Body::Empty,
        ),
    ]
}

/// Every admin route, aimed at `target` (a real account, so a missing permission check would succeed).
fn admin_routes(target: &str) -> Vec<(Method, String, Body)> {
    vec![
        (Method::GET, "/v1/admin/users".into(), Body::Empty),
        (
            Method::GET,
            format!("/v1/admin/users/{target}"),
            Body::Empty,
        ),
        (
            Method::PATCH,
            format!("/v1/admin/users/{target}/role"),
            Body::Json(json!({"role": "admin"})),
        ),
        (
            Method::PATCH,
            format!("/v1/admin/users/{target}/tier"),
            Body::Json(json!({"tier": "premium"})),
        ),
        (
            Method::POST,
            format!("/v1/admin/users/{target}/suspend"),
            Body::Empty,
        ),
        (
            Method::POST,
            format!("/v1/admin/users/{target}/activate"),
            Body::Empty,
        ),
        (
            Method::POST,
            format!("/v1/admin/users/{target}/force-logout"),
            Body::Empty,
        ),
        (Method::GET, "/v1/admin/audit-logs".into(), Body::Empty),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_missing_and_bogus_credentials() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let user = api.signed_up("victim@example.com").await;
    let mut routes = user_routes();
    routes.extend(admin_routes(&user.user_id));
    for (method, path, body) in routes {
        let body_again = match &body {
            Body::Json(v) => Body::Json(v.clone()),
            _ => Body::Empty,
        };
        let what = format!("{method} {path}");
        let reply = send(&api, method.clone(), &path, Auth::Anonymous, body).await;
        assert_problem(&reply, 401, "unauthenticated", &format!("{what} anonymous"));
        for auth in [
            Auth::Bearer("not-a-jwt"),
            Auth::Key("lk_0000000000000000000000000000000000000000000"),
            Auth::Key("no-prefix"),
        ] {
            let body = match &body_again {
                Body::Json(v) => Body::Json(v.clone()),
                _ => Body::Empty,
            };
            let reply = send(&api, method.clone(), &path, auth, body).await;
            assert_problem(&reply, 401, "unauthenticated", &format!("{what} bogus"));
        }
    }
    // Nothing happened to the account the anonymous requests aimed at.
    let profile = me(&api, Auth::Bearer(&user.access)).await;
    assert_eq!(profile.status, 200);
    assert_eq!(profile.body["role"], "learner");
    assert_eq!(profile.body["status"], "active");
    assert_eq!(profile.body["theme"], Value::Null);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learners_parents_and_instructors_are_forbidden_every_admin_route() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let admin = api.admin("admin@example.com").await;
    let target = api.signed_up("target@example.com").await;
    let learner = api.signed_up("learner@example.com").await;
    let parent = {
        let reply = api
            .post(
                "/v1/auth/register",
                None,
                json!({"email": "parent@example.com", "password": PASSWORD, "display_name": "P", "role": "parent"}),
            )
            .await;
        assert_eq!(reply.status, 202);
        let token = api.mailed_token("parent@example.com", "verify-email").await;
        let reply = api
            .post("/v1/auth/verify-email", None, json!({"token": token}))
            .await;
        assert_eq!(reply.status, 204);
        api.login("parent@example.com").await
    };
    assert_eq!(
        me(&api, Auth::Bearer(&parent.access)).await.body["role"],
        "parent"
    );
    let instructor = with_role(&api, &admin, "instructor@example.com", "instructor").await;
    for (who, caller) in [
        ("learner", &learner),
        ("parent", &parent),
        ("instructor", &instructor),
    ] {
        for (method, path, body) in admin_routes(&target.user_id) {
            let reply = send(
                &api,
                method.clone(),
                &path,
                Auth::Bearer(&caller.access),
                body,
            )
            .await;
            assert_problem(&reply, 403, "forbidden", &format!("{who}: {method} {path}"));
        }
        // Not even about themselves.
        let reply = send(
            &api,
            Method::PATCH,
            &format!("/v1/admin/users/{}/role", caller.user_id),
            Auth::Bearer(&caller.access),
            Body::Json(json!({"role": "admin"})),
        )
        .await;
        assert_problem(&reply, 403, "forbidden", &format!("{who} promoting self"));
    }
    // Nothing changed: the target is still an active learner with a working session.
    let profile = me(&api, Auth::Bearer(&target.access)).await;
    assert_eq!(profile.status, 200, "target still signed in");
    assert_eq!(profile.body["role"], "learner");
    assert_eq!(profile.body["status"], "active");
    for caller in [&learner, &parent] {
        assert_ne!(
            me(&api, Auth::Bearer(&caller.access)).await.body["role"],
            "admin"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_read_users_but_cannot_suspend_change_roles_or_read_the_audit_log() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let admin = api.admin("admin@example.com").await;
    let target = api.signed_up("target@example.com").await;
    let moderator = with_role(&api, &admin, "mod@example.com", "moderator").await;
    let auth = Auth::Bearer(&moderator.access);

    let list = send(&api, Method::GET, "/v1/admin/users", auth, Body::Empty).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert!(
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["user_id"] == target.user_id.as_str())
    );
    let one = send(
        &api,
        Method::GET,
        &format!("/v1/admin/users/{}", target.user_id),
        auth,
        Body::Empty,
    )
    .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["email"], "target@example.com");
    assert!(
        one.body.get("password_hash").is_none(),
        "no secrets: {:?}",
        one.body
    );

    for (method, path, body) in admin_routes(&target.user_id).into_iter().skip(2) {
        let reply = send(&api, method.clone(), &path, auth, body).await;
        assert_problem(
            &reply,
            403,
            "forbidden",
            &format!("moderator: {method} {path}"),
        );
    }
    let profile = me(&api, Auth::Bearer(&target.access)).await;
    assert_eq!(profile.status, 200, "not logged out");
    assert_eq!(profile.body["status"], "active");
    assert_eq!(profile.body["role"], "learner");
    assert_eq!(
        me(&api, auth).await.body["role"],
        "moderator",
        "did not promote itself"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_users_sessions_and_keys_cannot_be_revoked_by_guessing_ids() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let alice = api.signed_up("alice@example.com").await;
    let bob = api.signed_up("bob@example.com").await;
    let key = create_key(
        &api,
        &bob,
        json!({"name": "bob's script", "scopes": ["self:manage"]}),
    )
    .await;
    assert_eq!(key.status, 201, "{:?}", key.body);
    let bob_key = key.body["key"].as_str().unwrap().to_string();
    let bob_key_id = key.body["key_id"].as_str().unwrap().to_string();

    let reply = send(
        &api,
        Method::DELETE,
        &format!("/v1/users/me/sessions/{}", bob.session_id),
        Auth::Bearer(&alice.access),
        Body::Empty,
    )
    .await;
    assert_problem(&reply, 404, "not-found", "alice revoking bob's session");
    let reply = send(
        &api,
        Method::DELETE,
        &format!("/v1/users/me/api-keys/{bob_key_id}"),
        Auth::Bearer(&alice.access),
        Body::Empty,
    )
    .await;
    assert_problem(&reply, 404, "not-found", "alice revoking bob's key");
    // Random well-formed ids are not found either.
    for path in ["sessions", "api-keys"] {
        let reply = send(
            &api,
            Method::DELETE,
            &format!("/v1/users/me/{path}/{}", new_id()),
            Auth::Bearer(&alice.access),
            Body::Empty,
        )
        .await;
        assert_problem(&reply, 404, "not-found", path);
    }

    assert_eq!(me(&api, Auth::Bearer(&bob.access)).await.status, 200);
    let via_key = me(&api, Auth::Key(&bob_key)).await;
    assert_eq!(via_key.status, 200, "{:?}", via_key.body);
    assert_eq!(via_key.body["user_id"], bob.user_id.as_str());
    let keys = send(
        &api,
        Method::GET,
        "/v1/users/me/api-keys",
        Auth::Bearer(&bob.access),
        Body::Empty,
    )
    .await;
    assert_eq!(keys.body.as_array().unwrap().len(), 1);
    let alice_keys = send(
        &api,
        Method::GET,
        "/v1/users/me/api-keys",
        Auth::Bearer(&alice.access),
        Body::Empty,
    )
    .await;
    assert_eq!(alice_keys.body, json!([]), "alice sees none of bob's keys");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ids_in_paths_are_validation_problems_naming_the_parameter() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let admin = api.admin("admin@example.com").await;
    let auth = Auth::Bearer(&admin.access);
    for bad in [
        "nope",
        "01ARZ3NDEKTSV4RRFFQ69G5FA",
        "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
        "a%20b",
    ] {
        for (path, field) in [
            (format!("/v1/users/me/sessions/{bad}"), "path.session_id"),
            (format!("/v1/users/me/api-keys/{bad}"), "path.key_id"),
        ] {
            let reply = send(&api, Method::DELETE, &path, auth, Body::Empty).await;
            assert_validation(&reply, field, &path);
        }
        for (method, path, body) in admin_routes(bad).into_iter().skip(1).take(5) {
            let reply = send(&api, method, &path, auth, body).await;
            assert_validation(&reply, "path.user_id", &path);
        }
        let reply = send(
            &api,
            Method::GET,
            &format!("/v1/admin/audit-logs?user_id={bad}"),
            auth,
            Body::Empty,
        )
        .await;
        assert_validation(&reply, "query.user_id", bad);
    }
    // A well-formed id of nobody is simply not found.
    let reply = send(
        &api,
        Method::GET,
        &format!("/v1/admin/users/{}", new_id()),
        auth,
        Body::Empty,
    )
    .await;
    assert_problem(&reply, 404, "not-found", "unknown user");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_patch_refuses_privileged_unknown_and_invalid_fields_and_changes_nothing() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let user = api.signed_up("patch@example.com").await;
    let auth = Auth::Bearer(&user.access);
    let patch = |body: Value| send(&api, Method::PATCH, "/v1/users/me", auth, Body::Json(body));

    let before = me(&api, auth).await.body;
    for (body, field) in [
        (json!({"role": "admin"}), "role"),
        (json!({"email": "other@example.com"}), "email"),
        (json!({"status": "active"}), "status"),
        (json!({"tier": "premium"}), "tier"),
        (json!({"is_admin": true}), "is_admin"),
        (json!({"theme": "dark", "role": "admin"}), "role"),
        (json!({"locale": "english!"}), "locale"),
        (json!({"locale": "e"}), "locale"),
        (json!({"timezone": "/etc/passwd"}), "timezone"),
        (json!({"timezone": "Europe//Paris"}), "timezone"),
        (json!({"timezone": "a".repeat(65)}), "timezone"),
        (json!({"theme": "neon"}), "theme"),
        (json!({"theme": "dark", "locale": "!!"}), "locale"),
        (json!({"display_name": ""}), "display_name"),
        (
            json!({"accessibility": {"nested": {"deep": true}}}),
            "accessibility",
        ),
        (json!({"accessibility": {"list": [1, 2]}}), "accessibility"),
        (
            json!({"accessibility": {"bad key!": true}}),
            "accessibility",
        ),
        (
            json!({"accessibility": {"long": "x".repeat(65)}}),
            "accessibility",
        ),
        (
            json!({"notifications": {"email": {"digest": false}}}),
            "notifications",
        ),
        (
            json!({"notifications": {"null_is_not_a_flag": null}}),
            "notifications",
        ),
    ] {
        let reply = patch(body.clone()).await;
        assert_validation(&reply, field, &body.to_string());
    }
    let oversized: serde_json::Map<String, Value> = (0..33)
        .map(|i| (format!("flag_{i}"), json!(true)))
        .collect();
    for field in ["accessibility", "notifications"] {
        let reply = patch(json!({ field: oversized.clone() })).await;
        assert_validation(&reply, field, &format!("33 {field} flags"));
    }
    let after = me(&api, auth).await.body;
    assert_eq!(before, after, "a refused patch changes nothing");

    // A valid patch changes exactly what it names.
    let reply = patch(json!({"locale": "pt-BR", "accessibility": {"reduced_motion": true, "font_scale": "large"}})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let reply = patch(json!({"theme": "dark"})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let after = me(&api, auth).await.body;
    assert_eq!(after["theme"], "dark");
    assert_eq!(after["locale"], "pt-BR", "an earlier patch is kept");
    assert_eq!(after["accessibility"]["font_scale"], "large");
    assert_eq!(after["timezone"], Value::Null);
    for untouched in [
        "display_name",
        "email",
        "role",
        "tier",
        "status",
        "email_verified",
        "notifications",
        "created_at",
        "user_id",
    ] {
        assert_eq!(after[untouched], before[untouched], "{untouched}");
    }
    let mut full: serde_json::Map<String, Value> =
        (0..32).map(|i| (format!("flag_{i}"), json!(i))).collect();
    full.insert("flag_0".into(), json!("x".repeat(64)));
    let reply =
        patch(json!({"notifications": full, "timezone": "America/Argentina/Buenos_Aires"})).await;
    assert_eq!(reply.status, 200, "32 flags are fine: {:?}", reply.body);
    assert_eq!(reply.body["timezone"], "America/Argentina/Buenos_Aires");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_an_api_key_needs_a_verified_email() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let reply = api
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "unverified@example.com", "password": PASSWORD, "display_name": "U"}),
        )
        .await;
    assert_eq!(reply.status, 202);
    let user = api.login("unverified@example.com").await;
    assert_eq!(
        me(&api, Auth::Bearer(&user.access)).await.body["email_verified"],
        false
    );
    let reply = create_key(
        &api,
        &user,
        json!({"name": "ci", "scopes": ["content:read"]}),
    )
    .await;
    assert_problem(&reply, 403, "email-unverified", "unverified key creation");
    let keys = send(
        &api,
        Method::GET,
        "/v1/users/me/api-keys",
        Auth::Bearer(&user.access),
        Body::Empty,
    )
    .await;
    assert_eq!(keys.body, json!([]));

    // Once verified, the same request works.
    let token = api
        .mailed_token("unverified@example.com", "verify-email")
        .await;
    let reply = api
        .post("/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    assert_eq!(reply.status, 204);
    let reply = create_key(
        &api,
        &user,
        json!({"name": "ci", "scopes": ["content:read"]}),
    )
    .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_and_changing_email_need_a_recent_sign_in() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let user = api.signed_up("stale@example.com").await;
    server.clock.advance(Duration::from_secs(11 * 60));
    let tokens = refresh(&api, &user.refresh).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(me(&api, Auth::Bearer(access)).await.status, 200);

    let reply = send(
        &api,
        Method::DELETE,
        "/v1/users/me",
        Auth::Bearer(access),
        Body::Empty,
    )
    .await;
    assert_problem(&reply, 403, "reauthentication-required", "stale delete");
    let reply = send(
        &api,
        Method::POST,
        "/v1/users/me/email",
        Auth::Bearer(access),
        Body::Json(json!({"new_email": "fresh@example.com", "password": PASSWORD})),
    )
    .await;
    assert_problem(
        &reply,
        403,
        "reauthentication-required",
        "stale email change",
    );
    let profile = me(&api, Auth::Bearer(access)).await;
    assert_eq!(profile.body["email"], "stale@example.com");
    assert_eq!(profile.body["status"], "active");

    // An API key never counts as a recent sign-in.
    let key = create_key(&api, &user, json!({"name": "k", "scopes": ["self:manage"]})).await;
    let key = key.body["key"].as_str().unwrap().to_string();
    let reply = send(
        &api,
        Method::DELETE,
        "/v1/users/me",
        Auth::Key(&key),
        Body::Empty,
    )
    .await;
    assert_problem(&reply, 403, "reauthentication-required", "delete by key");

    // Signing in again makes both possible.
    let fresh = api.login("stale@example.com").await;
    let reply = send(
        &api,
        Method::POST,
        "/v1/users/me/email",
        Auth::Bearer(&fresh.access),
        Body::Json(json!({"new_email": "fresh@example.com", "password": PASSWORD})),
    )
    .await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    let reply = send(
        &api,
        Method::DELETE,
        "/v1/users/me",
        Auth::Bearer(&fresh.access),
        Body::Empty,
    )
    .await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    assert!(reply.body["purge_after"].is_i64());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_checks_both_passwords_and_ends_other_sessions() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let email = "pw@example.com";
    let first = api.signed_up(email).await;
    let second = api.login(email).await;
    let api_ref = &api;
    let change = |access: String, body: Value| async move {
        send(
            api_ref,
            Method::POST,
            "/v1/users/me/password",
            Auth::Bearer(&access),
            Body::Json(body),
        )
        .await
    };
    let new_password = "a different long passphrase";

    let reply = change(
        first.access.clone(),
        json!({"current_password": "not my password at all", "new_password": new_password}),
    )
    .await;
    assert_validation(&reply, "current_password", "wrong current password");
    // The policy names the field as the request does: `new_password`.
    for weak in ["short", "password123", "pw@example.com!!"] {
        let reply = change(
            first.access.clone(),
            json!({"current_password": PASSWORD, "new_password": weak}),
        )
        .await;
        assert_validation(&reply, "new_password", weak);
    }
    let reply = change(first.access.clone(), json!({"current_password": PASSWORD})).await;
    assert_validation(&reply, "new_password", "missing new password");
    assert_eq!(
        me(&api, Auth::Bearer(&second.access)).await.status,
        200,
        "refusals end nothing"
    );
    let mails = api.mails_to(email, 0).await;
    assert!(!mails.iter().any(|m| m.contains("password was changed")));

    let reply = change(
        first.access.clone(),
        json!({"current_password": PASSWORD, "new_password": new_password}),
    )
    .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);

    let other = me(&api, Auth::Bearer(&second.access)).await;
    assert_problem(
        &other,
        401,
        "unauthenticated",
        "other session's access token",
    );
    let other = api
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": second.refresh}),
        )
        .await;
    assert!(
        other.status.is_client_error(),
        "other session's refresh: {:?}",
        other.body
    );
    assert_eq!(me(&api, Auth::Bearer(&first.access)).await.status, 200);
    let tokens = refresh(&api, &first.refresh).await;
    assert_eq!(
        me(&api, Auth::Bearer(tokens["access_token"].as_str().unwrap()))
            .await
            .status,
        200,
        "this session keeps working"
    );

    let old = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_problem(&old, 401, "invalid-credentials", "old password");
    let new = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": email, "password": new_password}),
        )
        .await;
    assert_eq!(new.status, 200, "{:?}", new.body);

    let mut mailed = false;
    for _ in 0..200 {
        if api
            .mails_to(email, 0)
            .await
            .iter()
            .any(|m| m.contains("password was changed"))
        {
            mailed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(mailed, "a password-changed email was sent");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_list_marks_the_current_one_and_revoking_ends_a_session_at_once() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let email = "sessions@example.com";
    let first = api.signed_up(email).await;
    let phone = api
        .http
        .post(server.url("/v1/auth/login"))
        .header("user-agent", "PhoneApp/2.0")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(phone.status(), 200);
    let phone: Value = phone.json().await.unwrap();
    let phone_access = phone["access_token"].as_str().unwrap().to_string();
    let phone_session = phone["session_id"].as_str().unwrap().to_string();

    let api_ref = &api;
    let list = |access: String| async move {
        let reply = send(
            api_ref,
            Method::GET,
            "/v1/users/me/sessions",
            Auth::Bearer(&access),
            Body::Empty,
        )
        .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body.as_array().unwrap().clone()
    };
    for (access, current, agent) in [
        (first.access.clone(), &first.session_id, "lectern-e2e/1.0"),
        (phone_access.clone(), &phone_session, "PhoneApp/2.0"),
    ] {
        let sessions = list(access).await;
        assert_eq!(sessions.len(), 2, "{sessions:?}");
        let marked: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
        assert_eq!(marked.len(), 1, "{sessions:?}");
        assert_eq!(marked[0]["session_id"], current.as_str());
        assert_eq!(marked[0]["user_agent"], agent);
        assert_eq!(marked[0]["ip"], "127.0.0.1");
    }

    let reply = send(
        &api,
        Method::DELETE,
        &format!("/v1/users/me/sessions/{phone_session}"),
        Auth::Bearer(&first.access),
        Body::Empty,
    )
    .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    let refused = me(&api, Auth::Bearer(&phone_access)).await;
    assert_problem(&refused, 401, "unauthenticated", "revoked session");
    let sessions = list(first.access.clone()).await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["session_id"], first.session_id.as_str());
    let reply = send(
        &api,
        Method::DELETE,
        &format!("/v1/users/me/sessions/{phone_session}"),
        Auth::Bearer(&first.access),
        Body::Empty,
    )
    .await;
    assert_problem(&reply, 404, "not-found", "revoking twice");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_creation_validates_scopes_names_and_expiry() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
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
        let reply = create_key(&api, &user, body.clone()).await;
        assert_validation(&reply, field, &body.to_string());
    }
    let keys = send(
        &api,
        Method::GET,
        "/v1/users/me/api-keys",
        Auth::Bearer(&user.access),
        Body::Empty,
    )
    .await;
    assert_eq!(keys.body, json!([]), "nothing created");

    for body in [
        json!({"name": "x".repeat(64), "scopes": ["content:read"]}),
        json!({"name": "year", "scopes": ["content:read", "self:manage"], "expires_in_days": 365}),
        json!({"name": "day", "scopes": ["content:read"], "expires_in_days": 1}),
    ] {
        let reply = create_key(&api, &user, body.clone()).await;
        assert_eq!(reply.status, 201, "{body}: {:?}", reply.body);
        assert!(reply.body["key"].as_str().unwrap().starts_with("lk_"));
    }
    let keys = send(
        &api,
        Method::GET,
        "/v1/users/me/api-keys",
        Auth::Bearer(&user.access),
        Body::Empty,
    )
    .await;
    let keys = keys.body.as_array().unwrap().clone();
    assert_eq!(keys.len(), 3);
    assert!(
        keys.iter()
            .all(|k| k.get("key").is_none() && k.get("hash").is_none()),
        "no secrets in the list: {keys:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_act_only_within_their_scopes_and_stop_when_revoked_or_expired() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let user = api.signed_up("scoped@example.com").await;
    let make = |body: Value| {
        let user = user.clone();
        let api = &api;
        async move {
            let reply = create_key(api, &user, body).await;
            assert_eq!(reply.status, 201, "{:?}", reply.body);
            (
                reply.body["key"].as_str().unwrap().to_string(),
                reply.body["key_id"].as_str().unwrap().to_string(),
            )
        }
    };
    let (full, full_id) =
        make(json!({"name": "full", "scopes": ["self:manage", "content:read"]})).await;
    let (read_only, _) = make(json!({"name": "reader", "scopes": ["content:read"]})).await;
    let (daily, _) =
        make(json!({"name": "daily", "scopes": ["self:manage"], "expires_in_days": 1})).await;

    assert_eq!(me(&api, Auth::Key(&full)).await.status, 200);
    let reply = me(&api, Auth::Key(&read_only)).await;
    assert_problem(
        &reply,
        403,
        "forbidden",
        "content:read key reading the profile",
    );

    let reply = send(
        &api,
        Method::POST,
        "/v1/users/me/api-keys",
        Auth::Key(&full),
        Body::Json(json!({"name": "child", "scopes": ["self:manage"]})),
    )
    .await;
    assert_problem(&reply, 403, "forbidden", "a key creating a key");
    let reply = send(
        &api,
        Method::POST,
        "/v1/users/me/password",
        Auth::Key(&full),
        Body::Json(
            json!({"current_password": PASSWORD, "new_password": "hijacked passphrase 123"}),
        ),
    )
    .await;
    assert_problem(&reply, 403, "forbidden", "a key changing the password");
    let login = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "scoped@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200, "the password is unchanged");

    // Expiry: valid just before, refused just after.
    assert_eq!(me(&api, Auth::Key(&daily)).await.status, 200);
    server.clock.advance(Duration::from_secs(24 * 3600 - 60));
    assert_eq!(
        me(&api, Auth::Key(&daily)).await.status,
        200,
        "not yet expired"
    );
    server.clock.advance(Duration::from_secs(61));
    let reply = me(&api, Auth::Key(&daily)).await;
    assert_problem(&reply, 401, "unauthenticated", "expired key");
    assert_eq!(
        me(&api, Auth::Key(&full)).await.status,
        200,
        "keys without expiry live on"
    );

    // Revocation is immediate.
    let fresh = api.login("scoped@example.com").await;
    let reply = send(
        &api,
        Method::DELETE,
        &format!("/v1/users/me/api-keys/{full_id}"),
        Auth::Bearer(&fresh.access),
        Body::Empty,
    )
    .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
    let reply = me(&api, Auth::Key(&full)).await;
    assert_problem(&reply, 401, "unauthenticated", "revoked key");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_holds_at_most_25_keys() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let user = api.signed_up("many@example.com").await;
    let mut last_id = String::new();
    for i in 0..25 {
        let reply = create_key(
            &api,
            &user,
            json!({"name": format!("key {i}"), "scopes": ["content:read"]}),
        )
        .await;
        assert_eq!(reply.status, 201, "key {i}: {:?}", reply.body);
        last_id = reply.body["key_id"].as_str().unwrap().to_string();
    }
    let reply = create_key(
        &api,
        &user,
        json!({"name": "one too many", "scopes": ["content:read"]}),
    )
    .await;
    assert_problem(&reply, 409, "conflict", "26th key");
    let reply = send(
        &api,
        Method::DELETE,
        &format!("/v1/users/me/api-keys/{last_id}"),
        Auth::Bearer(&user.access),
        Body::Empty,
    )
    .await;
    assert_eq!(reply.status, 204);
    let reply = create_key(
        &api,
        &user,
        json!({"name": "room again", "scopes": ["content:read"]}),
    )
    .await;
    assert_eq!(reply.status, 201, "revoking frees a slot: {:?}", reply.body);
    server.stop().await;
}

/// Follows `next_cursor` from `first` (a path with `limit=`), returning every page's items.
async fn all_pages(api: &Api<'_>, first: &str, auth: Auth<'_>) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut path = first.to_string();
    loop {
        let reply = send(api, Method::GET, &path, auth, Body::Empty).await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
        pages += 1;
        items.extend(reply.body["items"].as_array().unwrap().iter().cloned());
        match reply.body["next_cursor"].as_str() {
            Some(c) => {
                path = format!("{first}&cursor={c}");
            }
            None => return (items, pages),
        }
        assert!(pages < 100, "pagination does not end");
    }
}

fn tamper(cursor: &str) -> String {
    let mut chars: Vec<char> = cursor.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

fn actions(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

/// An RFC 3339 time `offset` from the server's clock.
fn at(server: &DevServer, offset: Duration) -> String {
    lectern_accounts::audit::timestamp(server.clock.now() + offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_events_paginate_filter_by_time_and_refuse_bad_queries() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let email = "events@example.com";
    let alice = api.signed_up(email).await;
    let bob = api.signed_up("bob@example.com").await;
    let early_end = at(&server, Duration::ZERO);
    server.clock.advance(Duration::from_secs(3600));
    let late_start = at(&server, Duration::ZERO);
    api.login(email).await;
    api.login(email).await;
    // The access tokens of the first hour have expired; refreshing is not a security event.
    let alice_access = refresh(&api, &alice.refresh).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let bob_access = refresh(&api, &bob.refresh).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let alice_auth = Auth::Bearer(&alice_access);

    let all = send(
        &api,
        Method::GET,
        "/v1/users/me/security-events?limit=100",
        alice_auth,
        Body::Empty,
    )
    .await;
    assert_eq!(all.status, 200, "{:?}", all.body);
    let everything = all.body["items"].as_array().unwrap().clone();
    assert!(everything.len() >= 5, "{everything:?}");
    assert!(
        everything
            .iter()
            .all(|e| e["target_id"] == alice.user_id.as_str())
    );
    let times: Vec<&str> = everything
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );

    let (paged, pages) = all_pages(&api, "/v1/users/me/security-events?limit=2", alice_auth).await;
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(
        paged, everything,
        "pages add up to the whole list, in order"
    );

    let late = send(
        &api,
        Method::GET,
        &format!("/v1/users/me/security-events?limit=100&from={late_start}"),
        alice_auth,
        Body::Empty,
    )
    .await;
    assert_eq!(late.status, 200, "{:?}", late.body);
    assert_eq!(
        actions(late.body["items"].as_array().unwrap()),
        ["login_succeeded", "login_succeeded"]
    );
    let early = send(
        &api,
        Method::GET,
        &format!("/v1/users/me/security-events?limit=100&to={early_end}"),
        alice_auth,
        Body::Empty,
    )
    .await;
    let early = actions(early.body["items"].as_array().unwrap());
    assert_eq!(early.len(), everything.len() - 2, "{early:?}");
    assert!(early.contains(&"register".to_string()), "{early:?}");
    let window = send(
        &api,
        Method::GET,
        &format!("/v1/users/me/security-events?from={early_end}&to={late_start}"),
        alice_auth,
        Body::Empty,
    )
    .await;
    assert_eq!(window.status, 200);
    let window = window.body["items"].as_array().unwrap().clone();
    assert!(window.len() >= 2, "{window:?}");
    assert!(window.iter().all(|e| {
        let t = e["at"].as_str().unwrap();
        t >= early_end.as_str() && t <= late_start.as_str()
    }));

    let backwards = send(
        &api,
        Method::GET,
        &format!("/v1/users/me/security-events?from={late_start}&to={early_end}"),
        alice_auth,
        Body::Empty,
    )
    .await;
    assert_eq!(
        backwards.status, 200,
        "an empty window is no error: {:?}",
        backwards.body
    );
    assert_eq!(backwards.body["items"], json!([]));

    let first = send(
        &api,
        Method::GET,
        "/v1/users/me/security-events?limit=2",
        alice_auth,
        Body::Empty,
    )
    .await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let path = |q: &str| format!("/v1/users/me/security-events?{q}");
    for (query, field) in [
        (
            format!("limit=2&cursor={}", tamper(&cursor)),
            "query.cursor",
        ),
        ("limit=2&cursor=garbage".to_string(), "query.cursor"),
        ("limit=0".to_string(), "query.limit"),
        ("limit=101".to_string(), "query.limit"),
        ("limit=-1".to_string(), "query.limit"),
        ("limit=ten".to_string(), "query.limit"),
        ("from=yesterday".to_string(), "query.from"),
        ("to=2026-13-01T00:00:00Z".to_string(), "query.to"),
        ("from=2026-11-21".to_string(), "query.from"),
        ("user_id=someone".to_string(), "query.user_id"),
    ] {
        let reply = send(&api, Method::GET, &path(&query), alice_auth, Body::Empty).await;
        assert_validation(&reply, field, &query);
    }
    // Alice's cursor means nothing in Bob's list.
    let reply = send(
        &api,
        Method::GET,
        &path(&format!("limit=2&cursor={cursor}")),
        Auth::Bearer(&bob_access),
        Body::Empty,
    )
    .await;
    assert_validation(&reply, "query.cursor", "alice's cursor on bob's list");
    let reply = send(
        &api,
        Method::GET,
        &path(&format!("limit=2&cursor={cursor}")),
        alice_auth,
        Body::Empty,
    )
    .await;
    assert_eq!(
        reply.status, 200,
        "the untouched cursor works for its owner"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_paginates_filters_and_refuses_bad_queries() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let admin = api.admin("admin@example.com").await;
    let alice = api.signed_up("alice@example.com").await;
    let early_end = at(&server, Duration::ZERO);
    server.clock.advance(Duration::from_secs(3600));
    let late_start = at(&server, Duration::ZERO);
    let bob = api.signed_up("bob@example.com").await;
    let admin_access = refresh(&api, &admin.refresh).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let auth = Auth::Bearer(&admin_access);
    let reply = send(
        &api,
        Method::POST,
        &format!("/v1/admin/users/{}/suspend", bob.user_id),
        auth,
        Body::Empty,
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let get = |q: String| {
        let api = &api;
        async move {
            send(
                api,
                Method::GET,
                &format!("/v1/admin/audit-logs?{q}"),
                auth,
                Body::Empty,
            )
            .await
        }
    };

    let everything = get("limit=100".into()).await;
    assert_eq!(everything.status, 200, "{:?}", everything.body);
    let everything = everything.body["items"].as_array().unwrap().clone();
    let (paged, pages) = all_pages(&api, "/v1/admin/audit-logs?limit=2", auth).await;
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(paged, everything);

    let suspended = get("action=suspended".into()).await;
    let suspended = suspended.body["items"].as_array().unwrap().clone();
    assert_eq!(suspended.len(), 1, "{suspended:?}");
    assert_eq!(suspended[0]["target_id"], bob.user_id.as_str());
    assert_eq!(suspended[0]["actor_id"], admin.user_id.as_str());
    let logins = get("action=login_succeeded&limit=100".into()).await;
    let logins = logins.body["items"].as_array().unwrap().clone();
    assert!(!logins.is_empty());
    assert!(logins.iter().all(|e| e["action"] == "login_succeeded"));

    let alices = get(format!("user_id={}&limit=100", alice.user_id)).await;
    let alices = alices.body["items"].as_array().unwrap().clone();
    assert!(!alices.is_empty());
    assert!(
        alices
            .iter()
            .all(|e| e["target_id"] == alice.user_id.as_str())
    );

    let late = get(format!("limit=100&from={late_start}")).await;
    let late = late.body["items"].as_array().unwrap().clone();
    assert!(!late.is_empty());
    assert!(
        late.iter().all(|e| e["target_id"] == bob.user_id.as_str()),
        "only bob's sign-up and suspension happened late: {late:?}"
    );
    let early = get(format!("limit=100&to={early_end}")).await;
    let early = early.body["items"].as_array().unwrap().clone();
    assert_eq!(early.len() + late.len(), everything.len());
    assert!(early.iter().all(|e| e["target_id"] != bob.user_id.as_str()));
    let late_logins = get(format!(
        "action=login_succeeded&limit=100&from={late_start}"
    ))
    .await;
    let late_logins = late_logins.body["items"].as_array().unwrap().clone();
    assert_eq!(late_logins.len(), 1, "bob's one sign-in: {late_logins:?}");

    let first = get("limit=2".into()).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let filtered = get("limit=2&action=login_succeeded".into()).await;
    let filtered_cursor = filtered.body["next_cursor"].as_str().unwrap().to_string();
    for (query, field) in [
        (
            format!("limit=2&cursor={}", tamper(&cursor)),
            "query.cursor",
        ),
        (
            format!("limit=2&action=suspended&cursor={cursor}"),
            "query.cursor",
        ),
        (format!("limit=2&cursor={filtered_cursor}"), "query.cursor"),
        (
            format!("limit=2&from={early_end}&cursor={cursor}"),
            "query.cursor",
        ),
        ("limit=0".to_string(), "query.limit"),
        ("limit=101".to_string(), "query.limit"),
        ("from=not-a-time".to_string(), "query.from"),
        ("to=1700000000".to_string(), "query.to"),
        (
            format!("user_id={}&action=suspended", alice.user_id),
            "query.action",
        ),
        ("action=hacked".to_string(), "query.action"),
        ("actor=me".to_string(), "query.actor"),
    ] {
        let reply = get(query.clone()).await;
        assert_validation(&reply, field, &query);
    }
    // A user's own security-events cursor is not an audit-log cursor.
    let own = send(
        &api,
        Method::GET,
        "/v1/users/me/security-events?limit=1",
        auth,
        Body::Empty,
    )
    .await;
    let own_cursor = own.body["next_cursor"].as_str().unwrap().to_string();
    let reply = get(format!("limit=1&cursor={own_cursor}")).await;
    assert_validation(
        &reply,
        "query.cursor",
        "security-events cursor on the audit log",
    );
    let reply = get(format!("limit=2&cursor={cursor}")).await;
    assert_eq!(reply.status, 200, "the untouched cursor works");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_user_list_refuses_mixed_filters_and_binds_cursors_to_them() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let admin = api.admin("admin@example.com").await;
    for name in ["ann", "ben", "cat", "dan", "eve"] {
        api.signed_up(&format!("{name}@example.com")).await;
    }
    let auth = Auth::Bearer(&admin.access);
    let get = |q: String| {
        let api = &api;
        async move {
            send(
                api,
                Method::GET,
                &format!("/v1/admin/users?{q}"),
                auth,
                Body::Empty,
            )
            .await
        }
    };

    // The search/filter refusals come from the use case and name the bare parameter (`email`, `status`).
    for (query, field) in [
        ("email=ann&role=learner", "email"),
        ("email=ann&status=active", "email"),
        ("status=active", "status"),
        ("role=superuser", "query.role"),
        ("role=learner&status=gone", "query.status"),
        ("limit=0", "query.limit"),
        ("limit=101", "query.limit"),
        ("cursor=forged", "query.cursor"),
        ("sort=email", "query.sort"),
    ] {
        let reply = get(query.into()).await;
        assert_validation(&reply, field, query);
    }

    let (learners, pages) = all_pages(&api, "/v1/admin/users?limit=2&role=learner", auth).await;
    assert_eq!(learners.len(), 5, "{learners:?}");
    assert!(pages >= 3);
    assert!(learners.iter().all(|u| u["role"] == "learner"));
    let (active, _) = all_pages(
        &api,
        "/v1/admin/users?limit=2&role=learner&status=active",
        auth,
    )
    .await;
    assert_eq!(active, learners);
    let admins = get("role=admin".into()).await;
    assert_eq!(admins.body["items"].as_array().unwrap().len(), 1);
    let search = get("email=BE".into()).await;
    let found = search.body["items"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["email"], "ben@example.com");

    let first = get("limit=2&role=learner".into()).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    for query in [
        format!("limit=2&role=parent&cursor={cursor}"),
        format!("limit=2&cursor={cursor}"),
        format!("limit=2&role=learner&status=active&cursor={cursor}"),
        format!("limit=2&email=a&cursor={cursor}"),
        format!("limit=2&role=learner&cursor={}", tamper(&cursor)),
    ] {
        let reply = get(query.clone()).await;
        assert_validation(&reply, "query.cursor", &query);
    }
    let next = get(format!("limit=2&role=learner&cursor={cursor}")).await;
    assert_eq!(next.status, 200);
    assert_eq!(
        &next.body["items"].as_array().unwrap()[..],
        &learners[2..4],
        "the second page follows the first"
    );
    server.stop().await;
}

fn png(size: usize) -> Vec<u8> {
    let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    bytes.resize(size, 0);
    bytes
}

/// Asks for an avatar upload and sends `bytes` through the presigned form; returns the key.
async fn upload_avatar(api: &Api<'_>, user: &Signed, bytes: Vec<u8>) -> String {
    let presigned = send(
        api,
        Method::POST,
        "/v1/users/me/avatar",
        Auth::Bearer(&user.access),
        Body::Json(json!({"content_type": "image/png"})),
    )
    .await;
    assert_eq!(presigned.status, 200, "{:?}", presigned.body);
    let key = presigned.body["key"].as_str().unwrap().to_string();
    assert!(
        key.starts_with(&format!("avatars/{}/", user.user_id)),
        "{key}"
    );
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in presigned.body["fields"].as_object().unwrap() {
        form = form.text(k.clone(), v.as_str().unwrap().to_string());
    }
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name("avatar.png")
        .mime_str("image/png")
        .unwrap();
    form = form.part("file", part);
    let status = reqwest::Client::new()
        .post(presigned.body["url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "upload: {status}");
    key
}

async fn confirm(api: &Api<'_>, user: &Signed, key: &str, content_type: &str) -> Reply {
    send(
        api,
        Method::POST,
        "/v1/users/me/avatar/confirm",
        Auth::Bearer(&user.access),
        Body::Json(json!({"key": key, "content_type": content_type})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avatars_are_checked_before_they_are_accepted() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let alice = api.signed_up("alice@example.com").await;
    let bob = api.signed_up("bob@example.com").await;

    for content_type in ["image/gif", "image/svg+xml", "text/html", ""] {
        let reply = send(
            &api,
            Method::POST,
            "/v1/users/me/avatar",
            Auth::Bearer(&alice.access),
            Body::Json(json!({"content_type": content_type})),
        )
        .await;
        assert_validation(&reply, "content_type", content_type);
    }

    let image = png(300);
    let key = upload_avatar(&api, &alice, image.clone()).await;
    // Bob cannot claim Alice's upload, however he spells the key.
    for stolen in [
        key.clone(),
        format!("avatars/{}/../{}", bob.user_id, &key["avatars/".len()..]),
        "avatars/".to_string(),
    ] {
        let reply = confirm(&api, &bob, &stolen, "image/png").await;
        assert_validation(&reply, "key", &stolen);
    }
    assert_eq!(
        me(&api, Auth::Bearer(&bob.access)).await.body["avatar_url"],
        Value::Null
    );
    let reply = confirm(&api, &alice, &key, "image/gif").await;
    assert_validation(&reply, "content_type", "confirming as gif");
    let reply = confirm(
        &api,
        &alice,
        &format!("avatars/{}/{}", alice.user_id, new_id()),
        "image/png",
    )
    .await;
    assert_validation(&reply, "key", "nothing uploaded there");

    let reply = confirm(&api, &alice, &key, "image/png").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let url = reply.body["avatar_url"].as_str().unwrap().to_string();
    let profile = me(&api, Auth::Bearer(&alice.access)).await;
    assert!(profile.body["avatar_url"].is_string(), "{:?}", profile.body);
    let download = reqwest::get(&url).await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), image);

    // A GIF sent as a PNG is refused at confirmation, and the profile keeps its avatar.
    let fake = upload_avatar(&api, &alice, b"GIF89a pretending to be a PNG".to_vec()).await;
    let reply = confirm(&api, &alice, &fake, "image/png").await;
    assert_validation(&reply, "file", "gif bytes as png");
    let reply = confirm(&api, &alice, &fake, "image/png").await;
    assert_validation(&reply, "key", "refused uploads are gone");
    let profile = me(&api, Auth::Bearer(&alice.access)).await;
    assert!(profile.body["avatar_url"].is_string());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_bodies_are_problems() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let admin = api.admin("admin@example.com").await;
    let user = api.signed_up("body@example.com").await;
    let role_path = format!("/v1/admin/users/{}/role", user.user_id);
    let targets = [
        (Method::PATCH, "/v1/users/me", &user.access),
        (Method::POST, "/v1/users/me/api-keys", &user.access),
        (Method::POST, "/v1/users/me/password", &user.access),
        (Method::PATCH, role_path.as_str(), &admin.access),
    ];
    for (method, path, access) in &targets {
        let what = format!("{method} {path}");
        for raw in [&b"{not json"[..], b"{\"", b"{,}", b"nul", b""] {
            let reply = send(
                &api,
                method.clone(),
                path,
                Auth::Bearer(access),
                Body::RawJson(raw.to_vec()),
            )
            .await;
            assert_problem(&reply, 400, "malformed-json", &format!("{what} {raw:?}"));
        }
        let reply = send(
            &api,
            method.clone(),
            path,
            Auth::Bearer(access),
            Body::RawJson(b"42".to_vec()),
        )
        .await;
        assert_validation(&reply, "body", &format!("{what} number"));

        let big = format!(r#"{{"display_name": "{}"}}"#, "a".repeat(1024 * 1024 + 10));
        let reply = send(
            &api,
            method.clone(),
            path,
            Auth::Bearer(access),
            Body::RawJson(big.into_bytes()),
        )
        .await;
        assert_problem(
            &reply,
            413,
            "payload-too-large",
            &format!("{what} oversize"),
        );

        let reply = api
            .http
            .request(method.clone(), server.url(path))
            .bearer_auth(access)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 415, "{what} as text/plain");
    }
    // Trailing garbage after a body that alone would be accepted.
    let reply = send(
        &api,
        Method::PATCH,
        "/v1/users/me",
        Auth::Bearer(&user.access),
        Body::RawJson(b"{\"theme\": \"dark\"} {\"role\": \"admin\"}".to_vec()),
    )
    .await;
    assert_problem(&reply, 400, "malformed-json", "trailing garbage");
    let reply = send(
        &api,
        Method::PATCH,
        &role_path,
        Auth::Bearer(&admin.access),
        Body::Json(json!({"role": "god"})),
    )
    .await;
    assert_validation(&reply, "role", "unknown role");
    let profile = me(&api, Auth::Bearer(&user.access)).await;
    assert_eq!(profile.body["role"], "learner");
    assert_eq!(profile.body["display_name"], "Test User");
    assert_eq!(profile.body["theme"], Value::Null);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_actions_keep_an_admin_and_suspension_stops_tokens_and_keys_at_once() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let admin = api.admin("admin@example.com").await;
    let user = api.signed_up("user@example.com").await;
    let key = create_key(&api, &user, json!({"name": "k", "scopes": ["self:manage"]})).await;
    let key = key.body["key"].as_str().unwrap().to_string();
    let auth = Auth::Bearer(&admin.access);
    let admin_path = |action: &str| format!("/v1/admin/users/{}/{action}", admin.user_id);
    let user_path = |action: &str| format!("/v1/admin/users/{}/{action}", user.user_id);

    // The last admin can neither demote nor suspend itself.
    let reply = send(
        &api,
        Method::PATCH,
        &admin_path("role"),
        auth,
        Body::Json(json!({"role": "learner"})),
    )
    .await;
    assert_problem(&reply, 409, "conflict", "last admin demoting itself");
    let reply = send(
        &api,
        Method::POST,
        &admin_path("suspend"),
        auth,
        Body::Empty,
    )
    .await;
    assert_problem(&reply, 409, "conflict", "last admin suspending itself");
    assert_eq!(me(&api, auth).await.body["role"], "admin");

    let reply = send(
        &api,
        Method::POST,
        &user_path("activate"),
        auth,
        Body::Empty,
    )
    .await;
    assert_problem(&reply, 409, "conflict", "activating an active account");
    let reply = send(&api, Method::POST, &user_path("suspend"), auth, Body::Empty).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "suspended");
    let refused = me(&api, Auth::Bearer(&user.access)).await;
    assert_problem(&refused, 401, "unauthenticated", "suspended bearer");
    let refused = me(&api, Auth::Key(&key)).await;
    assert_problem(&refused, 401, "unauthenticated", "suspended key");
    let login = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "user@example.com", "password": PASSWORD}),
        )
        .await;
    assert!(login.status.is_client_error(), "{:?}", login.body);
    assert!(login.body["access_token"].is_null());

    let reply = send(
        &api,
        Method::POST,
        &user_path("activate"),
        auth,
        Body::Empty,
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        me(&api, Auth::Key(&key)).await.status,
        200,
        "keys work again after activation"
    );
    let again = api.login("user@example.com").await;
    let reply = send(
        &api,
        Method::POST,
        &user_path("force-logout"),
        auth,
        Body::Empty,
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["sessions_ended"], 1);
    let refused = me(&api, Auth::Bearer(&again.access)).await;
    assert_problem(&refused, 401, "unauthenticated", "after force-logout");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_body_field_is_named() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let user = api.signed_up("missing@example.com").await;
    let reply = send(
        &api,
        Method::POST,
        "/v1/users/me/password",
        Auth::Bearer(&user.access),
        Body::Json(json!({"current_password": PASSWORD})),
    )
    .await;
    assert_validation(&reply, "new_password", "missing new_password");
    let reply = create_key(&api, &user, json!({"scopes": ["content:read"]})).await;
    assert_validation(&reply, "name", "missing name");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_cannot_exceed_its_general_share_from_any_ip() {
    use lectern_shared::ratelimit::{Limit, RateLimitConfig};
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_configured(dir, |config| {
        let mut limits = RateLimitConfig::default();
        limits.per_account.general = Limit {
            requests: 3,
            window: Duration::from_secs(60),
        };
        config.rate_limits = limits;
    })
    .await;
    let api = Api::new(&server);
    // `signed_up` reads the profile once after signing in: that is the first of the three.
    let user = api.signed_up("share@example.com").await;
    for expected_remaining in ["1", "0"] {
        let reply = api.get("/v1/users/me", Some(&user.access)).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(reply.headers["ratelimit-remaining"], expected_remaining);
    }
    let reply = api.get("/v1/users/me", Some(&user.access)).await;
    assert_eq!(reply.status, 429, "{:?}", reply.body);
    assert_eq!(reply.problem_type(), Some("rate-limited"));
    assert!(reply.headers.contains_key("retry-after"));
    // Another account is unaffected.
    let other = api.signed_up("other-share@example.com").await;
    assert_eq!(
        api.get("/v1/users/me", Some(&other.access)).await.status,
        200
    );
    server.clock.advance(Duration::from_secs(61));
    assert_eq!(
        api.get("/v1/users/me", Some(&user.access)).await.status,
        200,
        "the window rolled over"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_change_the_tier_and_the_change_is_audited() {
    let server = DevServer::start().await;
    let api = Api::new(&server);
    let admin = api.admin("admin@example.com").await;
    let target = api.signed_up("tier@example.com").await;
    let path = format!("/v1/admin/users/{}/tier", target.user_id);
    let auth = Auth::Bearer(&admin.access);

    for bad in [
        json!({"tier": "gold"}),
        json!({"tier": "premium", "role": "admin"}),
        json!({}),
    ] {
        let reply = send(&api, Method::PATCH, &path, auth, Body::Json(bad.clone())).await;
        assert_problem(&reply, 400, "validation", &bad.to_string());
    }
    assert_eq!(
        me(&api, Auth::Bearer(&target.access)).await.body["tier"],
        "free",
        "nothing changed"
    );

    let reply = send(
        &api,
        Method::PATCH,
        &path,
        auth,
        Body::Json(json!({"tier": "premium"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["tier"], "premium");
    assert_eq!(
        me(&api, Auth::Bearer(&target.access)).await.body["tier"],
        "premium"
    );

    let log = send(
        &api,
        Method::GET,
        "/v1/admin/audit-logs?action=tier_changed&limit=10",
        auth,
        Body::Empty,
    )
    .await;
    assert_eq!(log.status, 200, "{:?}", log.body);
    let event = &log.body["items"][0];
    assert_eq!(event["target_id"], target.user_id.as_str());
    assert_eq!(event["actor_id"], admin.user_id.as_str());
    assert_eq!(event["details"]["to"], "premium");
    server.stop().await;
}
