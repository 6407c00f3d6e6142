//! The scheduled notifications: play and study reminders at each account's local hour, and the weekly report to
//! parents on Monday morning — reaching exactly the people whose time has come, as their preferences and quiet
//! hours allow, once however often the hourly job runs.

use lectern_e2e::api::Api;
use lectern_e2e::learning::{game, result};
use lectern_messages::NotificationContent;
use lectern_messages::{NotificationType, Notify};
use lectern_shared::clock::Clock;
use lectern_shared::queue::{NewJob, enqueue};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, Weekday};

fn reminder(at: &str, zone: &str) -> Value {
    json!({"at": at, "timezone": zone})
}

/// The next day after `now` at `h`:00:10 UTC.
fn tomorrow_at(now: OffsetDateTime, h: u8) -> OffsetDateTime {
    (now.date() + Duration::days(1))
        .with_hms(h, 0, 10)
        .unwrap()
        .assume_utc()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_reach_only_the_accounts_whose_local_hour_begins_and_only_once() {
    let api = Api::start().await;
    // 08:00 UTC is 17:00 in Tokyo (no daylight saving in either zone, so the test holds all year).
    let now = tomorrow_at(api.clock().now(), 8);
    api.clock().set(now);
    let date = now.date().to_string();
    let email_on = json!({"reminders": {"in_app": true, "email": true, "push": false}});
    let cases = [
        // name, preferences, reminded in-app, emailed
        (
            "tokyo-17",
            json!({"channels": email_on, "reminder": reminder("17:00", "Asia/Tokyo")}),
            true,
            true,
        ),
        (
            "utc-08",
            json!({"channels": {}, "reminder": reminder("08:00", "UTC")}),
            true,
            false,
        ),
        (
            "tokyo-18",
            json!({"channels": {}, "reminder": reminder("18:00", "Asia/Tokyo")}),
            false,
            false,
        ),
        (
            "utc-17",
            json!({"channels": {}, "reminder": reminder("17:00", "UTC")}),
            false,
            false,
        ),
        (
            "switched-off",
            json!({"channels": {"reminders": {"in_app": false, "email": false, "push": false}},
                   "reminder": reminder("17:00", "Asia/Tokyo")}),
            false,
            false,
        ),
        (
            "quiet",
            json!({"channels": email_on, "reminder": reminder("17:00", "Asia/Tokyo"),
                   "quiet_hours": {"start": "16:00", "end": "20:00", "timezone": "Asia/Tokyo"}}),
            true,
            false,
        ),
        ("no-reminder", json!({"channels": {}}), false, false),
    ];
    let mut users = Vec::new();
    for (name, prefs, _, _) in &cases {
        let user = api.signed_up(&format!("{name}@example.com")).await;
        let saved = api
            .put_notification_preferences(&user.access, prefs.clone())
            .await
            .expect_status(200);
        assert_eq!(
            saved.body["reminder"],
            prefs.get("reminder").cloned().unwrap_or(Value::Null)
        );
        users.push(user);
    }

    let tick = api.run_reminders().await;
    assert_eq!((tick.zones, tick.pages_enqueued), (2, 2), "{tick:?}");
    api.await_reminders_page("Asia/Tokyo", 17, &date).await;
    api.await_reminders_page("UTC", 8, &date).await;
    // The job runs again within the hour (an overlap, a retry after a crash): nothing more is sent.
    api.clock().advance(std::time::Duration::from_secs(600));
    api.run_reminders().await;
    let key = format!("reminder:{date}");
    for ((_, _, in_app, _), user) in cases.iter().zip(&users) {
        if *in_app {
            api.await_notified(&user.user_id, &key).await;
        }
    }
    // A worker that forgot it delivered a reminder gets it again under another job key: still one notification.
    let tokyo = &users[0];
    let again = Notify {
        user_id: tokyo.user_id.clone(),
        category: NotificationType::Reminders,
        content: NotificationContent::Reminder {},
        key: key.clone(),
    };
    enqueue::<Notify>(
        api.server.platform.queue.as_ref(),
        NewJob::new(&again)
            .unwrap()
            .idempotency_key("forgotten-run"),
    )
    .await
    .unwrap();
    assert!(api.await_job_done("platform.notify", "forgotten-run").await);

    for ((name, _, in_app, emailed), user) in cases.iter().zip(&users) {
        let list = api.notifications(&user.access, "").await.expect_status(200);
        let reminders: Vec<Value> = list
            .items()
            .into_iter()
            .filter(|n| n["type"] == "reminders")
            .collect();
        assert_eq!(
            reminders.len(),
            usize::from(*in_app),
            "{name}: {reminders:?}"
        );
        if *in_app {
            assert_eq!(reminders[0]["title"], "Time to play and learn", "{name}");
        }
        assert_eq!(
            api.count_mails(&user.email, "Time to play and learn"),
            usize::from(*emailed),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_must_be_a_whole_hour_in_a_known_zone() {
    let api = Api::start().await;
    let user = api.signed_up("shape@example.com").await;
    let reply = api
        .put_notification_preferences(
            &user.access,
            json!({"channels": {}, "reminder": reminder("17:30", "Mars/Olympus")}),
        )
        .await;
    lectern_e2e::api::assert_validation(&reply, "reminder.at");
    lectern_e2e::api::assert_validation(&reply, "reminder.timezone");
}

/// The Monday 08:00:10 UTC at least a week after `now`, and the Monday before it (the week reported on).
fn report_monday(now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let mut day = now.date() + Duration::days(7);
    while day.weekday() != Weekday::Monday {
        day += Duration::days(1);
    }
    let monday = day.with_hms(8, 0, 10).unwrap().assume_utc();
    (monday, monday - Duration::days(7))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weekly_report_reaches_each_parent_with_all_of_their_children_and_no_one_elses() {
    let api = Api::start().await;
    let (monday, week) = report_monday(api.clock().now());
    let wednesday = week + Duration::days(2) + Duration::hours(4);
    api.clock().set(wednesday);
    let admin = api.admin("admin@example.com").await;
    let letters = api
        .published_game(
            &admin,
            game("Letters", (4, 8), "alphabets", &["phonics"], "easy"),
        )
        .await;
    let year = api.clock_year();
    let child = |name: &str, zone: &str| json!({"display_name": name, "birth_year": year - 6, "timezone": zone, "parental_consent": true});
    let first = api.parent("first@example.com").await;
    let ada = api
        .create_profile(&first.access, child("Ada", "UTC"))
        .await
        .expect_status(201)
        .text("profile_id");
    // A second child in another zone: the family's report still goes out once, with the oldest child's zone.
    let bo = api
        .create_profile(&first.access, child("Bo", "Asia/Tokyo"))
        .await
        .expect_status(201)
        .text("profile_id");
    let other = api.parent("other@example.com").await;
    let cy = api
        .create_profile(&other.access, child("Cyprian", "UTC"))
        .await
        .expect_status(201)
        .text("profile_id");
    // The report's email is opt-in: both parents turn it on. The other parent's quiet hours cover Monday
    // morning: the report is in-app at once, its email held.
    let report_by_email = json!({"weekly_report": {"in_app": true, "email": true, "push": false}});
    api.put_notification_preferences(&first.access, json!({"channels": report_by_email}))
        .await
        .expect_status(200);
    api.put_notification_preferences(
        &other.access,
        json!({"channels": report_by_email, "quiet_hours": {"start": "07:00", "end": "09:00", "timezone": "UTC"}}),
    )
    .await
    .expect_status(200);
    let played = (wednesday - Duration::hours(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for (parent, kid, stars) in [(&first, &ada, 3), (&first, &bo, 2), (&other, &cy, 1)] {
        let device = api.device_of(parent, kid).await;
        api.record(
            &device.access,
            kid,
            &format!("weekly-{kid}"),
            result(&letters, 50, stars, &played),
        )
        .await
        .expect_status(201);
    }
    let week_day = week.date().to_string();
    let key = format!("weekly_report:{week_day}");

    // Monday 08:00 in Tokyo: only Bo lives there, and his family's report goes with Ada's zone.
    api.clock().set(monday - Duration::hours(9));
    let tick = api.run_weekly_reports().await;
    assert_eq!((tick.zones, tick.pages_enqueued), (2, 1), "{tick:?}");
    api.await_weekly_page("Asia/Tokyo", &week_day).await;
    // Days passed: the parents sign in again.
    let first_access = api.login(&first.email).await.access;
    assert_eq!(api.unread_count(&first_access).await.body["unread"], 0);

    // Monday 08:00 UTC: both families, once each, however often the job runs.
    api.clock().set(monday);
    let tick = api.run_weekly_reports().await;
    assert_eq!(tick.pages_enqueued, 1, "{tick:?}");
    api.run_weekly_reports().await;
    api.await_weekly_page("UTC", &week_day).await;
    api.await_notified(&first.user_id, &key).await;
    api.await_notified(&other.user_id, &key).await;
    let first_access = api.login(&first.email).await.access;
    let other_access = api.login(&other.email).await.access;

    let reports = |list: Vec<Value>| -> Vec<Value> {
        list.into_iter()
            .filter(|n| n["type"] == "weekly_report")
            .collect()
    };
    let mine = reports(
        api.notifications(&first_access, "")
            .await
            .expect_status(200)
            .items(),
    );
    assert_eq!(mine.len(), 1, "{mine:?}");
    let body = mine[0]["body"].as_str().unwrap();
    assert!(body.contains("Ada") && body.contains("Bo"), "{body}");
    assert!(!body.contains("Cyprian"), "another family's child: {body}");
    assert!(
        !mine[0].to_string().contains(&ada),
        "no profile id is kept: {}",
        mine[0]
    );
    let mail = api
        .mail_containing(&first.email, "Your family's week")
        .await;
    for expected in ["Ada", "Bo", "Letters", &week_day] {
        assert!(mail.contains(expected), "{expected} in {mail}");
    }
    // A longer name than a MIME boundary's random letters are likely to spell.
    assert!(!mail.contains("Cyprian"), "{mail}");

    let theirs = reports(
        api.notifications(&other_access, "")
            .await
            .expect_status(200)
            .items(),
    );
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    let body = theirs[0]["body"].as_str().unwrap();
    assert!(
        body.contains("Cyprian") && !body.contains("Ada") && !body.contains("Bo"),
        "{body}"
    );
    assert_eq!(
        api.count_mails(&other.email, "Your family's week"),
        0,
        "held by quiet hours"
    );
}
