//! The account flows of issue 3's "Done when", walked end to end over real HTTP on the dev server's in-process
//! stack: sign-up, refresh rotation and reuse detection, 2FA, API keys, logout-all, administration, password
//! reset, email change and account deletion. Time moves only through the server's `ManualClock`. Rate limits are
//! off: these walks sign in more often than the per-account limit allows in a minute, and the limits have their
//! own tests.

use std::time::Duration;

use lectern_e2e::api::{Api, Auth, NEW_PASSWORD, PASSWORD, Reply, Signed};
use lectern_e2e::encoding::base32_decode;
use lectern_e2e::two_factor::backup_codes;
use lectern_shared::clock::Clock;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_user_signs_up_refreshes_detects_reuse_turns_on_2fa_uses_api_keys_and_logs_out_everywhere()
 {
    let api = Api::start().await;
    let email = "walker@example.com";

    // Register; the verification link arrives by email; verify; sign in.
    api.register_json(json!({"email": email, "password": PASSWORD, "display_name": "Walker"}))
        .await
        .expect_status(202);
    let token = api.mailed_token(email, "verify-email").await;
    api.verify_email(&token).await.expect_status(204);
    let first = api.login(email).await;
    let profile = api.me(&first.access).await.expect_status(200);
    assert_eq!(profile.body["email_verified"], true);
    assert_eq!(profile.body["email"], email);

    // Refresh: a new pair in the same session; the old access token lives on until it expires.
    let reply = api.refresh(&first.refresh).await.expect_status(200);
    let second = Signed::from_tokens(email, &first.user_id, &reply.body);
    assert_ne!(second.access, first.access);
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(second.session_id, first.session_id);
    assert_eq!(api.me(&second.access).await.status, StatusCode::OK);
    assert_eq!(
        api.me(&first.access).await.status,
        StatusCode::OK,
        "old access token until expiry"
    );

    // Within the grace period, the old refresh token is a benign race: 409, nothing revoked.
    let reply = api.refresh(&first.refresh).await.expect_status(409);
    assert_eq!(reply.problem_type(), Some("refresh-token-used"));
    assert_eq!(api.me(&second.access).await.status, StatusCode::OK);

    // Beyond it, reuse of the old token is theft: 401 and the whole family is revoked.
    api.clock().advance(Duration::from_secs(6));
    let reply = api.refresh(&first.refresh).await.expect_status(401);
    assert_eq!(reply.problem_type(), Some("refresh-token-reused"));
    api.assert_refresh_dead(&second.refresh, "newest refresh token of a revoked family")
        .await;
    api.assert_access_dead(&second.access, "access token of a revoked family")
        .await;
    api.assert_access_dead(&first.access, "older access token of a revoked family")
        .await;

    // A fresh login sees the event in its security log.
    let fresh = api.login(email).await;
    let events = api
        .security_events(&fresh.access, "")
        .await
        .expect_status(200);
    let reuse = events.event("refresh_reuse_detected");
    assert_eq!(reuse["target_id"], first.user_id.as_str());
    assert_eq!(reuse["details"]["session_id"], first.session_id.as_str());

    // 2FA enrolment: secret, otpauth URI and QR code.
    let reply = api.setup_2fa(&fresh.access).await.expect_status(200);
    let secret_b32 = reply.text("secret");
    let uri = reply.text("otpauth_uri");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret_b32}")), "{uri}");
    let qr = reply.text("qr_svg");
    let qr = qr.trim_start();
    assert!(
        qr.starts_with("<svg") || qr.starts_with("<?xml"),
        "{}",
        &qr[..qr.len().min(60)]
    );
    let secret = base32_decode(&secret_b32);
    assert!(secret.len() >= 16, "a TOTP secret of at least 128 bits");

    // Not on until confirmed: a wrong code does not confirm it, and login still answers tokens.
    let reply = api
        .enable_2fa(&fresh.access, &api.wrong_code(&secret))
        .await
        .expect_status(401);
    assert_eq!(reply.problem_type(), Some("invalid-code"));
    assert_eq!(
        api.login_with(email, PASSWORD).await.body["status"],
        "authenticated"
    );
    let reply = api
        .enable_2fa(&fresh.access, &api.totp_now(&secret))
        .await
        .expect_status(200);
    let backup_codes = backup_codes(&reply);
    assert_eq!(backup_codes.len(), 10, "{backup_codes:?}");
    let mut distinct = backup_codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "backup codes are distinct");
    assert_eq!(api.me(&fresh.access).await.body["two_factor_enabled"], true);
    api.mail_containing(email, "Two-factor authentication is on")
        .await;

    // Login now asks for the second factor; a fresh TOTP code completes it.
    api.next_totp_step();
    let reply = api.login_with(email, PASSWORD).await.expect_status(200);
    assert_eq!(reply.body["status"], "two_factor_required", "{reply}");
    assert!(!reply.text("challenge").is_empty());
    assert!(
        reply.body.get("access_token").is_none(),
        "no tokens before the second factor"
    );
    let code = api.totp_now(&secret);
    let reply = api
        .verify_2fa(&reply.text("challenge"), &code)
        .await
        .expect_status(200);
    let with_totp = Signed::from_tokens(email, &first.user_id, &reply.body);
    assert_eq!(api.me(&with_totp.access).await.status, StatusCode::OK);

    // The same code again, on a new challenge, is a replay.
    let reply = api.login_2fa(email, &code).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "replayed TOTP code: {reply}"
    );
    assert_eq!(reply.problem_type(), Some("invalid-code"));

    // A backup code completes a fresh login once, and a spent challenge cannot be reused.
    let challenge = api.challenge(email).await;
    let reply = api.verify_2fa(&challenge, &backup_codes[0]).await;
    assert_eq!(reply.status, StatusCode::OK, "backup code: {reply}");
    let with_backup = Signed::from_tokens(email, &first.user_id, &reply.body);
    assert_eq!(api.me(&with_backup.access).await.status, StatusCode::OK);
    let reply = api.verify_2fa(&challenge, &backup_codes[1]).await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "spent challenge: {reply}"
    );
    assert_eq!(reply.problem_type(), Some("invalid-token"));
    let reply = api.login_2fa(email, &backup_codes[0]).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "backup code twice: {reply}"
    );
    assert_eq!(reply.problem_type(), Some("invalid-code"));
    let mail = api.mail_containing(email, "A backup code was used").await;
    assert!(mail.contains("9 backup codes left"), "{mail}");

    // API key: shown once, listed without the secret, works as X-API-Key, records last use, revoked at once.
    let reply = api
        .create_key(
            &with_totp.access,
            json!({"name": "ci", "scopes": ["self:manage"]}),
        )
        .await
        .expect_status(201);
    let key = reply.text("key");
    let key_id = reply.text("key_id");
    assert!(key.starts_with("lk_"), "{key}");
    assert_eq!(reply.body["scopes"], json!(["self:manage"]));
    let listed_key = async || {
        let list = api.api_keys(&with_totp.access).await.expect_status(200);
        let listed = list
            .list()
            .into_iter()
            .find(|k| k["key_id"] == key_id.as_str())
            .expect("listed");
        (list, listed)
    };
    let (list, listed) = listed_key().await;
    assert!(
        listed.get("key").is_none(),
        "the list never shows the key: {listed:?}"
    );
    assert!(
        !list.body.to_string().contains(&key),
        "the secret never appears in the list"
    );
    assert!(listed["last_used_at"].is_null(), "not used yet: {listed:?}");
    let reply = api.me(Auth::Key(&key)).await.expect_status(200);
    assert_eq!(reply.body["user_id"], first.user_id.as_str());
    let (_, listed) = listed_key().await;
    assert_eq!(
        listed["last_used_at"],
        json!(api.clock().epoch_seconds()),
        "{listed:?}"
    );
    api.revoke_key(&with_totp.access, &key_id)
        .await
        .expect_status(204);
    let reply = api.me(Auth::Key(&key)).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "revoked key: {reply}"
    );
    assert_eq!(reply.problem_type(), Some("unauthenticated"));

    // Logout-all: every access and refresh token of the account is refused afterwards.
    api.logout_all(&with_totp.access).await.expect_status(204);
    for (what, signed) in [
        ("totp session", &with_totp),
        ("backup-code session", &with_backup),
        ("earlier session", &fresh),
    ] {
        api.assert_signed_out(signed, what).await;
    }

    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_suspends_activates_changes_roles_and_cannot_remove_the_last_admin() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let learner = api.signed_up("learner@example.com").await;
    let other = api.signed_up("other.learner@example.com").await;
    let (key, _) = api
        .new_key(
            &learner.access,
            json!({"name": "script", "scopes": ["self:manage"]}),
        )
        .await;
    assert_eq!(api.me(Auth::Key(&key)).await.status, StatusCode::OK);

    // A learner holds no admin permission.
    api.admin_users(&learner.access, "")
        .await
        .expect_status(403);

    // Suspension: access token, refresh token and API key stop at once; login says why only to the right password.
    let reply = api
        .admin_action(&admin.access, &learner.user_id, "suspend")
        .await
        .expect_status(200);
    assert_eq!(reply.body["status"], "suspended");
    api.assert_signed_out(&learner, "suspended account's tokens")
        .await;
    let reply = api.me(Auth::Key(&key)).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "suspended account's API key: {reply}"
    );
    let reply = api
        .login_with(&learner.email, PASSWORD)
        .await
        .expect_status(403);
    assert_eq!(reply.problem_type(), Some("account-suspended"));
    let reply = api
        .login_with(&learner.email, "not the password at all")
        .await
        .expect_status(401);
    assert_eq!(reply.problem_type(), Some("invalid-credentials"));

    // Search and filters.
    let ids = |reply: &Reply| -> Vec<String> {
        reply
            .items()
            .iter()
            .map(|u| u["user_id"].as_str().expect("user id").to_string())
            .collect()
    };
    for (query, found, what) in [
        ("email=learner%40", &learner, "email prefix search"),
        ("email=LEARNER", &learner, "email search ignores case"),
        ("role=learner&status=active", &other, "active learners only"),
        (
            "role=learner&status=suspended",
            &learner,
            "suspended learners only",
        ),
    ] {
        let reply = api
            .admin_users(&admin.access, query)
            .await
            .expect_status(200);
        assert_eq!(ids(&reply), vec![found.user_id.clone()], "{what}");
    }

    // Activation: login works again.
    let reply = api
        .admin_action(&admin.access, &learner.user_id, "activate")
        .await
        .expect_status(200);
    assert_eq!(reply.body["status"], "active");
    let back = api.login(&learner.email).await;
    assert_eq!(api.me(&back.access).await.status, StatusCode::OK);

    // Role change, reflected in the admin view.
    api.set_role(&admin.access, &learner.user_id, "instructor")
        .await
        .expect_status(200);
    let reply = api
        .admin_user(&admin.access, &learner.user_id)
        .await
        .expect_status(200);
    assert_eq!(reply.body["role"], "instructor");
    assert_eq!(reply.body["status"], "active");

    // The audit log names the admin as the actor of each.
    let reply = api
        .audit_logs(&admin.access, &format!("user_id={}", learner.user_id))
        .await
        .expect_status(200);
    for action in ["suspended", "activated", "role_changed"] {
        let event = reply.event(action);
        assert_eq!(event["actor_id"], admin.user_id.as_str(), "{event:?}");
        assert_eq!(event["target_id"], learner.user_id.as_str(), "{event:?}");
    }

    // The last admin can neither demote nor suspend themself...
    api.set_role(&admin.access, &admin.user_id, "learner")
        .await
        .expect_status(409);
    api.admin_action(&admin.access, &admin.user_id, "suspend")
        .await
        .expect_status(409);
    let reply = api.admin_user(&admin.access, &admin.user_id).await;
    assert_eq!(
        (reply.body["role"].as_str(), reply.body["status"].as_str()),
        (Some("admin"), Some("active"))
    );

    // ...but can step down once a second admin exists, and then loses the admin routes.
    api.set_role(&admin.access, &other.user_id, "admin")
        .await
        .expect_status(200);
    let reply = api
        .set_role(&admin.access, &admin.user_id, "learner")
        .await
        .expect_status(200);
    assert_eq!(reply.body["role"], "learner");
    api.admin_users(&admin.access, "").await.expect_status(403);
    // And now the new admin is the last one.
    let new_admin = api.login(&other.email).await;
    api.set_role(&new_admin.access, &other.user_id, "learner")
        .await
        .expect_status(409);

    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_keeps_the_link_on_a_weak_password_and_ends_every_session() {
    let api = Api::start().await;
    let email = "forgetful@example.com";
    let first = api.signed_up(email).await;
    let second = api.login(email).await;

    // Unknown addresses get the same answer and no email.
    api.forgot_password("nobody@example.com")
        .await
        .expect_status(202);

    api.forgot_password(email).await.expect_status(202);
    api.mail_containing(email, "/reset-password?token=").await;
    let token = api.mailed_token(email, "reset-password").await;

    // A weak password is refused on `password`, and the link survives it.
    let reply = api
        .reset_password(&token, "password")
        .await
        .expect_status(400);
    assert_eq!(reply.problem_type(), Some("validation"));
    assert!(reply.fields().iter().any(|f| f == "password"), "{reply}");
    assert_eq!(
        api.me(&first.access).await.status,
        StatusCode::OK,
        "a refused reset changes nothing"
    );

    api.reset_password(&token, NEW_PASSWORD)
        .await
        .expect_status(204);

    for (what, signed) in [("first session", &first), ("second session", &second)] {
        api.assert_signed_out(signed, what).await;
    }
    api.mail_containing(email, "password was reset").await;

    let reply = api
        .reset_password(&token, "yet another fine passphrase")
        .await
        .expect_status(400);
    assert_eq!(reply.problem_type(), Some("invalid-token"));

    let reply = api.login_with(email, PASSWORD).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "old password: {reply}"
    );
    assert_eq!(reply.problem_type(), Some("invalid-credentials"));
    let reply = api.login_with(email, NEW_PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "new password: {reply}");
    assert_eq!(reply.body["status"], "authenticated");
    let signed = Signed::from_tokens(email, &first.user_id, &reply.body);
    assert_eq!(api.me(&signed.access).await.status, StatusCode::OK);

    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_change_needs_the_password_and_a_recent_login_and_is_verified_again() {
    let api = Api::start().await;
    let (old, new) = ("before@example.com", "after@example.com");
    let stale = api.signed_up(old).await;

    // A sign-in older than the re-authentication window is not enough (the access token itself is still valid).
    api.clock().advance(Duration::from_secs(601));
    assert_eq!(api.me(&stale.access).await.status, StatusCode::OK);
    let reply = api
        .change_email(&stale.access, new, PASSWORD)
        .await
        .expect_status(403);
    assert_eq!(reply.problem_type(), Some("reauthentication-required"));

    let signed = api.login(old).await;
    let reply = api
        .change_email(&signed.access, new, "not my password")
        .await
        .expect_status(400);
    assert!(reply.fields().iter().any(|f| f == "password"), "{reply}");
    assert_eq!(
        api.me(&signed.access).await.body["email"],
        old,
        "a refused change changes nothing"
    );

    api.change_email(&signed.access, new, PASSWORD)
        .await
        .expect_status(202);
    api.mail_containing(old, "email address was changed").await;
    api.mail_containing(new, "/verify-email?token=").await;
    let profile = api.me(&signed.access).await;
    assert_eq!(profile.body["email"], new);
    assert_eq!(profile.body["email_verified"], false);

    let token = api.mailed_token(new, "verify-email").await;
    api.verify_email(&token).await.expect_status(204);
    assert_eq!(api.me(&signed.access).await.body["email_verified"], true);

    let reply = api.login_with(old, PASSWORD).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "old address: {reply}"
    );
    let again = api.login(new).await;
    assert_eq!(again.user_id, signed.user_id);

    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_account_ends_its_sessions_and_is_restored_by_signing_in_within_the_grace_period() {
    let api = Api::start().await;
    let email = "leaving@example.com";
    let first = api.signed_up(email).await;
    let second = api.login(email).await;

    let reply = api.delete_me(&first.access).await.expect_status(202);
    let purge_after = reply.body["purge_after"].as_i64().expect("purge_after");
    assert_eq!(purge_after, api.clock().epoch_seconds() + 30 * 24 * 3600);
    for (what, signed) in [("deleting session", &first), ("other session", &second)] {
        api.assert_signed_out(signed, what).await;
    }

    api.clock().advance(Duration::from_secs(24 * 3600));
    let back = api.login(email).await;
    let profile = api.me(&back.access).await.expect_status(200);
    assert_eq!(profile.body["status"], "active");
    assert_eq!(profile.body["user_id"], first.user_id.as_str());
    let seen = api.security_events(&back.access, "").await.actions();
    assert!(seen.iter().any(|a| a == "account_deleted"), "{seen:?}");
    assert!(seen.iter().any(|a| a == "account_restored"), "{seen:?}");

    // Past the grace period, signing in no longer restores anything.
    let late = api.signed_up("too.late@example.com").await;
    api.delete_me(&late.access).await.expect_status(202);
    api.clock().advance(Duration::from_secs(31 * 24 * 3600));
    let reply = api
        .login_with("too.late@example.com", PASSWORD)
        .await
        .expect_status(401);
    assert_eq!(reply.problem_type(), Some("invalid-credentials"));

    api.stop().await;
}
