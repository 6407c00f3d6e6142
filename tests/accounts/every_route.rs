//! What every route does with a bad request: malformed and oversized bodies, missing and bogus credentials,
//! malformed ids. The routes, their methods, whether they take a JSON body (and its fields) and whether they need
//! credentials come from the generated OpenAPI document, so a new route is covered as soon as it is documented.

use lectern_e2e::api::{Api, Auth, Body, PASSWORD, assert_problem, assert_validation};
use lectern_e2e::openapi::{Operation, operations};
use reqwest::Method;
use serde_json::{Value, json};

/// A well-formed id of nobody.
fn new_id() -> String {
    lectern_shared::ids::new_id()
}

/// The path of `op` with `user_id` set to `user_id` and every other id a fresh one.
fn path_for(op: &Operation, user_id: &str) -> String {
    op.path_with(|param| match param {
        "user_id" => user_id.to_string(),
        _ => new_id(),
    })
}

/// A well-typed body for `op` when it takes one.
fn sample_body(op: &Operation) -> Body {
    match op.json_body {
        Some(_) => Body::Json(op.sample_body()),
        None => Body::Empty,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_missing_and_bogus_credentials() {
    let api = Api::start().await;
    let user = api.signed_up("victim@example.com").await;
    // Aimed at a real account, so a missing check would have something to act on.
    for op in operations().iter().filter(|op| op.authenticated()) {
        let path = path_for(op, &user.user_id);
        for auth in [
            Auth::Anonymous,
            Auth::Bearer("not-a-jwt"),
            Auth::Key("lk_0000000000000000000000000000000000000000000"),
            Auth::Key("no-prefix"),
        ] {
            let reply = api
                .send(op.method.clone(), &path, auth, sample_body(op))
                .await;
            assert_problem(&reply, 401, "unauthenticated");
        }
    }
    // Nothing happened to the account the requests aimed at.
    let profile = api.me(&user.access).await.expect_status(200);
    assert_eq!(profile.body["role"], "learner");
    assert_eq!(profile.body["status"], "active");
    assert_eq!(profile.body["theme"], Value::Null);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ids_in_paths_are_validation_problems_naming_the_parameter() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let auth = Auth::Bearer(&admin.access);
    let with_ids = operations()
        .into_iter()
        .filter(|op| !op.path_params.is_empty())
        .collect::<Vec<_>>();
    for bad in [
        "nope",
        "01ARZ3NDEKTSV4RRFFQ69G5FA",
        "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
        "a%20b",
    ] {
        for op in &with_ids {
            for param in &op.path_params {
                // A step id and a flag key are slugs, and "nope" is one (of nothing: 404, tested with the route).
                if bad == "nope" && (param == "step" || param == "key") {
                    continue;
                }
                let path = op.path_with(|p| match p == param {
                    true => bad.to_string(),
                    false => new_id(),
                });
                let reply = api
                    .send(op.method.clone(), &path, auth, sample_body(op))
                    .await;
                assert_validation(&reply, &format!("path.{param}"));
            }
        }
        let reply = api.audit_logs(auth, &format!("user_id={bad}")).await;
        assert_validation(&reply, "query.user_id");
    }
    // A well-formed id of nobody is simply not found.
    let reply = api.admin_user(auth, &new_id()).await;
    assert_problem(&reply, 404, "not-found");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_route_refuses_malformed_mistyped_incomplete_unknown_and_oversize_bodies() {
    let api = Api::start().await;
    // An admin may call every route, so each refusal below is about the body, not about the caller.
    let admin = api.admin("shape@example.com").await;
    let target = api.signed_up("target@example.com").await;
    for op in operations().iter().filter(|op| op.json_body.is_some()) {
        let path = path_for(op, &target.user_id);
        let auth = match op.authenticated() {
            true => Auth::Bearer(&admin.access),
            false => Auth::Anonymous,
        };
        let send = |content_type: Option<&str>, bytes: Vec<u8>| {
            let content_type = content_type.map(str::to_string);
            let body = Body::Raw {
                content_type,
                bytes,
            };
            api.send(op.method.clone(), &path, auth, body)
        };
        let json =
            |body: &serde_json::Value| send(Some("application/json"), body.to_string().into());
        let valid = op.sample_body();

        // Cut short, not JSON at all, a single quote, trailing garbage after a well-formed body.
        let text = valid.to_string();
        let cut = text[..text.len() - 1].to_string();
        let single_quoted = text.replace('"', "'");
        let trailing = format!("{text} trailing");
        for bad in [
            cut,
            "not json".into(),
            single_quoted,
            trailing,
            String::new(),
        ] {
            let reply = send(Some("application/json"), bad.clone().into_bytes()).await;
            assert_eq!(reply.status, 400, "{op} {bad:?}: {reply}");
            assert_eq!(reply.problem_type(), Some("malformed-json"), "{op} {bad:?}");
        }

        let reply = send(Some("text/plain"), text.clone().into_bytes()).await;
        assert_problem(&reply, 415, "unsupported-media-type");
        let reply = send(None, text.clone().into_bytes()).await;
        assert_problem(&reply, 415, "unsupported-media-type");
        let reply = send(
            Some("application/x-www-form-urlencoded"),
            b"email=a%40b.c".to_vec(),
        )
        .await;
        assert_problem(&reply, 415, "unsupported-media-type");

        // Every required field: dropping any one is a validation problem that names it.
        for missing in op.required_fields() {
            let mut body = valid.clone();
            body.as_object_mut().unwrap().remove(&missing);
            let reply = json(&body).await;
            assert_problem(&reply, 400, "validation");
            assert!(
                reply.errors_text().contains(missing.as_str()),
                "{op}: missing {missing} not named: {reply}"
            );
        }

        if op.refuses_unknown_fields() {
            let mut body = valid.clone();
            body["is_admin"] = json!(true);
            let reply = json(&body).await;
            assert_problem(&reply, 400, "validation");
            assert!(
                reply.errors_text().contains("is_admin"),
                "{op}: unknown field not named: {reply}"
            );
        }

        // A number where a string (or an object) belongs. (A number where an enumeration belongs is answered as
        // malformed JSON: serde_json reads enumerations from strings only, so those fields are not tried here.)
        let first = op.body_fields()[0].clone();
        let plain = op.body_fields().into_iter().find(|field| {
            let schema = op.field_schema(field);
            // A number is a valid value of a numeric field (`version`); mistype another.
            let numeric = [schema["type"].clone()]
                .into_iter()
                .chain(schema["type"].as_array().cloned().unwrap_or_default())
                .any(|t| t == "integer" || t == "number");
            schema["enum"].is_null() && !numeric
        });
        if let Some(field) = plain {
            let mut body = valid.clone();
            body[&field] = json!(12345);
            let reply = json(&body).await;
            assert_problem(&reply, 400, "validation");
            assert!(
                reply.fields().contains(&field),
                "{op}: mistyped {field} not named: {reply}"
            );
        }

        let reply = json(&json!([])).await;
        assert_problem(&reply, 400, "validation");

        // One byte over the default 1 MiB limit.
        let mut big = valid.clone();
        big[&first] = json!("a".repeat(1024 * 1024));
        let bytes = big.to_string().into_bytes();
        assert!(bytes.len() > 1024 * 1024);
        let reply = send(Some("application/json"), bytes).await;
        assert_problem(&reply, 413, "payload-too-large");
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_without_a_body_refuse_missing_and_wrong_credentials_and_oversize_bodies() {
    let api = Api::start().await;
    let user = api.signed_up("bodyless@example.com").await;
    let auth_routes = operations()
        .into_iter()
        .filter(|op| op.authenticated() && op.under("/v1/auth/"));
    for op in auth_routes {
        for auth in [
            Auth::Anonymous,
            Auth::Bearer("not-a-jwt"),
            Auth::Bearer(&user.refresh),
        ] {
            let reply = api
                .send(op.method.clone(), &op.path, auth, Body::Empty)
                .await;
            assert_problem(&reply, 401, "unauthenticated");
        }
    }
    // The body limit holds even where the handler never reads a body.
    let reply = api
        .send(
            Method::POST,
            "/v1/auth/logout",
            Auth::Bearer(&user.access),
            Body::raw_json(vec![b' '; 1024 * 1024 + 1]),
        )
        .await;
    assert_problem(&reply, 413, "payload-too-large");
    // Wrong method on an auth route.
    api.get("/v1/auth/login", None).await.expect_status(405);
    // ... and the session was not ended by the refused logout.
    assert_eq!(api.me(&user.access).await.status, 200);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_bodies_are_problems() {
    let api = Api::start().await;
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
        let send = |body: Body| api.send(method.clone(), path, Auth::Bearer(access), body);
        for raw in [&b"{not json"[..], b"{\"", b"{,}", b"nul", b""] {
            let reply = send(Body::raw_json(raw)).await;
            assert_problem(&reply, 400, "malformed-json");
        }
        let reply = send(Body::raw_json(&b"42"[..])).await;
        assert_validation(&reply, "body");

        let big = format!(r#"{{"display_name": "{}"}}"#, "a".repeat(1024 * 1024 + 10));
        let reply = send(Body::raw_json(big)).await;
        assert_problem(&reply, 413, "payload-too-large");

        let text = Body::Raw {
            content_type: Some("text/plain".into()),
            bytes: b"{}".to_vec(),
        };
        let reply = send(text).await;
        assert_eq!(reply.status, 415, "as text/plain: {reply}");
    }
    // Trailing garbage after a body that alone would be accepted.
    let reply = api
        .send(
            Method::PATCH,
            "/v1/users/me",
            Auth::Bearer(&user.access),
            Body::raw_json(&b"{\"theme\": \"dark\"} {\"role\": \"admin\"}"[..]),
        )
        .await;
    assert_problem(&reply, 400, "malformed-json");
    let reply = api.set_role(&admin.access, &user.user_id, "god").await;
    assert_validation(&reply, "role");
    let profile = api.me(&user.access).await;
    assert_eq!(profile.body["role"], "learner");
    assert_eq!(profile.body["display_name"], "Test User");
    assert_eq!(profile.body["theme"], Value::Null);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_body_field_is_named() {
    let api = Api::start().await;
    let user = api.signed_up("missing@example.com").await;
    let reply = api
        .change_password(&user.access, json!({"current_password": PASSWORD}))
        .await;
    assert_validation(&reply, "new_password");
    let reply = api
        .create_key(&user.access, json!({"scopes": ["content:read"]}))
        .await;
    assert_validation(&reply, "name");
    api.stop().await;
}
