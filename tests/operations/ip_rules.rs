//! `/v1/admin/ip-rules` and the check every function makes before anything else: a blocked network gets 403
//! `ip-blocked` on every documented route of every function (health included) and on unknown paths; an allow rule
//! exempts its addresses; expired and deleted rules stop applying; another instance sees a change within the cache
//! period; the check reads the store once per period, never per request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::extract::ConnectInfo;
use lectern_e2e::api::{Api, Auth, Body, assert_problem};
use lectern_e2e::openapi::operations;
use lectern_shared::clock::Clock;
use lectern_shared::iprules::{CACHE_TTL, IpGuard};
use lectern_shared::testing::counting::{CountingTable, OpLog};
use serde_json::json;
use tower::ServiceExt;

fn block(cidr: &str) -> serde_json::Value {
    json!({"cidr": cidr, "action": "block", "reason": "credential stuffing from this range"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_network_gets_403_on_every_route_of_every_function() {
    let api = Api::start().await;
    let admin = api.admin("ip.block@example.com").await;
    let blocked = api.from_network(66);
    // A real session from that network, so a route that let the request through would have a caller to act for.
    let user = blocked
        .login_with("ip.block@example.com", lectern_e2e::api::PASSWORD)
        .await
        .expect_status(200);
    let token = user.text("access_token");

    let rule = api
        .add_ip_rule(&admin.access, block("127.0.0.66/32"))
        .await
        .expect_status(201);
    assert_eq!(rule.body["cidr"], "127.0.0.66/32");

    let ops = operations();
    assert!(
        ops.iter().any(|op| op.path == "/v1/health"),
        "health is documented"
    );
    for op in &ops {
        let path = op.path_with(|_| lectern_shared::ids::new_id());
        let body = match op.json_body {
            Some(_) => Body::Json(op.sample_body()),
            None => Body::Empty,
        };
        let reply = blocked
            .send(op.method.clone(), &path, Auth::Bearer(&token), body)
            .await;
        assert_problem(&reply, 403, "ip-blocked");
        assert!(reply.body["request_id"].is_string(), "{reply}");
    }
    assert_problem(
        &blocked.get("/v1/no-such-route", None).await,
        403,
        "ip-blocked",
    );
    assert_problem(&blocked.public_settings().await, 403, "ip-blocked");

    // Everyone else is served as before.
    api.get("/v1/health", None).await.expect_status(200);
    api.me(&admin.access).await.expect_status(200);
    api.from_network(67)
        .get("/v1/health", None)
        .await
        .expect_status(200);

    // Deleting the rule lets the network in again at once on this instance.
    api.delete_ip_rule(&admin.access, &rule.text("rule_id"))
        .await
        .expect_status(204);
    blocked.get("/v1/health", None).await.expect_status(200);
    assert_problem(
        &api.delete_ip_rule(&admin.access, &rule.text("rule_id"))
            .await,
        404,
        "not-found",
    );
}

#[tokio::test]
async fn an_allow_rule_exempts_its_addresses_from_a_wider_block_and_expired_rules_stop_applying() {
    let api = Api::start().await;
    let admin = api.admin("ip.allow@example.com").await;
    // 127.0.0.64 – 127.0.0.71 blocked for a minute, 127.0.0.66 allowed inside it.
    let expires = (api.clock().now() + time::Duration::seconds(60))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    api.add_ip_rule(
        &admin.access,
        json!({"cidr": "127.0.0.64/29", "action": "block", "reason": "lab network", "expires_at": expires}),
    )
    .await
    .expect_status(201);
    api.add_ip_rule(
        &admin.access,
        json!({"cidr": "127.0.0.66", "action": "allow", "reason": "the operators' desk"}),
    )
    .await
    .expect_status(201);

    api.from_network(66)
        .get("/v1/health", None)
        .await
        .expect_status(200);
    assert_problem(
        &api.from_network(67).get("/v1/health", None).await,
        403,
        "ip-blocked",
    );
    api.from_network(72)
        .get("/v1/health", None)
        .await
        .expect_status(200);

    // The block expires mid-period: it stops applying at its time, not when the copy is next read.
    api.clock().advance(Duration::from_secs(60));
    api.from_network(67)
        .get("/v1/health", None)
        .await
        .expect_status(200);
    let listed = api.ip_rules(&admin.access).await.expect_status(200);
    assert_eq!(
        listed.items().len(),
        2,
        "expired rules stay listed until deleted"
    );

    let audit = api
        .audit_logs(&admin.access, "action=ip_rule_changed")
        .await
        .expect_status(200);
    assert_eq!(audit.items().len(), 2);
    assert_eq!(audit.items()[0]["details"]["rule"]["action"], "allow");
    assert_eq!(audit.items()[0]["target_id"], "ip-rules");
}

#[tokio::test]
async fn bad_rules_are_refused_field_by_field_and_only_settings_managers_touch_the_list() {
    let api = Api::start().await;
    let admin = api.admin("ip.bad@example.com").await;
    let learner = api.signed_up("ip.learner@example.com").await;
    let past = (api.clock().now() - time::Duration::seconds(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let reply = api
        .add_ip_rule(
            &admin.access,
            json!({"cidr": "10.0.0.0/33", "action": "block", "reason": " ", "expires_at": past}),
        )
        .await;
    assert_problem(&reply, 400, "validation");
    assert_eq!(reply.fields(), ["cidr", "reason", "expires_at"]);
    let not_a_time = api
        .add_ip_rule(&admin.access, json!({"cidr": "10.0.0.0/8", "action": "block", "reason": "r", "expires_at": "tomorrow"}))
        .await;
    assert_eq!(not_a_time.fields(), ["expires_at"]);
    let bad_action = api
        .add_ip_rule(
            &admin.access,
            json!({"cidr": "10.0.0.0/8", "action": "deny", "reason": "r"}),
        )
        .await;
    assert_eq!(bad_action.status.as_u16(), 400, "{bad_action}");

    assert_problem(
        &api.add_ip_rule(&learner.access, block("10.0.0.0/8")).await,
        403,
        "forbidden",
    );
    assert_problem(&api.ip_rules(&learner.access).await, 403, "forbidden");
    assert_problem(
        &api.delete_ip_rule(&learner.access, &lectern_shared::ids::new_id())
            .await,
        403,
        "forbidden",
    );
    assert!(
        api.ip_rules(&admin.access)
            .await
            .expect_status(200)
            .items()
            .is_empty()
    );
}

/// A request to `router` from `ip`, as the dev server's socket would deliver it.
async fn status_from(router: &axum::Router, ip: [u8; 4]) -> u16 {
    let mut request = axum::http::Request::get("/v1/health")
        .body(AxumBody::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 4000))));
    router
        .clone()
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn another_instance_sees_a_change_within_the_cache_period_and_reads_the_list_once_per_period()
{
    let api = Api::start().await;
    let admin = api.admin("ip.instances@example.com").await;
    // A second function instance over the same table: its own guard, whose reads are counted.
    let log = OpLog::default();
    let mut other = api.server.platform.clone();
    other.ip_rules = Arc::new(IpGuard::new(
        Arc::new(CountingTable {
            inner: api.server.platform.table.clone(),
            log: log.clone(),
        }),
        other.clock.clone(),
    ));
    let health =
        lectern_shared::http::layers::api(lectern_platform_health::router(other.clone()), &other);
    for _ in 0..100 {
        assert_eq!(status_from(&health, [198, 51, 100, 7]).await, 200);
    }
    assert_eq!(log.take().summary().reads, 1, "one read for 100 requests");

    api.add_ip_rule(&admin.access, block("198.51.100.0/24"))
        .await
        .expect_status(201);
    assert_eq!(
        status_from(&health, [198, 51, 100, 7]).await,
        200,
        "the other instance still answers from its copy"
    );
    api.clock().advance(CACHE_TTL);
    assert_eq!(
        status_from(&health, [198, 51, 100, 7]).await,
        403,
        "within the cache period"
    );
    assert_eq!(status_from(&health, [198, 51, 101, 7]).await, 200);
    assert_eq!(
        log.take().summary().reads,
        1,
        "read again once, after the period"
    );
}
