//! `/v1/leaderboards/games/{game_id}` and `/v1/profiles/{id}/rank`: each profile's best score of the period
//! counted once (also when its results race), periods at UTC calendar boundaries, display names and avatars only,
//! profiles hidden by their parents left off the public list, ranks exact in the top 100 and a band beyond.

use lectern_e2e::api::{Api, assert_problem};
use lectern_e2e::eventually;
use lectern_e2e::learning::{game, result};
use lectern_learning::leaderboards::{Period, Score};
use lectern_learning::profiles::Profile;
use lectern_shared::clock::Clock;
use lectern_shared::table::{Condition, Entity};
use serde_json::{Value, json};

/// The (display name, score, rank) lines of a board.
fn lines(board: &Value) -> Vec<(String, i64, u64)> {
    board["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["display_name"].as_str().expect("name").to_string(),
                e["score"].as_i64().expect("score"),
                e["rank"].as_u64().expect("rank"),
            )
        })
        .collect()
}

fn line(name: &str, score: i64, rank: u64) -> (String, i64, u64) {
    (name.to_string(), score, rank)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_best_of_each_period_counts_once_and_hidden_profiles_stay_off_the_public_list() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let g = api
        .published_game(
            &admin,
            game("Board Game", (4, 8), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("board@example.com").await;
    let ada = api.child_of(&parent, "Ada", 5).await;
    let bea = api.child_of(&parent, "Bea", 7).await;
    let ada_device = api.device_of(&parent, &ada).await;
    let bea_device = api.device_of(&parent, &bea).await;
    let other = api.parent("other@example.com").await;
    let cy = api.child_of(&other, "Cy", 6).await;
    let cy_device = api.device_of(&other, &cy).await;

    // Before last Monday (UTC), this week's board does not count it; the month's does only if it is this month.
    let now = api.clock().epoch_seconds();
    let week = Period::Weekly.of(now).unwrap();
    let last_week = week.starts_at.unwrap() - 3600;
    let same_month =
        Period::Monthly.of(last_week).unwrap().key == Period::Monthly.of(now).unwrap().key;
    let rfc = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let plays = [
        (&ada_device.access, &ada, 50, now - 300),
        (&ada_device.access, &ada, 80, now - 200),
        (&ada_device.access, &ada, 60, now - 100),
        (&bea_device.access, &bea, 70, now - 100),
        (&bea_device.access, &bea, 95, last_week),
        (&cy_device.access, &cy, 90, now - 50),
    ];
    for (n, (token, profile, score, at)) in plays.iter().enumerate() {
        api.record(
            *token,
            profile,
            &format!("board-key-{n:04}"),
            result(&g, *score, 1, &rfc(*at)),
        )
        .await
        .expect_status(201);
    }
    let board = |period: &'static str| {
        let api = &api;
        let token = ada_device.access.clone();
        let g = g.clone();
        async move {
            lines(
                &api.leaderboard(&token, &g, &format!("period={period}"))
                    .await
                    .expect_status(200)
                    .body,
            )
        }
    };
    let weekly = vec![line("Cy", 90, 1), line("Ada", 80, 2), line("Bea", 70, 3)];
    assert!(
        eventually(async || board("weekly").await == weekly).await,
        "{:?}",
        board("weekly").await
    );
    let all_time = vec![line("Bea", 95, 1), line("Cy", 90, 2), line("Ada", 80, 3)];
    assert!(eventually(async || board("all-time").await == all_time).await);
    let monthly = if same_month {
        all_time.clone()
    } else {
        weekly.clone()
    };
    assert_eq!(board("monthly").await, monthly);
    let full = api
        .leaderboard(&ada_device.access, &g, "")
        .await
        .expect_status(200);
    assert_eq!(full.body["period"], "weekly", "the default");
    assert_eq!(full.body["span"]["starts_at"], week.starts_at.unwrap());
    let entry = &full.body["entries"][0];
    let mut fields: Vec<&str> = entry
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["avatar_url", "display_name", "rank", "score"],
        "names and avatars only"
    );
    assert_eq!(
        lines(
            &api.leaderboard(&ada_device.access, &g, "limit=1")
                .await
                .body
        ),
        [line("Cy", 90, 1)]
    );

    // Ranks: the family and the profile's own device; nobody else.
    let rank = api
        .rank(&ada_device.access, &ada, &g, "")
        .await
        .expect_status(200);
    assert_eq!(
        (rank.body["rank_from"].clone(), rank.body["exact"].clone()),
        (json!(2), json!(true))
    );
    assert_eq!(rank.body["score"], 80);
    let bea_all = api
        .rank(&parent.access, &bea, &g, "period=all-time")
        .await
        .expect_status(200);
    assert_eq!(bea_all.body["rank_to"], 1);
    let unplayed = api
        .rank(
            &parent.access,
            &bea,
            &api.published_game(
                &admin,
                game("Unplayed", (4, 8), "numbers", &["counting"], "easy"),
            )
            .await,
            "",
        )
        .await;
    assert!(unplayed.expect_status(200).body["rank_from"].is_null());
    for token in [&bea_device.access, &cy_device.access, &other.access] {
        assert_problem(&api.rank(token, &ada, &g, "").await, 404, "not-found");
    }

    // Ada's parents hide her: off the public list at once (her rank still counts), back when shown again.
    let hidden = json!({"leaderboard_visible": false});
    api.put_controls(&parent.access, &ada, hidden)
        .await
        .expect_status(200);
    assert_eq!(
        board("weekly").await,
        [line("Cy", 90, 1), line("Bea", 70, 3)]
    );
    assert_eq!(
        api.rank(&parent.access, &ada, &g, "").await.body["rank_from"],
        2
    );
    api.put_controls(&parent.access, &ada, json!({}))
        .await
        .expect_status(200);
    assert_eq!(board("weekly").await, weekly);

    for query in ["period=daily", "limit=0", "limit=101", "colour=red"] {
        assert_eq!(
            api.leaderboard(&ada_device.access, &g, query).await.status,
            400,
            "{query}"
        );
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_results_of_one_profile_count_its_best_once() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let g = api
        .published_game(
            &admin,
            game("Race", (4, 8), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("race@example.com").await;
    let kid = api.child_of(&parent, "Racer", 6).await;
    let device = api.device_of(&parent, &kid).await;
    let sends = (0..10).map(|n| {
        let api = &api;
        let token = device.access.clone();
        let kid = kid.clone();
        let body = result(&g, 10 * n + 5, 1, &api.at(-600 + n));
        async move {
            api.record(&token, &kid, &format!("race-key-{n:04}"), body)
                .await
        }
    });
    for reply in futures::future::join_all(sends).await {
        assert!(reply.status == 201 || reply.status == 409, "{reply}");
    }
    let best = api
        .stats(&device.access, &kid)
        .await
        .expect_status(200)
        .body["games"][&g]["best_score"]
        .as_i64()
        .unwrap();
    assert!(
        eventually(async || {
            lines(
                &api.leaderboard(&device.access, &g, "period=all-time")
                    .await
                    .body,
            ) == [line("Racer", best, 1)]
        })
        .await
    );
    // However the worker's deliveries raced, the buckets count the profile once.
    let learning = lectern_local::learning_on(&api.server.platform);
    let stranger = "01JSTRANGER000000000000000";
    learning
        .record_scores(
            stranger,
            &[Score {
                game_id: g.clone(),
                score: best - 1,
                played_at: api.clock().epoch_seconds() - 5,
            }],
        )
        .await
        .unwrap();
    let rank = api
        .rank(&device.access, &kid, &g, "period=all-time")
        .await
        .expect_status(200);
    assert_eq!(rank.body["rank_from"], 1);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_top_hundred_a_rank_is_a_band_around_the_truth() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let g = api
        .published_game(
            &admin,
            game("Crowded", (4, 8), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("crowd@example.com").await;
    let kid = api.child_of(&parent, "Kid", 6).await;
    let learning = lectern_local::learning_on(&api.server.platform);
    let at = api.clock().epoch_seconds() - 60;
    // 300 other learners with scores 1000, 1010, ... 3990 (profiles like the kid's, written directly: only a
    // profile that exists goes on a board).
    let template = learning.load_profile(&kid).await.unwrap().unwrap();
    for n in 0..300i64 {
        let id = format!("01JCR0WD{n:018}");
        let other = Profile {
            profile_id: id.clone(),
            display_name: format!("L{n}"),
            ..template.clone()
        };
        learning
            .platform
            .table
            .put(other.to_item().unwrap(), Condition::Always)
            .await
            .unwrap();
        learning
            .record_scores(
                &id,
                &[Score {
                    game_id: g.clone(),
                    score: 1000 + 10 * n,
                    played_at: at,
                }],
            )
            .await
            .unwrap();
    }
    // 1505: 250 scores are higher (1510..3990), so the true rank is 251.
    learning
        .record_scores(
            &kid,
            &[Score {
                game_id: g.clone(),
                score: 1505,
                played_at: at,
            }],
        )
        .await
        .unwrap();
    let rank = api
        .rank(&parent.access, &kid, &g, "")
        .await
        .expect_status(200);
    assert_eq!(rank.body["exact"], false);
    let (from, to) = (
        rank.body["rank_from"].as_u64().unwrap(),
        rank.body["rank_to"].as_u64().unwrap(),
    );
    assert!(from <= 251 && 251 <= to, "{from}..{to}");
    // The band is the learners within a bucket (< 19%) of the score: here at most the ~60 between ~1260 and ~1790.
    assert!(to - from <= 80, "{from}..{to}");
    // The top is exact, and the board lists the best 100 in order.
    let top = api
        .leaderboard(&parent.access, &g, "limit=100")
        .await
        .expect_status(200);
    let expected: Vec<_> = (0..100)
        .map(|r| line(&format!("L{}", 299 - r), 3990 - 10 * r as i64, r + 1))
        .collect();
    assert_eq!(lines(&top.body), expected);
    learning
        .record_scores(
            &kid,
            &[Score {
                game_id: g.clone(),
                score: 3995,
                played_at: at,
            }],
        )
        .await
        .unwrap();
    let rank = api
        .rank(&parent.access, &kid, &g, "")
        .await
        .expect_status(200);
    assert_eq!(
        (rank.body["rank_from"].clone(), rank.body["exact"].clone()),
        (json!(1), json!(true))
    );
    assert_eq!(
        lines(&api.leaderboard(&parent.access, &g, "limit=2").await.body),
        [line("Kid", 3995, 1), line("L299", 3990, 2)]
    );
    api.stop().await;
}
