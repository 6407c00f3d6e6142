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

/// The stored backup-code entries of an account.
async fn stored_codes(api: &Api, user_id: &str) -> Vec<String> {
    let user = api.stored_user(user_id).await;
    user.two_factor.expect("2FA on").backup_codes
}

/// Rewrites an account's backup codes as an older version stored them: unkeyed SHA-256 of each code.
async fn store_unkeyed(api: &Api, user_id: &str, codes: &[String]) {
    use lectern_accounts::twofactor::backup_codes::digest;
    use lectern_accounts::users::User;
    use lectern_shared::table::{Condition, Entity};
    let table = &api.server.platform.table;
    let mut user =
        User::from_item(table.get(&User::key_of(user_id)).await.unwrap().unwrap()).unwrap();
    let tf = user.two_factor.as_mut().expect("2FA on");
    tf.backup_codes = codes.iter().map(|c| digest(c)).collect();
    table
        .put(user.to_item().unwrap(), Condition::Always)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_codes_are_stored_under_a_key_that_is_not_in_the_table() {
    use lectern_accounts::twofactor::backup_codes::{digest, normalize};
    let api = Api::start().await;
    let (user, enrolled, _) = api.two_factor_user("dumped@example.com").await;
    let stored = stored_codes(&api, &user.user_id).await;
    assert_eq!(stored.len(), enrolled.backup_codes.len());
    // What a table dump shows: neither a code nor a fast hash of it that could be searched for 40 bits.
    for code in &enrolled.backup_codes {
        for entry in &stored {
            assert_ne!(
                entry,
                &digest(code),
                "an unkeyed SHA-256 of a code is stored"
            );
            assert!(!entry.contains(&normalize(code)));
        }
    }
    assert!(stored.iter().all(|e| e.starts_with("hk:")), "{stored:?}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_codes_stored_unkeyed_by_an_older_version_keep_working_and_are_upgraded() {
    let api = Api::start().await;
    // An account that signs in again: its next 2FA sign-in upgrades the entries it keeps.
    let (user, enrolled, _) = api.two_factor_user("older@example.com").await;
    let codes = &enrolled.backup_codes;
    store_unkeyed(&api, &user.user_id, codes).await;
    api.login_2fa(&user.email, &codes[0])
        .await
        .expect_status(200);
    let stored = stored_codes(&api, &user.user_id).await;
    assert_eq!(stored[0], "", "used");
    assert!(
        stored[1..].iter().all(|e| e.starts_with("hk:")),
        "{stored:?}"
    );
    api.login_2fa(&user.email, &codes[1])
        .await
        .expect_status(200);

    // A dormant account: the operator's migration upgrades it, and its codes still work.
    let (dormant, enrolled, _) = api.two_factor_user("dormant@example.com").await;
    store_unkeyed(&api, &dormant.user_id, &enrolled.backup_codes).await;
    let accounts = lectern_e2e::test_accounts(api.server.platform.clone());
    assert_eq!(accounts.migrate_backup_codes().await.unwrap(), 1);
    assert_eq!(
        accounts.migrate_backup_codes().await.unwrap(),
        0,
        "idempotent"
    );
    let stored = stored_codes(&api, &dormant.user_id).await;
    assert!(stored.iter().all(|e| e.starts_with("hk:")), "{stored:?}");
    api.login_2fa(&dormant.email, &enrolled.backup_codes[4])
        .await
        .expect_status(200);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_code_typed_as_shown_with_a_space_signs_in() {
    let api = Api::start().await;
    let (user, enrolled, _) = api.two_factor_user("spaced@example.com").await;
    let code = api.totp_now(&enrolled.secret);
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let reply = api.login_2fa(&user.email, &spaced).await;
    assert_eq!(reply.status, 200, "{spaced:?}: {reply}");
    // A wrong code typed the same way is a wrong TOTP code, nothing else.
    api.next_totp_step();
    let wrong = api.wrong_code(&enrolled.secret);
    let reply = api
        .login_2fa(&user.email, &format!("{} {}", &wrong[..3], &wrong[3..]))
        .await;
    assert_problem(&reply, 401, "invalid-code");
    api.stop().await;
}
