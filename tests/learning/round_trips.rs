//! Storage round trips of the learning routes, held at their budget. Authentication is one read (the session and
//! the account in one batch) on every request; the budgets below include it.

use lectern_e2e::api::Api;
use lectern_e2e::learning::game;
use lectern_shared::testing::counting::Summary;

/// `n` published counting games for five-year-olds, by `author`.
async fn counting_games(api: &Api, author: &lectern_e2e::api::Signed, n: usize) -> Vec<String> {
    let mut games = Vec::new();
    for i in 0..n {
        let body = game(
            &format!("Game {i}"),
            (4, 6),
            "numbers",
            &["counting"],
            "easy",
        );
        games.push(api.published_game(author, body).await);
    }
    games
}

fn budget(reads: usize, writes: usize, blobs: usize) -> Summary {
    Summary {
        reads,
        writes,
        sends: 0,
        blobs,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_catalog_page_is_one_read_however_big_the_catalog() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let learner = api.signed_up("learner@example.com").await;
    let query = "age=4-5&category=alphabets&difficulty=easy&skill=phonics&limit=20";
    let mut published = 0;
    let mut cost = Vec::new();
    for size in [3, 40] {
        while published < size {
            let title = format!("Phonics Game {published}");
            api.published_game(
                &admin,
                game(&title, (4, 6), "alphabets", &["phonics"], "easy"),
            )
            .await;
            published += 1;
        }
        api.server.ops.reset();
        let page = api.games(&learner.access, query).await.expect_status(200);
        cost.push(api.server.ops.take().summary());
        assert_eq!(page.items().len(), size.min(20));
    }
    assert_eq!(cost[0], budget(2, 0, 0), "auth + one query, with 3 games");
    assert_eq!(cost[1], cost[0], "and the same with 40");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_routes_stay_within_their_budget() {
    let api = Api::start().await;
    let parent = api.parent("budget@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    let cases: [(&str, Summary); 3] = [
        ("GET /v1/profiles/{id} (parent)", budget(2, 0, 0)),
        ("GET /v1/profiles/{id} (device)", budget(2, 0, 0)),
        ("GET /v1/profiles (parent)", budget(2, 0, 0)),
    ];
    for (what, expected) in cases {
        api.server.ops.reset();
        match what {
            "GET /v1/profiles/{id} (parent)" => api.profile(&parent.access, &kid).await,
            "GET /v1/profiles/{id} (device)" => api.profile(&device.access, &kid).await,
            _ => api.profiles(&parent.access).await,
        }
        .expect_status(200);
        assert_eq!(api.server.ops.take().summary(), expected, "{what}");
    }
    api.server.ops.reset();
    api.create_profile(
        &parent.access,
        lectern_e2e::learning::child("New", api.clock_year() - 4),
    )
    .await
    .expect_status(201);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(2, 1, 0),
        "POST /v1/profiles: auth, the family counter, one transaction"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_a_result_is_one_read_and_one_transaction() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let id = api
        .published_game(
            &admin,
            game("Budget Game", (4, 6), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("budget@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    let body = lectern_e2e::learning::result(&id, 10, 1, &api.at(-5));
    for (n, what) in ["first", "replayed"].iter().enumerate() {
        api.server.ops.reset();
        api.record(&device.access, &kid, "budget-key-0001", body.clone())
            .await
            .expect_status(201);
        let expected = if n == 0 {
            // One send per queue: the worker's job (learning) and the `progress.recorded` webhook event (jobs).
            Summary {
                sends: 2,
                ..budget(2, 2, 0)
            }
        } else {
            budget(2, 0, 0)
        };
        assert_eq!(
            api.server.ops.take().summary(),
            expected,
            "{what}: auth, one batch read, one transaction (with the worker's job and the webhook event in the \
             outbox), the jobs sent and their outbox entries removed (a replay writes and sends nothing)"
        );
    }
    api.server.ops.reset();
    api.stats(&device.access, &kid).await.expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(2, 0, 0),
        "stats: auth and one batch read"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curriculum_is_one_read_and_a_profiles_place_in_it_one_batch() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let games = counting_games(&api, &admin, 3).await;
    let mut previous: Vec<String> = Vec::new();
    for n in 0..5 {
        let refs: Vec<&str> = games.iter().map(String::as_str).collect();
        let prereqs: Vec<&str> = previous.iter().map(String::as_str).collect();
        let body = lectern_e2e::learning::module(&format!("M{n}"), "path", n, &refs, &prereqs);
        api.server.ops.reset();
        let id = api
            .create_module(&admin.access, body)
            .await
            .expect_status(201)
            .text("module_id");
        assert_eq!(
            api.server.ops.take().summary(),
            budget(3, 1, 0),
            "POST /v1/curriculum: auth, the curriculum, its games in one batch; one conditional put"
        );
        previous = vec![id];
    }
    let parent = api.parent("budget@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    api.server.ops.reset();
    api.curriculum(&device.access).await.expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(2, 0, 0),
        "GET /v1/curriculum"
    );
    api.server.ops.reset();
    api.profile_curriculum(&device.access, &kid)
        .await
        .expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(2, 0, 0),
        "GET /v1/profiles/{{id}}/curriculum: auth, then profile, stats and curriculum in one batch"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_batch_costs_one_read_and_one_transaction_per_result_and_one_job() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let id = api
        .published_game(
            &admin,
            game("Batch Game", (4, 6), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("budget@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    let items: Vec<_> = (0..10)
        .map(|n| {
            serde_json::json!({
                "idempotency_key": format!("batch-budget-{n:04}"),
                "result": lectern_e2e::learning::result(&id, n, 1, &api.at(-600 + n)),
            })
        })
        .collect();
    let body = serde_json::json!({ "items": items });
    api.server.ops.reset();
    api.record_batch(&device.access, &kid, body.clone())
        .await
        .expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        Summary {
            sends: 2,
            ..budget(2 + 10, 10 + 1, 0)
        },
        "auth, the profile, then per result one batch read and one transaction (with its job and webhook event in \
         the outbox); the jobs sent together, one send per queue, and their outbox entries removed together"
    );
    api.server.ops.reset();
    api.record_batch(&device.access, &kid, body)
        .await
        .expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(2 + 10, 0, 0),
        "replayed: reads only, no job"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn achievements_are_one_read_each() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let parent = api.parent("budget@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    for n in 0..3 {
        let body = lectern_e2e::learning::achievement(
            &format!("A{n}"),
            serde_json::json!({"kind": "first_completion"}),
        );
        let id = api
            .create_achievement(&admin.access, body)
            .await
            .expect_status(201)
            .text("achievement_id");
        api.award(&admin.access, &kid, &id).await.expect_status(201);
    }
    api.server.ops.reset();
    api.achievements(&device.access).await.expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(2, 0, 0),
        "GET /v1/achievements"
    );
    api.server.ops.reset();
    let earned = api
        .earned(&device.access, &kid, "")
        .await
        .expect_status(200);
    assert_eq!(earned.items().len(), 3);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(3, 0, 0),
        "GET /v1/profiles/{{id}}/achievements: auth, the profile, one query"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boards_controls_and_a_devices_catalog_stay_within_their_budget() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let id = api
        .published_game(
            &admin,
            game("Budget Board", (4, 6), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("budget@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    api.record(
        &device.access,
        &kid,
        "board-budget-01",
        lectern_e2e::learning::result(&id, 10, 1, &api.at(-5)),
    )
    .await
    .expect_status(201);
    assert!(
        lectern_e2e::eventually(async || {
            !api.leaderboard(&device.access, &id, "").await.body["entries"]
                .as_array()
                .is_none_or(Vec::is_empty)
        })
        .await
    );
    let shards = lectern_learning::leaderboards::SHARDS as usize;
    let cases: [(&str, Summary); 6] = [
        // (The profile has no avatar: no link to sign.)
        ("board", budget(1 + shards + 1, 0, 0)),
        ("rank", budget(1 + 1 + shards, 0, 0)),
        ("play", budget(2, 0, 0)),
        ("usage", budget(2, 0, 0)),
        ("controls", budget(2, 0, 0)),
        ("catalog", budget(3, 0, 0)),
    ];
    for (what, expected) in cases {
        api.server.ops.reset();
        match what {
            "board" => api.leaderboard(&device.access, &id, "").await,
            "rank" => api.rank(&device.access, &kid, &id, "").await,
            "play" => api.play(&device.access, &kid, &id).await,
            "usage" => api.usage(&device.access, &kid).await,
            "controls" => api.controls(&device.access, &kid).await,
            _ => api.games(&device.access, "").await,
        }
        .expect_status(200);
        let got = api.server.ops.take().summary();
        assert_eq!(
            got, expected,
            "{what}: board = auth, one query per shard, the profiles in one batch; rank = auth, profile and \
             entry in one batch, one query per shard; play and usage = auth, profile+stats(+game) in one batch; \
             a device's catalog = auth, its profile (controls), one query"
        );
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_reads_more_only_while_an_event_step_is_open() {
    let api = Api::start().await;
    let parent = api.parent("onboarding@example.com").await;
    api.server.ops.reset();
    api.onboarding(&parent.access).await.expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(2, 1, 0),
        "no profile yet: auth, one batch (steps, progress, family), the verified address recorded"
    );
    let kid = api.child_of(&parent, "Kid", 5).await;
    api.server.ops.reset();
    api.onboarding(&parent.access).await.expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(4, 1, 0),
        "open event steps: + the family's profiles + their statistics, the first profile recorded"
    );
    api.complete_onboarding(&parent.access, "first-game")
        .await
        .expect_status(200);
    api.put_controls(
        &parent.access,
        &kid,
        serde_json::json!({"daily_limit_minutes": 20}),
    )
    .await
    .expect_status(200);
    api.onboarding(&parent.access).await.expect_status(200);
    api.server.ops.reset();
    let done = api.onboarding(&parent.access).await.expect_status(200);
    assert_eq!(done.body["complete"], true);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(2, 0, 0),
        "a finished onboarding: auth and one batch"
    );
    api.server.ops.reset();
    api.complete_onboarding(&parent.access, "first-game")
        .await
        .expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(2, 0, 0),
        "marking a done step again writes nothing"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_reads_the_same_whatever_the_history() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let g = api
        .published_game(
            &admin,
            game("Report Game", (4, 8), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("report.budget@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    let path = format!("/v1/profiles/{kid}/report?period=month");
    api.server.ops.reset();
    api.get(&path, Some(&parent.access))
        .await
        .expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(4, 0, 0),
        "nothing played: auth, the profile with its statistics, the period's results, the achievements"
    );
    for n in 0..3 {
        api.record(
            &device.access,
            &kid,
            &format!("report-budget-{n}"),
            lectern_e2e::learning::result(&g, 10 * n, 1, &api.at(-60 - n)),
        )
        .await
        .expect_status(201);
    }
    api.server.ops.reset();
    api.get(&path, Some(&parent.access))
        .await
        .expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(5, 0, 0),
        "+ the games played, in one batch"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profiles_recommendations_are_two_batched_reads_never_a_computation() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let games = counting_games(&api, &admin, 3).await;
    let parent = api.parent("budget@example.com").await;
    let kid = api.child_of(&parent, "Kid", 5).await;
    let device = api.device_of(&parent, &kid).await;
    let items: Vec<serde_json::Value> = games
        .iter()
        .enumerate()
        .map(|(n, game)| {
            serde_json::json!({
                "idempotency_key": format!("budget-key-{n:04}"),
                "result": lectern_e2e::learning::result(game, 1, 1, &api.at(-60 + n as i64)),
            })
        })
        .collect();
    api.record_batch(&device.access, &kid, serde_json::json!({ "items": items }))
        .await
        .expect_status(200);
    // One job per result: wait for the list computed from all three (a counting skill weak over three results).
    let computed = lectern_e2e::eventually(async || {
        let view = api.await_recommendations(&parent, &kid).await;
        view["items"].as_array().map(Vec::len) == Some(3)
    })
    .await;
    assert!(computed, "no list from all three results");
    api.server.ops.reset();
    api.recommendations(&device.access, &kid)
        .await
        .expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        budget(3, 0, 0),
        "GET /v1/profiles/{{id}}/recommendations: auth, the profile and its list in one batch, their games in one"
    );
    api.stop().await;
}
