//! `/v1/users/me/notification-preferences`: channels per type and quiet hours, the defaults until saved; security
//! stays on; the account's own, never a device's.

use lectern_e2e::api::{Api, assert_problem, assert_validation};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_start_from_the_defaults_and_a_put_replaces_them() {
    let api = Api::start().await;
    let user = api.signed_up("prefs@example.com").await;
    let defaults = api
        .notification_preferences(&user.access)
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        defaults["channels"]["security"],
        json!({"in_app": true, "email": true, "push": true})
    );
    assert_eq!(defaults["channels"]["reminders"]["email"], false);
    assert_eq!(defaults["quiet_hours"], json!(null));

    let body = json!({
        "channels": {
            "achievements": {"in_app": true, "email": false, "push": false},
            "security": {"in_app": true, "email": true, "push": false}
        },
        "quiet_hours": {"start": "21:30", "end": "07:00", "timezone": "Europe/Paris"}
    });
    let saved = api
        .put_notification_preferences(&user.access, body)
        .await
        .expect_status(200)
        .body;
    assert_eq!(saved["channels"]["achievements"]["email"], false);
    assert_eq!(saved["channels"]["security"]["push"], false);
    assert_eq!(
        saved["channels"]["exam_results"], defaults["channels"]["exam_results"],
        "a type left out takes its default"
    );
    let read = api
        .notification_preferences(&user.access)
        .await
        .expect_status(200)
        .body;
    assert_eq!(read, saved);
    assert_eq!(read["quiet_hours"]["timezone"], "Europe/Paris");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_cannot_be_switched_off_and_quiet_hours_must_make_sense() {
    let api = Api::start().await;
    let user = api.signed_up("strict@example.com").await;
    let put = |body| api.put_notification_preferences(&user.access, body);
    let reply =
        put(json!({"channels": {"security": {"in_app": true, "email": false, "push": true}}}))
            .await;
    assert_validation(&reply, "channels.security.email");
    let reply =
        put(json!({"channels": {"security": {"in_app": false, "email": true, "push": true}}}))
            .await;
    assert_validation(&reply, "channels.security.in_app");
    let quiet = |start: &str, end: &str, zone: &str| json!({"channels": {}, "quiet_hours": {"start": start, "end": end, "timezone": zone}});
    assert_validation(
        &put(quiet("22:00", "22:00", "UTC")).await,
        "quiet_hours.end",
    );
    assert_validation(
        &put(quiet("25:00", "07:00", "UTC")).await,
        "quiet_hours.start",
    );
    assert_validation(
        &put(quiet("22:00", "07:00", "Mars/Olympus")).await,
        "quiet_hours.timezone",
    );
    assert_validation(
        &put(quiet("22:00", "07:00", "../etc/passwd")).await,
        "quiet_hours.timezone",
    );
    let reply =
        put(json!({"channels": {"gossip": {"in_app": true, "email": true, "push": true}}})).await;
    assert_problem(&reply, 400, "validation");
    // Nothing was saved.
    let read = api.notification_preferences(&user.access).await.body;
    assert_eq!(read["quiet_hours"], json!(null));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_childs_device_reaches_neither_the_inbox_nor_the_preferences() {
    let api = Api::start().await;
    let parent = api.parent("family@example.com").await;
    let kid = api.child_of(&parent, "Kid", 6).await;
    let device = api.device_of(&parent, &kid).await;
    for reply in [
        api.notification_preferences(&device.access).await,
        api.put_notification_preferences(&device.access, json!({"channels": {}}))
            .await,
        api.unread_count(&device.access).await,
        api.read_all_notifications(&device.access).await,
    ] {
        assert_problem(&reply, 401, "unauthenticated");
    }
    api.stop().await;
}
