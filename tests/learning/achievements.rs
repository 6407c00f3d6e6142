//! `/v1/achievements` and `/v1/profiles/{id}/achievements`: definitions as data (admins write, everyone who reads
//! content reads), earned by the learning worker from recorded results exactly once — however often its job is
//! delivered and however two evaluations race — awarded by hand by instructors and admins, seen only by the
//! profile's family and its own device.

use std::time::Duration;

use lectern_e2e::api::{Api, assert_problem, assert_validation};
use lectern_e2e::eventually;
use lectern_e2e::learning::{achievement, earned_ids, game, module, result};
use lectern_messages::ResultsRecorded;
use lectern_shared::queue::{Delivery, NewJob, queues};
use serde_json::{Value, json};

/// A delivery of `job` as the queue would hand it to the worker.
fn delivery(job: &NewJob, message_id: &str) -> Delivery {
    Delivery {
        message_id: message_id.to_string(),
        receipt: format!("receipt-{message_id}"),
        receive_count: 1,
        job: job.job.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_earn_achievements_once_and_the_family_sees_them() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let a = api
        .published_game(
            &admin,
            game("Add It Up", (4, 6), "numbers", &["adding"], "easy"),
        )
        .await;
    let b = api
        .published_game(
            &admin,
            game("Take Away", (4, 6), "numbers", &["subtracting"], "easy"),
        )
        .await;
    let shapes = api
        .published_game(
            &admin,
            game("Shapes", (4, 6), "shapes", &["geometry"], "easy"),
        )
        .await;
    let module_id = api
        .create_module(&admin.access, module("Sums", "maths", 1, &[&a], &[]))
        .await
        .expect_status(201)
        .text("module_id");
    let define = |name: &'static str, rule: Value| {
        let api = &api;
        let token = admin.access.clone();
        async move {
            api.create_achievement(&token, achievement(name, rule))
                .await
                .expect_status(201)
                .text("achievement_id")
        }
    };
    let first = define("First win", json!({"kind": "first_completion"})).await;
    let three = define("Three wins", json!({"kind": "completions", "count": 3})).await;
    let high = define(
        "High score",
        json!({"kind": "score_at_least", "game_id": a, "score": 90}),
    )
    .await;
    let numbers = define(
        "All numbers",
        json!({"kind": "category_complete", "category": "numbers"}),
    )
    .await;
    let sums = define(
        "Sums done",
        json!({"kind": "module_completed", "module_id": module_id}),
    )
    .await;
    let streak = define("Two days", json!({"kind": "streak", "days": 2})).await;
    let hour = define("An hour", json!({"kind": "total_time", "seconds": 3600})).await;

    let parent = api.parent("achiever@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    let sibling = api.child_of(&parent, "Sibling", 7).await;
    let sibling_device = api.device_of(&parent, &sibling).await;
    assert!(earned_ids(&api, &device.access, &kid).await.is_empty());

    // One completed result with 3 stars: the first win and the module (min 2 stars).
    api.record(
        &device.access,
        &kid,
        "ach-key-0001",
        result(&a, 50, 3, &api.at(-3 * 86_400)),
    )
    .await
    .expect_status(201);
    let mut expected = vec![first.clone(), sums.clone()];
    expected.sort();
    assert!(
        eventually(async || earned_ids(&api, &device.access, &kid).await == expected).await,
        "{:?}",
        earned_ids(&api, &device.access, &kid).await
    );
    // An offline batch: a high score, the other numbers game a day later (a two-day streak), three wins.
    let batch = json!({"items": [
        {"idempotency_key": "ach-batch-0001", "result": result(&a, 95, 3, &api.at(-3 * 86_400 + 60))},
        {"idempotency_key": "ach-batch-0002", "result": result(&b, 10, 1, &api.at(-2 * 86_400))},
        {"idempotency_key": "ach-batch-0003", "result": result(&shapes, 10, 0, &api.at(-2 * 86_400 + 60))},
    ]});
    api.record_batch(&device.access, &kid, batch)
        .await
        .expect_status(200);
    let mut expected = vec![
        first.clone(),
        three.clone(),
        high.clone(),
        numbers.clone(),
        sums.clone(),
        streak.clone(),
    ];
    expected.sort();
    assert!(
        eventually(async || earned_ids(&api, &device.access, &kid).await == expected).await,
        "{:?}",
        earned_ids(&api, &device.access, &kid).await
    );
    assert!(!expected.contains(&hour), "5 × 120 s is not an hour");
    let earned = api
        .earned(&parent.access, &kid, "limit=100")
        .await
        .expect_status(200);
    let one = earned
        .items()
        .into_iter()
        .find(|e| e["achievement_id"] == first)
        .unwrap();
    assert_eq!(one["name"], "First win");
    assert_eq!(one["earned_by"], "rule");
    assert!(
        one.get("notify_pending").is_none(),
        "internal state stays inside"
    );

    // Pages.
    let page = api
        .earned(&parent.access, &kid, "limit=2")
        .await
        .expect_status(200);
    assert_eq!(page.items().len(), 2);
    let next = api
        .earned(
            &parent.access,
            &kid,
            &format!("limit=100&cursor={}", page.text("next_cursor")),
        )
        .await
        .expect_status(200);
    assert_eq!(next.items().len(), expected.len() - 2);

    // Nobody else sees them: a sibling's device, another family.
    let stranger = api.parent("stranger@example.com").await;
    for token in [&sibling_device.access, &stranger.access] {
        assert_problem(&api.earned(token, &kid, "").await, 404, "not-found");
    }
    assert!(
        earned_ids(&api, &sibling_device.access, &sibling)
            .await
            .is_empty()
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_job_twice_and_two_racing_evaluations_earn_once() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let g = api
        .published_game(
            &admin,
            game("Once", (4, 6), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("once@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    api.record(
        &device.access,
        &kid,
        "once-key-0001",
        result(&g, 10, 1, &api.at(-60)),
    )
    .await
    .expect_status(201);
    // Defined after the result: earned by the next evaluation, which the test runs itself.
    let first = api
        .create_achievement(
            &admin.access,
            achievement("First", json!({"kind": "first_completion"})),
        )
        .await
        .expect_status(201)
        .text("achievement_id");
    let platform = &api.server.platform;
    let worker = lectern_learning_worker::worker(platform, lectern_local::learning_on(platform));
    // Version 0: whatever state the statistics hold (a later job's version would let an earlier evaluation
    // stand for it).
    let payload = ResultsRecorded {
        profile_id: kid.clone(),
        results: vec![],
        stats_version: 0,
    };
    // The same job (one idempotency key) delivered twice at once, then again later.
    let keyed = NewJob::new(&payload)
        .unwrap()
        .idempotency_key("results:test-once");
    let outcome = worker
        .process_batch(vec![delivery(&keyed, "m1"), delivery(&keyed, "m2")])
        .await;
    assert_eq!(outcome.done.len() + outcome.failed.len(), 2);
    let outcome = worker.process_batch(vec![delivery(&keyed, "m3")]).await;
    assert_eq!(outcome.done, ["m3"], "a finished duplicate is acknowledged");
    // Two different jobs (two results' evaluations) racing, without the worker's key to keep them apart.
    let a = NewJob::new(&payload).unwrap();
    let b = NewJob::new(&payload).unwrap();
    let outcome = worker
        .process_batch(vec![
            delivery(&a, "r1"),
            delivery(&b, "r2"),
            delivery(&a, "r3"),
        ])
        .await;
    assert_eq!(outcome.failed, Vec::<String>::new());
    let earned = api
        .earned(&parent.access, &kid, "")
        .await
        .expect_status(200)
        .items();
    assert_eq!(earned.len(), 1, "{earned:?}");
    assert_eq!(earned[0]["achievement_id"], first);
    // And once more through the queue, as a redelivery would: still one.
    platform
        .queue
        .send(queues::LEARNING, vec![keyed.clone(), a])
        .await
        .unwrap();
    api.clock().advance(Duration::from_secs(1));
    assert!(
        !eventually(async || earned_ids(&api, &parent.access, &kid).await.len() != 1).await,
        "never a second"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instructors_award_by_hand_and_only_admins_define() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let instructor = api
        .with_role(&admin, "teacher@example.com", "instructor")
        .await;
    let parent = api.parent("awarded@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    let learner = api.signed_up("learner@example.com").await;
    let body = achievement("Helper", json!({"kind": "completions", "count": 1000}));

    for token in [
        &instructor.access,
        &parent.access,
        &device.access,
        &learner.access,
    ] {
        assert_problem(
            &api.create_achievement(token, body.clone()).await,
            403,
            "forbidden",
        );
    }
    let id = api
        .create_achievement(&admin.access, body.clone())
        .await
        .expect_status(201)
        .text("achievement_id");
    for token in [
        &instructor.access,
        &parent.access,
        &device.access,
        &learner.access,
    ] {
        let all = api.achievements(token).await.expect_status(200);
        assert_eq!(all.body[0]["achievement_id"], id);
        assert_eq!(
            all.body[0]["rule"],
            json!({"kind": "completions", "count": 1000})
        );
        assert_problem(
            &api.replace_achievement(token, &id, body.clone()).await,
            403,
            "forbidden",
        );
        assert_problem(&api.delete_achievement(token, &id).await, 403, "forbidden");
    }

    // Parents, devices and learners award nothing; an instructor awards once.
    for token in [&parent.access, &device.access, &learner.access] {
        assert_problem(&api.award(token, &kid, &id).await, 403, "forbidden");
    }
    let awarded = api
        .award(&instructor.access, &kid, &id)
        .await
        .expect_status(201);
    assert_eq!(awarded.body["earned_by"], "award");
    assert_eq!(awarded.body["awarded_by"], instructor.user_id);
    let again = api.award(&admin.access, &kid, &id).await.expect_status(200);
    assert_eq!(again.body["awarded_by"], instructor.user_id, "unchanged");
    assert_eq!(
        earned_ids(&api, &device.access, &kid).await,
        std::slice::from_ref(&id)
    );
    let nobody = "01JZZZZZZZZZZZZZZZZZZZZZZZ";
    assert_problem(
        &api.award(&instructor.access, nobody, &id).await,
        404,
        "not-found",
    );
    assert_problem(
        &api.award(&instructor.access, &kid, nobody).await,
        404,
        "not-found",
    );
    assert_validation(
        &api.award(&instructor.access, &kid, "nope").await,
        "path.achievement_id",
    );
    assert_validation(
        &api.award(&instructor.access, "nope", &id).await,
        "path.profile_id",
    );

    // Renamed: what was earned keeps its name; deleted: what was earned stays.
    let renamed = achievement(
        "Great helper",
        json!({"kind": "completions", "count": 1000}),
    );
    api.replace_achievement(&admin.access, &id, renamed)
        .await
        .expect_status(200);
    assert_eq!(
        api.achievement(&learner.access, &id)
            .await
            .expect_status(200)
            .body["name"],
        "Great helper"
    );
    assert_eq!(
        api.earned(&parent.access, &kid, "").await.items()[0]["name"],
        "Helper"
    );
    api.delete_achievement(&admin.access, &id)
        .await
        .expect_status(204);
    assert_problem(
        &api.delete_achievement(&admin.access, &id).await,
        404,
        "not-found",
    );
    assert_problem(
        &api.achievement(&learner.access, &id).await,
        404,
        "not-found",
    );
    assert_eq!(earned_ids(&api, &parent.access, &kid).await, [id]);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_definitions_are_refused_by_field() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    for (body, field) in [
        (
            achievement(" ", json!({"kind": "first_completion"})),
            "name",
        ),
        (
            achievement("X", json!({"kind": "completions", "count": 0})),
            "rule",
        ),
        (
            achievement("X", json!({"kind": "streak", "days": -1})),
            "rule",
        ),
        (
            achievement(
                "X",
                json!({"kind": "score_at_least", "game_id": "nope", "score": 5}),
            ),
            "rule",
        ),
        (
            achievement(
                "X",
                json!({"kind": "category_complete", "category": "Not A Slug"}),
            ),
            "rule",
        ),
        (achievement("X", json!({"kind": "teleport"})), "rule.kind"),
        (
            achievement("X", json!({"kind": "completions", "count": 3, "extra": 1})),
            "rule.extra",
        ),
    ] {
        assert_validation(&api.create_achievement(&admin.access, body).await, field);
    }
    let mut body = achievement("X", json!({"kind": "first_completion"}));
    body["colour"] = json!("gold");
    assert_validation(&api.create_achievement(&admin.access, body).await, "colour");
    api.stop().await;
}
