//! Storage round trips of the notification centre's routes, held at their budget. Authentication is one read (the
//! session and the account in one batch) on every request; the budgets below include it.

use lectern_e2e::api::Api;
use lectern_e2e::notifications::message;
use lectern_messages::NotificationType;
use lectern_shared::testing::counting::Summary;
use serde_json::json;

fn budget(reads: usize, writes: usize) -> Summary {
    Summary {
        reads,
        writes,
        sends: 0,
        blobs: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_routes_stay_within_their_budget_however_many_notifications() {
    let api = Api::start().await;
    let user = api.signed_up("budget@example.com").await;
    for n in 0..12 {
        api.send_notification(&message(
            &user.user_id,
            NotificationType::Reminders,
            &format!("note {n}"),
            &format!("budget-{n}"),
        ))
        .await;
    }
    assert!(api.await_unread(&user.access, 12).await);
    let ids = api.notification_ids(&user.access, "limit=5").await;
    let cases = [
        ("GET /v1/notifications/unread-count: one get", budget(2, 0)),
        (
            "GET /v1/notifications: the counter and one query",
            budget(3, 0),
        ),
        (
            "GET /v1/notifications?unread=true: the same on the unread index",
            budget(3, 0),
        ),
        (
            "POST /v1/notifications/{id}/read: one batch read, one transaction",
            budget(2, 1),
        ),
        (
            "POST /v1/notifications/{id}/read again: the batch read only",
            budget(2, 0),
        ),
        (
            "DELETE /v1/notifications/{id}: one batch read, one transaction",
            budget(2, 1),
        ),
        (
            "POST /v1/notifications/read-all: one get, one write for all 10 left",
            budget(2, 1),
        ),
        (
            "GET /v1/users/me/notification-preferences: one get",
            budget(2, 0),
        ),
        (
            "PUT /v1/users/me/notification-preferences: one put",
            budget(1, 1),
        ),
        (
            "PUT /v1/users/me/notification-preferences with a reminder: one transaction (the zone with it)",
            budget(1, 1),
        ),
    ];
    for (what, expected) in cases {
        api.server.ops.reset();
        let status = match what.split(':').next().unwrap() {
            "GET /v1/notifications/unread-count" => api.unread_count(&user.access).await,
            "GET /v1/notifications" => api.notifications(&user.access, "limit=5").await,
            "GET /v1/notifications?unread=true" => {
                api.notifications(&user.access, "limit=5&unread=true").await
            }
            "POST /v1/notifications/{id}/read" | "POST /v1/notifications/{id}/read again" => {
                api.read_notification(&user.access, &ids[0]).await
            }
            "DELETE /v1/notifications/{id}" => api.delete_notification(&user.access, &ids[1]).await,
            "POST /v1/notifications/read-all" => api.read_all_notifications(&user.access).await,
            "GET /v1/users/me/notification-preferences" => {
                api.notification_preferences(&user.access).await
            }
            "PUT /v1/users/me/notification-preferences with a reminder" => {
                api.put_notification_preferences(
                    &user.access,
                    json!({"channels": {}, "reminder": {"at": "17:00", "timezone": "Europe/Paris"}}),
                )
                .await
            }
            _ => {
                api.put_notification_preferences(&user.access, json!({"channels": {}}))
                    .await
            }
        }
        .status;
        assert!(status.is_success(), "{what}: {status}");
        assert_eq!(api.server.ops.take().summary(), expected, "{what}");
    }
    assert_eq!(api.unread_count(&user.access).await.body["unread"], 0);
    api.stop().await;
}
