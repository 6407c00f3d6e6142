//! `/v1/profiles/{id}/report`: a child's week or month in the profile's time zone, for the family only.

use lectern_e2e::api::{Api, assert_problem, assert_validation};
use lectern_e2e::learning::{achievement, game, result};
use lectern_shared::clock::Clock;
use serde_json::json;
use time::{Duration, OffsetDateTime, Weekday};

/// The next Wednesday, 12:00 UTC, after now: a week with days before and after it, whenever the test runs.
fn next_wednesday_noon(now: OffsetDateTime) -> OffsetDateTime {
    let mut day = now.date() + Duration::days(1);
    while day.weekday() != Weekday::Wednesday {
        day += Duration::days(1);
    }
    day.with_hms(12, 0, 0).unwrap().assume_utc()
}

fn rfc(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_sums_up_the_childs_week_in_its_time_zone() {
    let api = Api::start().await;
    let wednesday = next_wednesday_noon(api.clock().now());
    api.clock().set(wednesday);
    let admin = api.admin("admin@example.com").await;
    api.create_achievement(
        &admin.access,
        achievement("First", json!({"kind": "first_completion"})),
    )
    .await
    .expect_status(201);
    let letters = api
        .published_game(
            &admin,
            game("Letters", (4, 8), "alphabets", &["phonics"], "easy"),
        )
        .await;
    let sums = api
        .published_game(
            &admin,
            game("Sums", (4, 8), "numbers", &["counting", "phonics"], "easy"),
        )
        .await;
    let parent = api.parent("report@example.com").await;
    let year = api.clock_year();
    let kid = api
        .create_profile(
            &parent.access,
            json!({"display_name": "Ada", "birth_year": year - 6, "timezone": "Europe/Paris", "parental_consent": true}),
        )
        .await
        .expect_status(201)
        .text("profile_id");
    let device = api.device_of(&parent, &kid).await;
    let monday = wednesday - Duration::days(2) - Duration::hours(2);
    let plays = [
        // Last Thursday: the week before.
        (&letters, 50, 1, wednesday - Duration::days(6)),
        // Sunday 23:30 UTC is Monday 00:30 in Paris: this week there.
        (
            &sums,
            70,
            2,
            monday - Duration::hours(10) - Duration::minutes(30),
        ),
        (&letters, 80, 3, monday),
        (&letters, 90, 2, wednesday - Duration::hours(1)),
    ];
    for (n, (g, score, stars, at)) in plays.iter().enumerate() {
        api.record(
            &device.access,
            &kid,
            &format!("report-key-{n:04}"),
            result(g, *score, *stars, &rfc(*at)),
        )
        .await
        .expect_status(201);
    }
    api.await_earned(&parent, &kid).await;

    let week = api
        .get(
            &format!("/v1/profiles/{kid}/report?period=week"),
            Some(&parent.access),
        )
        .await
        .expect_status(200)
        .body;
    let monday_date = (wednesday - Duration::days(2)).date().to_string();
    assert_eq!(week["from"], monday_date.as_str(), "{week}");
    assert_eq!(
        (week["results"].clone(), week["days_played"].clone()),
        (json!(3), json!(2))
    );
    assert_eq!(week["stars"], 7);
    assert_eq!(week["complete"], true);
    assert_eq!(week["games"][0]["title"], "Letters");
    assert_eq!(
        (
            week["games"][0]["plays"].clone(),
            week["games"][0]["best_score"].clone()
        ),
        (json!(2), json!(90))
    );
    assert_eq!(week["games"][1]["title"], "Sums");
    assert_eq!(
        week["skills"][0],
        json!({"skill": "phonics", "results": 3, "mastery": 0.78})
    );
    assert_eq!(
        week["skills"][1],
        json!({"skill": "counting", "results": 1, "mastery": 0.67})
    );
    assert_eq!(week["achievements"].as_array().unwrap().len(), 1);

    let before = api
        .get(
            &format!("/v1/profiles/{kid}/report?period=week&offset=1"),
            Some(&parent.access),
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(before["results"], 1, "{before}");
    assert_eq!(
        before["achievements"],
        json!([]),
        "earned this week, not then"
    );
    let month = api
        .get(
            &format!("/v1/profiles/{kid}/report?period=month"),
            Some(&parent.access),
        )
        .await
        .expect_status(200)
        .body;
    assert!(month["results"].as_i64().unwrap() >= 1, "{month}");
    assert!(month["from"].as_str().unwrap().ends_with("-01"), "{month}");

    // The same week, printable.
    let printed = api
        .http
        .get(format!("{}/v1/profiles/{kid}/report?period=week", api.base))
        .bearer_auth(&parent.access)
        .header("accept", "application/pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(printed.status(), 200);
    assert_eq!(printed.headers()["content-type"], "application/pdf");
    let bytes = printed.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "a PDF");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("Ada's report"), "it names the child");
    // (Parentheses are escaped inside PDF strings.)
    assert!(text.contains("Letters: 2 play"), "and the games");

    // The family only; not the child's device; bad queries are named.
    let other = api.parent("other@example.com").await;
    let path = format!("/v1/profiles/{kid}/report?period=week");
    assert_problem(&api.get(&path, Some(&other.access)).await, 404, "not-found");
    assert_problem(
        &api.get(&path, Some(&device.access)).await,
        403,
        "forbidden",
    );
    assert_validation(
        &api.get(
            &format!("/v1/profiles/{kid}/report?period=year"),
            Some(&parent.access),
        )
        .await,
        "query.period",
    );
    assert_validation(
        &api.get(
            &format!("/v1/profiles/{kid}/report?period=week&offset=13"),
            Some(&parent.access),
        )
        .await,
        "query.offset",
    );
    api.stop().await;
}
