//! `/v1/notifications`: an account's own notifications, listed newest first with filters and cursors, read one by
//! one or all at once, deleted, counted in one read and expired after the retention; nobody else's.

use std::time::Duration;

use lectern_e2e::api::{Api, Signed, assert_problem, assert_validation, tamper};
use lectern_e2e::notifications::message;
use lectern_messages::NotificationType;

/// Notifies `user` once per title, in order, and waits until they are all there.
async fn notified(api: &Api, user: &Signed, notes: &[(NotificationType, &str)]) -> Vec<String> {
    let before = api.unread_count(&user.access).await.body["unread"]
        .as_i64()
        .unwrap_or(0);
    for (n, (category, title)) in notes.iter().enumerate() {
        api.send_notification(&message(
            &user.user_id,
            *category,
            title,
            &format!("key-{title}"),
        ))
        .await;
        // One at a time, so the list's order is the order sent.
        assert!(
            api.await_unread(&user.access, before + n as i64 + 1).await,
            "{title} arrived"
        );
    }
    api.notification_ids(&user.access, "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_read_one_by_one_all_at_once_and_deleted_keep_the_count_right() {
    let api = Api::start().await;
    let user = api.signed_up("reader@example.com").await;
    use NotificationType::*;
    let ids = notified(
        &api,
        &user,
        &[
            (ExamResults, "one"),
            (Reminders, "two"),
            (ExamResults, "three"),
        ],
    )
    .await;
    assert_eq!(ids.len(), 3);
    let titles: Vec<String> = api
        .notifications(&user.access, "")
        .await
        .items()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["three", "two", "one"], "newest first");

    let read = api
        .read_notification(&user.access, &ids[0])
        .await
        .expect_status(200);
    assert_eq!(read.body["read"], true);
    let again = api
        .read_notification(&user.access, &ids[0])
        .await
        .expect_status(200);
    assert_eq!(
        again.body["read_at"], read.body["read_at"],
        "marking twice changes nothing"
    );
    assert_eq!(api.unread_count(&user.access).await.body["unread"], 2);
    assert_eq!(
        api.notification_ids(&user.access, "unread=true").await,
        ids[1..].to_vec()
    );
    assert_eq!(
        api.notification_ids(&user.access, "type=exam_results")
            .await,
        [ids[0].clone(), ids[2].clone()]
    );
    assert_eq!(
        api.notification_ids(&user.access, "type=exam_results&unread=true")
            .await,
        [ids[2].clone()]
    );

    api.delete_notification(&user.access, &ids[1])
        .await
        .expect_status(204);
    assert_eq!(api.unread_count(&user.access).await.body["unread"], 1);
    assert_problem(
        &api.delete_notification(&user.access, &ids[1]).await,
        404,
        "not-found",
    );

    api.read_all_notifications(&user.access)
        .await
        .expect_status(204);
    assert_eq!(api.unread_count(&user.access).await.body["unread"], 0);
    assert!(
        api.notification_ids(&user.access, "unread=true")
            .await
            .is_empty()
    );
    let all = api.notifications(&user.access, "").await.items();
    assert!(
        all.iter()
            .all(|n| n["read"] == true && n["read_at"].is_i64()),
        "{all:?}"
    );
    // Later notifications are unread, and a read-all again covers them too.
    notified(&api, &user, &[(Reminders, "four")]).await;
    assert_eq!(
        api.notification_ids(&user.access, "unread=true")
            .await
            .len(),
        1
    );
    api.read_all_notifications(&user.access)
        .await
        .expect_status(204);
    assert_eq!(api.unread_count(&user.access).await.body["unread"], 0);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_account_can_neither_see_nor_touch_a_notification() {
    let api = Api::start().await;
    let owner = api.signed_up("owner@example.com").await;
    let other = api.signed_up("other@example.com").await;
    let ids = notified(&api, &owner, &[(NotificationType::Announcements, "mine")]).await;
    let id = &ids[0];
    assert!(api.notification_ids(&other.access, "").await.is_empty());
    assert_problem(
        &api.read_notification(&other.access, id).await,
        404,
        "not-found",
    );
    assert_problem(
        &api.delete_notification(&other.access, id).await,
        404,
        "not-found",
    );
    api.read_all_notifications(&other.access)
        .await
        .expect_status(204);
    // Untouched.
    assert_eq!(api.unread_count(&owner.access).await.body["unread"], 1);
    assert_eq!(api.unread_count(&other.access).await.body["unread"], 0);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_cursors_bound_to_their_list() {
    let api = Api::start().await;
    let user = api.signed_up("pager@example.com").await;
    let titles = ["a", "b", "c", "d", "e"];
    let notes: Vec<_> = titles
        .iter()
        .map(|t| (NotificationType::Reminders, *t))
        .collect();
    let ids = notified(&api, &user, &notes).await;
    let (items, pages) = api
        .all_pages("/v1/notifications?limit=2", &user.access)
        .await;
    assert_eq!(pages, 3);
    let paged: Vec<&str> = items
        .iter()
        .map(|n| n["notification_id"].as_str().unwrap())
        .collect();
    assert_eq!(paged, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let first = api
        .notifications(&user.access, "limit=2&unread=true")
        .await
        .expect_status(200);
    let cursor = first.text("next_cursor");
    // A cursor of the unread list does not page the whole list, nor does a tampered one.
    let reply = api
        .notifications(&user.access, &format!("limit=2&cursor={cursor}"))
        .await;
    assert_validation(&reply, "query.cursor");
    let reply = api
        .notifications(
            &user.access,
            &format!("limit=2&unread=true&cursor={}", tamper(&cursor)),
        )
        .await;
    assert_validation(&reply, "query.cursor");
    for bad in [
        "limit=0",
        "limit=101",
        "unread=maybe",
        "type=gossip",
        "colour=red",
    ] {
        let reply = api.notifications(&user.access, bad).await;
        assert_problem(&reply, 400, "validation");
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_expire_after_the_retention_and_stop_counting() {
    let api = Api::start().await;
    let user = api.signed_up("old@example.com").await;
    notified(&api, &user, &[(NotificationType::Reminders, "old")]).await;
    // The default retention is 90 days after the end of the day it was made on.
    api.clock().advance(Duration::from_secs(92 * 86_400));
    let user = api.login(&user.email).await;
    assert!(api.notification_ids(&user.access, "").await.is_empty());
    assert_eq!(api.unread_count(&user.access).await.body["unread"], 0);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ids_are_validation_problems_naming_the_parameter() {
    let api = Api::start().await;
    let user = api.signed_up("typo@example.com").await;
    for bad in ["nope", "01ARZ3NDEKTSV4RRFFQ69G5FA", "a%20b"] {
        assert_validation(
            &api.read_notification(&user.access, bad).await,
            "path.notification_id",
        );
        assert_validation(
            &api.delete_notification(&user.access, bad).await,
            "path.notification_id",
        );
    }
    let nobody = lectern_shared::ids::new_id();
    assert_problem(
        &api.read_notification(&user.access, &nobody).await,
        404,
        "not-found",
    );
    api.stop().await;
}
