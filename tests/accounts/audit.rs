//! The audit trail as it is read: an owner's `/v1/users/me/security-events` and the admin's
//! `/v1/admin/audit-logs`. Pages, time windows, filters, and cursors that only work where they were issued.

use std::time::Duration;

use lectern_e2e::api::{Api, assert_validation, tamper};
use lectern_shared::clock::Clock;
use serde_json::json;

/// An RFC 3339 time: the server's now.
fn now(api: &Api) -> String {
    lectern_accounts::audit::timestamp(api.clock().now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_events_paginate_filter_by_time_and_refuse_bad_queries() {
    let api = Api::start().await;
    let email = "events@example.com";
    let alice = api.signed_up(email).await;
    let bob = api.signed_up("bob@example.com").await;
    let early_end = now(&api);
    api.clock().advance(Duration::from_secs(3600));
    let late_start = now(&api);
    api.login(email).await;
    api.login(email).await;
    // The access tokens of the first hour have expired; refreshing is not a security event.
    let alice_access = api.fresh_access(&alice).await;
    let bob_access = api.fresh_access(&bob).await;
    let events = async |query: &str| api.security_events(&alice_access, query).await;

    let everything = events("limit=100").await.expect_status(200).items();
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

    let (paged, pages) = api
        .all_pages("/v1/users/me/security-events?limit=2", &alice_access)
        .await;
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(
        paged, everything,
        "pages add up to the whole list, in order"
    );

    let late = events(&format!("limit=100&from={late_start}"))
        .await
        .expect_status(200);
    assert_eq!(late.actions(), ["login_succeeded", "login_succeeded"]);
    let early = events(&format!("limit=100&to={early_end}")).await.actions();
    assert_eq!(early.len(), everything.len() - 2, "{early:?}");
    assert!(early.contains(&"register".to_string()), "{early:?}");
    let window = events(&format!("from={early_end}&to={late_start}"))
        .await
        .expect_status(200)
        .items();
    assert!(window.len() >= 2, "{window:?}");
    assert!(window.iter().all(|e| {
        let t = e["at"].as_str().unwrap();
        t >= early_end.as_str() && t <= late_start.as_str()
    }));

    let backwards = events(&format!("from={late_start}&to={early_end}")).await;
    assert_eq!(
        backwards.status, 200,
        "an empty window is no error: {backwards}"
    );
    assert_eq!(backwards.body["items"], json!([]));

    let cursor = events("limit=2").await.text("next_cursor");
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
        assert_validation(&events(&query).await, field);
    }
    // Alice's cursor means nothing in Bob's list.
    let reply = api
        .security_events(&bob_access, &format!("limit=2&cursor={cursor}"))
        .await;
    assert_validation(&reply, "query.cursor");
    let reply = events(&format!("limit=2&cursor={cursor}")).await;
    assert_eq!(
        reply.status, 200,
        "the untouched cursor works for its owner"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_paginates_filters_and_refuses_bad_queries() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let alice = api.signed_up("alice@example.com").await;
    let early_end = now(&api);
    api.clock().advance(Duration::from_secs(3600));
    let late_start = now(&api);
    let bob = api.signed_up("bob@example.com").await;
    let admin_access = api.fresh_access(&admin).await;
    api.admin_action(&admin_access, &bob.user_id, "suspend")
        .await
        .expect_status(200);
    let log = async |query: &str| api.audit_logs(&admin_access, query).await;
    let items = async |query: &str| log(query).await.items();

    let everything = log("limit=100").await.expect_status(200).items();
    let (paged, pages) = api
        .all_pages("/v1/admin/audit-logs?limit=2", &admin_access)
        .await;
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(paged, everything);

    let suspended = items("action=suspended").await;
    assert_eq!(suspended.len(), 1, "{suspended:?}");
    assert_eq!(suspended[0]["target_id"], bob.user_id.as_str());
    assert_eq!(suspended[0]["actor_id"], admin.user_id.as_str());
    let logins = items("action=login_succeeded&limit=100").await;
    assert!(!logins.is_empty());
    assert!(logins.iter().all(|e| e["action"] == "login_succeeded"));

    let alices = items(&format!("user_id={}&limit=100", alice.user_id)).await;
    assert!(!alices.is_empty());
    assert!(
        alices
            .iter()
            .all(|e| e["target_id"] == alice.user_id.as_str())
    );

    let late = items(&format!("limit=100&from={late_start}")).await;
    assert!(!late.is_empty());
    assert!(
        late.iter().all(|e| e["target_id"] == bob.user_id.as_str()),
        "only bob's sign-up and suspension happened late: {late:?}"
    );
    let early = items(&format!("limit=100&to={early_end}")).await;
    assert_eq!(early.len() + late.len(), everything.len());
    assert!(early.iter().all(|e| e["target_id"] != bob.user_id.as_str()));
    let late_logins = items(&format!(
        "action=login_succeeded&limit=100&from={late_start}"
    ))
    .await;
    assert_eq!(late_logins.len(), 1, "bob's one sign-in: {late_logins:?}");

    let cursor = log("limit=2").await.text("next_cursor");
    let filtered_cursor = log("limit=2&action=login_succeeded")
        .await
        .text("next_cursor");
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
        assert_validation(&log(&query).await, field);
    }
    // A user's own security-events cursor is not an audit-log cursor.
    let own_cursor = api
        .security_events(&admin_access, "limit=1")
        .await
        .text("next_cursor");
    let reply = log(&format!("limit=1&cursor={own_cursor}")).await;
    assert_validation(&reply, "query.cursor");
    let reply = log(&format!("limit=2&cursor={cursor}")).await;
    assert_eq!(reply.status, 200, "the untouched cursor works");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_events_cursor_works_only_with_the_time_window_it_was_made_for() {
    let api = Api::start().await;
    let user = api.signed_up("windows@example.com").await;
    let start = now(&api);
    for _ in 0..3 {
        api.clock().advance(Duration::from_secs(60));
        api.login(&user.email).await;
    }
    let access = api.fresh_access(&user).await;
    let events = async |query: &str| api.security_events(&access, query).await;
    let first = events(&format!("limit=1&from={start}"))
        .await
        .expect_status(200);
    let cursor = first.text("next_cursor");
    // Reused without its window, or with another one, it would page a different list.
    for other in [
        format!("limit=1&cursor={cursor}"),
        format!("limit=1&from={}&cursor={cursor}", now(&api)),
        format!("limit=1&from={start}&to={}&cursor={cursor}", now(&api)),
    ] {
        assert_validation(&events(&other).await, "query.cursor");
    }
    let next = events(&format!("limit=1&from={start}&cursor={cursor}"))
        .await
        .expect_status(200);
    assert_ne!(
        next.items(),
        first.items(),
        "the next page of the same window"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_records_keep_the_servers_request_id_beside_a_client_chosen_one() {
    let api = Api::start().await;
    let user = api.signed_up("ids@example.com").await;
    let body =
        lectern_e2e::api::Body::Json(json!({"email": user.email, "password": "wrong password"}));
    let reply = api
        .send_with(
            reqwest::Method::POST,
            "/v1/auth/login",
            lectern_e2e::api::Auth::Anonymous,
            body,
            &[("x-request-id", "borrowed-id-42")],
        )
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("x-request-id"),
        "borrowed-id-42",
        "echoed as sent"
    );
    let events = api
        .security_events(&user.access, "limit=10")
        .await
        .expect_status(200);
    let failed = events.event("login_failed");
    assert_eq!(failed["request_id"], "borrowed-id-42");
    let own = failed["server_request_id"]
        .as_str()
        .expect("the server's own id");
    assert!(lectern_shared::ids::is_id(own), "{own}");
    // Without a header both are the server's.
    let signed_in = events.event("login_succeeded");
    assert_eq!(signed_in["request_id"], signed_in["server_request_id"]);
    api.stop().await;
}
