//! `POST /v1/admin/users/bulk`: one action on many accounts, by ids or a filter, answered per account, each change
//! audited like its single-account route.

use lectern_e2e::api::{Api, assert_problem};
use serde_json::{Value, json};

fn outcomes(reply: &lectern_e2e::api::Reply) -> Vec<(String, String)> {
    reply.body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {reply}"))
        .iter()
        .map(|r| {
            (
                r["user_id"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_suspend_answers_each_account_refuses_the_admin_itself_and_audits_each_change() {
    let api = Api::start().await;
    let admin = api.admin("bulk.admin@example.com").await;
    let a = api.signed_up("bulk.a@example.com").await;
    let b = api.signed_up("bulk.b@example.com").await;
    let nobody = lectern_shared::ids::new_id();
    let reply = api
        .admin_bulk(
            &admin.access,
            json!({"action": "suspend", "user_ids": [a.user_id, b.user_id, a.user_id, nobody, admin.user_id]}),
        )
        .await
        .expect_status(200);
    assert_eq!(
        outcomes(&reply),
        [
            (a.user_id.clone(), "ok".into()),
            (b.user_id.clone(), "ok".into()),
            (nobody.clone(), "not_found".into()),
            (admin.user_id.clone(), "refused".into()),
        ]
    );
    assert_eq!(reply.body["results"][0]["user"]["status"], "suspended");
    assert!(
        reply.body["results"][3]["detail"]
            .as_str()
            .unwrap()
            .contains("your own")
    );
    // Suspension took effect at once, exactly as the single route's does.
    assert_problem(&api.me(&a.access).await, 401, "unauthenticated");
    api.me(&admin.access).await.expect_status(200);
    let audit = api
        .audit_logs(&admin.access, "action=suspended")
        .await
        .expect_status(200);
    assert_eq!(audit.items().len(), 2);

    // Activating again: b was suspended (ok), the admin was not (refused, with why).
    let again = api
        .admin_bulk(
            &admin.access,
            json!({"action": "activate", "user_ids": [b.user_id, admin.user_id]}),
        )
        .await
        .expect_status(200);
    assert_eq!(
        outcomes(&again),
        [
            (b.user_id.clone(), "ok".into()),
            (admin.user_id.clone(), "refused".into())
        ]
    );
}

#[tokio::test]
async fn a_filter_selects_accounts_a_page_at_a_time_and_tiers_change_for_each() {
    let api = Api::start().await;
    let admin = api.admin("bulk.filter@example.com").await;
    let mut learners = Vec::new();
    for i in 0..3 {
        learners.push(api.signed_up(&format!("bulk.filter.{i}@example.com")).await);
    }
    let reply = api
        .admin_bulk(
            &admin.access,
            json!({"action": "set_tier", "tier": "premium", "filter": {"role": "learner", "status": "active"}}),
        )
        .await
        .expect_status(200);
    let results = reply.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{reply}");
    assert!(
        results
            .iter()
            .all(|r| r["outcome"] == "ok" && r["user"]["tier"] == "premium")
    );
    assert!(reply.body["next_cursor"].is_null());
    for learner in &learners {
        assert_eq!(
            api.admin_user(&admin.access, &learner.user_id).await.body["tier"],
            "premium"
        );
    }
    let stats = api.admin_stats(&admin.access, 1).await.expect_status(200);
    assert_eq!(stats.body["accounts"]["by_tier"]["premium"], 3);
    let audit = api
        .audit_logs(&admin.access, "action=tier_changed")
        .await
        .expect_status(200);
    assert_eq!(audit.items().len(), 3);
}

#[tokio::test]
async fn a_bulk_delete_soft_deletes_and_the_owner_can_still_restore_by_signing_in() {
    let api = Api::start().await;
    let admin = api.admin("bulk.delete@example.com").await;
    let user = api.signed_up("bulk.deleted@example.com").await;
    let reply = api
        .admin_bulk(
            &admin.access,
            json!({"action": "delete", "user_ids": [user.user_id]}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["results"][0]["user"]["status"], "deleted");
    assert_problem(&api.me(&user.access).await, 401, "unauthenticated");
    let audit = api
        .audit_logs(&admin.access, "action=account_deleted")
        .await
        .expect_status(200);
    assert_eq!(audit.items()[0]["actor_id"], admin.user_id.as_str());
    let restored = api.login("bulk.deleted@example.com").await;
    assert_eq!(api.me(&restored.access).await.body["status"], "active");
}

#[tokio::test]
async fn bad_bulk_requests_are_refused_and_need_users_manage() {
    let api = Api::start().await;
    let admin = api.admin("bulk.bad@example.com").await;
    let moderator = api
        .with_role(&admin, "bulk.moderator@example.com", "moderator")
        .await;
    let ids: Vec<Value> = (0..101)
        .map(|_| lectern_shared::ids::new_id().into())
        .collect();
    for (body, field) in [
        (json!({"action": "suspend", "user_ids": ids}), "user_ids"),
        (json!({"action": "suspend", "user_ids": []}), "user_ids"),
        (json!({"action": "suspend"}), "user_ids"),
        (
            json!({"action": "suspend", "user_ids": [admin.user_id], "filter": {"role": "learner"}}),
            "user_ids",
        ),
        (
            json!({"action": "set_tier", "user_ids": [admin.user_id]}),
            "tier",
        ),
        (
            json!({"action": "suspend", "tier": "premium", "user_ids": [admin.user_id]}),
            "tier",
        ),
        (
            json!({"action": "suspend", "user_ids": [admin.user_id], "cursor": "x"}),
            "cursor",
        ),
    ] {
        let reply = api.admin_bulk(&admin.access, body).await;
        assert_problem(&reply, 400, "validation");
        assert_eq!(reply.fields(), [field], "{reply}");
    }
    let forbidden = api
        .admin_bulk(
            &moderator.access,
            json!({"action": "suspend", "user_ids": [admin.user_id]}),
        )
        .await;
    assert_problem(&forbidden, 403, "forbidden");
    api.me(&admin.access).await.expect_status(200);
}
