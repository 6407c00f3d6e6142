//! `GET /v1/admin/stats`: counters kept with each event (registration, role, tier and status changes, deletion,
//! erasure) and per UTC day (sign-ups, accounts active), read in one batch.

use std::time::Duration;

use lectern_e2e::api::{Api, assert_problem};
use serde_json::json;

async fn stats(api: &Api, token: &str, days: u32) -> serde_json::Value {
    api.admin_stats(token, days).await.expect_status(200).body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_follow_registrations_role_tier_and_status_changes_deletions_and_daily_activity() {
    let api = Api::start().await;
    let admin = api.admin("stats.admin@example.com").await;
    let learner = api.signed_up("stats.learner@example.com").await;
    let leaving = api.signed_up("stats.leaving@example.com").await;
    api.admin_action(&admin.access, &learner.user_id, "suspend")
        .await
        .expect_status(200);
    api.set_tier(&admin.access, &learner.user_id, json!({"tier": "premium"}))
        .await
        .expect_status(200);
    // A tier set to what it is changes nothing, and counts nothing.
    api.set_tier(&admin.access, &learner.user_id, json!({"tier": "premium"}))
        .await
        .expect_status(200);
    api.delete_me(&leaving.access).await.expect_status(202);

    let today = stats(&api, &admin.access, 2).await;
    assert_eq!(
        today["accounts"],
        json!({
            "by_role": {"admin": 1, "learner": 2},
            "by_tier": {"free": 2, "premium": 1},
            "by_status": {"active": 1, "suspended": 1, "deleted": 1}
        }),
        "{today}"
    );
    let days = today["days"].as_array().unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0]["signups"], 3);
    // Every account signed in today (the admin twice: once before the promotion, once after): counted once each.
    assert_eq!(days[0]["active"], 3);
    assert_eq!(days[1]["signups"], 0);

    // The next day: a sign-in and a refresh of the admin count once.
    api.clock().advance(Duration::from_secs(24 * 3600));
    let again = api.login("stats.admin@example.com").await;
    api.refresh(&again.refresh).await.expect_status(200);
    let next = stats(&api, &again.access, 2).await;
    assert_eq!(
        next["days"][0],
        json!({"day": next["days"][0]["day"], "signups": 0, "active": 1})
    );
    assert_eq!(next["days"][1]["signups"], 3, "yesterday kept its counts");
    assert_eq!(next["days"][1]["active"], 3);

    // Past the grace period the deleted account is erased, and leaves the totals with its erasure.
    api.purged_after_grace(&leaving.user_id).await;
    let admin = api.login("stats.admin@example.com").await;
    let after = stats(&api, &admin.access, 1).await;
    assert_eq!(
        after["accounts"],
        json!({
            "by_role": {"admin": 1, "learner": 1},
            "by_tier": {"free": 1, "premium": 1},
            "by_status": {"active": 1, "suspended": 1, "deleted": 0}
        }),
        "{after}"
    );
}

#[tokio::test]
async fn only_user_readers_see_the_stats_and_days_are_bounded() {
    let api = Api::start().await;
    let admin = api.admin("stats.bounds@example.com").await;
    let learner = api.signed_up("stats.nosy@example.com").await;
    assert_problem(
        &api.get("/v1/admin/stats", Some(&learner.access)).await,
        403,
        "forbidden",
    );
    for days in ["0", "91"] {
        let reply = api
            .get(&format!("/v1/admin/stats?days={days}"), Some(&admin.access))
            .await;
        assert_problem(&reply, 400, "validation");
        assert_eq!(reply.fields(), ["query.days"]);
    }
    let body = api
        .get("/v1/admin/stats", Some(&admin.access))
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        body["days"].as_array().map(Vec::len),
        Some(30),
        "30 days by default"
    );
}

#[tokio::test]
async fn the_one_time_recount_restores_totals_and_sign_ups_of_a_deployment_that_had_no_counters() {
    use lectern_accounts::stats::{DAY, TOTALS, day_of};
    use lectern_shared::clock::Clock;
    use lectern_shared::table::Condition;
    let api = Api::start().await;
    let admin = api.admin("recount.admin@example.com").await;
    let learner = api.signed_up("recount.learner@example.com").await;
    api.admin_action(&admin.access, &learner.user_id, "suspend")
        .await
        .expect_status(200);
    let counted = stats(&api, &admin.access, 1).await;

    // As on a deployment upgraded from a version without counters: none stored.
    let table = &api.server.platform.table;
    let today = day_of(api.clock().epoch_seconds());
    for key in [TOTALS.key(&[], &[]), DAY.key(&[], &[&today])] {
        table.delete(&key, Condition::Always).await.unwrap();
    }
    assert_eq!(
        stats(&api, &admin.access, 1).await["accounts"]["by_role"],
        json!({})
    );

    let accounts = lectern_e2e::test_accounts(api.server.platform.clone());
    let recounted = accounts.recount_stats().await.expect("recount");
    let after = stats(&api, &admin.access, 1).await;
    assert_eq!(after["accounts"], serde_json::to_value(&recounted).unwrap());
    let mut expected = counted["accounts"].clone();
    // The recount names every role, tier and status, with zeros.
    for (group, name) in [
        ("by_role", "parent"),
        ("by_role", "instructor"),
        ("by_role", "moderator"),
        ("by_role", "learner"),
        ("by_tier", "premium"),
        ("by_status", "deleted"),
    ] {
        let entry = &mut expected[group][name];
        if entry.is_null() {
            *entry = json!(0);
        }
    }
    assert_eq!(after["accounts"], expected);
    assert_eq!(after["days"][0]["signups"], 2);
    assert_eq!(
        after["days"][0]["active"], 0,
        "past activity cannot be recovered"
    );
}
