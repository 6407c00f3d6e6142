//! Deliveries on the dev server to a local receiver: signed per the specification, retried on the schedule with
//! the same `webhook-id`, disabled by a 410 or five days of failures (the owner told), both signatures sent
//! during a rotation's overlap, test messages, and the history.

use std::time::Duration;

use lectern_e2e::api::{Api, PASSWORD, Signed};
use lectern_e2e::eventually;
use lectern_e2e::webhooks::Receiver;
use lectern_shared::table::{Entity, Page, Query};
use lectern_webhooks::endpoints::Subscription;
use serde_json::{Value, json};

use crate::insecure_api;

/// Creates an endpoint of `owner` to `receiver` for `events`; answers its id and secret.
async fn endpoint(
    api: &Api,
    owner: &Signed,
    receiver: &Receiver,
    events: &[&str],
) -> (String, String) {
    let created = api
        .create_webhook(
            &owner.access,
            json!({"url": receiver.url, "event_types": events}),
        )
        .await
        .expect_status(201);
    (created.text("id"), created.text("secret"))
}

/// The endpoint's history, newest first.
async fn history(api: &Api, owner: &Signed, id: &str) -> Vec<Value> {
    api.webhook_deliveries(&owner.access, id, "")
        .await
        .expect_status(200)
        .items()
}

/// Waits until the newest delivery has made `attempts` attempts.
async fn await_attempts(api: &Api, owner: &Signed, id: &str, attempts: u64) -> Value {
    let mut last = Value::Null;
    let reached = eventually(async || {
        last = history(api, owner, id)
            .await
            .first()
            .cloned()
            .unwrap_or_default();
        last["attempts"].as_u64() == Some(attempts)
    })
    .await;
    assert!(
        reached,
        "the delivery did not reach {attempts} attempts: {last}"
    );
    last
}

