//! `/v1/profiles/{id}/controls`, `/usage` and `/play`: the family sets a daily limit, allowed hours, blocked games
//! and categories and a maximum age rating; the server enforces them when play starts and when results are
//! recorded (`time-limit-reached`, `outside-allowed-hours`, `content-blocked`), and hides blocked content from the
//! profile's catalog. A profile's own device reads its controls and cannot change them.

use std::time::Duration;

use lectern_e2e::api::{Api, assert_problem, assert_validation};
use lectern_e2e::learning::{game, result};
use lectern_shared::clock::Clock;
use serde_json::{Value, json};

fn with_duration(mut body: Value, seconds: i64) -> Value {
    body["duration_secs"] = json!(seconds);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_limit_stops_play_and_late_results_until_the_next_day() {
    let api = Api::start().await;
    // Midday UTC (before anything is signed, so no token is from the future), so that the day lasts the test.
    let today = api.clock().now().date();
    api.clock()
        .set(today.with_hms(12, 0, 0).unwrap().assume_utc());
    let admin = api.admin("admin@example.com").await;
    let g = api
        .published_game(
            &admin,
            game("Timed", (4, 8), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("limits@example.com").await;
    let kid = api.child_of(&parent, "Kid", 6).await;
    let device = api.device_of(&parent, &kid).await;

    let grant = api.play(&device.access, &kid, &g).await.expect_status(200);
    assert!(
        grant.body["allowed_seconds"].is_null(),
        "no controls, no limit"
    );
    let controls = json!({"daily_limit_minutes": 5});
    assert_problem(
        &api.put_controls(&device.access, &kid, controls.clone())
            .await,
        403,
        "forbidden",
    );
    let set = api
        .put_controls(&parent.access, &kid, controls)
        .await
        .expect_status(200);
    assert_eq!(set.body["daily_limit_minutes"], 5);
    assert_eq!(set.body["leaderboard_visible"], true);
    assert_eq!(
        api.controls(&device.access, &kid)
            .await
            .expect_status(200)
            .body,
        set.body
    );

    assert_eq!(
        api.play(&device.access, &kid, &g)
            .await
            .expect_status(200)
            .body["allowed_seconds"],
        300
    );
    api.record(
        &device.access,
        &kid,
        "limit-key-0001",
        with_duration(result(&g, 1, 1, &api.at(-600)), 240),
    )
    .await
    .expect_status(201);
    assert_eq!(
        api.play(&device.access, &kid, &g)
            .await
            .expect_status(200)
            .body["allowed_seconds"],
        60
    );
    // Started within the limit: recorded whole, even though it runs over.
    api.record(
        &device.access,
        &kid,
        "limit-key-0002",
        with_duration(result(&g, 1, 1, &api.at(-300)), 120),
    )
    .await
    .expect_status(201);
    let usage = api.usage(&device.access, &kid).await.expect_status(200);
    assert_eq!(
        (
            usage.body["used_seconds"].clone(),
            usage.body["remaining_seconds"].clone()
        ),
        (json!(360), json!(0))
    );
    assert_problem(
        &api.play(&device.access, &kid, &g).await,
        403,
        "time-limit-reached",
    );
    assert_problem(
        &api.record(
            &device.access,
            &kid,
            "limit-key-0003",
            result(&g, 1, 1, &api.at(-10)),
        )
        .await,
        403,
        "time-limit-reached",
    );
    assert_eq!(
        api.stats(&parent.access, &kid).await.body["results"],
        2,
        "the refused result is not counted"
    );
    // A sibling's limit is its own.
    let sibling = api.child_of(&parent, "Sibling", 8).await;
    let sibling_device = api.device_of(&parent, &sibling).await;
    api.play(&sibling_device.access, &sibling, &g)
        .await
        .expect_status(200);
    assert_problem(
        &api.usage(&sibling_device.access, &kid).await,
        404,
        "not-found",
    );
    // The next day (in the profile's zone) starts afresh (the access tokens of yesterday are refreshed).
    api.clock().advance(Duration::from_secs(24 * 3600));
    let device_access = api
        .refresh(&device.refresh)
        .await
        .expect_status(200)
        .text("access_token");
    let parent_access = api
        .refresh(&parent.refresh)
        .await
        .expect_status(200)
        .text("access_token");
    assert_eq!(
        api.play(&device_access, &kid, &g)
            .await
            .expect_status(200)
            .body["allowed_seconds"],
        300
    );
    assert_eq!(
        api.usage(&parent_access, &kid).await.body["used_seconds"],
        0
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hours_are_counted_in_the_profiles_time_zone() {
    let api = Api::start().await;
    // 10:30 UTC is 19:30 in Tokyo (set before anything is signed).
    let today = api.clock().now().date();
    api.clock()
        .set(today.with_hms(10, 30, 0).unwrap().assume_utc());
    let admin = api.admin("admin@example.com").await;
    let g = api
        .published_game(
            &admin,
            game("Hours", (4, 8), "numbers", &["counting"], "easy"),
        )
        .await;
    let parent = api.parent("hours@example.com").await;
    let kid = api.child_of(&parent, "Kid", 6).await;
    api.patch_profile(&parent.access, &kid, json!({"timezone": "Asia/Tokyo"}))
        .await
        .expect_status(200);
    let device = api.device_of(&parent, &kid).await;
    let hours = |start: &str, end: &str| json!({"allowed_hours": {"start": start, "end": end}});
    api.put_controls(&parent.access, &kid, hours("07:00", "19:00"))
        .await
        .expect_status(200);
    assert_problem(
        &api.play(&device.access, &kid, &g).await,
        403,
        "outside-allowed-hours",
    );
    assert_problem(
        &api.record(
            &device.access,
            &kid,
            "hours-key-0001",
            result(&g, 1, 1, &api.at(-60)),
        )
        .await,
        403,
        "outside-allowed-hours",
    );
    assert_eq!(
        api.usage(&device.access, &kid).await.body["within_allowed_hours"],
        false
    );
    // A result played earlier, inside the hours (18:00 in Tokyo), is fine.
    api.record(
        &device.access,
        &kid,
        "hours-key-0002",
        result(&g, 1, 1, &api.at(-90 * 60)),
    )
    .await
    .expect_status(201);
    // Over midnight: 19:00 to 07:00; 30 minutes in, 11.5 hours left.
    api.put_controls(&parent.access, &kid, hours("19:00", "07:00"))
        .await
        .expect_status(200);
    let grant = api.play(&device.access, &kid, &g).await.expect_status(200);
    assert_eq!(grant.body["allowed_seconds"], 11 * 3600 + 30 * 60);
    for (bad, field) in [
        (hours("7:00", "19:00"), "allowed_hours.start"),
        (hours("07:00", "24:00"), "allowed_hours.end"),
        (hours("07:00", "07:00"), "allowed_hours"),
        (json!({"daily_limit_minutes": 0}), "daily_limit_minutes"),
        (json!({"daily_limit_minutes": 1441}), "daily_limit_minutes"),
        (json!({"max_age_rating": 19}), "max_age_rating"),
        (json!({"blocked_games": ["nope"]}), "blocked_games"),
        (
            json!({"blocked_categories": ["Not A Slug"]}),
            "blocked_categories",
        ),
        (json!({"bedtime": "20:00"}), "bedtime"),
    ] {
        assert_validation(&api.put_controls(&parent.access, &kid, bad).await, field);
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_content_cannot_be_played_or_recorded_and_is_hidden_from_the_profile() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let letters = api
        .published_game(
            &admin,
            game("Letters", (4, 6), "alphabets", &["phonics"], "easy"),
        )
        .await;
    let numbers = api
        .published_game(
            &admin,
            game("Numbers", (4, 6), "numbers", &["counting"], "easy"),
        )
        .await;
    let big = api
        .published_game(
            &admin,
            game("Big Sums", (9, 12), "numbers", &["adding"], "hard"),
        )
        .await;
    let parent = api.parent("blocks@example.com").await;
    let kid = api.child_of(&parent, "Kid", 6).await;
    let device = api.device_of(&parent, &kid).await;
    let titles = || api.game_titles(&device.access, "");
    assert_eq!(titles().await, ["Big Sums", "Letters", "Numbers"]);

    api.put_controls(
        &parent.access,
        &kid,
        json!({"blocked_games": [letters.to_ascii_lowercase()], "max_age_rating": 8}),
    )
    .await
    .expect_status(200);
    assert_eq!(titles().await, ["Numbers"]);
    for blocked in [&letters, &big] {
        assert_problem(
            &api.play(&device.access, &kid, blocked).await,
            403,
            "content-blocked",
        );
        assert_problem(
            &api.record(
                &device.access,
                &kid,
                &format!("block-{}", &blocked[..10]),
                result(blocked, 1, 1, &api.at(-5)),
            )
            .await,
            403,
            "content-blocked",
        );
        assert_problem(
            &api.game(&device.access, blocked, "").await,
            404,
            "not-found",
        );
        assert_problem(
            &api.game(&parent.access, blocked, &format!("profile_id={kid}"))
                .await,
            404,
            "not-found",
        );
        api.game(&parent.access, blocked, "")
            .await
            .expect_status(200);
    }
    api.put_controls(
        &parent.access,
        &kid,
        json!({"blocked_categories": ["numbers"]}),
    )
    .await
    .expect_status(200);
    assert_eq!(titles().await, ["Letters"]);
    assert_problem(
        &api.play(&device.access, &kid, &numbers).await,
        403,
        "content-blocked",
    );
    api.play(&device.access, &kid, &letters)
        .await
        .expect_status(200);
    // The parent's own catalog is not the child's.
    assert_eq!(api.game_titles(&parent.access, "").await.len(), 3);
    // Another family cannot read or set them.
    let stranger = api.parent("stranger@example.com").await;
    assert_problem(
        &api.controls(&stranger.access, &kid).await,
        404,
        "not-found",
    );
    assert_problem(
        &api.put_controls(&stranger.access, &kid, json!({})).await,
        404,
        "not-found",
    );
    api.stop().await;
}
