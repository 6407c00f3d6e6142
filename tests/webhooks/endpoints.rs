//! `/v1/webhooks`: an owner's endpoints, created with a secret shown once, changed, deleted; nobody else's; input
//! refused with the field it is about, including every URL the SSRF guard refuses without resolving.

use lectern_e2e::api::{Api, assert_problem, assert_validation};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_manages_its_endpoints_and_another_account_sees_none_of_them() {
    let api = Api::start().await;
    let owner = api.admin("owner@example.com").await;
    let other = api.with_role(&owner, "other@example.com", "admin").await;
    let other = api.login(&other.email).await;
    let created = api
        .create_webhook(
            &owner.access,
            json!({"url": "https://hooks.example.com/lectern", "description": "CRM",
                "event_types": ["exam.submitted", "user.registered", "user.registered"]}),
        )
        .await
        .expect_status(201);
    let id = created.text("id");
    let secret = created.text("secret");
    assert!(
        secret.starts_with("whsec_") && secret.len() >= 6 + 44,
        "{secret}"
    );
    assert_eq!(
        created.body["event_types"],
        json!(["user.registered", "exam.submitted"]),
        "deduplicated, in catalogue order"
    );
    assert_eq!(created.body["enabled"], true);

    let read = api.webhook(&owner.access, &id).await.expect_status(200);
    assert!(
        read.body.get("secret").is_none(),
        "the secret is shown once"
    );
    assert_eq!(api.webhooks(&owner.access, "").await.items().len(), 1);

    // Another account with the same permission: every route answers 404, its list is empty.
    assert!(api.webhooks(&other.access, "").await.items().is_empty());
    assert_problem(&api.webhook(&other.access, &id).await, 404, "not-found");
    assert_problem(
        &api.patch_webhook(&other.access, &id, json!({"enabled": false}))
            .await,
        404,
        "not-found",
    );
    assert_problem(
        &api.delete_webhook(&other.access, &id).await,
        404,
        "not-found",
    );
    assert_problem(
        &api.rotate_webhook_secret(&other.access, &id).await,
        404,
        "not-found",
    );
    assert_problem(
        &api.test_webhook(&other.access, &id).await,
        404,
        "not-found",
    );
    assert_problem(
        &api.webhook_deliveries(&other.access, &id, "").await,
        404,
        "not-found",
    );

    // A learner has no `webhooks:manage`.
    let learner = api.signed_up("learner@example.com").await;
    assert_problem(
        &api.create_webhook(
            &learner.access,
            json!({"url": "https://hooks.example.com/", "event_types": ["user.registered"]}),
        )
        .await,
        403,
        "forbidden",
    );
    assert_problem(&api.webhooks(&learner.access, "").await, 403, "forbidden");

    let changed = api
        .patch_webhook(
            &owner.access,
            &id,
            json!({"enabled": false, "event_types": ["achievement.earned"]}),
        )
        .await
        .expect_status(200);
    assert_eq!(changed.body["enabled"], false);
    assert_eq!(changed.body["disabled_reason"], "owner");
    assert_eq!(changed.body["event_types"], json!(["achievement.earned"]));
    assert_problem(&api.test_webhook(&owner.access, &id).await, 409, "conflict");
    let enabled = api
        .patch_webhook(&owner.access, &id, json!({"enabled": true}))
        .await
        .expect_status(200);
    assert_eq!(enabled.body["disabled_reason"], json!(null));

    api.delete_webhook(&owner.access, &id)
        .await
        .expect_status(204);
    assert_problem(&api.webhook(&owner.access, &id).await, 404, "not-found");
    assert!(api.webhooks(&owner.access, "").await.items().is_empty());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_the_ssrf_guard_refuses_and_bad_input_answer_400_on_their_field() {
    let api = Api::start().await;
    let owner = api.admin("owner@example.com").await;
    for url in [
        "http://hooks.example.com/",
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://10.0.0.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://[::ffff:127.0.0.1]/",
        "https://user:pw@hooks.example.com/",
        "not a url",
    ] {
        let reply = api
            .create_webhook(
                &owner.access,
                json!({"url": url, "event_types": ["user.registered"]}),
            )
            .await;
        assert_validation(&reply, "url");
    }
    for (body, field) in [
        (
            json!({"url": "https://hooks.example.com/", "event_types": []}),
            "event_types",
        ),
        (
            json!({"url": "https://hooks.example.com/", "event_types": ["user.deleted"]}),
            "event_types",
        ),
        (
            json!({"url": "https://hooks.example.com/", "event_types": ["user.registered"],
                "description": "x".repeat(201)}),
            "description",
        ),
    ] {
        assert_validation(&api.create_webhook(&owner.access, body).await, field);
    }
    let unknown = api
        .create_webhook(
            &owner.access,
            json!({"url": "https://hooks.example.com/", "event_types": ["user.registered"], "secret": "mine"}),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(
        api.webhooks(&owner.access, "").await.items().is_empty(),
        "nothing half-written"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_account_leaves_no_endpoint_subscription_or_history_behind() {
    use lectern_shared::table::Entity;
    use lectern_webhooks::endpoints::{Endpoint, Subscription};
    let api = crate::insecure_api().await;
    let first = api.admin("first@example.com").await;
    let leaving = api.with_role(&first, "leaving@example.com", "admin").await;
    let leaving = api.login(&leaving.email).await;
    let receiver = lectern_e2e::webhooks::Receiver::start(&[], 200).await;
    let id = api
        .create_webhook(
            &leaving.access,
            json!({"url": receiver.url, "event_types": ["user.registered", "exam.submitted"]}),
        )
        .await
        .expect_status(201)
        .text("id");
    api.test_webhook(&leaving.access, &id)
        .await
        .expect_status(202);
    receiver.await_requests(1).await;
    let history = lectern_webhooks::deliveries::Delivery::INFO.query(&[&id]);
    let table = api.server.platform.table.clone();
    assert!(
        lectern_e2e::eventually(async || !table
            .query(history.clone())
            .await
            .unwrap()
            .items
            .is_empty())
        .await
    );

    api.erased_after_grace(&leaving).await;
    assert!(table.get(&Endpoint::key_of(&id)).await.unwrap().is_none());
    for event_type in ["user.registered", "exam.submitted"] {
        let subs = table
            .query(Subscription::INFO.query(&[event_type]))
            .await
            .unwrap();
        assert!(subs.items.is_empty(), "{event_type}: {:?}", subs.items);
    }
    assert!(
        table.query(history).await.unwrap().items.is_empty(),
        "the history is erased"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_holds_at_most_20_endpoints() {
    let api = Api::start().await;
    let owner = api.admin("many@example.com").await;
    let body = |n: usize| json!({"url": format!("https://hooks{n}.example.com/"), "event_types": ["user.registered"]});
    let mut last = String::new();
    for n in 0..20 {
        last = api
            .create_webhook(&owner.access, body(n))
            .await
            .expect_status(201)
            .text("id");
    }
    assert_problem(
        &api.create_webhook(&owner.access, body(20)).await,
        409,
        "conflict",
    );
    let page = api
        .webhooks(&owner.access, "limit=15")
        .await
        .expect_status(200);
    assert_eq!(page.items().len(), 15);
    let rest = api
        .webhooks(
            &owner.access,
            &format!("limit=15&cursor={}", page.text("next_cursor")),
        )
        .await
        .expect_status(200);
    assert_eq!(rest.items().len(), 5, "the list pages");
    api.delete_webhook(&owner.access, &last)
        .await
        .expect_status(204);
    api.create_webhook(&owner.access, body(21))
        .await
        .expect_status(201);
    api.stop().await;
}
