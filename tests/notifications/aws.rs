//! The notification centre's core path on the AWS adapters (DynamoDB, SQS, SESv2 on moto): an achievement job read
//! off SQS and handed to the notifications worker twice at once and once more later reaches the parent once, in-app
//! and by email through SES; the inbox routes read, count and mark it on DynamoDB; another account reaches none of
//! it; preferences switching the email off keep the next one in-app only. Skipped when moto is not available
//! (unless `LECTERN_REQUIRE_AWS=1`).

use std::time::Duration;

use lectern_accounts::permissions::Role;
use lectern_e2e::api::{Signed, assert_problem};
use lectern_e2e::moto_stack::MotoStack;
use lectern_messages::AchievementEarned;
use lectern_platform::delivery::{ChannelStatus, Delivery, key_hash};
use lectern_shared::ids::new_id;
use lectern_shared::queue::{NewJob, enqueue, queues};
use lectern_shared::table::Entity;
use serde_json::json;

/// Sends an achievement of a child of `parent` as the learning domain does; answers the job's key.
async fn earned(stack: &MotoStack, parent: &Signed, name: &str) -> String {
    let job = AchievementEarned {
        owner_id: parent.user_id.clone(),
        profile_id: new_id(),
        display_name: "Kid".into(),
        achievement_id: new_id(),
        name: name.into(),
    };
    let key = format!("achievement:{}:{}", job.profile_id, job.achievement_id);
    let new = NewJob::new(&job).unwrap().idempotency_key(key.clone());
    enqueue::<AchievementEarned>(stack.platform.queue.as_ref(), new)
        .await
        .expect("sent to SQS");
    key
}

/// Runs what is on the notifications queue through the worker: twice at once, then once more.
async fn run_queue(stack: &MotoStack) {
    let deliveries = stack
        .platform
        .queue
        .receive(queues::NOTIFICATIONS, 10, Duration::from_secs(600))
        .await
        .expect("receive");
    assert!(!deliveries.is_empty(), "the job reached SQS");
    let worker = lectern_platform_notifications::worker(&stack.platform);
    let twice: Vec<_> = deliveries
        .iter()
        .chain(deliveries.iter())
        .cloned()
        .collect();
    worker.process_batch(twice).await;
    let outcome = worker.process_batch(deliveries).await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
}

async fn record(stack: &MotoStack, user: &Signed, key: &str) -> Delivery {
    let item = stack
        .platform
        .table
        .get(&Delivery::key_of(&user.user_id, &key_hash(key)))
        .await
        .expect("the table answers")
        .expect("a delivery record");
    Delivery::from_item(item).expect("a delivery")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_notification_path_on_dynamodb_sqs_and_ses() {
    let Some(stack) = MotoStack::start().await else {
        return;
    };
    let api = &stack.api;
    let parent = stack
        .signed_in("cloud.notified@example.com", "Cloud Parent", Role::Parent)
        .await;
    let other = stack
        .signed_in("cloud.other@example.com", "Cloud Parent", Role::Learner)
        .await;

    let key = earned(&stack, &parent, "First win").await;
    run_queue(&stack).await;
    let delivery = record(&stack, &parent, &key).await;
    assert_eq!(delivery.in_app.status, ChannelStatus::Delivered);
    assert_eq!(
        delivery.email.status,
        ChannelStatus::Delivered,
        "sent through SES"
    );
    assert_eq!(api.unread_count(&parent.access).await.body["unread"], 1);
    let list = api
        .notifications(&parent.access, "unread=true")
        .await
        .expect_status(200);
    assert_eq!(list.items().len(), 1, "delivered once: {list}");
    let id = list.items()[0]["notification_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(list.items()[0]["title"], "Kid earned “First win”");

    assert!(
        api.notifications(&other.access, "")
            .await
            .items()
            .is_empty()
    );
    assert_problem(
        &api.read_notification(&other.access, &id).await,
        404,
        "not-found",
    );
    assert_problem(
        &api.delete_notification(&other.access, &id).await,
        404,
        "not-found",
    );
    api.read_notification(&parent.access, &id)
        .await
        .expect_status(200);
    assert_eq!(api.unread_count(&parent.access).await.body["unread"], 0);

    api.put_notification_preferences(
        &parent.access,
        json!({"channels": {"achievements": {"in_app": true, "email": false, "push": false}}}),
    )
    .await
    .expect_status(200);
    let second = earned(&stack, &parent, "Three wins").await;
    run_queue(&stack).await;
    let delivery = record(&stack, &parent, &second).await;
    assert_eq!(delivery.in_app.status, ChannelStatus::Delivered);
    assert_eq!(delivery.email.status, ChannelStatus::Off);
    assert_eq!(api.unread_count(&parent.access).await.body["unread"], 1);
    api.read_all_notifications(&parent.access)
        .await
        .expect_status(204);
    assert_eq!(api.unread_count(&parent.access).await.body["unread"], 0);
    api.delete_notification(&parent.access, &id)
        .await
        .expect_status(204);
    assert_eq!(api.notifications(&parent.access, "").await.items().len(), 1);
}

/// Hands every message now on the notifications queue to its worker, until none is left.
async fn drain_notifications(stack: &MotoStack) {
    let worker = lectern_platform_notifications::worker(&stack.platform);
    loop {
        let deliveries = stack
            .platform
            .queue
            .receive(queues::NOTIFICATIONS, 10, Duration::from_secs(600))
            .await
            .expect("receive");
        if deliveries.is_empty() {
            return;
        }
        let outcome = worker.process_batch(deliveries).await;
        assert!(outcome.failed.is_empty(), "{outcome:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_on_dynamodb_and_sqs_reach_the_due_bucket_once() {
    use lectern_shared::clock::Clock;
    let Some(stack) = MotoStack::start().await else {
        return;
    };
    let api = &stack.api;
    // 08:00:10 UTC tomorrow: 17:00 in Tokyo.
    let now = stack.clock.now();
    stack.clock.set(
        (now.date() + time::Duration::days(1))
            .with_hms(8, 0, 10)
            .unwrap()
            .assume_utc(),
    );
    let due = stack
        .signed_in("cloud.reminded@example.com", "Due", Role::Learner)
        .await;
    let later = stack
        .signed_in("cloud.later@example.com", "Later", Role::Learner)
        .await;
    for (user, at) in [(&due, "17:00"), (&later, "18:00")] {
        api.put_notification_preferences(
            &user.access,
            json!({"channels": {}, "reminder": {"at": at, "timezone": "Asia/Tokyo"}}),
        )
        .await
        .expect_status(200);
    }
    let notifications = lectern_local::notifications_on(&stack.platform);
    for _ in 0..2 {
        let ran = lectern_platform_scheduler::reminders(&stack.platform, &notifications)
            .await
            .expect("the job runs");
        assert!(
            matches!(ran, lectern_shared::schedule::Ran::Finished(ref t) if t.pages_enqueued == 1),
            "{ran:?}"
        );
        drain_notifications(&stack).await;
    }
    let reminders = |body: &serde_json::Value| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["type"] == "reminders")
            .count()
    };
    let mine = api.notifications(&due.access, "").await.expect_status(200);
    assert_eq!(reminders(&mine.body), 1, "{}", mine.body);
    let theirs = api
        .notifications(&later.access, "")
        .await
        .expect_status(200);
    assert_eq!(reminders(&theirs.body), 0, "{}", theirs.body);
}
