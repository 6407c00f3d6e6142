//! `/v1/auth/2fa/*`: setup and enable, disable, and the challenges of a sign-in with a second factor.

use std::time::Duration;

use lectern_e2e::api::{Api, PASSWORD, assert_problem};
use lectern_e2e::encoding::{base32_decode, jwt_parts};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_enable_needs_setup_and_a_right_code() {
    let api = Api::start().await;
    let user = api.signed_up("enable@example.com").await;
    assert_problem(
        &api.enable_2fa(&user.access, "123456").await,
        409,
        "conflict",
    );

    let setup = api.setup_2fa(&user.access).await.expect_status(200);
    let secret = base32_decode(&setup.text("secret"));
    for bad in [
        api.wrong_code(&secret),
        "12345".into(),
        "abcdef".into(),
        "".into(),
    ] {
        let reply = api.enable_2fa(&user.access, &bad).await;
        assert_problem(&reply, 401, "invalid-code");
    }
    // Not enabled by the failures: sign-in still needs no code, and disabling says it is off.
    let login = api.login_with(&user.email, PASSWORD).await;
    assert_eq!(login.body["status"], "authenticated", "{login}");
    let reply = api.disable_2fa(&user.access, PASSWORD, "123456").await;
    assert_problem(&reply, 409, "conflict");

    api.enrol_2fa(&api.login(&user.email).await).await;
    // Already on: a second setup is refused.
    let fresh = api.fresh_access(&user).await;
    assert_problem(&api.setup_2fa(&fresh).await, 409, "conflict");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_setup_and_enable_need_a_recent_sign_in_which_refresh_does_not_renew() {
    let api = Api::start().await;
    let user = api.signed_up("stale@example.com").await;
    let reply = api.setup_2fa(&user.access).await;
    assert_eq!(reply.status, 200, "fresh sign-in may set up: {reply}");
    let secret = base32_decode(&reply.text("secret"));

    api.clock().advance(Duration::from_secs(601));
    let access = api.fresh_access(&user).await;
    let (_, claims, _) = jwt_parts(&access);
    let (_, first_claims, _) = jwt_parts(&user.access);
    assert_eq!(
        claims["auth_time"], first_claims["auth_time"],
        "refresh keeps auth_time"
    );

    let reply = api.setup_2fa(&access).await;
    assert_problem(&reply, 403, "reauthentication-required");
    let reply = api.enable_2fa(&access, &api.totp_now(&secret)).await;
    assert_problem(&reply, 403, "reauthentication-required");

    // Signing in again makes it recent.
    let again = api.login(&user.email).await;
    api.setup_2fa(&again.access).await.expect_status(200);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_disable_refuses_a_wrong_password_or_code() {
    let api = Api::start().await;
    let (user, enrolled, access) = api.two_factor_user("keep2fa@example.com").await;
    let right = api.totp_now(&enrolled.secret);

    let reply = api.disable_2fa(&access, "not my passphrase", &right).await;
    assert_problem(&reply, 400, "validation");
    assert_eq!(reply.fields(), vec!["password".to_string()]);

    for wrong in [api.wrong_code(&enrolled.secret), "not-a-backup-code".into()] {
        let reply = api.disable_2fa(&access, PASSWORD, &wrong).await;
        assert_problem(&reply, 401, "invalid-code");
    }

    // Still on.
    let reply = api.login_2fa(&user.email, &enrolled.backup_codes[0]).await;
    assert_eq!(reply.status, 200, "{reply}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_challenges_expire_are_single_use_and_are_not_access_tokens() {
    let api = Api::start().await;
    let user = api.signed_up("challenged@example.com").await;
    let enrolled = api.enrol_2fa(&user).await;
    let (secret, backup) = (&enrolled.secret, &enrolled.backup_codes);

    // A challenge is not an access token, and an access token is not a challenge.
    let first = api.challenge(&user.email).await;
    let (header, _, _) = jwt_parts(&first);
    assert_eq!(header["typ"], "lectern-2fa+jwt");
    assert_problem(&api.me(&first).await, 401, "unauthenticated");
    let access = api.fresh_access(&user).await;
    let code = api.totp_now(secret);
    for not_a_challenge in [access.as_str(), "", "garbage", "a.b.c"] {
        let reply = api.verify_2fa(not_a_challenge, &code).await;
        assert_problem(&reply, 400, "invalid-token");
    }

    // Used once with a TOTP code, then again with a (valid, unused) backup code: refused.
    api.verify_2fa(&first, &code).await.expect_status(200);
    let reply = api.verify_2fa(&first, &backup[1]).await;
    assert!(
        matches!(reply.status.as_u16(), 400 | 401),
        "a spent challenge must be refused: {reply}"
    );
    assert_ne!(reply.status, 200);
    // A TOTP code works once too, even on a fresh challenge.
    let second = api.challenge(&user.email).await;
    assert_problem(&api.verify_2fa(&second, &code).await, 401, "invalid-code");
    // The backup code offered with the spent challenge was not used up by that refusal.
    api.verify_2fa(&second, &backup[1]).await.expect_status(200);
    // ... but it is now.
    let reply = api.login_2fa(&user.email, &backup[1]).await;
    assert_problem(&reply, 401, "invalid-code");

    // A challenge older than 5 minutes (plus the 30 s leeway) is refused, even with a right code.
    let old = api.challenge(&user.email).await;
    api.clock().advance(Duration::from_secs(300 + 31));
    let code = api.totp_now(secret);
    let reply = api.verify_2fa(&old, &code).await;
    assert!(matches!(reply.status.as_u16(), 400 | 401), "{reply}");
    assert_problem(&reply, 400, "invalid-token");
    // The code itself was fine.
    let reply = api.login_2fa(&user.email, &code).await;
    assert_eq!(reply.status, 200, "{reply}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_challenge_verified_twice_at_once_starts_one_session() {
    let api = Api::start().await;
    let user = api.signed_up("double@example.com").await;
    let enrolled = api.enrol_2fa(&user).await;
    let challenge = api.challenge(&user.email).await;
    let bodies = vec![
        json!({"challenge": challenge, "code": api.totp_now(&enrolled.secret)}),
        json!({"challenge": challenge, "code": enrolled.backup_codes[0]}),
    ];
    let answers = api.post_at_once("/v1/auth/2fa/verify", bodies).await;
    let ok = answers
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{answers:?}");
    for loser in answers.iter().filter(|r| r.status != StatusCode::OK) {
        assert!(matches!(loser.status.as_u16(), 400 | 401), "{loser}");
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_disable_needs_a_recent_sign_in_like_every_other_two_factor_change() {
    let api = Api::start().await;
    let (user, enrolled, stale) = api.two_factor_user("oldsession@example.com").await;
    // Ten minutes after signing in, the access token still works but the sign-in is no longer recent.
    api.clock().advance(Duration::from_secs(601));
    assert_eq!(api.me(&stale).await.status, 200);
    let reply = api
        .disable_2fa(&stale, PASSWORD, &api.totp_now(&enrolled.secret))
        .await;
    assert_problem(&reply, 403, "reauthentication-required");
    // Still on: signing in asks for a code.
    api.challenge(&user.email).await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_is_restored_only_once_its_second_factor_checks_out() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let (user, enrolled, access) = api.two_factor_user("gone@example.com").await;
    api.delete_me(&access).await.expect_status(202);
    let status = async || {
        api.admin_user(&admin.access, &user.user_id)
            .await
            .expect_status(200)
            .body["status"]
            .clone()
    };

    // The password alone answers a challenge and restores nothing.
    let challenge = api.challenge(&user.email).await;
    assert_eq!(status().await, "deleted");
    let reply = api
        .verify_2fa(&challenge, &api.wrong_code(&enrolled.secret))
        .await;
    assert_problem(&reply, 401, "invalid-code");
    assert_eq!(status().await, "deleted");

    // The second factor completes the sign-in, and that restores the account.
    let reply = api
        .verify_2fa(&challenge, &api.totp_now(&enrolled.secret))
        .await
        .expect_status(200);
    assert_eq!(status().await, "active");
    let me = api.me(&reply.text("access_token")).await.expect_status(200);
    assert_eq!(me.body["status"], "active");
    let log = api
        .audit_logs(&admin.access, &format!("user_id={}&limit=20", user.user_id))
        .await
        .expect_status(200);
    let actions = log.actions();
    let restored = actions.iter().position(|a| a == "account_restored");
    let signed_in = actions.iter().position(|a| a == "login_succeeded");
    assert!(restored.is_some() && signed_in.is_some(), "{actions:?}");
    api.stop().await;
}
