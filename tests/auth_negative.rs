//! Negative tests of every `/v1/auth/*` route on the dev server over real HTTP: bad input, account enumeration,
//! forged and misused tokens, lockout, rate limits, races, suspended and deleted accounts, 2FA misuse, the JWKS.
//!
//! Each server here uses the cheap test Argon2 parameters (see `test_accounts`) and states its rate limits
//! explicitly (off, except in the rate-limit tests). Time only moves through the server's `ManualClock`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lectern_accounts::signing_keys::{KeyRing, SigningKey};
use lectern_accounts::tokens::{TokenKind, TokenService};
use lectern_accounts::twofactor::totp;
use lectern_accounts::users::Status;
use lectern_e2e::api::{Api, PASSWORD, Reply, Signed};
use lectern_e2e::{DevServer, test_accounts};
use lectern_shared::clock::Clock;
use lectern_shared::ratelimit::{ClassLimits, Limit, RateLimitConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------------------------
// Servers and requests
// ---------------------------------------------------------------------------------------------------------------

/// A dev server with the given rate limits (cheap password hashing, as every `DevServer`).
async fn start_with(limits: RateLimitConfig) -> DevServer {
    let dir = tempfile::tempdir().expect("temp dir");
    DevServer::start_configured(dir, |config| config.rate_limits = limits).await
}

/// A dev server with every rate limit off.
async fn start() -> DevServer {
    start_with(RateLimitConfig::disabled()).await
}

/// Rate limits on, with `auth` limits per IP and per account over 60 s windows (other classes at their defaults).
fn auth_limits(per_ip: u32, per_account: u32) -> RateLimitConfig {
    let defaults = RateLimitConfig::default();
    RateLimitConfig {
        enabled: true,
        per_ip: ClassLimits {
            auth: Limit::per_minute(per_ip),
            ..defaults.per_ip
        },
        per_account: ClassLimits {
            auth: Limit::per_minute(per_account),
            ..defaults.per_account
        },
    }
}

/// Sends a request with a raw body, an optional content type and extra headers.
async fn raw(
    api: &Api<'_>,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Reply {
    // A fresh connection per request: after a 413 the server closes a connection whose body it never read, and a
    // pooled connection reused at that moment fails the next request (a client-side race, not under test here).
    let http = reqwest::Client::builder()
        .user_agent("lectern-e2e/1.0")
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut req = http.request(method, api.server.url(path));
    if let Some(ct) = content_type {
        req = req.header(reqwest::header::CONTENT_TYPE, ct);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.body(body).send().await.expect("request");
    Reply::read(resp).await
}

/// A JSON POST with extra headers.
async fn post_with(api: &Api<'_>, path: &str, body: Value, headers: &[(&str, &str)]) -> Reply {
    raw(
        api,
        Method::POST,
        path,
        Some("application/json"),
        body.to_string().into_bytes(),
        headers,
    )
    .await
}

/// A request with an arbitrary `Authorization` header value.
async fn get_authorized(api: &Api<'_>, path: &str, authorization: &str) -> Reply {
    raw(
        api,
        Method::GET,
        path,
        None,
        Vec::new(),
        &[("authorization", authorization)],
    )
    .await
}

/// Asserts status and problem type slug, showing the body when they differ.
#[track_caller]
fn assert_problem(reply: &Reply, status: u16, slug: &str) {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "status; body: {}",
        reply.body
    );
    assert_eq!(
        reply.problem_type(),
        Some(slug),
        "problem type; body: {}",
        reply.body
    );
    assert!(
        reply.headers[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json"),
        "problem content type: {:?}",
        reply.headers
    );
}

/// `errors[]` as one lowercase text (fields and messages), to look for a named field.
fn errors_text(reply: &Reply) -> String {
    reply.body["errors"].to_string().to_lowercase()
}

/// A problem body without its per-request parts, to compare two answers.
fn comparable(reply: &Reply) -> Value {
    let mut body = reply.body.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove("request_id");
    }
    body
}

fn header<'r>(reply: &'r Reply, name: &str) -> &'r str {
    reply
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {:?}", reply.headers))
        .to_str()
        .expect("ascii header")
}

/// Registers without verifying; answers the reply.
async fn register(api: &Api<'_>, email: &str, password: &str) -> Reply {
    api.post(
        "/v1/auth/register",
        None,
        json!({"email": email, "password": password, "display_name": "Test User"}),
    )
    .await
}

