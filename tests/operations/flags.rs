//! `/v1/flags` and `/v1/admin/flags`: rollouts split by stable buckets, targeting by role, tier, age band and
//! locale, variants, validation, permissions and audit.

use std::collections::BTreeSet;

use lectern_e2e::api::{Api, assert_problem};
use lectern_operations::Operations;
use lectern_operations::flags::Context;
use serde_json::json;

#[tokio::test]
async fn a_flag_at_fifty_percent_splits_ten_thousand_ids_within_two_percent_and_each_caller_keeps_its_answer()
 {
    let api = Api::start().await;
    let admin = api.admin("flags.split@example.com").await;
    api.put_flag(
        &admin.access,
        "new-home",
        json!({"enabled": true, "rollout_percent": 50, "description": "The new home screen"}),
    )
    .await
    .expect_status(200);

    // The stored flag, evaluated by the same service the settings function runs, for 10 000 account ids (ULIDs,
    // as accounts have): registering 10 000 accounts over HTTP would measure argon2, not the split.
    let ops = Operations::new(api.server.platform.clone());
    let mut enabled = 0;
    for _ in 0..10_000 {
        let ctx = Context {
            account_id: lectern_shared::ids::new_id(),
            roles: ["learner".to_string()].into(),
            tier: "free".into(),
            ..Context::default()
        };
        if ops.evaluate_flags(&ctx).await["new-home"].enabled {
            enabled += 1;
        }
    }
    assert!(
        (4_800..=5_200).contains(&enabled),
        "{enabled} of 10 000 ids"
    );

    // Over HTTP: a caller's answer is the evaluation of its own id, and it does not change between requests.
    let mut seen = BTreeSet::new();
    for i in 0..12 {
        let user = api.signed_up(&format!("flags.split.{i}@example.com")).await;
        let first = api.my_flags(&user.access, "").await.expect_status(200);
        let again = api.my_flags(&user.access, "").await.expect_status(200);
        assert_eq!(first.body, again.body);
        let expected = lectern_operations::flags::bucket("new-home", &user.user_id) < 5_000;
        assert_eq!(
            first.body["flags"]["new-home"]["enabled"], expected,
            "{first}"
        );
        seen.insert(expected);
    }
    assert_eq!(seen.len(), 2, "twelve accounts, some in and some out");
}

#[tokio::test]
async fn targeting_by_tier_role_age_band_and_locale_follows_the_caller() {
    let api = Api::start().await;
    let admin = api.admin("flags.target@example.com").await;
    let learner = api.signed_up("flags.learner@example.com").await;
    api.put_flag(
        &admin.access,
        "catalog.grid",
        json!({
            "enabled": true,
            "targeting": {"roles": ["learner"], "tiers": ["premium"], "age_bands": ["6-7", "8-10"], "locales": ["pt"]},
            "variants": ["control", "grid"]
        }),
    )
    .await
    .expect_status(200);
    let flag = async |query: &str| {
        api.my_flags(&learner.access, query)
            .await
            .expect_status(200)
            .body["flags"]["catalog.grid"]
            .clone()
    };

    assert_eq!(
        flag("locale=pt-BR&age_band=6-7").await["enabled"],
        false,
        "a free account"
    );
    api.set_tier(&admin.access, &learner.user_id, json!({"tier": "premium"}))
        .await
        .expect_status(200);
    let on = flag("locale=pt-BR&age_band=6-7").await;
    assert_eq!(on["enabled"], true, "premium now, at once");
    assert!(["control", "grid"].contains(&on["variant"].as_str().unwrap()));
    assert_eq!(
        flag("locale=pt-BR&age_band=6-7").await,
        on,
        "the same variant every time"
    );
    assert_eq!(
        flag("locale=en&age_band=6-7").await["enabled"],
        false,
        "another locale"
    );
    assert_eq!(
        flag("locale=pt&age_band=14-17").await["enabled"],
        false,
        "another age band"
    );
    assert_eq!(flag("").await["enabled"], false, "nothing declared");
    assert_eq!(
        api.my_flags(&admin.access, "locale=pt&age_band=6-7")
            .await
            .body["flags"]["catalog.grid"]["enabled"],
        false,
        "an admin is not a learner"
    );

    let bad = api
        .my_flags(&learner.access, "locale=english!&age_band=5-6")
        .await;
    assert_problem(&bad, 400, "validation");
    assert_eq!(bad.fields(), ["query.locale", "query.age_band"]);
    assert_problem(
        &api.my_flags("not-a-token", "").await,
        401,
        "unauthenticated",
    );
}

