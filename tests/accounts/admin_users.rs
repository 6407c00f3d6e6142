//! `/v1/admin/...`: who may use the admin routes (read from the OpenAPI document), what admins may do to accounts
//! (and not to the last admin), tiers, and the user list's filters and cursors.

use lectern_e2e::api::{Api, Auth, Body, PASSWORD, assert_problem, assert_validation, tamper};
use lectern_e2e::openapi::{Operation, operations};
use reqwest::Method;
use serde_json::json;

/// Every documented admin route.
fn admin_routes() -> Vec<Operation> {
    operations()
        .into_iter()
        .filter(|op| op.under("/v1/admin/"))
        .collect()
}

/// Calls `op` as `caller`, aimed at `target` (a real account, so a missing permission check would succeed), with a
/// well-typed body when it takes one (the most privileged values: see `Operation::sample_body`).
async fn call_on(api: &Api, op: &Operation, caller: &str, target: &str) -> lectern_e2e::api::Reply {
    let path = op.path_with(|_| target.to_string());
    let body = match op.json_body {
        Some(_) => Body::Json(op.sample_body()),
        None => Body::Empty,
    };
    api.send(op.method.clone(), &path, Auth::Bearer(caller), body)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learners_parents_and_instructors_are_forbidden_every_admin_route() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let target = api.signed_up("target@example.com").await;
    let learner = api.signed_up("learner@example.com").await;
    let parent = api
        .sign_up(json!({"email": "parent@example.com", "password": PASSWORD, "display_name": "P", "role": "parent"}))
        .await;
    assert_eq!(api.me(&parent.access).await.body["role"], "parent");
    let instructor = api
        .with_role(&admin, "instructor@example.com", "instructor")
        .await;
    let routes = admin_routes();
    for caller in [&learner, &parent, &instructor] {
        for op in &routes {
            let reply = call_on(&api, op, &caller.access, &target.user_id).await;
            assert_problem(&reply, 403, "forbidden");
        }
        // Not even about themselves.
        let reply = api.set_role(&caller.access, &caller.user_id, "admin").await;
        assert_problem(&reply, 403, "forbidden");
    }
    // Nothing changed: the target is still an active learner with a working session.
    let profile = api.me(&target.access).await;
    assert_eq!(profile.status, 200, "target still signed in");
    assert_eq!(profile.body["role"], "learner");
    assert_eq!(profile.body["status"], "active");
    for caller in [&learner, &parent] {
        assert_ne!(api.me(&caller.access).await.body["role"], "admin");
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_read_users_but_cannot_suspend_change_roles_or_read_the_audit_log() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let target = api.signed_up("target@example.com").await;
    let moderator = api.with_role(&admin, "mod@example.com", "moderator").await;
    let auth = &moderator.access;

    let list = api.admin_users(auth, "").await.expect_status(200);
    assert!(
        list.items()
            .iter()
            .any(|u| u["user_id"] == target.user_id.as_str())
    );
    let one = api
        .admin_user(auth, &target.user_id)
        .await
        .expect_status(200);
    assert_eq!(one.body["email"], "target@example.com");
    assert!(one.body.get("password_hash").is_none(), "no secrets: {one}");

    // Every other admin route (anything but reading users and their statistics) is refused — but the question
    // review queue, which is the moderators' own work (tests/exams/moderation.rs).
    let reads_users = |op: &Operation| {
        op.method == Method::GET && (op.under("/v1/admin/users") || op.path == "/v1/admin/stats")
    };
    let reviews = |op: &Operation| op.under("/v1/admin/questions");
    for op in admin_routes()
        .iter()
        .filter(|op| !reads_users(op) && !reviews(op))
    {
        let reply = call_on(&api, op, auth, &target.user_id).await;
        assert_problem(&reply, 403, "forbidden");
    }
    let profile = api.me(&target.access).await;
    assert_eq!(profile.status, 200, "not logged out");
    assert_eq!(profile.body["status"], "active");
    assert_eq!(profile.body["role"], "learner");
    assert_eq!(
        api.me(auth).await.body["role"],
        "moderator",
        "did not promote itself"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_actions_keep_an_admin_and_suspension_stops_tokens_and_keys_at_once() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let user = api.signed_up("user@example.com").await;
    let (key, _) = api
        .new_key(
            &user.access,
            json!({"name": "k", "scopes": ["self:manage"]}),
        )
        .await;
    let auth = &admin.access;
    let on_user = async |action: &str| api.admin_action(auth, &user.user_id, action).await;

    // The last admin can neither demote nor suspend itself.
    let reply = api.set_role(auth, &admin.user_id, "learner").await;
    assert_problem(&reply, 409, "conflict");
    let reply = api.admin_action(auth, &admin.user_id, "suspend").await;
    assert_problem(&reply, 409, "conflict");
    assert_eq!(api.me(auth).await.body["role"], "admin");

    // Activating an active account.
    assert_problem(&on_user("activate").await, 409, "conflict");
    let reply = on_user("suspend").await.expect_status(200);
    assert_eq!(reply.body["status"], "suspended");
    assert_problem(&api.me(&user.access).await, 401, "unauthenticated");
    assert_problem(&api.me(Auth::Key(&key)).await, 401, "unauthenticated");
    let login = api.login_with("user@example.com", PASSWORD).await;
    assert!(login.status.is_client_error(), "{login}");
    assert!(login.body["access_token"].is_null());

    on_user("activate").await.expect_status(200);
    assert_eq!(
        api.me(Auth::Key(&key)).await.status,
        200,
        "keys work again after activation"
    );
    let again = api.login("user@example.com").await;
    let reply = on_user("force-logout").await.expect_status(200);
    assert_eq!(reply.body["sessions_ended"], 1);
    assert_problem(&api.me(&again.access).await, 401, "unauthenticated");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_change_the_tier_and_the_change_is_audited() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let target = api.signed_up("tier@example.com").await;
    let set_tier = async |body| api.set_tier(&admin.access, &target.user_id, body).await;

    for bad in [
        json!({"tier": "gold"}),
        json!({"tier": "premium", "role": "admin"}),
        json!({}),
    ] {
        assert_problem(&set_tier(bad).await, 400, "validation");
    }
    assert_eq!(
        api.me(&target.access).await.body["tier"],
        "free",
        "nothing changed"
    );

    let reply = set_tier(json!({"tier": "premium"}))
        .await
        .expect_status(200);
    assert_eq!(reply.body["tier"], "premium");
    assert_eq!(api.me(&target.access).await.body["tier"], "premium");

    let log = api
        .audit_logs(&admin.access, "action=tier_changed&limit=10")
        .await
        .expect_status(200);
    let event = &log.body["items"][0];
    assert_eq!(event["target_id"], target.user_id.as_str());
    assert_eq!(event["actor_id"], admin.user_id.as_str());
    assert_eq!(event["details"]["to"], "premium");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_user_list_refuses_mixed_filters_and_binds_cursors_to_them() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    for name in ["ann", "ben", "cat", "dan", "eve"] {
        api.signed_up(&format!("{name}@example.com")).await;
    }
    let auth = &admin.access;
    let users = async |query: &str| api.admin_users(auth, query).await;

    // The search/filter refusals come from the use case and name the bare parameter (`email`, `status`).
    for (query, field) in [
        ("email=ann&role=learner", "email"),
        ("email=ann&status=active", "email"),
        ("status=active", "status"),
        ("role=superuser", "query.role"),
        ("role=learner&status=gone", "query.status"),
        ("limit=0", "query.limit"),
        ("limit=101", "query.limit"),
        ("cursor=forged", "query.cursor"),
        ("sort=email", "query.sort"),
    ] {
        assert_validation(&users(query).await, field);
    }

    let (learners, pages) = api
        .all_pages("/v1/admin/users?limit=2&role=learner", auth)
        .await;
    assert_eq!(learners.len(), 5, "{learners:?}");
    assert!(pages >= 3);
    assert!(learners.iter().all(|u| u["role"] == "learner"));
    let (active, _) = api
        .all_pages("/v1/admin/users?limit=2&role=learner&status=active", auth)
        .await;
    assert_eq!(active, learners);
    assert_eq!(users("role=admin").await.items().len(), 1);
    let found = users("email=BE").await.items();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["email"], "ben@example.com");

    let cursor = users("limit=2&role=learner").await.text("next_cursor");
    for query in [
        format!("limit=2&role=parent&cursor={cursor}"),
        format!("limit=2&cursor={cursor}"),
        format!("limit=2&role=learner&status=active&cursor={cursor}"),
        format!("limit=2&email=a&cursor={cursor}"),
        format!("limit=2&role=learner&cursor={}", tamper(&cursor)),
    ] {
        assert_validation(&users(&query).await, "query.cursor");
    }
    let next = users(&format!("limit=2&role=learner&cursor={cursor}"))
        .await
        .expect_status(200);
    assert_eq!(
        &next.items()[..],
        &learners[2..4],
        "the second page follows the first"
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_bootstrap_promotes_only_an_address_verified_through_its_link() {
    use lectern_accounts::errors::AccountError;
    use lectern_accounts::service::admin::AdminBootstrap::{AllowUnverified, RequireVerified};

    let api = Api::start().await;
    let accounts = lectern_e2e::test_accounts(api.server.platform.clone());
    // Someone registers the bootstrap address before its owner: the link went to the owner, so it is unverified.
    let squatter = "boss@example.com";
    api.register(squatter, PASSWORD).await.expect_status(202);
    let refused = accounts.bootstrap_admin(squatter, RequireVerified).await;
    assert!(
        matches!(refused, Err(AccountError::Forbidden(_))),
        "{refused:?}"
    );
    let profile = api.me(&api.login(squatter).await.access).await;
    assert_eq!(profile.body["role"], "learner");
    assert_eq!(
        profile.body["email_verified"], false,
        "the bootstrap never sets the flag"
    );

    // Someone moves their own verified account to the bootstrap address: it is unverified again until the link
    // mailed to that address is opened.
    let mover = api.signed_up("mover@example.com").await;
    api.change_email(&mover.access, "ops@example.com", PASSWORD)
        .await
        .expect_status(202);
    let refused = accounts
        .bootstrap_admin("ops@example.com", RequireVerified)
        .await;
    assert!(
        matches!(refused, Err(AccountError::Forbidden(_))),
        "{refused:?}"
    );
    let profile = api.me(&api.fresh_access(&mover).await).await;
    assert_eq!(profile.body["role"], "learner");
    assert_eq!(profile.body["email_verified"], false);

    // An account whose current address was verified through its link is promoted, once, and it is audited.
    let owner = api.signed_up("owner@example.com").await;
    assert!(matches!(
        accounts
            .bootstrap_admin(&owner.email, RequireVerified)
            .await,
        Ok(true)
    ));
    assert!(matches!(
        accounts
            .bootstrap_admin(&owner.email, RequireVerified)
            .await,
        Ok(false)
    ));
    let admin = api.login(&owner.email).await;
    let log = api
        .audit_logs(&admin.access, "action=role_changed&limit=10")
        .await
        .expect_status(200);
    let event = log.event("role_changed");
    assert_eq!(event["target_id"], owner.user_id.as_str());
    assert_eq!(event["actor_id"], serde_json::Value::Null);
    assert_eq!(event["details"]["via"], "bootstrap");
    assert_eq!(event["details"]["to"], "admin");
    api.stop().await;

    // An operator may vouch for an unverified account (`make-admin --allow-unverified`); it stays unverified.
    let api = Api::start().await;
    let accounts = lectern_e2e::test_accounts(api.server.platform.clone());
    api.register("vouched@example.com", PASSWORD)
        .await
        .expect_status(202);
    assert!(matches!(
        accounts
            .bootstrap_admin("vouched@example.com", AllowUnverified)
            .await,
        Ok(true)
    ));
    let profile = api.me(&api.login("vouched@example.com").await.access).await;
    assert_eq!(profile.body["role"], "admin");
    assert_eq!(profile.body["email_verified"], false);
    api.stop().await;
}