async fn login_reply(api: &Api<'_>, email: &str, password: &str) -> Reply {
    api.post(
        "/v1/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await
}

async fn refresh(api: &Api<'_>, token: &str) -> Reply {
    api.post("/v1/auth/refresh", None, json!({"refresh_token": token}))
        .await
}

async fn me(api: &Api<'_>, access: &str) -> Reply {
    api.get("/v1/users/me", Some(access)).await
}

// ---------------------------------------------------------------------------------------------------------------
// Mail
// ---------------------------------------------------------------------------------------------------------------

static SENTINELS: AtomicUsize = AtomicUsize::new(0);

/// Waits until every email queued before this call has been delivered: registers a fresh sentinel address and
/// waits for its mail, twice. The worker handles one batch at a time, so once the second sentinel's mail is out,
/// the batch holding the first (and everything queued before it) has finished.
async fn flush_mail(api: &Api<'_>) {
    for _ in 0..2 {
        let n = SENTINELS.fetch_add(1, Ordering::SeqCst);
        let email = format!("flush-{n}@sentinel.example.com");
        assert_eq!(register(api, &email, PASSWORD).await.status, 202);
        assert_eq!(
            api.mails_to(&email, 1).await.len(),
            1,
            "sentinel mail never arrived"
        );
    }
}

/// Mails to `to` (already delivered) whose text contains `needle`.
async fn count_mails(api: &Api<'_>, to: &str, needle: &str) -> usize {
    api.mails_to(to, 0)
        .await
        .iter()
        .filter(|m| m.contains(needle))
        .count()
}

/// The tokens of `<page>?token=` links mailed to `to`, once at least `n` such emails have arrived.
async fn link_tokens(api: &Api<'_>, to: &str, page: &str, n: usize) -> Vec<String> {
    let needle = format!("/{page}?token=");
    for _ in 0..200 {
        let mut tokens: Vec<String> = Vec::new();
        for mail in api.mails_to(to, 0).await {
            if let Some(rest) = mail.split(&needle).nth(1) {
                let token: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                tokens.push(token);
            }
        }
        if tokens.len() >= n {
            return tokens;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} {page} links mailed to {to}");
}

/// The token of the `n`th (1-based, in any order of arrival) distinct `<page>` link mailed to `to`: the one not
/// among the tokens of the first `n - 1`, which the caller has already seen.
async fn link_token(api: &Api<'_>, to: &str, page: &str, n: usize) -> String {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let tokens = link_tokens(api, to, page, n).await;
    let mut seen = SEEN.lock().unwrap();
    let token = tokens
        .into_iter()
        .find(|t| !seen.contains(t))
        .unwrap_or_else(|| panic!("no new {page} link for {to}"));
    seen.push(token.clone());
    token
}

const VERIFY_LINK: &str = "/verify-email?token=";
const RESET_LINK: &str = "/reset-password?token=";
const LOCKED: &str = "temporarily locked";

// ---------------------------------------------------------------------------------------------------------------
// Token plumbing: base64url, base32, JWT pieces
// ---------------------------------------------------------------------------------------------------------------

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(B64URL[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn decode_bits(text: &str, alphabet: &[u8], bits_per_char: u32) -> Vec<u8> {
    let (mut acc, mut nbits, mut out) = (0u64, 0u32, Vec::new());
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = alphabet
            .iter()
            .position(|a| *a == c)
            .unwrap_or_else(|| panic!("{:?} is not in the alphabet", char::from(c)));
        acc = (acc << bits_per_char) | v as u64;
        nbits += bits_per_char;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
            acc &= (1 << nbits) - 1;
        }
    }
    out
}

fn b64url_decode(text: &str) -> Vec<u8> {
    decode_bits(text, B64URL, 6)
}

/// RFC 4648 base32 (the TOTP secret of `2fa/setup`).
fn base32_decode(text: &str) -> Vec<u8> {
    decode_bits(
        &text.to_ascii_uppercase(),
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        5,
    )
}

/// The decoded header and payload of a JWT.
fn jwt_parts(token: &str) -> (Value, Value, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a JWS: {token}");
    let header = serde_json::from_slice(&b64url_decode(parts[0])).expect("header json");
    let payload = serde_json::from_slice(&b64url_decode(parts[1])).expect("payload json");
    (header, payload, parts[2].to_string())
}

fn jwt_from(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(payload.to_string().as_bytes()),
        signature
    )
}

// ---------------------------------------------------------------------------------------------------------------
// 2FA helpers
// ---------------------------------------------------------------------------------------------------------------

fn now_secs(server: &DevServer) -> u64 {
    server.clock.epoch_seconds() as u64
}

/// A six-digit code that matches no step of the verification window at the server's current time.
fn wrong_code(server: &DevServer, secret: &[u8]) -> String {
    let now = now_secs(server);
    let valid: Vec<String> = [now - 30, now, now + 30]
        .iter()
        .map(|t| totp::code_at(secret, *t))
        .collect();
    (0..)
        .map(|n: u32| format!("{:06}", (123_456 + n * 7_919) % 1_000_000))
        .find(|c| !valid.contains(c))
        .expect("some code is wrong")
}

/// Turns 2FA on for a signed-in user; answers the TOTP secret and the backup codes. Moves the clock one TOTP
/// step on, so the next code is not the one just spent on enabling.
async fn enrol_2fa(api: &Api<'_>, user: &Signed) -> (Vec<u8>, Vec<String>) {
    let setup = api
        .post("/v1/auth/2fa/setup", Some(&user.access), json!({}))
        .await;
    assert_eq!(setup.status, 200, "setup: {}", setup.body);
    let secret = base32_decode(setup.body["secret"].as_str().expect("secret"));
    assert!(
        setup.body["otpauth_uri"]
            .as_str()
            .unwrap()
            .contains(setup.body["secret"].as_str().unwrap()),
        "the URI carries the same secret"
    );
    let code = totp::code_at(&secret, now_secs(api.server));
    let enabled = api
        .post(
            "/v1/auth/2fa/enable",
            Some(&user.access),
            json!({"code": code}),
        )
        .await;
    assert_eq!(enabled.status, 200, "enable: {}", enabled.body);
    let codes: Vec<String> = enabled.body["backup_codes"]
        .as_array()
        .expect("backup codes")
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    api.server.clock.advance(Duration::from_secs(30));
    (secret, codes)
}

/// Signs in with the password of a 2FA account; answers the challenge.
async fn challenge(api: &Api<'_>, email: &str) -> String {
    let reply = login_reply(api, email, PASSWORD).await;
    assert_eq!(reply.status, 200, "login: {}", reply.body);
    assert_eq!(
        reply.body["status"], "two_factor_required",
        "{}",
        reply.body
    );
    reply.body["challenge"]
        .as_str()
        .expect("challenge")
        .to_string()
}

async fn verify_2fa(api: &Api<'_>, challenge: &str, code: &str) -> Reply {
    api.post(
        "/v1/auth/2fa/verify",
        None,
        json!({"challenge": challenge, "code": code}),
    )
    .await
}

// ---------------------------------------------------------------------------------------------------------------
// Bad input on every route
// ---------------------------------------------------------------------------------------------------------------

/// A route taking a JSON body, with a well-formed body and a field it does not know.
struct JsonRoute {
    path: &'static str,
    valid: Value,
    authenticated: bool,
}

fn json_routes() -> Vec<JsonRoute> {
    let route = |path, valid, authenticated| JsonRoute {
        path,
        valid,
        authenticated,
    };
    vec![
        route(
            "/v1/auth/register",
            json!({"email": "someone@example.com", "password": PASSWORD, "display_name": "Someone"}),
            false,
        ),
        route(
            "/v1/auth/login",
            json!({"email": "someone@example.com", "password": PASSWORD}),
            false,
        ),
        route("/v1/auth/refresh", json!({"refresh_token": "lrt_x"}), false),
        route("/v1/auth/verify-email", json!({"token": "lve_x"}), false),
        route(
            "/v1/auth/resend-verification",
            json!({"email": "someone@example.com"}),
            false,
        ),
        route(
            "/v1/auth/forgot-password",
            json!({"email": "someone@example.com"}),
            false,
        ),
        route(
            "/v1/auth/reset-password",
            json!({"token": "lpr_x", "password": PASSWORD}),
            false,
        ),
        route(
            "/v1/auth/2fa/verify",
            json!({"challenge": "x", "code": "123456"}),
            false,
        ),
        route("/v1/auth/2fa/enable", json!({"code": "123456"}), true),
        route(
            "/v1/auth/2fa/disable",
            json!({"password": PASSWORD, "code": "123456"}),
            true,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_route_refuses_malformed_mistyped_incomplete_unknown_and_oversize_bodies() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("shape@example.com").await;
    let auth_header = format!("Bearer {}", user.access);
    for route in json_routes() {
        let path = route.path;
        let auth: Vec<(&str, &str)> = if route.authenticated {
            vec![("authorization", auth_header.as_str())]
        } else {
            Vec::new()
        };
        let send = |content_type: Option<&'static str>, body: Vec<u8>| {
            raw(&api, Method::POST, path, content_type, body, &auth)
        };

        // Cut short, not JSON at all, a single quote, trailing garbage after a well-formed body.
        let text = route.valid.to_string();
        let cut = text[..text.len() - 1].to_string();
        let single_quoted = text.replace('"', "'");
        let trailing = format!("{text} trailing");
        for bad in [
            cut,
            "not json".into(),
            single_quoted,
            trailing,
            String::new(),
        ] {
            let reply = send(Some("application/json"), bad.clone().into_bytes()).await;
            assert_eq!(reply.status, 400, "{path} {bad:?}: {}", reply.body);
            assert_eq!(
                reply.problem_type(),
                Some("malformed-json"),
                "{path} {bad:?}"
            );
        }

        let reply = send(Some("text/plain"), route.valid.to_string().into_bytes()).await;
        assert_problem(&reply, 415, "unsupported-media-type");
        let reply = send(None, route.valid.to_string().into_bytes()).await;
        assert_problem(&reply, 415, "unsupported-media-type");
        let reply = send(
            Some("application/x-www-form-urlencoded"),
            b"email=a%40b.c".to_vec(),
        )
        .await;
        assert_problem(&reply, 415, "unsupported-media-type");

        // Every declared field is required: dropping any one is a validation problem that names it.
        for missing in route.valid.as_object().unwrap().keys() {
            let mut body = route.valid.clone();
            body.as_object_mut().unwrap().remove(missing);
            let reply = send(Some("application/json"), body.to_string().into_bytes()).await;
            assert_problem(&reply, 400, "validation");
            assert!(
                errors_text(&reply).contains(missing.as_str()),
                "{path}: missing {missing} not named: {}",
                reply.body
            );
        }

        let mut body = route.valid.clone();
        body["is_admin"] = json!(true);
        let reply = send(Some("application/json"), body.to_string().into_bytes()).await;
        assert_problem(&reply, 400, "validation");
        assert!(
            errors_text(&reply).contains("is_admin"),
            "{path}: unknown field not named: {}",
            reply.body
        );

        // A number where a string belongs.
        let first = route
            .valid
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        let mut body = route.valid.clone();
        body[&first] = json!(12345);
        let reply = send(Some("application/json"), body.to_string().into_bytes()).await;
        assert_problem(&reply, 400, "validation");
        assert!(
            reply.fields().contains(&first),
            "{path}: mistyped {first} not named: {}",
            reply.body
        );

        let reply = send(Some("application/json"), b"[]".to_vec()).await;
        assert_problem(&reply, 400, "validation");

        // One byte over the default 1 MiB limit.
        let mut big = route.valid.clone();
        big[&first] = json!("a".repeat(1024 * 1024));
        let bytes = big.to_string().into_bytes();
        assert!(bytes.len() > 1024 * 1024);
        let reply = send(Some("application/json"), bytes).await;
        assert_problem(&reply, 413, "payload-too-large");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_a_role_field_and_register_with_is_admin_are_refused_naming_the_field() {
    let server = start().await;
    let api = Api::new(&server);
    api.signed_up("fields@example.com").await;

    let reply = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "fields@example.com", "password": PASSWORD, "role": "admin"}),
        )
        .await;
    assert_problem(&reply, 400, "validation");
    assert!(errors_text(&reply).contains("role"), "{}", reply.body);

    let reply = api
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "new@example.com", "password": PASSWORD, "display_name": "N", "is_admin": true}),
        )
        .await;
    assert_problem(&reply, 400, "validation");
    assert!(errors_text(&reply).contains("is_admin"), "{}", reply.body);
    // Refused before anything happened: no account, so no verification link.
    flush_mail(&api).await;
    assert_eq!(count_mails(&api, "new@example.com", VERIFY_LINK).await, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_without_a_body_refuse_missing_and_wrong_credentials_and_oversize_bodies() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("bodyless@example.com").await;
    for path in [
        "/v1/auth/logout",
        "/v1/auth/logout-all",
        "/v1/auth/2fa/setup",
        "/v1/auth/2fa/enable",
        "/v1/auth/2fa/disable",
    ] {
        let reply = api.call(Method::POST, path, None, None).await;
        assert_problem(&reply, 401, "unauthenticated");
        let reply = api.call(Method::POST, path, Some("not-a-jwt"), None).await;
        assert_problem(&reply, 401, "unauthenticated");
        let reply = api
            .call(Method::POST, path, Some(&user.refresh), None)
            .await;
        assert_problem(&reply, 401, "unauthenticated");
    }
    // The body limit holds even where the handler never reads a body.
    let reply = raw(
        &api,
        Method::POST,
        "/v1/auth/logout",
        Some("application/json"),
        vec![b' '; 1024 * 1024 + 1],
        &[("authorization", &format!("Bearer {}", user.access))],
    )
    .await;
    assert_problem(&reply, 413, "payload-too-large");
    // Wrong method on an auth route.
    let reply = api.get("/v1/auth/login", None).await;
    assert_eq!(reply.status, 405, "{}", reply.body);
    // ... and the session was not ended by the refused logout.
    assert_eq!(me(&api, &user.access).await.status, 200);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Registration and password policy
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refuses_bad_passwords_emails_names_and_privileged_roles() {
    let server = start().await;
    let api = Api::new(&server);
    let ok = json!({"email": "policy@example.com", "password": PASSWORD, "display_name": "Pat"});
    let with = |key: &str, value: Value| {
        let mut body = ok.clone();
        body[key] = value;
        body
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "short password",
            with("password", json!("short1")),
            "password",
        ),
        (
            "9 characters",
            with("password", json!("abcdefgh9")),
            "password",
        ),
        (
            "129 characters",
            with("password", json!("x".repeat(129))),
            "password",
        ),
        (
            "common password",
            with("password", json!("password123")),
            "password",
        ),
        (
            "password containing the email",
            with("password", json!("my policy@example.com pass")),
            "password",
        ),
        (
            "password containing the local part",
            with("password", json!("POLICY-and-more-words")),
            "password",
        ),
        ("no @", with("email", json!("not-an-email")), "email"),
        ("empty email", with("email", json!("")), "email"),
        ("two @", with("email", json!("a@b@example.com")), "email"),
        (
            "empty display name",
            with("display_name", json!("")),
            "display_name",
        ),
        (
            "blank display name",
            with("display_name", json!("   ")),
            "display_name",
        ),
        (
            "control character",
            with("display_name", json!("Pat\u{7}")),
            "display_name",
        ),
        (
            "101-char display name",
            with("display_name", json!("n".repeat(101))),
            "display_name",
        ),
        ("role admin", with("role", json!("admin")), "role"),
        ("role instructor", with("role", json!("instructor")), "role"),
        ("role moderator", with("role", json!("moderator")), "role"),
        ("unknown role", with("role", json!("superuser")), "role"),
    ];
    for (name, body, field) in cases {
        let reply = api.post("/v1/auth/register", None, body).await;
        assert_problem(&reply, 400, "validation");
        assert!(
            reply.fields().iter().any(|f| f == field),
            "{name}: errors should name {field}: {}",
            reply.body
        );
    }
    // Several problems at once are all reported.
    let reply = api
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "nope", "password": "short", "display_name": "", "role": "admin"}),
        )
        .await;
    assert_problem(&reply, 400, "validation");
    let named = reply.fields();
    for field in ["email", "password", "display_name", "role"] {
        assert!(
            named.iter().any(|f| f == field),
            "{field} missing in {named:?}"
        );
    }
    // None of the refused requests created an account; learner and parent may register.
    flush_mail(&api).await;
    assert_eq!(
        count_mails(&api, "policy@example.com", VERIFY_LINK).await,
        0
    );
    let parent = api
        .post("/v1/auth/register", None, with("role", json!("parent")))
        .await;
    assert_eq!(parent.status, 202, "{}", parent.body);
    let learner = register(&api, "learner@example.com", "exactly10!").await;
    assert_eq!(
        learner.status, 202,
        "10 characters is enough: {}",
        learner.body
    );
    let max = register(
        &api,
        "max@example.com",
        &"y".repeat(127).replace("yyy", "yzy"),
    )
    .await;
    assert_eq!(max.status, 202, "127 characters is fine: {}", max.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_unicode_passphrase_is_accepted_and_verified_exactly_as_typed() {
    let server = start().await;
    let api = Api::new(&server);
    let email = "phrase@example.com";
    let phrase =
        "  Les élèves lisent 📚 sous le grand chêne — 三本の木 — until the bell rings twice ";
    assert!(phrase.chars().count() >= 64, "{}", phrase.chars().count());
    let reply = register(&api, email, phrase).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let token = api.mailed_token(email, "verify-email").await;
    assert_eq!(
        api.post("/v1/auth/verify-email", None, json!({"token": token}))
            .await
            .status,
        204
    );

    let ok = login_reply(&api, email, phrase).await;
    assert_eq!(ok.status, 200, "the exact passphrase signs in: {}", ok.body);
    let mut chars: Vec<char> = phrase.chars().collect();
    chars.pop();
    let shorter: String = chars.into_iter().collect();
    let variants = [
        ("without its last character", shorter),
        ("trimmed", phrase.trim().to_string()),
        ("with the emoji dropped", phrase.replace('📚', "")),
        ("first 64 characters", phrase.chars().take(64).collect()),
    ];
    for (what, attempt) in variants {
        assert_ne!(attempt, phrase, "{what}");
        let reply = login_reply(&api, email, &attempt).await;
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        assert_eq!(reply.problem_type(), Some("invalid-credentials"), "{what}");
    }
    // The failures above did not lock (4 < 5); the exact phrase still works.
    assert_eq!(login_reply(&api, email, phrase).await.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_password_applies_the_policy_without_spending_the_token() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("resetpolicy@example.com").await;
    let reply = api
        .post(
            "/v1/auth/forgot-password",
            None,
            json!({"email": user.email}),
        )
        .await;
    assert_eq!(reply.status, 202);
    let token = link_token(&api, &user.email, "reset-password", 1).await;
    for bad in [
        "short",
        "password123",
        "resetpolicy is my name",
        &"z".repeat(129),
    ] {
        let reply = api
            .post(
                "/v1/auth/reset-password",
                None,
                json!({"token": token, "password": bad}),
            )
            .await;
        assert_problem(&reply, 400, "validation");
        assert_eq!(
            reply.fields(),
            vec!["password".to_string()],
            "{}",
            reply.body
        );
    }
    let reply = api
        .post(
            "/v1/auth/reset-password",
            None,
            json!({"token": token, "password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(
        reply.status, 204,
        "the token survived the refusals: {}",
        reply.body
    );
    assert_eq!(
        refresh(&api, &user.refresh).await.status,
        400,
        "sessions ended"
    );
    assert_eq!(login_reply(&api, &user.email, PASSWORD).await.status, 401);
    assert_eq!(
        login_reply(&api, &user.email, "a brand new passphrase")
            .await
            .status,
        200
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// No account enumeration
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_an_existing_email_answers_like_a_new_one_and_only_tells_the_owner() {
    let server = start().await;
    let api = Api::new(&server);
    let fresh = register(&api, "first@example.com", PASSWORD).await;
    let existing = api.signed_up("taken@example.com").await;
    flush_mail(&api).await;
    assert_eq!(count_mails(&api, &existing.email, VERIFY_LINK).await, 1);

    for variant in [
        "taken@example.com",
        "TAKEN@Example.com",
        "  taken@example.com ",
    ] {
        let again = api
            .post(
                "/v1/auth/register",
                None,
                json!({"email": variant, "password": "another good passphrase", "display_name": "Mallory"}),
            )
            .await;
        assert_eq!(again.status, fresh.status, "{variant}");
        assert_eq!(comparable(&again), comparable(&fresh), "{variant}");
    }
    // An unverified account registered again: same answer, no new link.
    let pending = register(&api, "pending@example.com", PASSWORD).await;
    assert_eq!(comparable(&pending), comparable(&fresh));
    let again = register(&api, "pending@example.com", "another good passphrase").await;
    assert_eq!(comparable(&again), comparable(&fresh));

    flush_mail(&api).await;
    assert_eq!(
        count_mails(&api, &existing.email, VERIFY_LINK).await,
        1,
        "no second verification link"
    );
    assert_eq!(
        count_mails(&api, "pending@example.com", VERIFY_LINK).await,
        1
    );
    // The owner hears about the attempt once (not once per attempt), with a way back in.
    assert_eq!(
        count_mails(&api, &existing.email, "already belongs to your account").await,
        1,
        "one notice per hour, however many attempts"
    );
    // The account and its password are untouched.
    assert_eq!(
        login_reply(&api, &existing.email, PASSWORD).await.status,
        200
    );
    assert_eq!(
        login_reply(&api, &existing.email, "another good passphrase")
            .await
            .status,
        401
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_password_and_resend_verification_answer_the_same_for_unknown_emails_and_send_nothing()
 {
    let server = start().await;
    let api = Api::new(&server);
    let known = api.signed_up("known@example.com").await;
    assert_eq!(
        register(&api, "unverified@example.com", PASSWORD)
            .await
            .status,
        202
    );
    api.mails_to("unverified@example.com", 1).await;
    let ghost = "ghost@example.com";

    let forgot_known = api
        .post(
            "/v1/auth/forgot-password",
            None,
            json!({"email": known.email}),
        )
        .await;
    let forgot_ghost = api
        .post("/v1/auth/forgot-password", None, json!({"email": ghost}))
        .await;
    assert_eq!(forgot_known.status, 202);
    assert_eq!(forgot_ghost.status, 202);
    assert_eq!(comparable(&forgot_ghost), comparable(&forgot_known));

    let resend_pending = api
        .post(
            "/v1/auth/resend-verification",
            None,
            json!({"email": "unverified@example.com"}),
        )
        .await;
    let resend_verified = api
        .post(
            "/v1/auth/resend-verification",
            None,
            json!({"email": known.email}),
        )
        .await;
    let resend_ghost = api
        .post(
            "/v1/auth/resend-verification",
            None,
            json!({"email": ghost}),
        )
        .await;
    for reply in [&resend_pending, &resend_verified, &resend_ghost] {
        assert_eq!(reply.status, 202, "{}", reply.body);
        assert_eq!(comparable(reply), comparable(&resend_pending));
    }

    flush_mail(&api).await;
    assert_eq!(
        api.mails_to(ghost, 0).await.len(),
        0,
        "nothing goes to an unknown address"
    );
    assert_eq!(count_mails(&api, &known.email, RESET_LINK).await, 1);
    assert_eq!(
        count_mails(&api, &known.email, VERIFY_LINK).await,
        1,
        "a verified account gets no new link"
    );
    assert_eq!(
        count_mails(&api, "unverified@example.com", VERIFY_LINK).await,
        2
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_answers_unknown_email_and_wrong_password_identically() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("real@example.com").await;
    let unknown = login_reply(&api, "nobody@example.com", PASSWORD).await;
    let wrong = login_reply(&api, &user.email, "not the right passphrase").await;
    let unverified_email = register(&api, "unverified2@example.com", PASSWORD).await;
    assert_eq!(unverified_email.status, 202);
    assert_problem(&unknown, 401, "invalid-credentials");
    assert_problem(&wrong, 401, "invalid-credentials");
    assert_eq!(unknown.body["title"], wrong.body["title"]);
    assert_eq!(unknown.body["detail"], wrong.body["detail"]);
    assert_eq!(comparable(&unknown), comparable(&wrong));
    // A bad email shape, an over-long password: the same answer again (no validation oracle on login).
    let malformed = login_reply(&api, "not-an-email", PASSWORD).await;
    assert_eq!(comparable(&malformed), comparable(&wrong));
    let huge = login_reply(&api, &user.email, &"p".repeat(5000)).await;
    assert_eq!(comparable(&huge), comparable(&wrong));
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Access, refresh and one-time tokens
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_expires_after_its_lifetime_plus_leeway() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("expiry@example.com").await;
    server.clock.advance(Duration::from_secs(900 + 29));
    assert_eq!(
        me(&api, &user.access).await.status,
        200,
        "still inside the leeway"
    );
    server.clock.advance(Duration::from_secs(2));
    let reply = me(&api, &user.access).await;
    assert_problem(&reply, 401, "unauthenticated");
    // The session itself lives on: a refresh gives a working token.
    let renewed = refresh(&api, &user.refresh).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    assert_eq!(
        me(&api, renewed.body["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_altered_and_foreign_bearer_tokens_are_refused() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("forger@example.com").await;
    let other = api.signed_up("victim@example.com").await;
    let (header, payload, signature) = jwt_parts(&user.access);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");

    // The codec is exact (so the cases below differ from the genuine token only where they say).
    for segment in user.access.split('.') {
        assert_eq!(b64url_encode(&b64url_decode(segment)), segment);
    }

    let mut longer = payload.clone();
    longer["exp"] = json!(payload["exp"].as_i64().unwrap() + 86_400);
    let mut someone_else = payload.clone();
    someone_else["sub"] = json!(other.user_id);
    someone_else["sid"] = json!(other.session_id);
    let mut none_header = header.clone();
    none_header["alg"] = json!("none");
    let mut hs_header = header.clone();
    hs_header["alg"] = json!("HS256");

    // A token signed by a key we never published, under the kid we did publish.
    let kid = header["kid"].as_str().unwrap();
    let (foreign_key, _) = SigningKey::generate(kid).unwrap();
    let foreign = TokenService::new(
        KeyRing::new(vec![foreign_key]).unwrap(),
        server.base.clone(),
        "lectern",
    );
    let (foreign_token, _) = foreign
        .issue(
            TokenKind::Access,
            &user.user_id,
            Some(&user.session_id),
            server.clock.epoch_seconds(),
            server.clock.now(),
            Duration::from_secs(900),
        )
        .unwrap();
    // Control: the server's own key issuing the very same claims is accepted.
    let own = test_accounts(server.platform.clone());
    let (own_token, _) = own
        .tokens
        .issue(
            TokenKind::Access,
            &user.user_id,
            Some(&user.session_id),
            server.clock.epoch_seconds(),
            server.clock.now(),
            Duration::from_secs(900),
        )
        .unwrap();
    assert_eq!(me(&api, &own_token).await.status, 200, "control token");

    let mut unknown_kid = header.clone();
    unknown_kid["kid"] = json!("someone-elses-key");
    let mut no_typ = header.clone();
    no_typ.as_object_mut().unwrap().remove("typ");

    let cases: Vec<(&str, String)> = vec![
        (
            "same claims, re-serialized",
            jwt_from(&header, &payload, &signature),
        ),
        ("exp extended", jwt_from(&header, &longer, &signature)),
        (
            "sub and sid swapped",
            jwt_from(&header, &someone_else, &signature),
        ),
        (
            "alg none, no signature",
            jwt_from(&none_header, &payload, ""),
        ),
        (
            "alg none, old signature",
            jwt_from(&none_header, &payload, &signature),
        ),
        ("alg HS256", jwt_from(&hs_header, &payload, &signature)),
        ("unknown kid", jwt_from(&unknown_kid, &payload, &signature)),
        ("no typ", jwt_from(&no_typ, &payload, &signature)),
        (
            "signature of another token",
            format!(
                "{}.{}",
                user.access.rsplit_once('.').unwrap().0,
                jwt_parts(&other.access).2
            ),
        ),
        ("foreign key", foreign_token),
        (
            "truncated",
            user.access[..user.access.len() - 4].to_string(),
        ),
        (
            "two parts",
            user.access.rsplit_once('.').unwrap().0.to_string(),
        ),
        ("refresh token", user.refresh.clone()),
        ("empty", String::new()),
        ("huge", "a".repeat(5000)),
    ];
    for (name, token) in cases {
        let reply = get_authorized(&api, "/v1/users/me", &format!("Bearer {token}")).await;
        assert_eq!(reply.status, 401, "{name}: {}", reply.body);
        assert_eq!(reply.problem_type(), Some("unauthenticated"), "{name}");
    }
    // Other schemes and shapes of the header.
    for value in [
        format!(
            "Basic {}",
            b64url_encode(format!("{}:{PASSWORD}", user.email).as_bytes())
        ),
        format!("Token {}", user.access),
        user.access.clone(),
        format!("Bearer{}", user.access),
    ] {
        let reply = get_authorized(&api, "/v1/users/me", &value).await;
        assert_problem(&reply, 401, "unauthenticated");
    }
    // The genuine tokens still work.
    assert_eq!(me(&api, &user.access).await.status, 200);
    assert_eq!(me(&api, &other.access).await.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_misused_refresh_tokens_are_refused() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("refresher@example.com").await;
    for garbage in [
        "",
        "garbage",
        "lrt_",
        "lrt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        user.access.as_str(),
        format!("{}x", user.refresh).as_str(),
        format!("lrt_{}", "a".repeat(500)).as_str(),
    ] {
        let reply = refresh(&api, garbage).await;
        assert_problem(&reply, 400, "invalid-token");
    }
    // Logged out: the refresh token and the access token die with the session.
    let second = api.login(&user.email).await;
    let reply = api
        .call(Method::POST, "/v1/auth/logout", Some(&second.access), None)
        .await;
    assert_eq!(reply.status, 204);
    assert_problem(&refresh(&api, &second.refresh).await, 400, "invalid-token");
    assert_problem(&me(&api, &second.access).await, 401, "unauthenticated");
    // The first session is untouched by the other session's logout.
    assert_eq!(me(&api, &user.access).await.status, 200);

    // A rotated token shown again after the grace period ends the whole session.
    let rotated = refresh(&api, &user.refresh).await;
    assert_eq!(rotated.status, 200);
    server.clock.advance(Duration::from_secs(6));
    let reuse = refresh(&api, &user.refresh).await;
    assert_problem(&reuse, 401, "refresh-token-reused");
    let newest = rotated.body["refresh_token"].as_str().unwrap();
    assert_problem(&refresh(&api, newest).await, 400, "invalid-token");
    assert_problem(
        &me(&api, rotated.body["access_token"].as_str().unwrap()).await,
        401,
        "unauthenticated",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_all_ends_every_session() {
    let server = start().await;
    let api = Api::new(&server);
    let a = api.signed_up("everywhere@example.com").await;
    let b = api.login(&a.email).await;
    let reply = api
        .call(Method::POST, "/v1/auth/logout-all", Some(&b.access), None)
        .await;
    assert_eq!(reply.status, 204);
    for session in [&a, &b] {
        assert_problem(&refresh(&api, &session.refresh).await, 400, "invalid-token");
        assert_problem(&me(&api, &session.access).await, 401, "unauthenticated");
    }
    let reply = api
        .call(Method::POST, "/v1/auth/logout-all", Some(&b.access), None)
        .await;
    assert_problem(&reply, 401, "unauthenticated");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_and_reset_tokens_refuse_garbage_the_other_purpose_and_reuse() {
    let server = start().await;
    let api = Api::new(&server);
    let email = "onetime@example.com";
    assert_eq!(register(&api, email, PASSWORD).await.status, 202);
    let verify = api.mailed_token(email, "verify-email").await;
    assert!(verify.starts_with("lve_"), "{verify}");
    let reply = api
        .post("/v1/auth/forgot-password", None, json!({"email": email}))
        .await;
    assert_eq!(reply.status, 202);
    let reset = link_token(&api, email, "reset-password", 1).await;
    assert!(reset.starts_with("lpr_"), "{reset}");

    let verify_email =
        |token: String| api.post("/v1/auth/verify-email", None, json!({"token": token}));
    let reset_password = |token: String| {
        api.post(
            "/v1/auth/reset-password",
            None,
            json!({"token": token, "password": "a fresh passphrase"}),
        )
    };
    for garbage in [
        "",
        "garbage",
        "lve_",
        "lpr_",
        "lve_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_problem(&verify_email(garbage.into()).await, 400, "invalid-token");
        assert_problem(&reset_password(garbage.into()).await, 400, "invalid-token");
    }
    // The right token on the wrong route, even with the other purpose's prefix pasted on.
    assert_problem(&verify_email(reset.clone()).await, 400, "invalid-token");
    assert_problem(&reset_password(verify.clone()).await, 400, "invalid-token");
    let swapped = format!("lve_{}", reset.trim_start_matches("lpr_"));
    assert_problem(&verify_email(swapped).await, 400, "invalid-token");
    let reply = verify_email(reset.clone()).await;
    assert_eq!(reply.fields(), vec!["token".to_string()]);

    // Both still work where they belong, once.
    assert_eq!(verify_email(verify.clone()).await.status, 204);
    assert_problem(&verify_email(verify).await, 400, "invalid-token");
    assert_eq!(reset_password(reset.clone()).await.status, 204);
    assert_problem(&reset_password(reset).await, 400, "invalid-token");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_links_expire_after_24_hours_and_reset_links_after_15_minutes() {
    let server = start().await;
    let api = Api::new(&server);
    for email in ["early@example.com", "late@example.com"] {
        assert_eq!(register(&api, email, PASSWORD).await.status, 202);
    }
    let early = api.mailed_token("early@example.com", "verify-email").await;
    let late = api.mailed_token("late@example.com", "verify-email").await;
    server.clock.advance(Duration::from_secs(24 * 3600 - 60));
    let reply = api
        .post("/v1/auth/verify-email", None, json!({"token": early}))
        .await;
    assert_eq!(reply.status, 204, "valid just before 24 h: {}", reply.body);
    server.clock.advance(Duration::from_secs(61));
    let reply = api
        .post("/v1/auth/verify-email", None, json!({"token": late}))
        .await;
    assert_problem(&reply, 400, "invalid-token");

    let user = api.login("early@example.com").await;
    for n in 0..2 {
        let reply = api
            .post(
                "/v1/auth/forgot-password",
                None,
                json!({"email": user.email}),
            )
            .await;
        assert_eq!(reply.status, 202);
        let token = link_token(&api, &user.email, "reset-password", n + 1).await;
        server.clock.advance(Duration::from_secs(if n == 0 {
            15 * 60 + 1
        } else {
            15 * 60 - 30
        }));
        let reply = api
            .post(
                "/v1/auth/reset-password",
                None,
                json!({"token": token, "password": "a fresh passphrase"}),
            )
            .await;
        if n == 0 {
            assert_problem(&reply, 400, "invalid-token");
        } else {
            assert_eq!(reply.status, 204, "valid before 15 min: {}", reply.body);
        }
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Lockout
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_lock_the_account_for_its_duration_and_mail_the_owner_once() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("locked@example.com").await;

    // Four failures do not lock, and a success clears the count.
    for _ in 0..4 {
        assert_problem(
            &login_reply(&api, &user.email, "wrong passphrase").await,
            401,
            "invalid-credentials",
        );
    }
    assert_eq!(login_reply(&api, &user.email, PASSWORD).await.status, 200);

    let mut wrong = None;
    for _ in 0..5 {
        let reply = login_reply(&api, &user.email, "wrong passphrase").await;
        assert_problem(&reply, 401, "invalid-credentials");
        wrong = Some(reply);
    }
    let locked = login_reply(&api, &user.email, PASSWORD).await;
    assert_problem(&locked, 401, "invalid-credentials");
    assert_eq!(
        comparable(&locked),
        comparable(wrong.as_ref().unwrap()),
        "a locked account answers like a wrong password"
    );
    // More failures while locked send no more mail; the lock still holds just before it ends.
    for _ in 0..3 {
        login_reply(&api, &user.email, "wrong passphrase").await;
    }
    server.clock.advance(Duration::from_secs(890));
    assert_problem(
        &login_reply(&api, &user.email, PASSWORD).await,
        401,
        "invalid-credentials",
    );
    // Existing sessions are not touched by a lock.
    assert_eq!(
        me(&api, &refresh_access(&api, &user).await).await.status,
        200
    );

    flush_mail(&api).await;
    assert_eq!(
        count_mails(&api, &user.email, LOCKED).await,
        1,
        "exactly one lock email"
    );

    server.clock.advance(Duration::from_secs(11));
    let reply = login_reply(&api, &user.email, PASSWORD).await;
    assert_eq!(reply.status, 200, "unlocked after 900 s: {}", reply.body);
    server.stop().await;
}

/// A fresh access token for a session (the signed-in one may have expired after clock moves).
async fn refresh_access(api: &Api<'_>, user: &Signed) -> String {
    let reply = refresh(api, &user.refresh).await;
    assert_eq!(reply.status, 200, "refresh: {}", reply.body);
    reply.body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_two_factor_codes_count_toward_the_same_lockout() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("lock2fa@example.com").await;
    let (secret, _) = enrol_2fa(&api, &user).await;

    for _ in 0..3 {
        assert_problem(
            &login_reply(&api, &user.email, "wrong passphrase").await,
            401,
            "invalid-credentials",
        );
    }
    let challenge = challenge(&api, &user.email).await;
    for _ in 0..2 {
        let reply = verify_2fa(&api, &challenge, &wrong_code(&server, &secret)).await;
        assert_problem(&reply, 401, "invalid-code");
    }
    // Locked now: the right code and the right password are both refused.
    let right = totp::code_at(&secret, now_secs(&server));
    assert_problem(
        &verify_2fa(&api, &challenge, &right).await,
        401,
        "invalid-code",
    );
    assert_problem(
        &login_reply(&api, &user.email, PASSWORD).await,
        401,
        "invalid-credentials",
    );
    flush_mail(&api).await;
    assert_eq!(count_mails(&api, &user.email, LOCKED).await, 1);

    server.clock.advance(Duration::from_secs(901));
    let challenge = self::challenge(&api, &user.email).await;
    let reply = verify_2fa(&api, &challenge, &totp::code_at(&secret, now_secs(&server))).await;
    assert_eq!(reply.status, 200, "unlocked: {}", reply.body);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Rate limits
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_ip_auth_limit_answers_429_with_headers_and_ignores_forwarding_headers() {
    let server = start_with(auth_limits(3, 100)).await;
    let api = Api::new(&server);
    let creds = json!({"email": "nobody@example.com", "password": PASSWORD});

    let first = api.post("/v1/auth/login", None, creds.clone()).await;
    assert_problem(&first, 401, "invalid-credentials");
    assert_eq!(header(&first, "ratelimit-limit"), "3");
    assert_eq!(header(&first, "ratelimit-remaining"), "2");
    let reset: u64 = header(&first, "ratelimit-reset").parse().unwrap();
    assert!((1..=60).contains(&reset), "{reset}");

    // Claiming to be someone else changes nothing: the same bucket keeps counting.
    let second = post_with(
        &api,
        "/v1/auth/login",
        creds.clone(),
        &[("x-forwarded-for", "203.0.113.7")],
    )
    .await;
    assert_eq!(second.status, 401);
    assert_eq!(header(&second, "ratelimit-remaining"), "1");
    let third = post_with(
        &api,
        "/v1/auth/forgot-password",
        json!({"email": "other@example.com"}),
        &[
            ("x-real-ip", "198.51.100.1"),
            ("forwarded", "for=198.51.100.2"),
        ],
    )
    .await;
    assert_eq!(third.status, 202);
    assert_eq!(header(&third, "ratelimit-remaining"), "0");

    for (name, value) in [
        ("x-forwarded-for", "203.0.113.99"),
        ("x-forwarded-for", "198.51.100.3, 10.0.0.1"),
    ] {
        let limited = post_with(&api, "/v1/auth/login", creds.clone(), &[(name, value)]).await;
        assert_problem(&limited, 429, "rate-limited");
        let retry: u64 = header(&limited, "retry-after").parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(header(&limited, "ratelimit-limit"), "3");
        assert_eq!(header(&limited, "ratelimit-remaining"), "0");
    }
    // Every credential route shares the class; the public JWKS does not.
    for (path, body) in [
        (
            "/v1/auth/register",
            json!({"email": "x@example.com", "password": PASSWORD, "display_name": "X"}),
        ),
        ("/v1/auth/refresh", json!({"refresh_token": "lrt_x"})),
        ("/v1/auth/verify-email", json!({"token": "lve_x"})),
        (
            "/v1/auth/2fa/verify",
            json!({"challenge": "x", "code": "123456"}),
        ),
    ] {
        assert_problem(&api.post(path, None, body).await, 429, "rate-limited");
    }
    assert_eq!(api.get("/v1/auth/jwks.json", None).await.status, 200);

    // A new window lets requests through again.
    server.clock.advance(Duration::from_secs(61));
    let later = api.post("/v1/auth/login", None, creds).await;
    assert_eq!(later.status, 401, "{}", later.body);
    assert_eq!(header(&later, "ratelimit-remaining"), "2");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_account_limit_blocks_one_email_but_not_another() {
    let server = start_with(auth_limits(20, 2)).await;
    let api = Api::new(&server);
    let user = api.signed_up("target@example.com").await;
    // Signing up spent this window's allowance of the account (register + login): start a new window.
    server.clock.advance(Duration::from_secs(61));

    for remaining in ["1", "0"] {
        let reply = login_reply(&api, &user.email, "guessing passphrase").await;
        assert_problem(&reply, 401, "invalid-credentials");
        assert_eq!(
            header(&reply, "ratelimit-limit"),
            "2",
            "the stricter (account) limit is shown"
        );
        assert_eq!(header(&reply, "ratelimit-remaining"), remaining);
    }
    // Over the account's limit, however the address is spelled, even with the right password.
    for variant in [
        "target@example.com",
        "TARGET@example.com",
        " target@example.com",
    ] {
        let reply = login_reply(&api, variant, PASSWORD).await;
        assert_problem(&reply, 429, "rate-limited");
        assert!(header(&reply, "retry-after").parse::<u64>().unwrap() >= 1);
    }
    let reply = api
        .post(
            "/v1/auth/forgot-password",
            None,
            json!({"email": user.email}),
        )
        .await;
    assert_problem(&reply, 429, "rate-limited");

    // Another email from the same IP is not held back by the first one's limit.
    let other = login_reply(&api, "someone-else@example.com", PASSWORD).await;
    assert_problem(&other, 401, "invalid-credentials");
    assert_eq!(header(&other, "ratelimit-remaining"), "1");

    server.clock.advance(Duration::from_secs(61));
    let reply = login_reply(&api, &user.email, PASSWORD).await;
    assert_eq!(reply.status, 200, "a new window: {}", reply.body);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------------------------------------------

/// POSTs every body to `path` at (nearly) the same moment; answers status and body of each, in order.
async fn concurrently(api: &Api<'_>, path: &str, bodies: Vec<Value>) -> Vec<(StatusCode, Value)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(bodies.len()));
    let mut tasks = Vec::new();
    for body in bodies {
        let http = api.http.clone();
        let url = api.server.url(path);
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let request = http.post(url).json(&body);
            barrier.wait().await;
            let resp = request.send().await.expect("request");
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            (status, body)
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_email_create_one_account_and_one_link() {
    let server = start().await;
    let api = Api::new(&server);
    let admin = api.admin("racer-admin@example.com").await;
    let variants = [
        "race@example.com",
        "RACE@example.com",
        "Race@Example.com",
        "race@EXAMPLE.COM",
        "rAcE@example.com",
        "RACE@EXAMPLE.COM",
        "race@example.Com",
        "raCe@example.com",
        "racE@example.com",
        "Race@example.com",
    ];
    let bodies = variants
        .iter()
        .map(|email| json!({"email": email, "password": PASSWORD, "display_name": "Racer"}))
        .collect();
    let answers = concurrently(&api, "/v1/auth/register", bodies).await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body, &answers[0].1, "every racer gets the same answer");
    }
    flush_mail(&api).await;
    assert_eq!(
        count_mails(&api, "race@example.com", VERIFY_LINK).await,
        1,
        "exactly one verification link"
    );
    let listed = api
        .get("/v1/admin/users?email=race%40", Some(&admin.access))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "exactly one account: {}",
        listed.body
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("tabs@example.com").await;
    let bodies = (0..10)
        .map(|_| json!({"refresh_token": user.refresh}))
        .collect();
    let answers = concurrently(&api, "/v1/auth/refresh", bodies).await;
    let winners: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert_eq!(
            body["type"],
            "https://lectern.dev/problems/refresh-token-used"
        );
    }
    // The losers did not end the session: the winner's tokens work.
    let winner = winners[0];
    assert_eq!(
        me(&api, winner["access_token"].as_str().unwrap())
            .await
            .status,
        200
    );
    let next = refresh(&api, winner["refresh_token"].as_str().unwrap()).await;
    assert_eq!(next.status, 200, "{}", next.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_reset_token_used_twice_at_once_works_once() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("twice@example.com").await;
    assert_eq!(
        api.post(
            "/v1/auth/forgot-password",
            None,
            json!({"email": user.email})
        )
        .await
        .status,
        202
    );
    let token = link_token(&api, &user.email, "reset-password", 1).await;
    let bodies = vec![
        json!({"token": token, "password": "first new passphrase"}),
        json!({"token": token, "password": "second new passphrase"}),
    ];
    let answers = concurrently(&api, "/v1/auth/reset-password", bodies).await;
    let ok: Vec<usize> = (0..2)
        .filter(|i| answers[*i].0 == StatusCode::NO_CONTENT)
        .collect();
    assert_eq!(ok.len(), 1, "{answers:?}");
    let loser = &answers[1 - ok[0]];
    assert_eq!(loser.0, StatusCode::BAD_REQUEST, "{:?}", loser.1);
    assert_eq!(
        loser.1["type"],
        "https://lectern.dev/problems/invalid-token"
    );
    // The winner's password is the one that holds.
    let (won, lost) = if ok[0] == 0 {
        ("first new passphrase", "second new passphrase")
    } else {
        ("second new passphrase", "first new passphrase")
    };
    assert_eq!(login_reply(&api, &user.email, won).await.status, 200);
    assert_eq!(login_reply(&api, &user.email, lost).await.status, 401);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Suspended and deleted accounts
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_accounts_cannot_refresh_or_use_their_tokens() {
    let server = start().await;
    let api = Api::new(&server);
    let admin = api.admin("boss@example.com").await;
    let user = api.signed_up("suspended@example.com").await;
    let path = format!("/v1/admin/users/{}/suspend", user.user_id);
    let reply = api
        .call(Method::POST, &path, Some(&admin.access), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    assert_problem(&refresh(&api, &user.refresh).await, 400, "invalid-token");
    assert_problem(&me(&api, &user.access).await, 401, "unauthenticated");
    assert_problem(
        &login_reply(&api, &user.email, PASSWORD).await,
        403,
        "account-suspended",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_refuses_accounts_made_inactive_even_while_their_sessions_exist() {
    // The status changes below go straight to the store, leaving the sessions in place, so the refresh
    // route's own status check is what is tested (admin suspension also ends the sessions).
    let server = start().await;
    let api = Api::new(&server);
    let accounts = test_accounts(server.platform.clone());
    for (email, status) in [
        ("flip-suspended@example.com", Status::Suspended),
        ("flip-deleted@example.com", Status::Deleted),
    ] {
        let user = api.signed_up(email).await;
        let mut stored = accounts.users.get(&user.user_id).await.unwrap().unwrap();
        stored.status = status;
        accounts
            .users
            .save(&mut stored, server.clock.epoch_seconds())
            .await
            .unwrap();
        assert!(
            accounts
                .sessions
                .get(&user.user_id, &user.session_id)
                .await
                .unwrap()
                .is_some(),
            "the session is still stored"
        );
        assert_problem(&refresh(&api, &user.refresh).await, 400, "invalid-token");
        assert_problem(&me(&api, &user.access).await, 401, "unauthenticated");
        // Refusing the refresh ended the session for good.
        assert!(
            accounts
                .sessions
                .get(&user.user_id, &user.session_id)
                .await
                .unwrap()
                .is_none(),
            "{email}: the session should be gone"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_accounts_cannot_refresh() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("leaving@example.com").await;
    let other_session = api.login(&user.email).await;
    let reply = api
        .call(Method::DELETE, "/v1/users/me", Some(&user.access), None)
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    for session in [&user, &other_session] {
        assert_problem(&refresh(&api, &session.refresh).await, 400, "invalid-token");
        assert_problem(&me(&api, &session.access).await, 401, "unauthenticated");
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Two-factor authentication
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_enable_needs_setup_and_a_right_code() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("enable@example.com").await;
    let reply = api
        .post(
            "/v1/auth/2fa/enable",
            Some(&user.access),
            json!({"code": "123456"}),
        )
        .await;
    assert_problem(&reply, 409, "conflict");

    let setup = api
        .post("/v1/auth/2fa/setup", Some(&user.access), json!({}))
        .await;
    assert_eq!(setup.status, 200);
    let secret = base32_decode(setup.body["secret"].as_str().unwrap());
    for bad in [
        wrong_code(&server, &secret),
        "12345".into(),
        "abcdef".into(),
        "".into(),
    ] {
        let reply = api
            .post(
                "/v1/auth/2fa/enable",
                Some(&user.access),
                json!({"code": bad}),
            )
            .await;
        assert_problem(&reply, 401, "invalid-code");
    }
    // Not enabled by the failures: sign-in still needs no code, and disabling says it is off.
    let login = login_reply(&api, &user.email, PASSWORD).await;
    assert_eq!(login.body["status"], "authenticated", "{}", login.body);
    let reply = api
        .post(
            "/v1/auth/2fa/disable",
            Some(&user.access),
            json!({"password": PASSWORD, "code": "123456"}),
        )
        .await;
    assert_problem(&reply, 409, "conflict");

    let (_, _) = enrol_2fa(&api, &api.login(&user.email).await).await;
    // Already on: a second setup is refused.
    let fresh = refresh_access(&api, &user).await;
    let reply = api
        .post("/v1/auth/2fa/setup", Some(&fresh), json!({}))
        .await;
    assert_problem(&reply, 409, "conflict");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_setup_and_enable_need_a_recent_sign_in_which_refresh_does_not_renew() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("stale@example.com").await;
    let reply = api
        .post("/v1/auth/2fa/setup", Some(&user.access), json!({}))
        .await;
    assert_eq!(
        reply.status, 200,
        "fresh sign-in may set up: {}",
        reply.body
    );
    let secret = base32_decode(reply.body["secret"].as_str().unwrap());

    server.clock.advance(Duration::from_secs(601));
    let access = refresh_access(&api, &user).await;
    let (_, claims, _) = jwt_parts(&access);
    let (_, first_claims, _) = jwt_parts(&user.access);
    assert_eq!(
        claims["auth_time"], first_claims["auth_time"],
        "refresh keeps auth_time"
    );

    let reply = api
        .post("/v1/auth/2fa/setup", Some(&access), json!({}))
        .await;
    assert_problem(&reply, 403, "reauthentication-required");
    let code = totp::code_at(&secret, now_secs(&server));
    let reply = api
        .post("/v1/auth/2fa/enable", Some(&access), json!({"code": code}))
        .await;
    assert_problem(&reply, 403, "reauthentication-required");

    // Signing in again makes it recent.
    let again = api.login(&user.email).await;
    let reply = api
        .post("/v1/auth/2fa/setup", Some(&again.access), json!({}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_disable_refuses_a_wrong_password_or_code() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("keep2fa@example.com").await;
    let (secret, backup) = enrol_2fa(&api, &user).await;
    let access = refresh_access(&api, &user).await;
    let right = totp::code_at(&secret, now_secs(&server));

    let reply = api
        .post(
            "/v1/auth/2fa/disable",
            Some(&access),
            json!({"password": "not my passphrase", "code": right}),
        )
        .await;
    assert_problem(&reply, 400, "validation");
    assert_eq!(reply.fields(), vec!["password".to_string()]);

    let reply = api
        .post(
            "/v1/auth/2fa/disable",
            Some(&access),
            json!({"password": PASSWORD, "code": wrong_code(&server, &secret)}),
        )
        .await;
    assert_problem(&reply, 401, "invalid-code");
    let reply = api
        .post(
            "/v1/auth/2fa/disable",
            Some(&access),
            json!({"password": PASSWORD, "code": "not-a-backup-code"}),
        )
        .await;
    assert_problem(&reply, 401, "invalid-code");

    // Still on.
    let challenge = challenge(&api, &user.email).await;
    let reply = verify_2fa(&api, &challenge, &backup[0]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_challenges_expire_are_single_use_and_are_not_access_tokens() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("challenged@example.com").await;
    let (secret, backup) = enrol_2fa(&api, &user).await;

    // A challenge is not an access token, and an access token is not a challenge.
    let first = challenge(&api, &user.email).await;
    let (header, _, _) = jwt_parts(&first);
    assert_eq!(header["typ"], "lectern-2fa+jwt");
    assert_problem(&me(&api, &first).await, 401, "unauthenticated");
    let access = refresh_access(&api, &user).await;
    let code = totp::code_at(&secret, now_secs(&server));
    assert_problem(
        &verify_2fa(&api, &access, &code).await,
        400,
        "invalid-token",
    );
    for garbage in ["", "garbage", "a.b.c"] {
        assert_problem(
            &verify_2fa(&api, garbage, &code).await,
            400,
            "invalid-token",
        );
    }

    // Used once with a TOTP code, then again with a (valid, unused) backup code: refused.
    let reply = verify_2fa(&api, &first, &code).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = verify_2fa(&api, &first, &backup[1]).await;
    assert!(
        matches!(reply.status.as_u16(), 400 | 401),
        "a spent challenge must be refused: {}",
        reply.body
    );
    assert_ne!(reply.status, 200);
    // A TOTP code works once too, even on a fresh challenge.
    let second = challenge(&api, &user.email).await;
    assert_problem(&verify_2fa(&api, &second, &code).await, 401, "invalid-code");
    // The backup code offered with the spent challenge was not used up by that refusal.
    let reply = verify_2fa(&api, &second, &backup[1]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // ... but it is now.
    let third = challenge(&api, &user.email).await;
    assert_problem(
        &verify_2fa(&api, &third, &backup[1]).await,
        401,
        "invalid-code",
    );

    // A challenge older than 5 minutes (plus the 30 s leeway) is refused, even with a right code.
    let old = challenge(&api, &user.email).await;
    server.clock.advance(Duration::from_secs(300 + 31));
    let code = totp::code_at(&secret, now_secs(&server));
    let reply = verify_2fa(&api, &old, &code).await;
    assert!(matches!(reply.status.as_u16(), 400 | 401), "{}", reply.body);
    assert_problem(&reply, 400, "invalid-token");
    // The code itself was fine.
    let fresh = challenge(&api, &user.email).await;
    assert_eq!(verify_2fa(&api, &fresh, &code).await.status, 200);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// JWKS
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_publishes_the_ed25519_key_that_signs_access_tokens_and_nothing_private() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("keys@example.com").await;
    let reply = api.get("/v1/auth/jwks.json", None).await;
    assert_eq!(reply.status, 200);
    assert!(
        header(&reply, "cache-control").contains("max-age"),
        "{:?}",
        reply.headers
    );
    let keys = reply.body["keys"].as_array().expect("keys");
    assert!(!keys.is_empty());
    let (token_header, _, _) = jwt_parts(&user.access);
    let kid = token_header["kid"]
        .as_str()
        .expect("kid in the token header");
    let key = keys
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} not in {keys:?}"));
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(b64url_decode(key["x"].as_str().unwrap()).len(), 32);
    for k in keys {
        assert!(k.get("d").is_none(), "no private key material: {k}");
    }
    // The same key signs after a restart of the server over the same data.
    let dir = server.stop().await;
    let server = DevServer::start_in(dir).await;
    let again = Api::new(&server).get("/v1/auth/jwks.json", None).await;
    assert_eq!(again.body["keys"], reply.body["keys"]);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// More token and session edges
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_signed_with_the_real_key_but_wrong_claims_are_refused() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("claims@example.com").await;
    // The server's own key, read from its data dir: only the claims differ from a genuine token.
    let ring = || KeyRing::local(server.dir.path()).expect("the server's key");
    let now = server.clock.now();
    let auth_time = server.clock.epoch_seconds();
    let issue = |service: &TokenService, kind, sid: Option<&str>, at, ttl| {
        service
            .issue(
                kind,
                &user.user_id,
                sid,
                auth_time,
                at,
                Duration::from_secs(ttl),
            )
            .expect("issue")
            .0
    };
    let genuine = TokenService::new(ring(), server.base.clone(), "lectern");
    let control = issue(
        &genuine,
        TokenKind::Access,
        Some(&user.session_id),
        now,
        900,
    );
    assert_eq!(me(&api, &control).await.status, 200, "control token");

    let other_audience = TokenService::new(ring(), server.base.clone(), "another-app");
    let other_issuer = TokenService::new(ring(), "https://evil.example.com", "lectern");
    let cases = [
        (
            "another audience",
            issue(
                &other_audience,
                TokenKind::Access,
                Some(&user.session_id),
                now,
                900,
            ),
        ),
        (
            "another issuer",
            issue(
                &other_issuer,
                TokenKind::Access,
                Some(&user.session_id),
                now,
                900,
            ),
        ),
        (
            "no session id",
            issue(&genuine, TokenKind::Access, None, now, 900),
        ),
        (
            "a session that does not exist",
            issue(
                &genuine,
                TokenKind::Access,
                Some("01AAAAAAAAAAAAAAAAAAAAAAAA"),
                now,
                900,
            ),
        ),
        (
            "not valid for another hour",
            issue(
                &genuine,
                TokenKind::Access,
                Some(&user.session_id),
                now + Duration::from_secs(3600),
                900,
            ),
        ),
        (
            "a challenge",
            issue(
                &genuine,
                TokenKind::Challenge,
                Some(&user.session_id),
                now,
                900,
            ),
        ),
    ];
    for (name, token) in cases {
        let reply = me(&api, &token).await;
        assert_eq!(reply.status, 401, "{name}: {}", reply.body);
        assert_eq!(reply.problem_type(), Some("unauthenticated"), "{name}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_cannot_be_refreshed_and_a_password_reset_ends_access_at_once() {
    let server = start().await;
    let api = Api::new(&server);
    let idle = api.signed_up("idle@example.com").await;
    server
        .clock
        .advance(Duration::from_secs(14 * 24 * 3600 + 1));
    assert_problem(&refresh(&api, &idle.refresh).await, 400, "invalid-token");

    let user = api.signed_up("resetme@example.com").await;
    let reply = api
        .post(
            "/v1/auth/forgot-password",
            None,
            json!({"email": user.email}),
        )
        .await;
    assert_eq!(reply.status, 202);
    let token = link_token(&api, &user.email, "reset-password", 1).await;
    let reply = api
        .post(
            "/v1/auth/reset-password",
            None,
            json!({"token": token, "password": "a completely new passphrase"}),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_problem(&me(&api, &user.access).await, 401, "unauthenticated");
    assert_problem(&refresh(&api, &user.refresh).await, 400, "invalid-token");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_challenge_verified_twice_at_once_starts_one_session() {
    let server = start().await;
    let api = Api::new(&server);
    let user = api.signed_up("double@example.com").await;
    let (secret, backup) = enrol_2fa(&api, &user).await;
    let challenge = challenge(&api, &user.email).await;
    let code = totp::code_at(&secret, now_secs(&server));
    let bodies = vec![
        json!({"challenge": challenge, "code": code}),
        json!({"challenge": challenge, "code": backup[0]}),
    ];
    let answers = concurrently(&api, "/v1/auth/2fa/verify", bodies).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert!(matches!(status.as_u16(), 400 | 401), "{status}: {body}");
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Lockout reached through 2fa/disable (suspected bugs)
// ---------------------------------------------------------------------------------------------------------------

/// A signed-in 2FA user, its secret, and a fresh access token.
async fn two_factor_user(api: &Api<'_>, email: &str) -> (Signed, Vec<u8>, String) {
    let user = api.signed_up(email).await;
    let (secret, _) = enrol_2fa(api, &user).await;
    let access = refresh_access(api, &user).await;
    (user, secret, access)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_lock_reached_through_two_factor_disable_mails_the_owner() {
    let server = start().await;
    let api = Api::new(&server);
    let (user, secret, access) = two_factor_user(&api, "silentlock@example.com").await;
    for _ in 0..4 {
        assert_problem(
            &login_reply(&api, &user.email, "wrong passphrase").await,
            401,
            "invalid-credentials",
        );
    }
    let reply = api
        .post(
            "/v1/auth/2fa/disable",
            Some(&access),
            json!({"password": "wrong passphrase", "code": totp::code_at(&secret, now_secs(&server))}),
        )
        .await;
    assert_problem(&reply, 400, "validation");
    // That fifth failure locked the account ...
    assert_problem(
        &login_reply(&api, &user.email, PASSWORD).await,
        401,
        "invalid-credentials",
    );
    // ... so its owner must hear about it, as with any other lock.
    flush_mail(&api).await;
    assert_eq!(count_mails(&api, &user.email, LOCKED).await, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_locked_account_does_not_confirm_its_password_through_two_factor_disable() {
    let server = start().await;
    let api = Api::new(&server);
    let (user, secret, access) = two_factor_user(&api, "oracle@example.com").await;
    for _ in 0..5 {
        login_reply(&api, &user.email, "wrong passphrase").await;
    }
    assert_problem(
        &login_reply(&api, &user.email, PASSWORD).await,
        401,
        "invalid-credentials",
    );
    // Someone holding the access token (not the password) keeps guessing through 2fa/disable: a locked account
    // must answer a right and a wrong password alike there too.
    let wrong_code = wrong_code(&server, &secret);
    let guess = |password: &'static str| {
        api.post(
            "/v1/auth/2fa/disable",
            Some(&access),
            json!({"password": password, "code": wrong_code}),
        )
    };
    let wrong = guess("wrong passphrase").await;
    let right = guess(PASSWORD).await;
    assert_eq!(
        right.status, wrong.status,
        "right: {} / wrong: {}",
        right.body, wrong.body
    );
    assert_eq!(right.problem_type(), wrong.problem_type());
    server.stop().await;
}
