//! The account flows of issue 3's "Done when", walked end to end over real HTTP on the dev server's in-process
//! stack: sign-up, refresh rotation and reuse detection, 2FA, API keys, logout-all, administration, password
//! reset, email change and account deletion. Time moves only through the server's `ManualClock`.

use std::time::Duration;

use lectern_e2e::DevServer;
use lectern_e2e::api::{Api, PASSWORD, Reply, Signed};
use lectern_shared::clock::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A dev server (rate limits off: these walks sign in more often than the per-account limit allows in a
/// minute, and the limits have their own tests).
async fn start() -> DevServer {
    DevServer::start().await
}

/// A second password that passes the policy.
const NEW_PASSWORD: &str = "a brand new passphrase for tests";

/// Decodes RFC 4648 base32 (no padding), as authenticator apps read the `secret` of `2fa/setup`.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u64, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let value = ALPHABET
            .iter()
            .position(|&a| a == c.to_ascii_uppercase())
            .unwrap_or_else(|| panic!("not base32: {c:?}")) as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

/// The TOTP code of `secret` at the server's current time.
fn totp_now(server: &DevServer, secret: &[u8]) -> String {
    lectern_accounts::twofactor::totp::code_at(secret, server.clock.epoch_seconds() as u64)
}

/// A six-digit code that matches no step near the server's current time.
fn wrong_code(server: &DevServer, secret: &[u8]) -> String {
    let now = server.clock.epoch_seconds() as u64;
    let near: Vec<String> = (0..5)
        .map(|i| lectern_accounts::twofactor::totp::code_at(secret, now + i * 30 - 60))
        .collect();
    (0..10u32)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| !near.contains(c))
        .expect("some code is wrong")
}

/// Moves the server clock to the start of the next 30-second TOTP step, so the next code is a fresh one.
fn next_totp_step(server: &DevServer) {
    let now = server.clock.epoch_seconds();
    server
        .clock
        .advance(Duration::from_secs((30 - now % 30) as u64));
}

