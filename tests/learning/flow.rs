//! The whole flow on the dev server, in one story: a parent creates two children and a device session; the
//! catalog is filtered for a 4-year-old; progress is recorded (a retried request and an offline batch of 50, each
//! counted once); an achievement is earned exactly once when the same job is delivered twice; a time limit blocks
//! play; the leaderboard and the rank reflect the scores; a second family and a sibling's device reach none of it.

use lectern_e2e::api::{Api, assert_problem};
use lectern_e2e::eventually;
use lectern_e2e::learning::{achievement, earned_ids, game, result};
use lectern_shared::queue::queues;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_family_plays_learns_earns_and_is_limited_and_nobody_else_sees_it() {
    let api = Api::start().await;
    lectern_e2e::clear_of_midnight(api.clock());
    let admin = api.admin("admin@example.com").await;
    let letters = api
        .published_game(
            &admin,
            game("Letter Sounds", (3, 5), "alphabets", &["phonics"], "easy"),
        )
        .await;
    api.published_game(
        &admin,
        game("Long Division", (9, 12), "numbers", &["dividing"], "hard"),
    )
    .await;
    let first_win = api
        .create_achievement(
            &admin.access,
            achievement("First win", json!({"kind": "first_completion"})),
        )
        .await
        .expect_status(201)
        .text("achievement_id");

    // A parent, two children, a device for the younger.
    let parent = api.parent("family@example.com").await;
    let kid = api.child_of(&parent, "Ada", 4).await;
    let sibling = api.child_of(&parent, "Bea", 9).await;
    let device = api.device_of(&parent, &kid).await;
    let sibling_device = api.device_of(&parent, &sibling).await;
    let band = api
        .profile(&device.access, &kid)
        .await
        .expect_status(200)
        .body["age_band"]
        .clone();
    assert_eq!(band, "4-5");
    assert_eq!(
        api.game_titles(&device.access, "age=4-5").await,
        ["Letter Sounds"]
    );

    // A retried result counts once; an offline batch of 50, sent twice, counts 50.
    let body = result(&letters, 70, 3, &api.at(-3600));
    for _ in 0..2 {
        api.record(&device.access, &kid, "flow-key-00001", body.clone())
            .await
            .expect_status(201);
    }
    let items: Vec<_> = (0..50)
        .map(|n| {
            json!({
                "idempotency_key": format!("flow-batch-{n:04}"),
                "result": result(&letters, n, 1, &api.at(-3000 + n)),
            })
        })
        .collect();
    for _ in 0..2 {
        let answers = api
            .record_batch(&device.access, &kid, json!({ "items": items }))
            .await
            .expect_status(200);
        assert!(answers.items().iter().all(|a| a["status"] == 201));
    }
    let stats = api.stats(&parent.access, &kid).await.expect_status(200);
    assert_eq!(stats.body["results"], 51);
    assert_eq!(stats.body["games"][&letters]["best_score"], 70);

    // The worker earns the achievement once; the same job delivered twice more changes nothing.
    assert!(
        eventually(async || earned_ids(&api, &device.access, &kid).await == [first_win.clone()])
            .await
    );
    let job = lectern_shared::queue::NewJob::new(&lectern_messages::ResultsRecorded {
        profile_id: kid.clone(),
        results: vec![],
        stats_version: 0,
    })
    .unwrap()
    .idempotency_key("flow-duplicate");
    api.server
        .platform
        .queue
        .send(queues::LEARNING, vec![job.clone(), job])
        .await
        .unwrap();
    assert!(!eventually(async || earned_ids(&api, &device.access, &kid).await.len() != 1).await);

    // The leaderboard and the rank reflect the scores.
    assert!(
        eventually(async || {
            api.leaderboard(&device.access, &letters, "period=all-time")
                .await
                .body["entries"][0]["score"]
                == 70
        })
        .await
    );
    let rank = api
        .rank(&device.access, &kid, &letters, "period=all-time")
        .await
        .expect_status(200);
    assert_eq!(
        (rank.body["rank_from"].clone(), rank.body["score"].clone()),
        (json!(1), json!(70))
    );

    // A time limit blocks play: 51 results of 2 minutes today are well over 10 minutes.
    api.put_controls(&parent.access, &kid, json!({"daily_limit_minutes": 10}))
        .await
        .expect_status(200);
    assert_problem(
        &api.play(&device.access, &kid, &letters).await,
        403,
        "time-limit-reached",
    );
    assert_problem(
        &api.put_controls(&device.access, &kid, json!({})).await,
        403,
        "forbidden",
    );

    // A second family and the sibling's device reach none of it.
    let stranger = api.parent("stranger@example.com").await;
    for token in [&stranger.access, &sibling_device.access] {
        for reply in [
            api.profile(token, &kid).await,
            api.stats(token, &kid).await,
            api.results(token, &kid, "").await,
            api.earned(token, &kid, "").await,
            api.rank(token, &kid, &letters, "").await,
            api.usage(token, &kid).await,
            api.controls(token, &kid).await,
            api.profile_curriculum(token, &kid).await,
            api.record(
                token,
                &kid,
                "flow-intruder-1",
                result(&letters, 1, 1, &api.at(-5)),
            )
            .await,
            api.play(token, &kid, &letters).await,
        ] {
            assert_problem(&reply, 404, "not-found");
        }
    }
    assert_problem(
        &api.device_session(&stranger.access, &kid).await,
        404,
        "not-found",
    );
    assert_problem(
        &api.device_session(&sibling_device.access, &kid).await,
        404,
        "not-found",
    );
    api.stop().await;
}
