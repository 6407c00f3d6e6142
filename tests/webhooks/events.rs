//! The events other domains publish, end to end: a child's recorded result reaches a `progress.recorded`
//! subscriber, and the achievement it earns an `achievement.earned` one, each signed, with the data the catalogue
//! documents; an endpoint not subscribed to a type receives none of it.

use lectern_e2e::learning::{achievement, game, result};
use lectern_e2e::webhooks::Receiver;
use serde_json::json;

use crate::insecure_api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_result_and_the_achievement_it_earns_reach_their_subscribers() {
    let api = insecure_api().await;
    let admin = api.admin("admin@example.com").await;
    let game_id = api
        .published_game(
            &admin,
            game("Count On", (4, 6), "numbers", &["counting"], "easy"),
        )
        .await;
    let achievement_id = api
        .create_achievement(
            &admin.access,
            achievement("First win", json!({"kind": "first_completion"})),
        )
        .await
        .expect_status(201)
        .text("achievement_id");
    let progress = Receiver::start(&[], 200).await;
    let earned = Receiver::start(&[], 200).await;
    let exams_only = Receiver::start(&[], 200).await;
    let mut secrets = Vec::new();
    for (receiver, event_type) in [
        (&progress, "progress.recorded"),
        (&earned, "achievement.earned"),
        (&exams_only, "exam.submitted"),
    ] {
        let created = api
            .create_webhook(
                &admin.access,
                json!({"url": receiver.url, "event_types": [event_type]}),
            )
            .await
            .expect_status(201);
        secrets.push(created.text("secret"));
    }

    let parent = api.parent("parent@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    let recorded = api
        .record(
            &device.access,
            &kid,
            "webhook-key-0001",
            result(&game_id, 80, 3, &api.at(-5)),
        )
        .await
        .expect_status(201);

    let sent = progress.await_requests(1).await.remove(0);
    assert!(sent.verifies_with(&secrets[0]));
    let body = sent.json();
    assert_eq!(body["type"], "progress.recorded");
    assert_eq!(body["data"]["profile_id"], kid.as_str());
    assert_eq!(body["data"]["game_id"], game_id.as_str());
    assert_eq!(body["data"]["score"], 80);
    assert_eq!(body["data"]["result_id"], recorded.body["result_id"]);

    let sent = earned.await_requests(1).await.remove(0);
    assert!(sent.verifies_with(&secrets[1]));
    let body = sent.json();
    assert_eq!(body["type"], "achievement.earned");
    assert_eq!(
        body["data"],
        json!({"profile_id": kid, "achievement_id": achievement_id, "name": "First win"})
    );
    assert!(
        exams_only.received().is_empty(),
        "an endpoint gets only the types it subscribed to"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_questions_and_a_submitted_exam_reach_their_subscribers() {
    use lectern_e2e::exams::{Cast, approved_questions, course, pass_certifying_exam};
    let api = insecure_api().await;
    let cast = Cast::on(&api).await;
    let receiver = Receiver::start(&[], 200).await;
    let secret = api
        .create_webhook(
            &cast.admin.access,
            json!({"url": receiver.url, "event_types": ["question.approved", "exam.submitted"]}),
        )
        .await
        .expect_status(201)
        .text("secret");
    let built = course(&api, &cast.instructor, 100, 1).await;
    let ids = approved_questions(&api, &cast, &built.topics[0], &[("easy", 2)]).await;
    let approved = receiver.await_requests(2).await;
    let mut announced: Vec<String> = approved
        .iter()
        .inspect(|r| assert!(r.verifies_with(&secret)))
        .map(|r| {
            assert_eq!(r.json()["type"], "question.approved");
            r.json()["data"]["question_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    announced.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(announced, expected, "one event per approved question");

    let exam_id = pass_certifying_exam(&api, &cast.learner, &built.course, 2).await;
    let submitted = receiver.await_requests(3).await.remove(2);
    assert!(submitted.verifies_with(&secret));
    assert_eq!(
        submitted.json()["data"],
        json!({"exam_id": exam_id, "user_id": cast.learner.user_id})
    );
    assert_eq!(submitted.json()["type"], "exam.submitted");
    api.stop().await;
}