#[tokio::test]
async fn admins_create_change_and_delete_flags_each_change_audited_and_seen_at_once() {
    let api = Api::start().await;
    let admin = api.admin("flags.crud@example.com").await;
    let learner = api.signed_up("flags.crud.learner@example.com").await;
    assert_eq!(
        api.my_flags(&learner.access, "").await.body,
        json!({"flags": {}})
    );

    api.put_flag(&admin.access, "quiz.timer", json!({"enabled": true}))
        .await
        .expect_status(200);
    assert_eq!(
        api.my_flags(&learner.access, "").await.body["flags"]["quiz.timer"]["enabled"],
        true
    );
    let off = api
        .put_flag(
            &admin.access,
            "quiz.timer",
            json!({"enabled": false, "description": "paused"}),
        )
        .await
        .expect_status(200);
    assert_eq!(off.body["rule"]["enabled"], false);
    assert_eq!(
        api.my_flags(&learner.access, "").await.body["flags"]["quiz.timer"]["enabled"],
        false
    );
    let list = api.admin_flags(&admin.access).await.expect_status(200);
    assert_eq!(list.items().len(), 1);
    assert_eq!(list.items()[0]["rule"]["description"], "paused");

    api.delete_flag(&admin.access, "quiz.timer")
        .await
        .expect_status(204);
    assert_problem(
        &api.delete_flag(&admin.access, "quiz.timer").await,
        404,
        "not-found",
    );
    assert_eq!(
        api.my_flags(&learner.access, "").await.body,
        json!({"flags": {}})
    );

    let audit = api
        .audit_logs(&admin.access, "action=flag_changed")
        .await
        .expect_status(200);
    let events = audit.items();
    assert_eq!(events.len(), 3, "{audit}");
    assert_eq!(events[0]["details"]["key"], "quiz.timer");
    assert!(
        events[0]["details"]["after"].is_null(),
        "the newest is the deletion"
    );
    assert_eq!(events[2]["details"]["after"]["enabled"], true);
}

#[tokio::test]
async fn bad_flags_are_refused_field_by_field_and_learners_cannot_write_them() {
    let api = Api::start().await;
    let admin = api.admin("flags.bad@example.com").await;
    let learner = api.signed_up("flags.bad.learner@example.com").await;
    let bad = api
        .put_flag(
            &admin.access,
            "ok-key",
            json!({
                "enabled": true,
                "rollout_percent": 101,
                "targeting": {"roles": ["wizard"], "tiers": ["gold"]},
                "variants": ["a", "a"]
            }),
        )
        .await;
    assert_problem(&bad, 400, "validation");
    assert_eq!(
        bad.fields(),
        [
            "rollout_percent",
            "targeting.roles[0]",
            "targeting.tiers[0]",
            "variants[1]"
        ]
    );
    let bad_key = api
        .put_flag(&admin.access, "Not_A_Key", json!({"enabled": true}))
        .await;
    assert_problem(&bad_key, 400, "validation");
    assert_eq!(bad_key.fields(), ["path.key"]);
    assert_problem(
        &api.put_flag(&learner.access, "ok-key", json!({"enabled": true}))
            .await,
        403,
        "forbidden",
    );
    assert_problem(&api.admin_flags(&learner.access).await, 403, "forbidden");
    assert_problem(
        &api.delete_flag(&learner.access, "ok-key").await,
        403,
        "forbidden",
    );
    assert!(api.admin_flags(&admin.access).await.items().is_empty());
}
