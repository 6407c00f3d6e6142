//! `/v1/profiles/{id}/progress`: a result counts once per `Idempotency-Key` (retries, races, batches), results
//! list by game and time, statistics with streaks in the profile's time zone; nobody else's child is reachable.

use lectern_e2e::api::{Api, Signed, assert_problem, assert_validation};
use lectern_e2e::learning::{game, result};
use serde_json::{Value, json};

/// A parent with a child (in `timezone`), a device session for it, and two published games.
struct Family {
    parent: Signed,
    kid: String,
    device: Signed,
    letters: String,
    numbers: String,
}

async fn family(api: &Api, email: &str, timezone: &str) -> Family {
    let admin = api.admin(&format!("admin-{email}")).await;
    let letters = api
        .published_game(
            &admin,
            game(
                "Letter Fun",
                (3, 6),
                "alphabets",
                &["phonics", "letters"],
                "easy",
            ),
        )
        .await;
    let numbers = api
        .published_game(
            &admin,
            game("Count Up", (3, 6), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent(email).await;
    let year = api.clock_year() - 4;
    let kid = api
        .create_profile(
            &parent.access,
            json!({"display_name": "Kid", "birth_year": year, "parental_consent": true, "timezone": timezone}),
        )
        .await
        .expect_status(201)
        .text("profile_id");
    let device = api.device_of(&parent, &kid).await;
    Family {
        parent,
        kid,
        device,
        letters,
        numbers,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_counts_once_per_key_even_when_retried_or_raced() {
    let api = Api::start().await;
    let f = family(&api, "once@example.com", "UTC").await;
    let body = result(&f.letters, 80, 2, &api.at(-60));

    let first = api
        .record(&f.device.access, &f.kid, "result-key-0001", body.clone())
        .await
        .expect_status(201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = api
        .record(&f.device.access, &f.kid, "result-key-0001", body.clone())
        .await
        .expect_status(201);
    assert_eq!(again.header("idempotent-replayed"), "true");
    assert_eq!(again.body, first.body, "the first answer again");
    let mut other = body.clone();
    other["score"] = json!(99);
    let reused = api
        .record(&f.device.access, &f.kid, "result-key-0001", other)
        .await;
    assert_problem(&reused, 422, "idempotency-key-reused");

    // Five copies of one request at once: one result.
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let client = (*api).clone();
        let (token, kid, body) = (
            f.device.access.clone(),
            f.kid.clone(),
            result(&f.numbers, 10, 1, &api.at(-30)),
        );
        tasks.push(tokio::spawn(async move {
            client.record(&token, &kid, "raced-key-0002", body).await
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let reply = t.await.unwrap().expect_status(201);
        ids.insert(reply.text("result_id"));
    }
    assert_eq!(ids.len(), 1, "{ids:?}");

    let stats = api.stats(&f.parent.access, &f.kid).await.expect_status(200);
    assert_eq!(stats.body["results"], 2);
    assert_eq!(
        api.results(&f.parent.access, &f.kid, "")
            .await
            .expect_status(200)
            .items()
            .len(),
        2
    );

    assert_validation(
        &api.send_without_key(&f.device.access, &f.kid, &body).await,
        "header.idempotency-key",
    );
    assert_validation(
        &api.record(&f.device.access, &f.kid, "short", body.clone())
            .await,
        "header.idempotency-key",
    );
    for (field, value) in [
        ("stars", json!(4)),
        ("played_at", json!(api.at(3600))),
        ("variant", json!("nope")),
    ] {
        let mut bad = body.clone();
        bad[field] = value;
        assert_validation(
            &api.record(&f.device.access, &f.kid, "bad-key-0003", bad)
                .await,
            field,
        );
    }
    let mut unknown = body.clone();
    unknown["game_id"] = json!(lectern_shared::ids::new_id());
    assert_validation(
        &api.record(&f.device.access, &f.kid, "bad-key-0004", unknown)
            .await,
        "game_id",
    );
    api.stop().await;
}

trait WithoutKey {
    async fn send_without_key(
        &self,
        token: &str,
        kid: &str,
        body: &Value,
    ) -> lectern_e2e::api::Reply;
}

impl WithoutKey for Api {
    async fn send_without_key(
        &self,
        token: &str,
        kid: &str,
        body: &Value,
    ) -> lectern_e2e::api::Reply {
        let path = format!("/v1/profiles/{kid}/progress");
        self.send(
            reqwest::Method::POST,
            &path,
            token.into(),
            lectern_e2e::api::Body::Json(body.clone()),
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_batch_is_answered_per_item_and_counted_once() {
    let api = Api::start().await;
    let f = family(&api, "batch@example.com", "UTC").await;
    let items: Vec<Value> = (0..50)
        .map(|i| json!({"idempotency_key": format!("offline-{i:04}"), "result": result(&f.letters, i, 1, &api.at(-3600 + i))}))
        .collect();
    let answers = api
        .record_batch(&f.device.access, &f.kid, json!({"items": items}))
        .await
        .expect_status(200);
    assert!(
        answers
            .items()
            .iter()
            .all(|a| a["status"] == 201 && a["replayed"] == false),
        "{answers}"
    );
    // The device retries the whole sync: nothing counts twice.
    let again = api
        .record_batch(&f.device.access, &f.kid, json!({"items": items}))
        .await
        .expect_status(200);
    assert!(
        again
            .items()
            .iter()
            .all(|a| a["status"] == 201 && a["replayed"] == true)
    );
    assert_eq!(
        api.stats(&f.parent.access, &f.kid).await.body["results"],
        50
    );

    // One bad result does not refuse the others.
    let mixed = json!({"items": [
        {"idempotency_key": "mixed-0001", "result": result(&f.numbers, 5, 3, &api.at(-10))},
        {"idempotency_key": "mixed-0002", "result": result(&f.numbers, 5, 9, &api.at(-10))},
        {"idempotency_key": "offline-0000", "result": result(&f.numbers, 1, 1, &api.at(-10))},
    ]});
    let answers = api
        .record_batch(&f.device.access, &f.kid, mixed)
        .await
        .expect_status(200)
        .items();
    assert_eq!(answers[0]["status"], 201);
    assert_eq!(answers[1]["status"], 400);
    assert_eq!(answers[1]["problem"]["errors"][0]["field"], "stars");
    assert_eq!(answers[2]["status"], 422);
    assert_eq!(
        api.stats(&f.parent.access, &f.kid).await.body["results"],
        51
    );

    let too_many: Vec<Value> = (0..101).map(|i| json!({"idempotency_key": format!("many-{i:05}"), "result": result(&f.letters, 1, 1, &api.at(-5))})).collect();
    assert_validation(
        &api.record_batch(&f.device.access, &f.kid, json!({"items": too_many}))
            .await,
        "items",
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_list_by_game_and_time_and_stats_follow_the_profile_zone() {
    let api = Api::start().await;
    let f = family(&api, "stats@example.com", "Pacific/Auckland").await;
    const DAY: i64 = 86_400;
    // Played on four consecutive days up to now, after a gap, and once more a week earlier.
    let plays = [
        (&f.letters, 50, 1, -10 * DAY),
        (&f.letters, 90, 3, -3 * DAY),
        (&f.numbers, 40, 2, -2 * DAY),
        (&f.letters, 70, 2, -DAY),
        (&f.letters, 30, 0, -60),
    ];
    for (i, (game, score, stars, at)) in plays.iter().enumerate() {
        api.record(
            &f.device.access,
            &f.kid,
            &format!("stats-key-{i:04}"),
            result(game, *score, *stars, &api.at(*at)),
        )
        .await
        .expect_status(201);
    }
    let stats = api
        .stats(&f.device.access, &f.kid)
        .await
        .expect_status(200)
        .body;
    assert_eq!(stats["results"], 5);
    assert_eq!(stats["seconds"], 600);
    assert_eq!(stats["timezone"], "Pacific/Auckland");
    assert_eq!(stats["current_streak"], 4);
    assert_eq!(stats["longest_streak"], 4);
    let letters = &stats["games"][f.letters.as_str()];
    assert_eq!(letters["plays"], 4);
    assert_eq!(letters["best_score"], 90);
    assert_eq!(letters["average_score"], 60.0);
    assert_eq!(letters["best_stars"], 3);
    assert_eq!(stats["skills"]["counting"]["mastery"], 0.67);
    assert_eq!(stats["skills"]["phonics"]["results"], 4);

    let newest = api
        .results(&f.device.access, &f.kid, "limit=2")
        .await
        .expect_status(200);
    assert_eq!(newest.items()[0]["score"], 30, "newest first");
    let rest = api
        .results(
            &f.device.access,
            &f.kid,
            &format!("limit=2&cursor={}", newest.text("next_cursor")),
        )
        .await
        .expect_status(200);
    assert_eq!(rest.items()[0]["score"], 40);
    let of_game = api
        .results(&f.parent.access, &f.kid, &format!("game_id={}", f.numbers))
        .await
        .expect_status(200);
    assert_eq!(of_game.items().len(), 1);
    let window = format!(
        "from={}&to={}",
        enc(&api.at(-4 * DAY)),
        enc(&api.at(-DAY + 10))
    );
    let scores: Vec<i64> = api
        .results(&f.parent.access, &f.kid, &window)
        .await
        .expect_status(200)
        .items()
        .iter()
        .map(|r| r["score"].as_i64().unwrap())
        .collect();
    assert_eq!(scores, [70, 40, 90]);
    assert_validation(
        &api.results(&f.parent.access, &f.kid, "from=yesterday")
            .await,
        "query.from",
    );

    // Time passes: two idle days break the current streak, not the longest.
    api.clock()
        .advance(std::time::Duration::from_secs(3 * DAY as u64));
    let parent = api.login(&f.parent.email).await;
    let later = api
        .stats(&parent.access, &f.kid)
        .await
        .expect_status(200)
        .body;
    assert_eq!(later["current_streak"], 0);
    assert_eq!(later["longest_streak"], 4);
    api.stop().await;
}

fn enc(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_else_reaches_a_childs_progress() {
    let api = Api::start().await;
    let f = family(&api, "mine@example.com", "UTC").await;
    let sibling = api.child_of(&f.parent, "Sibling", 6).await;
    let sibling_device = api.device_of(&f.parent, &sibling).await;
    let other = api.parent("other@example.com").await;
    let body = result(&f.letters, 10, 1, &api.at(-5));
    for token in [&sibling_device.access, &other.access] {
        assert_problem(
            &api.record(token, &f.kid, "intruder-0001", body.clone())
                .await,
            404,
            "not-found",
        );
        assert_problem(&api.results(token, &f.kid, "").await, 404, "not-found");
        assert_problem(&api.stats(token, &f.kid).await, 404, "not-found");
        let batch =
            json!({"items": [{"idempotency_key": "intruder-0002", "result": body.clone()}]});
        assert_problem(
            &api.record_batch(token, &f.kid, batch).await,
            404,
            "not-found",
        );
    }
    // The parent may record for their child from their own session.
    api.record(&f.parent.access, &f.kid, "parent-key-0001", body)
        .await
        .expect_status(201);
    assert_eq!(api.stats(&f.device.access, &f.kid).await.body["results"], 1);
    api.stop().await;
}
