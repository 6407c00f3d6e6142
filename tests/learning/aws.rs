//! The learning domain's core flow on the AWS adapters (DynamoDB, S3, SQS on moto): a parent with two children and
//! a device session, a published game found through its facet partition, a result recorded once however often it is
//! retried, an offline batch, statistics and the curriculum from them, the learning worker earning an achievement (and computing recommendations)
//! once from jobs read off SQS and delivered twice, and a sibling's device and another family kept out. Skipped when moto is not available (unless `LECTERN_REQUIRE_AWS=1`).

use lectern_accounts::permissions::Role;
use lectern_e2e::api::assert_problem;
use std::time::Duration;

use lectern_e2e::learning::{achievement, child, game, module, result};
use lectern_e2e::moto_stack::MotoStack;
use lectern_shared::clock::Clock;
use lectern_shared::queue::queues;
use serde_json::json;

fn at(stack: &MotoStack, offset_secs: i64) -> String {
    let t = stack.clock.now() + time::Duration::seconds(offset_secs);
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_learning_flow_on_dynamodb() {
    let Some(stack) = MotoStack::start().await else {
        return;
    };
    let api = &stack.api;
    lectern_e2e::clear_of_midnight(&stack.clock);
    let year = stack.clock.now().year();
    let admin = stack
        .signed_in("cloud.admin@example.com", "Cloud Family", Role::Admin)
        .await;
    let parent = stack
        .signed_in("cloud.parent@example.com", "Cloud Family", Role::Parent)
        .await;
    let stranger = stack
        .signed_in("cloud.stranger@example.com", "Cloud Family", Role::Parent)
        .await;

    // A published game, found through the facets of a 4-year-old.
    let body = game(
        "Letters in the Sky",
        (3, 5),
        "alphabets",
        &["phonics"],
        "easy",
    );
    let game_id = api
        .create_game(&admin.access, body)
        .await
        .expect_status(201)
        .text("game_id");
    api.game_action(&admin.access, &game_id, "publish")
        .await
        .expect_status(200);
    let page = api
        .games(&parent.access, "age=4-5&category=alphabets&skill=phonics")
        .await
        .expect_status(200);
    assert_eq!(page.items().len(), 1);
    assert!(
        api.games(&parent.access, "age=8-10")
            .await
            .expect_status(200)
            .items()
            .is_empty()
    );
    let module_id = api
        .create_module(
            &admin.access,
            module("Sky letters", "reading", 1, &[&game_id], &[]),
        )
        .await
        .expect_status(201)
        .text("module_id");

    let first_win = api
        .create_achievement(
            &admin.access,
            achievement("First win", json!({"kind": "first_completion"})),
        )
        .await
        .expect_status(201)
        .text("achievement_id");

    // Two children and a device session for each.
    let kid = api
        .create_profile(&parent.access, child("Kid", year - 4))
        .await
        .expect_status(201)
        .text("profile_id");
    let sibling = api
        .create_profile(&parent.access, child("Sibling", year - 7))
        .await
        .expect_status(201)
        .text("profile_id");
    let device = api
        .device_session(&parent.access, &kid)
        .await
        .expect_status(201)
        .text("access_token");
    let sibling_device = api
        .device_session(&parent.access, &sibling)
        .await
        .expect_status(201)
        .text("access_token");
    let family = api.family(&parent.access).await.expect_status(200);
    assert_eq!(family.body["children"], 2);
    assert_eq!(family.body["consents"].as_array().unwrap().len(), 2);

    // A result recorded once, however often it is retried; a reused key with another body is refused.
    let first = result(&game_id, 80, 3, &at(&stack, -120));
    let recorded = api
        .record(&device, &kid, "cloud-key-0001", first.clone())
        .await
        .expect_status(201);
    let again = api
        .record(&device, &kid, "cloud-key-0001", first)
        .await
        .expect_status(201);
    assert_eq!(again.body["result_id"], recorded.body["result_id"]);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert_problem(
        &api.record(
            &device,
            &kid,
            "cloud-key-0001",
            result(&game_id, 1, 0, &at(&stack, -60)),
        )
        .await,
        422,
        "idempotency-key-reused",
    );

    // An offline batch, one item of which repeats the key above.
    let mut items: Vec<_> = (0..5)
        .map(|n| {
            json!({
                "idempotency_key": format!("cloud-batch-{n:04}"),
                "result": result(&game_id, 10 * n, 1, &at(&stack, -3600 - n * 60)),
            })
        })
        .collect();
    items.push(json!({
        "idempotency_key": "cloud-key-0001",
        "result": result(&game_id, 80, 3, &at(&stack, -120)),
    }));
    let batch = api
        .record_batch(&device, &kid, json!({ "items": items }))
        .await
        .expect_status(200);
    let statuses: Vec<_> = batch.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["status"].as_u64().unwrap(),
                i["replayed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(statuses[..5], [(201, false); 5]);
    assert_eq!(statuses[5], (201, true));

    let stats = api.stats(&device, &kid).await.expect_status(200);
    assert_eq!(stats.body["results"], 6, "1 + 5, the replays counted once");
    assert_eq!(stats.body["games"][&game_id]["best_score"], 80);
    assert_eq!(stats.body["current_streak"], 1);
    let standing = api
        .profile_curriculum(&device, &kid)
        .await
        .expect_status(200);
    assert_eq!(
        standing.body["paths"][0]["modules"][0]["module_id"],
        module_id
    );
    assert_eq!(standing.body["paths"][0]["modules"][0]["state"], "complete");
    let listed = api
        .results(&parent.access, &kid, &format!("game_id={game_id}&limit=3"))
        .await
        .expect_status(200);
    assert_eq!(listed.items().len(), 3);
    assert_eq!(listed.items()[0]["score"], 80, "newest first");

    let waiting = lectern_shared::queue::outbox::pending(stack.platform.table.as_ref())
        .await
        .expect("outbox");
    assert!(
        waiting.is_empty(),
        "sent right after the commit: {waiting:?}"
    );
    // The learning worker evaluates the jobs SQS holds (no poller runs here): each delivered twice, one earned.
    let mut jobs = Vec::new();
    for _ in 0..20 {
        let got = stack
            .platform
            .queue
            .receive(queues::LEARNING, 10, Duration::from_secs(600))
            .await
            .expect("receive");
        if got.is_empty() && !jobs.is_empty() {
            break;
        }
        jobs.extend(got);
    }
    assert_eq!(
        jobs.len(),
        6,
        "one job per recorded result (1 + 5), written to the outbox with it and sent at once"
    );
    assert!(
        jobs.iter()
            .all(|d| d.job.kind == "learning.results_recorded")
    );
    let worker = lectern_learning_worker::worker(
        &stack.platform,
        lectern_local::learning_on(&stack.platform),
    );
    // At once: a duplicate finds its job running and is handed back for later (SQS would redeliver it).
    let twice: Vec<_> = jobs.iter().chain(jobs.iter()).cloned().collect();
    let outcome = worker.process_batch(twice).await;
    assert_eq!(outcome.done.len() + outcome.failed.len(), 2 * jobs.len());
    assert!(outcome.done.len() >= jobs.len(), "{outcome:?}");
    // Redelivered later: the finished jobs are acknowledged without running again.
    let outcome = worker.process_batch(jobs.clone()).await;
    assert_eq!(outcome.failed, Vec::<String>::new());
    let board = api
        .leaderboard(&device, &game_id, "period=all-time")
        .await
        .expect_status(200);
    assert_eq!(board.body["entries"][0]["display_name"], "Kid");
    assert_eq!(board.body["entries"][0]["score"], 80);
    assert_eq!(board.body["entries"].as_array().unwrap().len(), 1);
    let rank = api
        .rank(&device, &kid, &game_id, "period=all-time")
        .await
        .expect_status(200);
    assert_eq!(rank.body["rank_from"], 1);
    // The same jobs computed the profile's recommendations (a conditional put, the profile checked, the
    // transition counts updated, in one DynamoDB transaction).
    let recommended = api.recommendations(&device, &kid).await.expect_status(200);
    assert!(
        recommended.body["computed_at"].is_i64(),
        "{}",
        recommended.body
    );
    let earned = api.earned(&device, &kid, "").await.expect_status(200);
    assert_eq!(earned.items().len(), 1);
    assert_eq!(earned.items()[0]["achievement_id"], first_win);
    // The parent's notification is queued under one idempotency key (its consumer sends it once).
    let notified = stack
        .platform
        .queue
        .receive(queues::NOTIFICATIONS, 10, Duration::from_secs(600))
        .await
        .expect("receive");
    let keys: std::collections::BTreeSet<_> = notified
        .iter()
        .filter(|d| d.job.kind == "learning.achievement_earned")
        .map(|d| d.job.idempotency_key.clone())
        .collect();
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        [Some(format!("achievement:{kid}:{first_win}"))]
    );

    // A sibling's device and another family reach none of it.
    for token in [&sibling_device, &stranger.access] {
        assert_problem(&api.stats(token, &kid).await, 404, "not-found");
        assert_problem(&api.earned(token, &kid, "").await, 404, "not-found");
        assert_problem(&api.recommendations(token, &kid).await, 404, "not-found");
        assert_problem(&api.rank(token, &kid, &game_id, "").await, 404, "not-found");
        assert_problem(&api.profile(token, &kid).await, 404, "not-found");
        assert_problem(
            &api.record(
                token,
                &kid,
                "cloud-key-9999",
                result(&game_id, 1, 1, &at(&stack, -5)),
            )
            .await,
            404,
            "not-found",
        );
    }
    assert_problem(
        &api.device_session(&stranger.access, &kid).await,
        404,
        "not-found",
    );
}
