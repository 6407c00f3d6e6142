//! The owner's account, `/v1/users/me`: the profile and its settings, the password, the email address, deletion.

use std::time::Duration;

use lectern_e2e::api::{Api, Auth, PASSWORD, assert_problem, assert_validation};
use serde_json::{Map, Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_patch_refuses_privileged_unknown_and_invalid_fields_and_changes_nothing() {
    let api = Api::start().await;
    let user = api.signed_up("patch@example.com").await;
    let patch = async |body: Value| api.patch_me(&user.access, body).await;

    let before = api.me(&user.access).await.body;
    for (body, field) in [
        (json!({"role": "admin"}), "role"),
        (json!({"email": "other@example.com"}), "email"),
        (json!({"status": "active"}), "status"),
        (json!({"tier": "premium"}), "tier"),
        (json!({"is_admin": true}), "is_admin"),
        (json!({"theme": "dark", "role": "admin"}), "role"),
        (json!({"locale": "english!"}), "locale"),
        (json!({"locale": "e"}), "locale"),
        (json!({"timezone": "/etc/passwd"}), "timezone"),
        (json!({"timezone": "Europe//Paris"}), "timezone"),
        (json!({"timezone": "a".repeat(65)}), "timezone"),
        // Well formed but unknown, and a trailing slash: the zone must be one the database knows (the same rule as
        // a child profile's, since reminders and quiet hours are counted in it).
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"timezone": "Europe/"}), "timezone"),
        (json!({"theme": "neon"}), "theme"),
        (json!({"theme": "dark", "locale": "!!"}), "locale"),
        (json!({"display_name": ""}), "display_name"),
        (
            json!({"accessibility": {"nested": {"deep": true}}}),
            "accessibility",
        ),
        (json!({"accessibility": {"list": [1, 2]}}), "accessibility"),
        (
            json!({"accessibility": {"bad key!": true}}),
            "accessibility",
        ),
        (
            json!({"accessibility": {"long": "x".repeat(65)}}),
            "accessibility",
        ),
        (
            json!({"notifications": {"email": {"digest": false}}}),
            "notifications",
        ),
        (
            json!({"notifications": {"null_is_not_a_flag": null}}),
            "notifications",
        ),
    ] {
        assert_validation(&patch(body).await, field);
    }
    let oversized: Map<String, Value> = (0..33)
        .map(|i| (format!("flag_{i}"), json!(true)))
        .collect();
    for field in ["accessibility", "notifications"] {
        let reply = patch(json!({ field: oversized.clone() })).await;
        assert_validation(&reply, field);
    }
    let after = api.me(&user.access).await.body;
    assert_eq!(before, after, "a refused patch changes nothing");

    // A valid patch changes exactly what it names.
    patch(json!({"locale": "pt-BR", "accessibility": {"reduced_motion": true, "font_scale": "large"}}))
        .await
        .expect_status(200);
    patch(json!({"theme": "dark"})).await.expect_status(200);
    let after = api.me(&user.access).await.body;
    assert_eq!(after["theme"], "dark");
    assert_eq!(after["locale"], "pt-BR", "an earlier patch is kept");
    assert_eq!(after["accessibility"]["font_scale"], "large");
    assert_eq!(after["timezone"], Value::Null);
    for untouched in [
        "display_name",
        "email",
        "role",
        "tier",
        "status",
        "email_verified",
        "notifications",
        "created_at",
        "user_id",
    ] {
        assert_eq!(after[untouched], before[untouched], "{untouched}");
    }
    let mut full: Map<String, Value> = (0..32).map(|i| (format!("flag_{i}"), json!(i))).collect();
    full.insert("flag_0".into(), json!("x".repeat(64)));
    let reply =
        patch(json!({"notifications": full, "timezone": "America/Argentina/Buenos_Aires"})).await;
    assert_eq!(reply.status, 200, "32 flags are fine: {reply}");
    assert_eq!(reply.body["timezone"], "America/Argentina/Buenos_Aires");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_and_changing_email_need_a_recent_sign_in() {
    let api = Api::start().await;
    let user = api.signed_up("stale@example.com").await;
    api.clock().advance(Duration::from_secs(11 * 60));
    let access = api.fresh_access(&user).await;
    assert_eq!(api.me(&access).await.status, 200);

    let reply = api.delete_me(&access).await;
    assert_problem(&reply, 403, "reauthentication-required");
    let reply = api
        .change_email(&access, "fresh@example.com", PASSWORD)
        .await;
    assert_problem(&reply, 403, "reauthentication-required");
    let profile = api.me(&access).await;
    assert_eq!(profile.body["email"], "stale@example.com");
    assert_eq!(profile.body["status"], "active");

    // An API key is never a signed-in session.
    let (key, _) = api
        .new_key(
            &user.access,
            json!({"name": "k", "scopes": ["self:manage"]}),
        )
        .await;
    let reply = api.delete_me(Auth::Key(&key)).await;
    assert_problem(&reply, 403, "forbidden");

    // Signing in again makes both possible.
    let fresh = api.login("stale@example.com").await;
    api.change_email(&fresh.access, "fresh@example.com", PASSWORD)
        .await
        .expect_status(202);
    let reply = api.delete_me(&fresh.access).await.expect_status(202);
    assert!(reply.body["purge_after"].is_i64());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_checks_both_passwords_and_ends_other_sessions() {
    let api = Api::start().await;
    let email = "pw@example.com";
    let first = api.signed_up(email).await;
    let second = api.login(email).await;
    let change = async |body: Value| api.change_password(&first.access, body).await;
    let new_password = "a different long passphrase";

    let reply =
        change(json!({"current_password": "not my password at all", "new_password": new_password}))
            .await;
    assert_validation(&reply, "current_password");
    // The policy names the field as the request does: `new_password`.
    for weak in ["short", "password123", "pw@example.com!!"] {
        let reply = change(json!({"current_password": PASSWORD, "new_password": weak})).await;
        assert_validation(&reply, "new_password");
    }
    let reply = change(json!({"current_password": PASSWORD})).await;
    assert_validation(&reply, "new_password");
    assert_eq!(
        api.me(&second.access).await.status,
        200,
        "refusals end nothing"
    );
    assert_eq!(api.count_mails(email, "password was changed"), 0);

    change(json!({"current_password": PASSWORD, "new_password": new_password}))
        .await
        .expect_status(204);

    let other = api.me(&second.access).await;
    assert_problem(&other, 401, "unauthenticated");
    let other = api.refresh(&second.refresh).await;
    assert!(
        other.status.is_client_error(),
        "other session's refresh: {other}"
    );
    assert_eq!(api.me(&first.access).await.status, 200);
    assert_eq!(
        api.me(&api.fresh_access(&first).await).await.status,
        200,
        "this session keeps working"
    );

    let old = api.login_with(email, PASSWORD).await;
    assert_problem(&old, 401, "invalid-credentials");
    api.login_with(email, new_password).await.expect_status(200);

    api.mail_containing(email, "password was changed").await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_tells_the_owner_how_to_restore_it() {
    let api = Api::start().await;
    let user = api.signed_up("leaving@example.com").await;
    let purge_after = api.delete_me(&user.access).await.expect_status(202).body["purge_after"]
        .as_i64()
        .expect("purge_after");
    let mail = api.mail_containing(&user.email, "was deleted").await;
    let until = time::OffsetDateTime::from_unix_timestamp(purge_after).unwrap();
    let day = format!("{} {} {}", until.day(), until.month(), until.year());
    assert!(mail.contains(&day), "says until when ({day}): {mail}");
    assert!(mail.contains("sign in before"), "{mail}");
    api.stop().await;
}
