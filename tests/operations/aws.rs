//! The operations core paths on the AWS adapters (DynamoDB on moto): settings replaced against their version (a
//! stale write refused by DynamoDB's condition), a flag written and evaluated, and an IP rule blocking a network
//! on the function's stack. Skipped when moto is not available (unless `LECTERN_REQUIRE_AWS=1`).

use lectern_accounts::permissions::Role;
use lectern_e2e::api::{Client, assert_problem};
use lectern_e2e::moto_stack::MotoStack;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_flags_and_ip_rules_on_dynamodb() {
    let Some(stack) = MotoStack::start().await else {
        return;
    };
    let api = &stack.api;
    let admin = stack
        .signed_in("cloud.operator@example.com", "Operator", Role::Admin)
        .await;
    let learner = stack
        .signed_in("cloud.flags@example.com", "Learner", Role::Learner)
        .await;

    let settings = json!({"support_email": "help@example.com", "default_locale": "fr", "registration_open": true});
    api.put_settings(&admin.access, Some("\"0\""), settings.clone())
        .await
        .expect_status(200);
    assert_problem(
        &api.put_settings(&admin.access, Some("\"0\""), settings)
            .await,
        412,
        "precondition-failed",
    );
    let public = api.public_settings().await.expect_status(200);
    assert_eq!(public.body["default_locale"], "fr");

    api.put_flag(
        &admin.access,
        "checkout.v2",
        json!({"enabled": true, "targeting": {"roles": ["learner"]}}),
    )
    .await
    .expect_status(200);
    let flags = api.my_flags(&learner.access, "").await.expect_status(200);
    assert_eq!(flags.body["flags"]["checkout.v2"]["enabled"], true);
    let flags = api.my_flags(&admin.access, "").await.expect_status(200);
    assert_eq!(flags.body["flags"]["checkout.v2"]["enabled"], false);

    let rule = api
        .add_ip_rule(
            &admin.access,
            json!({"cidr": "127.0.0.88/32", "action": "block", "reason": "moto run"}),
        )
        .await
        .expect_status(201);
    let blocked = Client::from_address(api.url(""), [127, 0, 0, 88].into());
    assert_problem(&blocked.get("/v1/health", None).await, 403, "ip-blocked");
    assert_problem(&blocked.public_settings().await, 403, "ip-blocked");
    api.get("/v1/health", None).await.expect_status(200);
    api.delete_ip_rule(&admin.access, &rule.text("rule_id"))
        .await
        .expect_status(204);
    blocked.get("/v1/health", None).await.expect_status(200);
}
