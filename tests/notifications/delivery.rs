//! Delivery: what the notifications worker does with `learning.achievement_earned` and `platform.notify` jobs.

use std::time::Duration;

use lectern_e2e::api::Api;
use lectern_e2e::learning::{achievement, game, result};
use lectern_e2e::notifications::message;
use lectern_messages::NotificationType;
use lectern_shared::clock::Clock;
use lectern_shared::queue::NewJob;
use serde_json::json;

/// What the achievement email says (the learner's name comes before it).
const EARNED: &str = "just earned the achievement";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_earning_an_achievement_notifies_the_parent_in_app_and_by_email() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    api.create_achievement(
        &admin.access,
        achievement("First win", json!({"kind": "first_completion"})),
    )
    .await
    .expect_status(201);
    let g = api
        .published_game(
            &admin,
            game("Count Up", (4, 8), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("parent@example.com").await;
    let kid = api.child_of(&parent, "Kid", 6).await;
    let device = api.device_of(&parent, &kid).await;
    api.record(
        &device.access,
        &kid,
        "notify-0001",
        result(&g, 10, 3, &api.at(-60)),
    )
    .await
    .expect_status(201);

    assert!(
        api.await_unread(&parent.access, 1).await,
        "the parent has an unread notification"
    );
    let list = api
        .notifications(&parent.access, "")
        .await
        .expect_status(200);
    let note = &list.items()[0];
    assert_eq!(note["type"], "achievements");
    assert_eq!(note["title"], "Kid earned “First win”");
    assert_eq!(note["read"], false);
    assert!(note["data"]["achievement_id"].is_string(), "{note}");
    // The child's name is all the notification keeps of the child.
    assert!(!note.to_string().contains(&kid), "{note}");
    let mail = api.mail_containing(&parent.email, EARNED).await;
    assert!(mail.contains("Kid just earned the achievement"), "{mail}");
    assert!(
        mail.contains("achievement notifications are on by email"),
        "{mail}"
    );
    // The child's own device sees none of it: the parent's notifications are the account's.
    let reply = api.notifications(&device.access, "").await;
    lectern_e2e::api::assert_problem(&reply, 401, "unauthenticated");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_achievement_email_off_keeps_them_in_app_only() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    api.create_achievement(
        &admin.access,
        achievement("First win", json!({"kind": "first_completion"})),
    )
    .await
    .expect_status(201);
    let g = api
        .published_game(
            &admin,
            game("Count Up", (4, 8), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("quiet-parent@example.com").await;
    api.put_notification_preferences(
        &parent.access,
        json!({"channels": {"achievements": {"in_app": true, "email": false, "push": false}}}),
    )
    .await
    .expect_status(200);
    let kid = api.child_of(&parent, "Kid", 6).await;
    let device = api.device_of(&parent, &kid).await;
    api.record(
        &device.access,
        &kid,
        "notify-0002",
        result(&g, 10, 3, &api.at(-60)),
    )
    .await
    .expect_status(201);
    assert!(api.await_unread(&parent.access, 1).await, "in-app still");
    // Everything queued until now has been handled: no achievement email came.
    api.flush_mail().await;
    assert_eq!(api.count_mails(&parent.email, EARNED), 0);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_sent_again_or_run_again_is_delivered_once() {
    let api = Api::start().await;
    let user = api.signed_up("once@example.com").await;
    let notify = message(
        &user.user_id,
        NotificationType::ExamResults,
        "Your exam is marked",
        "exam:1",
    );
    // Sent twice (an outbox relay and the request both got it out), and once more under another queue key, as if
    // the worker had forgotten it ran it: the notification's own key still makes it one.
    api.send_notification(&notify).await;
    api.send_notification(&notify).await;
    let rekeyed = NewJob::new(&notify)
        .unwrap()
        .idempotency_key("forgotten-claim");
    api.send_notification_job(rekeyed).await;
    assert!(api.await_unread(&user.access, 1).await);
    api.flush_mail().await;
    assert_eq!(api.count_mails(&user.email, "Your exam is marked"), 1);
    assert_eq!(api.notification_ids(&user.access, "").await.len(), 1);
    assert_eq!(
        api.unread_count(&user.access).await.body["unread"],
        1,
        "counted once"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_hold_email_until_they_end_but_never_security_mail() {
    let api = Api::start().await;
    let user = api.signed_up("night@example.com").await;
    let now = api.clock().now();
    let hm = |t: time::OffsetDateTime| format!("{:02}:{:02}", t.hour(), t.minute());
    api.put_notification_preferences(
        &user.access,
        json!({"channels": {}, "quiet_hours": {
            "start": hm(now - time::Duration::hours(1)),
            "end": hm(now + time::Duration::hours(1)),
            "timezone": "UTC"
        }}),
    )
    .await
    .expect_status(200);
    api.send_notification(&message(
        &user.user_id,
        NotificationType::DiscussionReplies,
        "Someone answered you",
        "reply:1",
    ))
    .await;
    api.send_notification(&message(
        &user.user_id,
        NotificationType::Security,
        "A new sign-in",
        "login:1",
    ))
    .await;
    assert!(
        api.await_unread(&user.access, 2).await,
        "both in-app at once"
    );
    api.mail_containing(&user.email, "A new sign-in").await;
    api.flush_mail().await;
    assert_eq!(
        api.count_mails(&user.email, "Someone answered you"),
        0,
        "held"
    );
    // The end of the quiet hours: the held mail goes, once.
    api.clock().advance(Duration::from_secs(3_700));
    api.mail_containing(&user.email, "Someone answered you")
        .await;
    api.flush_mail().await;
    assert_eq!(api.count_mails(&user.email, "Someone answered you"), 1);
    api.stop().await;
}