/// Waits (bounded) for an email to `to` whose decoded text contains `needle`, and returns it.
async fn mail_containing(api: &Api<'_>, to: &str, needle: &str) -> String {
    for _ in 0..200 {
        if let Some(mail) = api
            .mails_to(to, 0)
            .await
            .into_iter()
            .find(|m| m.contains(needle))
        {
            return mail;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no email to {to} containing {needle:?}");
}

async fn login_with(api: &Api<'_>, email: &str, password: &str) -> Reply {
    api.post(
        "/v1/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await
}

async fn refresh(api: &Api<'_>, refresh_token: &str) -> Reply {
    api.post(
        "/v1/auth/refresh",
        None,
        json!({"refresh_token": refresh_token}),
    )
    .await
}

async fn me(api: &Api<'_>, access: &str) -> Reply {
    api.get("/v1/users/me", Some(access)).await
}

/// `GET /v1/users/me` authenticated by an `X-API-Key`.
async fn me_by_key(api: &Api<'_>, key: &str) -> Reply {
    let resp = api
        .http
        .get(api.server.url("/v1/users/me"))
        .header("X-API-Key", key)
        .send()
        .await
        .expect("request");
    Reply::read(resp).await
}

/// Asserts a refresh token no longer rotates (its session is gone): 400 `invalid-token`.
async fn assert_refresh_dead(api: &Api<'_>, refresh_token: &str, what: &str) {
    let reply = refresh(api, refresh_token).await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "{what}: {:?}",
        reply.body
    );
    assert_eq!(
        reply.problem_type(),
        Some("invalid-token"),
        "{what}: {:?}",
        reply.body
    );
}

/// Asserts an access token is refused: 401 `unauthenticated`.
async fn assert_access_dead(api: &Api<'_>, access: &str, what: &str) {
    let reply = me(api, access).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{what}: {:?}",
        reply.body
    );
    assert_eq!(
        reply.problem_type(),
        Some("unauthenticated"),
        "{what}: {:?}",
        reply.body
    );
}

fn field_errors(reply: &Reply) -> Vec<String> {
    reply.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn actions(reply: &Reply) -> Vec<String> {
    reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_string())
        .collect()
}

/// A token pair from a login or 2FA answer, as [`Signed`].
fn signed_from(email: &str, user_id: &str, body: &Value) -> Signed {
    Signed {
        user_id: user_id.to_string(),
        email: email.to_string(),
        access: body["access_token"]
            .as_str()
            .expect("access token")
            .to_string(),
        refresh: body["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_string(),
        session_id: body["session_id"].as_str().expect("session id").to_string(),
    }
}

/// Signs in an account with 2FA on: the password answers a challenge, completed here with `code`.
async fn login_2fa(api: &Api<'_>, email: &str, code: &str) -> Reply {
    let reply = login_with(api, email, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "login: {:?}", reply.body);
    assert_eq!(
        reply.body["status"], "two_factor_required",
        "{:?}",
        reply.body
    );
    let challenge = reply.body["challenge"].as_str().expect("challenge");
    api.post(
        "/v1/auth/2fa/verify",
        None,
        json!({"challenge": challenge, "code": code}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_user_signs_up_refreshes_detects_reuse_turns_on_2fa_uses_api_keys_and_logs_out_everywhere()
 {
    let server = start().await;
    let api = Api::new(&server);
    let email = "walker@example.com";

    // Register; the verification link arrives by email; verify; sign in.
    let reply = api
        .post(
            "/v1/auth/register",
            None,
            json!({"email": email, "password": PASSWORD, "display_name": "Walker"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let token = api.mailed_token(email, "verify-email", 1).await;
    let reply = api
        .post("/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    let first = api.login(email).await;
    let profile = me(&api, &first.access).await;
    assert_eq!(profile.status, StatusCode::OK);
    assert_eq!(profile.body["email_verified"], true);
    assert_eq!(profile.body["email"], email);

    // Refresh: a new pair in the same session; the old access token lives on until it expires.
    let reply = refresh(&api, &first.refresh).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let second = signed_from(email, &first.user_id, &reply.body);
    assert_ne!(second.access, first.access);
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(second.session_id, first.session_id);
    assert_eq!(me(&api, &second.access).await.status, StatusCode::OK);
    assert_eq!(
        me(&api, &first.access).await.status,
        StatusCode::OK,
        "old access token until expiry"
    );

    // Within the grace period, the old refresh token is a benign race: 409, nothing revoked.
    let reply = refresh(&api, &first.refresh).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
    assert_eq!(reply.problem_type(), Some("refresh-token-used"));
    assert_eq!(me(&api, &second.access).await.status, StatusCode::OK);

    // Beyond it, reuse of the old token is theft: 401 and the whole family is revoked.
    server.clock.advance(Duration::from_secs(6));
    let reply = refresh(&api, &first.refresh).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    assert_eq!(reply.problem_type(), Some("refresh-token-reused"));
    assert_refresh_dead(
        &api,
        &second.refresh,
        "newest refresh token of a revoked family",
    )
    .await;
    assert_access_dead(&api, &second.access, "access token of a revoked family").await;
    assert_access_dead(
        &api,
        &first.access,
        "older access token of a revoked family",
    )
    .await;

    // A fresh login sees the event in its security log.
    let fresh = api.login(email).await;
    let events = api
        .get("/v1/users/me/security-events", Some(&fresh.access))
        .await;
    assert_eq!(events.status, StatusCode::OK, "{:?}", events.body);
    let reuse = events.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["action"] == "refresh_reuse_detected")
        .unwrap_or_else(|| panic!("no refresh_reuse_detected in {:?}", events.body));
    assert_eq!(reuse["target_id"], first.user_id.as_str());
    assert_eq!(reuse["details"]["session_id"], first.session_id.as_str());

    // 2FA enrolment: secret, otpauth URI and QR code.
    let reply = api
        .call(
            Method::POST,
            "/v1/auth/2fa/setup",
            Some(&fresh.access),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let secret_b32 = reply.body["secret"].as_str().expect("secret").to_string();
    let uri = reply.body["otpauth_uri"].as_str().expect("otpauth uri");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret_b32}")), "{uri}");
    let qr = reply.body["qr_svg"].as_str().expect("qr svg").trim_start();
    assert!(
        qr.starts_with("<svg") || qr.starts_with("<?xml"),
        "{}",
        &qr[..qr.len().min(60)]
    );
    let secret = base32_decode(&secret_b32);
    assert!(secret.len() >= 16, "a TOTP secret of at least 128 bits");

    // Not on until confirmed: a wrong code does not confirm it, and login still answers tokens.
    let reply = api
        .post(
            "/v1/auth/2fa/enable",
            Some(&fresh.access),
            json!({"code": wrong_code(&server, &secret)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    assert_eq!(reply.problem_type(), Some("invalid-code"));
    assert_eq!(
        login_with(&api, email, PASSWORD).await.body["status"],
        "authenticated"
    );
    let reply = api
        .post(
            "/v1/auth/2fa/enable",
            Some(&fresh.access),
            json!({"code": totp_now(&server, &secret)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let backup_codes: Vec<String> = reply.body["backup_codes"]
        .as_array()
        .expect("backup codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect();
    assert_eq!(backup_codes.len(), 10, "{backup_codes:?}");
    let mut distinct = backup_codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "backup codes are distinct");
    assert_eq!(
        me(&api, &fresh.access).await.body["two_factor_enabled"],
        true
    );
    mail_containing(&api, email, "Two-factor authentication is on").await;

    // Login now asks for the second factor; a fresh TOTP code completes it.
    next_totp_step(&server);
    let reply = login_with(&api, email, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        reply.body["status"], "two_factor_required",
        "{:?}",
        reply.body
    );
    assert!(
        reply.body["challenge"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert!(
        reply.body.get("access_token").is_none(),
        "no tokens before the second factor"
    );
    let code = totp_now(&server, &secret);
    let challenge = reply.body["challenge"].as_str().expect("challenge");
    let reply = api
        .post(
            "/v1/auth/2fa/verify",
            None,
            json!({"challenge": challenge, "code": code}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let with_totp = signed_from(email, &first.user_id, &reply.body);
    assert_eq!(me(&api, &with_totp.access).await.status, StatusCode::OK);

    // The same code again, on a new challenge, is a replay.
    let reply = login_2fa(&api, email, &code).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "replayed TOTP code: {:?}",
        reply.body
    );
    assert_eq!(reply.problem_type(), Some("invalid-code"));

    // A backup code completes a fresh login once, and a spent challenge cannot be reused.
    let reply = login_with(&api, email, PASSWORD).await;
    let challenge = reply.body["challenge"]
        .as_str()
        .expect("challenge")
        .to_string();
    let reply = api
        .post(
            "/v1/auth/2fa/verify",
            None,
            json!({"challenge": challenge, "code": backup_codes[0]}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "backup code: {:?}",
        reply.body
    );
    let with_backup = signed_from(email, &first.user_id, &reply.body);
    assert_eq!(me(&api, &with_backup.access).await.status, StatusCode::OK);
    let reply = api
        .post(
            "/v1/auth/2fa/verify",
            None,
            json!({"challenge": challenge, "code": backup_codes[1]}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "spent challenge: {:?}",
        reply.body
    );
    assert_eq!(reply.problem_type(), Some("invalid-token"));
    let reply = login_2fa(&api, email, &backup_codes[0]).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "backup code twice: {:?}",
        reply.body
    );
    assert_eq!(reply.problem_type(), Some("invalid-code"));
    let mail = mail_containing(&api, email, "A backup code was used").await;
    assert!(mail.contains("9 backup codes left"), "{mail}");

    // API key: shown once, listed without the secret, works as X-API-Key, records last use, revoked at once.
    let reply = api
        .post(
            "/v1/users/me/api-keys",
            Some(&with_totp.access),
            json!({"name": "ci", "scopes": ["self:manage"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let key = reply.body["key"].as_str().expect("key").to_string();
    let key_id = reply.body["key_id"].as_str().expect("key id").to_string();
    assert!(key.starts_with("lk_"), "{key}");
    assert_eq!(reply.body["scopes"], json!(["self:manage"]));
    let list = api
        .get("/v1/users/me/api-keys", Some(&with_totp.access))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    let listed = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|k| k["key_id"] == key_id.as_str())
        .expect("listed");
    assert!(
        listed.get("key").is_none(),
        "the list never shows the key: {listed:?}"
    );
    assert!(
        !list.body.to_string().contains(&key),
        "the secret never appears in the list"
    );
    assert!(listed["last_used_at"].is_null(), "not used yet: {listed:?}");
    let reply = me_by_key(&api, &key).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["user_id"], first.user_id.as_str());
    let list = api
        .get("/v1/users/me/api-keys", Some(&with_totp.access))
        .await;
    let listed = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .find(|k| k["key_id"] == key_id.as_str())
        .expect("listed");
    assert_eq!(
        listed["last_used_at"],
        json!(server.clock.epoch_seconds()),
        "{listed:?}"
    );
    let reply = api
        .call(
            Method::DELETE,
            &format!("/v1/users/me/api-keys/{key_id}"),
            Some(&with_totp.access),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    let reply = me_by_key(&api, &key).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "revoked key: {:?}",
        reply.body
    );
    assert_eq!(reply.problem_type(), Some("unauthenticated"));

    // Logout-all: every access and refresh token of the account is refused afterwards.
    let reply = api
        .call(
            Method::POST,
            "/v1/auth/logout-all",
            Some(&with_totp.access),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    for (what, signed) in [
        ("totp session", &with_totp),
        ("backup-code session", &with_backup),
        ("earlier session", &fresh),
    ] {
        assert_access_dead(&api, &signed.access, what).await;
        assert_refresh_dead(&api, &signed.refresh, what).await;
    }

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_suspends_activates_changes_roles_and_cannot_remove_the_last_admin() {
    let server = start().await;
    let api = Api::new(&server);
    let admin = api.admin("admin@example.com").await;
    let learner = api.signed_up("learner@example.com").await;
    let other = api.signed_up("other.learner@example.com").await;
    let reply = api
        .post(
            "/v1/users/me/api-keys",
            Some(&learner.access),
            json!({"name": "script", "scopes": ["self:manage"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let key = reply.body["key"].as_str().expect("key").to_string();
    assert_eq!(me_by_key(&api, &key).await.status, StatusCode::OK);

    // A learner holds no admin permission.
    let reply = api.get("/v1/admin/users", Some(&learner.access)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);

    // Suspension: access token, refresh token and API key stop at once; login says why only to the right password.
    let suspend = format!("/v1/admin/users/{}/suspend", learner.user_id);
    let reply = api
        .call(Method::POST, &suspend, Some(&admin.access), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "suspended");
    assert_access_dead(&api, &learner.access, "suspended account's access token").await;
    assert_refresh_dead(&api, &learner.refresh, "suspended account's refresh token").await;
    let reply = me_by_key(&api, &key).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "suspended account's API key: {:?}",
        reply.body
    );
    let reply = login_with(&api, &learner.email, PASSWORD).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    assert_eq!(reply.problem_type(), Some("account-suspended"));
    let reply = login_with(&api, &learner.email, "not the password at all").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    assert_eq!(reply.problem_type(), Some("invalid-credentials"));

    // Search and filters.
    let ids = |reply: &Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("items in {:?}", reply.body))
            .iter()
            .map(|u| u["user_id"].as_str().expect("user id").to_string())
            .collect()
    };
    let reply = api
        .get("/v1/admin/users?email=learner%40", Some(&admin.access))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        ids(&reply),
        vec![learner.user_id.clone()],
        "email prefix search"
    );
    let reply = api
        .get("/v1/admin/users?email=LEARNER", Some(&admin.access))
        .await;
    assert_eq!(
        ids(&reply),
        vec![learner.user_id.clone()],
        "email search ignores case"
    );
    let reply = api
        .get(
            "/v1/admin/users?role=learner&status=active",
            Some(&admin.access),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(
        ids(&reply),
        vec![other.user_id.clone()],
        "active learners only"
    );
    let reply = api
        .get(
            "/v1/admin/users?role=learner&status=suspended",
            Some(&admin.access),
        )
        .await;
    assert_eq!(
        ids(&reply),
        vec![learner.user_id.clone()],
        "suspended learners only"
    );

    // Activation: login works again.
    let activate = format!("/v1/admin/users/{}/activate", learner.user_id);
    let reply = api
        .call(Method::POST, &activate, Some(&admin.access), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "active");
    let back = api.login(&learner.email).await;
    assert_eq!(me(&api, &back.access).await.status, StatusCode::OK);

    // Role change, reflected in the admin view.
    let role = format!("/v1/admin/users/{}/role", learner.user_id);
    let reply = api
        .call(
            Method::PATCH,
            &role,
            Some(&admin.access),
            Some(json!({"role": "instructor"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reply = api
        .get(
            &format!("/v1/admin/users/{}", learner.user_id),
            Some(&admin.access),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["role"], "instructor");
    assert_eq!(reply.body["status"], "active");

    // The audit log names the admin as the actor of each.
    let reply = api
        .get(
            &format!("/v1/admin/audit-logs?user_id={}", learner.user_id),
            Some(&admin.access),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    for action in ["suspended", "activated", "role_changed"] {
        let event = reply.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {:?}", actions(&reply)));
        assert_eq!(event["actor_id"], admin.user_id.as_str(), "{event:?}");
        assert_eq!(event["target_id"], learner.user_id.as_str(), "{event:?}");
    }

    // The last admin can neither demote nor suspend themself...
    let own_role = format!("/v1/admin/users/{}/role", admin.user_id);
    let reply = api
        .call(
            Method::PATCH,
            &own_role,
            Some(&admin.access),
            Some(json!({"role": "learner"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
    let own_suspend = format!("/v1/admin/users/{}/suspend", admin.user_id);
    let reply = api
        .call(Method::POST, &own_suspend, Some(&admin.access), None)
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);
    let reply = api
        .get(
            &format!("/v1/admin/users/{}", admin.user_id),
            Some(&admin.access),
        )
        .await;
    assert_eq!(
        (reply.body["role"].as_str(), reply.body["status"].as_str()),
        (Some("admin"), Some("active"))
    );

    // ...but can step down once a second admin exists, and then loses the admin routes.
    let other_role = format!("/v1/admin/users/{}/role", other.user_id);
    let reply = api
        .call(
            Method::PATCH,
            &other_role,
            Some(&admin.access),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let reply = api
        .call(
            Method::PATCH,
            &own_role,
            Some(&admin.access),
            Some(json!({"role": "learner"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["role"], "learner");
    let reply = api.get("/v1/admin/users", Some(&admin.access)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    // And now the new admin is the last one.
    let new_admin = api.login(&other.email).await;
    let reply = api
        .call(
            Method::PATCH,
            &other_role,
            Some(&new_admin.access),
            Some(json!({"role": "learner"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{:?}", reply.body);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_keeps_the_link_on_a_weak_password_and_ends_every_session() {
    let server = start().await;
    let api = Api::new(&server);
    let email = "forgetful@example.com";
    let first = api.signed_up(email).await;
    let second = api.login(email).await;

    // Unknown addresses get the same answer and no email.
    let reply = api
        .post(
            "/v1/auth/forgot-password",
            None,
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);

    let reply = api
        .post("/v1/auth/forgot-password", None, json!({"email": email}))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    mail_containing(&api, email, "/reset-password?token=").await;
    let token = api.mailed_token(email, "reset-password", 1).await;

    // A weak password is refused on `password`, and the link survives it.
    let reply = api
        .post(
            "/v1/auth/reset-password",
            None,
            json!({"token": token, "password": "password"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert_eq!(reply.problem_type(), Some("validation"));
    assert!(
        field_errors(&reply).iter().any(|f| f == "password"),
        "{:?}",
        reply.body
    );
    assert_eq!(
        me(&api, &first.access).await.status,
        StatusCode::OK,
        "a refused reset changes nothing"
    );

    let reply = api
        .post(
            "/v1/auth/reset-password",
            None,
            json!({"token": token, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);

    for (what, signed) in [("first session", &first), ("second session", &second)] {
        assert_access_dead(&api, &signed.access, what).await;
        assert_refresh_dead(&api, &signed.refresh, what).await;
    }
    mail_containing(&api, email, "password was reset").await;

    let reply = api
        .post(
            "/v1/auth/reset-password",
            None,
            json!({"token": token, "password": "yet another fine passphrase"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert_eq!(reply.problem_type(), Some("invalid-token"));

    let reply = login_with(&api, email, PASSWORD).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "old password: {:?}",
        reply.body
    );
    assert_eq!(reply.problem_type(), Some("invalid-credentials"));
    let reply = login_with(&api, email, NEW_PASSWORD).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "new password: {:?}",
        reply.body
    );
    assert_eq!(reply.body["status"], "authenticated");
    let signed = signed_from(email, &first.user_id, &reply.body);
    assert_eq!(me(&api, &signed.access).await.status, StatusCode::OK);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_change_needs_the_password_and_a_recent_login_and_is_verified_again() {
    let server = start().await;
    let api = Api::new(&server);
    let (old, new) = ("before@example.com", "after@example.com");
    let stale = api.signed_up(old).await;

    // A sign-in older than the re-authentication window is not enough (the access token itself is still valid).
    server.clock.advance(Duration::from_secs(601));
    assert_eq!(me(&api, &stale.access).await.status, StatusCode::OK);
    let reply = api
        .post(
            "/v1/users/me/email",
            Some(&stale.access),
            json!({"new_email": new, "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{:?}", reply.body);
    assert_eq!(reply.problem_type(), Some("reauthentication-required"));

    let signed = api.login(old).await;
    let reply = api
        .post(
            "/v1/users/me/email",
            Some(&signed.access),
            json!({"new_email": new, "password": "not my password"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    assert!(
        field_errors(&reply).iter().any(|f| f == "password"),
        "{:?}",
        reply.body
    );
    assert_eq!(
        me(&api, &signed.access).await.body["email"],
        old,
        "a refused change changes nothing"
    );

    let reply = api
        .post(
            "/v1/users/me/email",
            Some(&signed.access),
            json!({"new_email": new, "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    mail_containing(&api, old, "email address was changed").await;
    mail_containing(&api, new, "/verify-email?token=").await;
    let profile = me(&api, &signed.access).await;
    assert_eq!(profile.body["email"], new);
    assert_eq!(profile.body["email_verified"], false);

    let token = api.mailed_token(new, "verify-email", 1).await;
    let reply = api
        .post("/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{:?}", reply.body);
    assert_eq!(me(&api, &signed.access).await.body["email_verified"], true);

    let reply = login_with(&api, old, PASSWORD).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "old address: {:?}",
        reply.body
    );
    let again = api.login(new).await;
    assert_eq!(again.user_id, signed.user_id);

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_account_ends_its_sessions_and_is_restored_by_signing_in_within_the_grace_period() {
    let server = start().await;
    let api = Api::new(&server);
    let email = "leaving@example.com";
    let first = api.signed_up(email).await;
    let second = api.login(email).await;

    let reply = api
        .call(Method::DELETE, "/v1/users/me", Some(&first.access), None)
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let purge_after = reply.body["purge_after"].as_i64().expect("purge_after");
    assert_eq!(purge_after, server.clock.epoch_seconds() + 30 * 24 * 3600);
    for (what, signed) in [("deleting session", &first), ("other session", &second)] {
        assert_access_dead(&api, &signed.access, what).await;
        assert_refresh_dead(&api, &signed.refresh, what).await;
    }

    server.clock.advance(Duration::from_secs(24 * 3600));
    let back = api.login(email).await;
    let profile = me(&api, &back.access).await;
    assert_eq!(profile.status, StatusCode::OK, "{:?}", profile.body);
    assert_eq!(profile.body["status"], "active");
    assert_eq!(profile.body["user_id"], first.user_id.as_str());
    let events = api
        .get("/v1/users/me/security-events", Some(&back.access))
        .await;
    let seen = actions(&events);
    assert!(seen.iter().any(|a| a == "account_deleted"), "{seen:?}");
    assert!(seen.iter().any(|a| a == "account_restored"), "{seen:?}");

    // Past the grace period, signing in no longer restores anything.
    let late = api.signed_up("too.late@example.com").await;
    let reply = api
        .call(Method::DELETE, "/v1/users/me", Some(&late.access), None)
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    server.clock.advance(Duration::from_secs(31 * 24 * 3600));
    let reply = login_with(&api, "too.late@example.com", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    assert_eq!(reply.problem_type(), Some("invalid-credentials"));

    server.stop().await;
}
