//! Rate limits as a client meets them: the strict `auth` class per IP and per account, and an account's share of
//! the general class. These servers turn the limits on; every other test runs without them.

use std::time::Duration;

use lectern_e2e::api::{Api, Auth, Body, PASSWORD, assert_problem};
use lectern_e2e::mail::RESET_LINK;
use lectern_e2e::openapi::operations;
use lectern_shared::ratelimit::{ClassLimits, Limit, RateLimitConfig};
use reqwest::Method;
use serde_json::json;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_ip_auth_limit_answers_429_with_headers_and_ignores_forwarding_headers() {
    let api = Api::start_with_limits(auth_limits(3, 100)).await;
    let creds = json!({"email": "nobody@example.com", "password": PASSWORD});
    let login_from = async |headers: &[(&str, &str)]| {
        let body = Body::Json(creds.clone());
        api.send_with(
            Method::POST,
            "/v1/auth/login",
            Auth::Anonymous,
            body,
            headers,
        )
        .await
    };

    let first = login_from(&[]).await;
    assert_problem(&first, 401, "invalid-credentials");
    assert_eq!(first.header("ratelimit-limit"), "3");
    assert_eq!(first.header("ratelimit-remaining"), "2");
    let reset: u64 = first.header("ratelimit-reset").parse().unwrap();
    assert!((1..=60).contains(&reset), "{reset}");

    // Claiming to be someone else changes nothing: the same bucket keeps counting.
    let second = login_from(&[("x-forwarded-for", "203.0.113.7")]).await;
    assert_eq!(second.status, 401);
    assert_eq!(second.header("ratelimit-remaining"), "1");
    let third = api
        .send_with(
            Method::POST,
            "/v1/auth/forgot-password",
            Auth::Anonymous,
            Body::Json(json!({"email": "other@example.com"})),
            &[
                ("x-real-ip", "198.51.100.1"),
                ("forwarded", "for=198.51.100.2"),
            ],
        )
        .await;
    assert_eq!(third.status, 202);
    assert_eq!(third.header("ratelimit-remaining"), "0");

    for (name, value) in [
        ("x-forwarded-for", "203.0.113.99"),
        ("x-forwarded-for", "198.51.100.3, 10.0.0.1"),
    ] {
        let limited = login_from(&[(name, value)]).await;
        assert_problem(&limited, 429, "rate-limited");
        let retry: u64 = limited.header("retry-after").parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(limited.header("ratelimit-limit"), "3");
        assert_eq!(limited.header("ratelimit-remaining"), "0");
    }
    // Every credential route (every POST under /v1/auth/) shares the class; the public JWKS does not, nor does
    // refresh (a campus refreshes hundreds of sessions behind one address; unknown tokens spend the network's
    // budget of failures instead).
    for op in operations()
        .iter()
        .filter(|op| op.under("/v1/auth/") && op.path != "/v1/auth/refresh")
    {
        let body = match &op.json_body {
            Some(_) => Body::Json(op.sample_body()),
            None => Body::Empty,
        };
        let reply = api
            .send(op.method.clone(), &op.path, Auth::Anonymous, body)
            .await;
        if op.method == Method::POST {
            assert_problem(&reply, 429, "rate-limited");
        } else {
            assert_eq!(reply.status, 200, "{reply}");
        }
    }

    // A new window lets requests through again.
    api.clock().advance(Duration::from_secs(61));
    let later = login_from(&[]).await;
    assert_eq!(later.status, 401, "{later}");
    assert_eq!(later.header("ratelimit-remaining"), "2");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_cannot_exceed_its_general_share_from_any_ip() {
    let mut limits = RateLimitConfig::default();
    limits.per_account.general = Limit {
        requests: 3,
        window: Duration::from_secs(60),
    };
    let api = Api::start_with_limits(limits).await;
    // `signed_up` reads the profile once after signing in: that is the first of the three.
    let user = api.signed_up("share@example.com").await;
    for expected_remaining in ["1", "0"] {
        let reply = api.me(&user.access).await.expect_status(200);
        assert_eq!(reply.header("ratelimit-remaining"), expected_remaining);
    }
    let reply = api.me(&user.access).await.expect_status(429);
    assert_eq!(reply.problem_type(), Some("rate-limited"));
    assert!(reply.headers.contains_key("retry-after"));
    // Another account is unaffected.
    let other = api.signed_up("other-share@example.com").await;
    assert_eq!(api.me(&other.access).await.status, 200);
    api.clock().advance(Duration::from_secs(61));
    assert_eq!(
        api.me(&user.access).await.status,
        200,
        "the window rolled over"
    );
    api.stop().await;
}

/// Rate limits on, with `expensive` limits per IP and per account over 60 s windows (other classes at their
/// defaults).
fn expensive_limits(per_ip: u32, per_account: u32) -> RateLimitConfig {
    let defaults = RateLimitConfig::default();
    RateLimitConfig {
        enabled: true,
        per_ip: ClassLimits {
            expensive: Limit::per_minute(per_ip),
            ..defaults.per_ip
        },
        per_account: ClassLimits {
            expensive: Limit::per_minute(per_account),
            ..defaults.per_account
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_new_keys_and_mail_to_named_addresses_share_an_accounts_expensive_budget() {
    let api = Api::start_with_limits(expensive_limits(100, 2)).await;
    let user = api.signed_up("costly@example.com").await;
    for _ in 0..2 {
        api.request_avatar_upload(&user.access, "image/png")
            .await
            .expect_status(200);
    }
    let reply = api.request_avatar_upload(&user.access, "image/png").await;
    assert_problem(&reply, 429, "rate-limited");
    let reply = api
        .create_key(
            &user.access,
            json!({"name": "k", "scopes": ["content:read"]}),
        )
        .await;
    assert_problem(&reply, 429, "rate-limited");
    assert_eq!(api.api_keys(&user.access).await.list().len(), 0);
    let reply = api
        .change_email(&user.access, "elsewhere@example.com", PASSWORD)
        .await;
    assert_problem(&reply, 429, "rate-limited");

    // Before sign-in, per address: two reset emails a minute to one address, whoever asks. Over that the answer
    // stays 202 (nobody can get the owner's recovery refused) and nothing more is sent.
    let victim = api.signed_up("victim@example.com").await;
    api.clock().advance(Duration::from_secs(61));
    for _ in 0..4 {
        api.forgot_password(&victim.email).await.expect_status(202);
    }
    api.flush_mail().await;
    assert_eq!(api.count_mails(&victim.email, RESET_LINK), 2);
    assert_problem(
        &api.resend_verification("victim@example.com").await,
        429,
        "rate-limited",
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ip_cannot_send_mail_to_many_addresses_past_the_expensive_limit() {
    let api = Api::start_with_limits(expensive_limits(2, 100)).await;
    for email in ["one@example.com", "two@example.com"] {
        api.register(email, PASSWORD).await.expect_status(202);
    }
    let reply = api.register("three@example.com", PASSWORD).await;
    assert_problem(&reply, 429, "rate-limited");
    assert!(reply.header("retry-after").parse::<u64>().is_ok());
    let reply = api.forgot_password("four@example.com").await;
    assert_problem(&reply, 429, "rate-limited");
    api.stop().await;
}