/// The endpoints subscribed to `event_type`, as stored (what the fan-out reads).
async fn subscribers(api: &Api, event_type: &str) -> usize {
    let query: Query = Subscription::INFO.query(&[event_type]);
    let Page { items, .. } = api
        .server
        .platform
        .table
        .query(query)
        .await
        .expect("the table answers");
    items.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_is_delivered_signed_retried_after_a_500_and_a_410_disables_the_endpoint() {
    let api = insecure_api().await;
    let owner = api.admin("owner@example.com").await;
    let receiver = Receiver::start(&[500], 200).await;
    let (id, secret) = endpoint(&api, &owner, &receiver, &["user.registered"]).await;

    api.register("new@example.com", PASSWORD)
        .await
        .expect_status(202);
    let first = receiver.await_requests(1).await.remove(0);
    assert!(
        first.verifies_with(&secret),
        "signed per the specification: {first:?}"
    );
    assert!(!first.verifies_with(&lectern_webhooks::signing::generate_secret()));
    assert!(first.id.starts_with("msg_"));
    let body = first.json();
    assert_eq!(body["type"], "user.registered");
    assert_eq!(body["data"]["role"], "learner");
    let new_user = body["data"]["user_id"].as_str().unwrap().to_string();
    assert_eq!(first.status, 500);
    let failed = await_attempts(&api, &owner, &id, 1).await;
    assert_eq!(failed["status"], "pending");
    assert_eq!(failed["response_code"], 500);
    assert_eq!(failed["message_id"], first.id.as_str());
    assert!(
        api.webhook(&owner.access, &id).await.body["failing_since"].is_i64(),
        "the endpoint is failing"
    );

    // The retry is due 5 s (plus jitter) later: the same message, signed again.
    api.clock().advance(Duration::from_secs(10));
    let second = receiver.await_requests(2).await.remove(1);
    assert_eq!(second.id, first.id, "a retry keeps its webhook-id");
    assert_eq!(second.body, first.body);
    assert!(second.verifies_with(&secret));
    let succeeded = await_attempts(&api, &owner, &id, 2).await;
    assert_eq!(succeeded["status"], "succeeded");
    assert_eq!(succeeded["response_code"], 200);
    assert_eq!(
        api.webhook(&owner.access, &id).await.body["failing_since"],
        json!(null),
        "a success ends the failures"
    );
    assert_eq!(
        receiver.received().len(),
        2,
        "nothing is sent after a success"
    );

    // 410 Gone disables the endpoint at once, and its owner is told.
    receiver.answer(410);
    api.register("third@example.com", PASSWORD)
        .await
        .expect_status(202);
    receiver.await_requests(3).await;
    let disabled = eventually(async || {
        api.webhook(&owner.access, &id).await.body["disabled_reason"] == "gone"
    })
    .await;
    assert!(disabled, "410 disables the endpoint");
    let endpoint = api.webhook(&owner.access, &id).await;
    assert_eq!(endpoint.body["enabled"], false);
    assert_eq!(
        subscribers(&api, "user.registered").await,
        0,
        "no more fan-out to it"
    );
    let told = eventually(async || {
        api.notifications(&owner.access, "type=security")
            .await
            .items()
            .iter()
            .any(|n| n["title"] == "A webhook endpoint was disabled")
    })
    .await;
    assert!(told, "the owner is notified");
    let gone = history(&api, &owner, &id).await;
    assert_eq!(gone.len(), 2, "two messages in the history");
    assert_eq!(gone[0]["status"], "failed");
    assert_eq!(gone[0]["response_code"], 410);
    assert_ne!(gone[0]["message_id"], json!(first.id), "newest first");

    // The history pages with the workspace's cursors.
    let page = api
        .webhook_deliveries(&owner.access, &id, "limit=1")
        .await
        .expect_status(200);
    assert_eq!(page.items().len(), 1);
    let cursor = page.text("next_cursor");
    let next = api
        .webhook_deliveries(&owner.access, &id, &format!("limit=1&cursor={cursor}"))
        .await
        .expect_status(200);
    assert_eq!(next.items()[0]["message_id"], json!(first.id));
    assert!(!new_user.is_empty());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_keeps_signing_beside_the_new_one_until_the_overlap_ends() {
    let api = insecure_api().await;
    let owner = api.admin("owner@example.com").await;
    let receiver = Receiver::start(&[], 204).await;
    let (id, old) = endpoint(&api, &owner, &receiver, &["exam.submitted"]).await;
    let rotated = api
        .rotate_webhook_secret(&owner.access, &id)
        .await
        .expect_status(200);
    let new = rotated.text("secret");
    assert_ne!(new, old);

    let queued = api
        .test_webhook(&owner.access, &id)
        .await
        .expect_status(202);
    assert_eq!(queued.body["event_type"], "webhook.test");
    let during = receiver.await_requests(1).await.remove(0);
    assert_eq!(
        during.signatures(),
        2,
        "both secrets sign during the overlap"
    );
    assert!(during.verifies_with(&new) && during.verifies_with(&old));
    assert_eq!(during.json()["data"]["endpoint_id"], id.as_str());
    let done = await_attempts(&api, &owner, &id, 1).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["response_code"], 204);

    api.clock().advance(Duration::from_secs(25 * 3600));
    let owner = api.login(&owner.email).await;
    api.test_webhook(&owner.access, &id)
        .await
        .expect_status(202);
    let after = receiver.await_requests(2).await.remove(1);
    assert_eq!(after.signatures(), 1, "the old secret stopped signing");
    assert!(after.verifies_with(&new) && !after.verifies_with(&old));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_for_five_days_is_disabled_and_its_owner_told() {
    let api = insecure_api().await;
    let owner = api.admin("owner@example.com").await;
    let receiver = Receiver::start(&[], 503).await;
    let (id, _) = endpoint(&api, &owner, &receiver, &["question.approved"]).await;
    api.test_webhook(&owner.access, &id)
        .await
        .expect_status(202);
    await_attempts(&api, &owner, &id, 1).await;
    let since = api.webhook(&owner.access, &id).await.body["failing_since"].clone();
    assert!(since.is_i64());
    assert_eq!(api.webhook(&owner.access, &id).await.body["enabled"], true);

    // Five days of nothing but failures later, the next failure disables it.
    api.clock().advance(Duration::from_secs(5 * 24 * 3600 + 60));
    let owner = api.login(&owner.email).await;
    api.test_webhook(&owner.access, &id)
        .await
        .expect_status(202);
    let disabled = eventually(async || {
        api.webhook(&owner.access, &id).await.body["disabled_reason"] == "failing"
    })
    .await;
    assert!(disabled, "five days of failures disable the endpoint");
    let told = eventually(async || {
        api.notifications(&owner.access, "type=security")
            .await
            .items()
            .iter()
            .any(|n| {
                n["body"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("failed for 5 days")
            })
    })
    .await;
    assert!(told, "the owner is notified");
    api.stop().await;
}
