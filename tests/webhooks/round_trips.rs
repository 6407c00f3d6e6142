//! Storage round trips of the webhook routes, held at their budget. Authentication is one read (the session and
//! the account in one batch) on every request; the budgets below include it.

use lectern_e2e::api::Api;
use lectern_shared::testing::counting::Summary;
use serde_json::json;

fn budget(reads: usize, writes: usize, sends: usize) -> Summary {
    Summary {
        reads,
        writes,
        sends,
        blobs: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_routes_stay_within_their_budget() {
    let api = Api::start().await;
    let owner = api.admin("owner@example.com").await;
    let created = api
        .create_webhook(
            &owner.access,
            json!({"url": "https://hooks.example.com/", "event_types": ["user.registered", "exam.submitted"]}),
        )
        .await
        .expect_status(201);
    let id = created.text("id");
    let cases = [
        (
            "POST /v1/webhooks: the owner's count, one transaction (the endpoint and its subscriptions)",
            budget(2, 1, 0),
        ),
        (
            "GET /v1/webhooks: one query of the owner index",
            budget(2, 0, 0),
        ),
        ("GET /v1/webhooks/{id}: one get", budget(2, 0, 0)),
        (
            "PATCH /v1/webhooks/{id}: one get, one transaction",
            budget(2, 1, 0),
        ),
        (
            "POST /v1/webhooks/{id}/rotate-secret: one get, one transaction",
            budget(2, 1, 0),
        ),
        (
            "GET /v1/webhooks/{id}/deliveries: one get, one query",
            budget(3, 0, 0),
        ),
        (
            "POST /v1/webhooks/{id}/test: one get, one transaction, the send and the outbox entry's removal",
            budget(2, 2, 1),
        ),
        (
            "DELETE /v1/webhooks/{id}: one get, one transaction",
            budget(2, 1, 0),
        ),
    ];
    for (what, expected) in cases {
        api.server.ops.reset();
        let reply = match what.split(':').next().unwrap() {
            "POST /v1/webhooks" => {
                api.create_webhook(
                    &owner.access,
                    json!({"url": "https://hooks.example.com/b", "event_types": ["user.registered"]}),
                )
                .await
            }
            "GET /v1/webhooks" => api.webhooks(&owner.access, "").await,
            "GET /v1/webhooks/{id}" => api.webhook(&owner.access, &id).await,
            "PATCH /v1/webhooks/{id}" => {
                api.patch_webhook(&owner.access, &id, json!({"event_types": ["exam.submitted"]}))
                    .await
            }
            "POST /v1/webhooks/{id}/rotate-secret" => api.rotate_webhook_secret(&owner.access, &id).await,
            "GET /v1/webhooks/{id}/deliveries" => api.webhook_deliveries(&owner.access, &id, "").await,
            "POST /v1/webhooks/{id}/test" => api.test_webhook(&owner.access, &id).await,
            _ => api.delete_webhook(&owner.access, &id).await,
        };
        assert!(reply.status.is_success(), "{what}: {reply}");
        assert_eq!(api.server.ops.take().summary(), expected, "{what}");
    }
    api.stop().await;
}
