//! Rate limiting against the embedded table and (when moto is available) DynamoDB, directly and through a router.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use lectern_shared::Config;
use lectern_shared::clock::{ManualClock, SharedClock};
use lectern_shared::http::{Problem, layers};
use lectern_shared::ratelimit::{
    self, Decision, Limit, RateLimitConfig, RateLimiter, RouteClass, Subject,
};
use lectern_shared::table::{
    Condition, Item, Key, Page, Query, Table, TableError, TableResult, TxOp, Update,
};
use lectern_shared::testing::counting::{CountingTable, OpLog};
use lectern_shared::testing::{aws, embedded};
use serde_json::Value;
use time::OffsetDateTime;
use tower::ServiceExt;

/// 10 s into a 60 s window: windows start at 1_899_999_960 and end at 1_900_000_020.
const START: i64 = 1_900_000_010;
const WINDOW_START: i64 = 1_899_999_960;
const WINDOW_END: i64 = 1_900_000_020;

fn clock() -> ManualClock {
    ManualClock::new(OffsetDateTime::from_unix_timestamp(START).unwrap())
}

fn ip(s: &str) -> Subject {
    Subject::Ip(s.parse().unwrap())
}

/// The defaults with some limits replaced: `(class, per_ip, per_account)`.
fn config(limits: &[(RouteClass, u32, u32)]) -> RateLimitConfig {
    let mut config = RateLimitConfig::default();
    for &(class, per_ip, per_account) in limits {
        let (ip_slot, account_slot) = match class {
            RouteClass::Auth => (&mut config.per_ip.auth, &mut config.per_account.auth),
            RouteClass::General => (&mut config.per_ip.general, &mut config.per_account.general),
            RouteClass::Expensive => (
                &mut config.per_ip.expensive,
                &mut config.per_account.expensive,
            ),
            RouteClass::Failures => (
                &mut config.per_ip.failures,
                &mut config.per_account.failures,
            ),
        };
        *ip_slot = Limit::per_minute(per_ip);
        *account_slot = Limit::per_minute(per_account);
    }
    config
}

fn limiter(table: Arc<dyn Table>, clock: &ManualClock, config: RateLimitConfig) -> RateLimiter {
    let clock: SharedClock = Arc::new(clock.clone());
    RateLimiter::new(table, clock, config)
}

fn allowed(remaining: u32, limit: u32, reset_secs: u64) -> Decision {
    Decision {
        allowed: true,
        limit,
        remaining,
        reset_after: Duration::from_secs(reset_secs),
    }
}

fn header(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

fn rate_headers(response: &Response<Body>) -> [Option<String>; 3] {
    [
        header(response, "ratelimit-limit"),
        header(response, "ratelimit-remaining"),
        header(response, "ratelimit-reset"),
    ]
}

fn some3(limit: u32, remaining: u32, reset: u64) -> [Option<String>; 3] {
    [
        Some(limit.to_string()),
        Some(remaining.to_string()),
        Some(reset.to_string()),
    ]
}

async fn body_json(response: Response<Body>) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// A request as API Gateway delivers it: the source IP in the request context, plus a forged forwarding header.
fn gateway_request(
    method: &str,
    uri: &str,
    source_ip: &str,
    forged: &str,
    body: &str,
) -> Request<Body> {
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.http.source_ip = Some(source_ip.to_string());
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("x-forwarded-for", forged)
        .header("x-real-ip", forged)
        .header("forwarded", format!("for={forged}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    request
        .extensions_mut()
        .insert(RequestContext::ApiGatewayV2(ctx));
    request
}

// ---- cases run on both tables ----

async fn limit_hit_at_n_plus_one(table: Arc<dyn Table>, clock: ManualClock) {
    let limiter = limiter(table, &clock, config(&[(RouteClass::Auth, 3, 3)]));
    let subject = ip("203.0.113.7");
    for remaining in [2, 1, 0] {
        let d = limiter.check(RouteClass::Auth, &subject).await.unwrap();
        assert_eq!(d, allowed(remaining, 3, 10));
        assert!(d.require().is_ok());
    }
    let over = limiter.check(RouteClass::Auth, &subject).await.unwrap();
    assert!(!over.allowed);
    assert_eq!((over.limit, over.remaining, over.reset_secs()), (3, 0, 10));
    let problem = over.require().unwrap_err();
    assert_eq!(problem.status, 429);
    assert_eq!(problem.retry_after, Some(10));
    let headers = ratelimit::headers(&over);
    let text: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        text,
        [
            ("ratelimit-limit".to_string(), "3".to_string()),
            ("ratelimit-remaining".to_string(), "0".to_string()),
            ("ratelimit-reset".to_string(), "10".to_string()),
        ]
    );
    let err = limiter
        .enforce(RouteClass::Auth, &subject)
        .await
        .unwrap_err();
    assert_eq!(err.status, 429);
}

async fn window_rolls_over(table: Arc<dyn Table>, clock: ManualClock) {
    let limiter = limiter(table, &clock, config(&[(RouteClass::General, 2, 2)]));
    let subject = ip("198.51.100.1");
    for _ in 0..2 {
        assert!(
            limiter
                .check(RouteClass::General, &subject)
                .await
                .unwrap()
                .allowed
        );
    }
    assert!(
        !limiter
            .check(RouteClass::General, &subject)
            .await
            .unwrap()
            .allowed
    );
    clock.advance(Duration::from_secs(9));
    let last_second = limiter.check(RouteClass::General, &subject).await.unwrap();
    assert!(!last_second.allowed);
    assert_eq!(last_second.reset_secs(), 1);
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        limiter.check(RouteClass::General, &subject).await.unwrap(),
        allowed(1, 2, 60)
    );
}

async fn subjects_and_classes_are_independent(table: Arc<dyn Table>, clock: ManualClock) {
    let limiter = limiter(
        table,
        &clock,
        config(&[(RouteClass::Auth, 1, 1), (RouteClass::General, 1, 1)]),
    );
    let a = ip("192.0.2.1");
    assert!(limiter.check(RouteClass::Auth, &a).await.unwrap().allowed);
    assert!(!limiter.check(RouteClass::Auth, &a).await.unwrap().allowed);
    // Another class, another IP, an account (even one spelled like the IP): fresh counters each.
    assert!(
        limiter
            .check(RouteClass::General, &a)
            .await
            .unwrap()
            .allowed
    );
    assert!(
        limiter
            .check(RouteClass::Auth, &ip("192.0.2.2"))
            .await
            .unwrap()
            .allowed
    );
    let account = Subject::Account("192.0.2.1".into());
    assert!(
        limiter
            .check(RouteClass::Auth, &account)
            .await
            .unwrap()
            .allowed
    );
    assert!(
        !limiter
            .check(RouteClass::Auth, &account)
            .await
            .unwrap()
            .allowed
    );
    assert!(
        limiter
            .check(RouteClass::Auth, &Subject::UnknownIp)
            .await
            .unwrap()
            .allowed
    );
}

async fn concurrent_checks_never_exceed_limit(table: Arc<dyn Table>, clock: ManualClock) {
    let limiter = Arc::new(limiter(
        table,
        &clock,
        config(&[(RouteClass::Expensive, 5, 5)]),
    ));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                limiter
                    .check(RouteClass::Expensive, &Subject::Account("user-1".into()))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut remaining_of_allowed = Vec::new();
    let mut denied = 0;
    for task in tasks {
        let d = task.await.unwrap();
        if d.allowed {
            remaining_of_allowed.push(d.remaining);
        } else {
            assert_eq!(d.remaining, 0);
            denied += 1;
        }
    }
    remaining_of_allowed.sort_unstable();
    assert_eq!(remaining_of_allowed, [0, 1, 2, 3, 4]);
    assert_eq!(denied, 15);
}

async fn ipv6_grouped_per_64(table: Arc<dyn Table>, clock: ManualClock) {
    let limiter = limiter(table, &clock, config(&[(RouteClass::Auth, 2, 2)]));
    for addr in ["2001:db8:1:2::1", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"] {
        assert!(
            limiter
                .check(RouteClass::Auth, &ip(addr))
                .await
                .unwrap()
                .allowed
        );
    }
    // Rotating addresses inside one /64 does not escape the limit...
    assert!(
        !limiter
            .check(RouteClass::Auth, &ip("2001:db8:1:2::ffff"))
            .await
            .unwrap()
            .allowed
    );
    // ...but the neighbouring /64 is someone else.
    assert!(
        limiter
            .check(RouteClass::Auth, &ip("2001:db8:1:3::1"))
            .await
            .unwrap()
            .allowed
    );
    // IPv4-mapped IPv6 counts as the IPv4 address.
    assert!(
        limiter
            .check(RouteClass::Auth, &ip("192.0.2.9"))
            .await
            .unwrap()
            .allowed
    );
    assert!(
        limiter
            .check(RouteClass::Auth, &ip("::ffff:192.0.2.9"))
            .await
            .unwrap()
            .allowed
    );
    assert!(
        !limiter
            .check(RouteClass::Auth, &ip("192.0.2.9"))
            .await
            .unwrap()
            .allowed
    );
}

async fn keys_hide_subjects_and_counters_expire(table: Arc<dyn Table>, clock: ManualClock) {
    let spy = Arc::new(Spy::new(table.clone()));
    let plain = limiter(spy.clone(), &clock, config(&[]));
    plain
        .check(RouteClass::Auth, &ip("203.0.113.7"))
        .await
        .unwrap();
    plain
        .check(
            RouteClass::Auth,
            &Subject::Account("alice@example.com".into()),
        )
        .await
        .unwrap();
    let keyed =
        limiter(spy.clone(), &clock, config(&[])).with_secret(b"0123456789abcdef0123456789abcdef");
    keyed
        .check(RouteClass::Auth, &ip("203.0.113.7"))
        .await
        .unwrap();
    let keys = spy.keys();
    assert_eq!(keys.len(), 3);
    assert!(keys[0].pk.starts_with("RL#auth#ip#"), "{}", keys[0].pk);
    assert!(keys[1].pk.starts_with("RL#auth#acct#"), "{}", keys[1].pk);
    assert_ne!(keys[0].pk, keys[2].pk, "a secret must change the digest");
    for key in &keys {
        assert!(!key.pk.contains("203.0.113") && !key.pk.contains("alice"));
        assert_eq!(key.sk, format!("{WINDOW_START}#60"));
    }
    let item = table.get(&keys[0]).await.unwrap().expect("counter stored");
    assert_eq!(item["n"], 1);
    assert_eq!(item["ttl"], WINDOW_END + 60);
    clock.advance(Duration::from_secs(10 + 60));
    assert_eq!(
        table.get(&keys[0]).await.unwrap(),
        None,
        "the counter expired"
    );
}

async fn middleware_uses_gateway_ip_never_forwarded_headers(
    table: Arc<dyn Table>,
    clock: ManualClock,
) {
    let limiter = Arc::new(limiter(table, &clock, config(&[(RouteClass::Auth, 3, 3)])));
    let routes = Router::new()
        .route("/v1/login", post(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/v1/gone",
            get(|| async { Problem::not_found("nothing here") }),
        )
        .route_layer(ratelimit::layer(limiter, RouteClass::Auth));
    let app = layers::without_ip_rules(routes, &Config::for_tests(std::env::temp_dir()));
    let send = |request: Request<Body>| app.clone().oneshot(request);

    for (i, remaining) in [2, 1, 0].into_iter().enumerate() {
        let forged = format!("198.51.100.{i}");
        let response = send(gateway_request(
            "POST",
            "/v1/login",
            "203.0.113.7",
            &forged,
            "",
        ))
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(rate_headers(&response), some3(3, remaining, 10));
    }
    let response = send(gateway_request(
        "POST",
        "/v1/login",
        "203.0.113.7",
        "198.51.100.99",
        "",
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "retry-after").as_deref(), Some("10"));
    assert_eq!(rate_headers(&response), some3(3, 0, 10));
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/problem+json")
    );
    let body = body_json(response).await;
    assert_eq!(body["type"], "https://lectern.dev/problems/rate-limited");
    assert!(body["request_id"].is_string());

    // Another client forging the blocked client's address in every header is counted as itself.
    let response = send(gateway_request(
        "POST",
        "/v1/login",
        "203.0.113.8",
        "203.0.113.7",
        "",
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(rate_headers(&response), some3(3, 2, 10));

    // Error responses of wrapped routes carry the headers too.
    let response = send(gateway_request("GET", "/v1/gone", "203.0.113.8", "x", ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(rate_headers(&response), some3(3, 1, 10));

    // The dev server: the socket peer, not the forged header.
    let dev = |forged: &str| {
        let mut request = Request::post("/v1/login")
            .header("x-forwarded-for", forged)
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        request
    };
    let response = send(dev("203.0.113.7")).await.unwrap();
    assert_eq!(rate_headers(&response), some3(3, 2, 10));
    let response = send(dev("203.0.113.9")).await.unwrap();
    assert_eq!(rate_headers(&response), some3(3, 1, 10));

    // No known IP at all: one shared bucket.
    for remaining in [2, 1] {
        let request = Request::post("/v1/login")
            .header("x-forwarded-for", format!("10.0.0.{remaining}"))
            .body(Body::empty())
            .unwrap();
        let response = send(request).await.unwrap();
        assert_eq!(rate_headers(&response), some3(3, remaining, 10));
    }
}

async fn middleware_reports_the_strictest_account_check(table: Arc<dyn Table>, clock: ManualClock) {
    let limiter = Arc::new(limiter(table, &clock, config(&[(RouteClass::Auth, 10, 2)])));
    let handler_limiter = limiter.clone();
    let routes = Router::new()
        .route(
            "/v1/login",
            post(move |email: String| async move {
                let account = Subject::Account(email.trim().to_lowercase());
                handler_limiter.enforce(RouteClass::Auth, &account).await?;
                Ok::<_, Problem>(StatusCode::NO_CONTENT)
            }),
        )
        .route_layer(ratelimit::layer(limiter, RouteClass::Auth));
    let login = |email: &str| {
        routes.clone().oneshot(gateway_request(
            "POST",
            "/v1/login",
            "203.0.113.7",
            "x",
            email,
        ))
    };

    let response = login("Ann@example.com").await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        rate_headers(&response),
        some3(2, 1, 10),
        "account limit is tighter"
    );
    let response = login(" ann@example.com").await.unwrap();
    assert_eq!(rate_headers(&response), some3(2, 0, 10));
    let response = login("ann@example.com").await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "retry-after").as_deref(), Some("10"));
    assert_eq!(rate_headers(&response), some3(2, 0, 10));
    // The IP still has room for another account.
    let response = login("bob@example.com").await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(rate_headers(&response), some3(2, 1, 10));
}

async fn disabled_config_counts_nothing(table: Arc<dyn Table>, clock: ManualClock) {
    let mut off = config(&[(RouteClass::Auth, 1, 1)]);
    off.enabled = false;
    let disabled = Arc::new(limiter(table.clone(), &clock, off));
    let subject = ip("203.0.113.7");
    for _ in 0..5 {
        assert!(
            disabled
                .check(RouteClass::Auth, &subject)
                .await
                .unwrap()
                .allowed
        );
    }
    let routes = Router::new()
        .route("/v1/login", post(|| async { StatusCode::NO_CONTENT }))
        .route_layer(ratelimit::layer(disabled, RouteClass::Auth));
    for _ in 0..3 {
        let response = routes
            .clone()
            .oneshot(gateway_request("POST", "/v1/login", "203.0.113.7", "x", ""))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(rate_headers(&response), [None, None, None]);
    }
    // Nothing was counted: an enabled limiter on the same table starts from zero.
    let enabled = limiter(table, &clock, config(&[(RouteClass::Auth, 1, 1)]));
    assert_eq!(
        enabled.check(RouteClass::Auth, &subject).await.unwrap(),
        allowed(0, 1, 10)
    );
}

async fn a_busy_subject_costs_a_tenth_of_a_write_per_request_and_nothing_past_its_limit(
    table: Arc<dyn Table>,
    clock: ManualClock,
) {
    let counted = Arc::new(CountingTable {
        inner: table,
        log: OpLog::default(),
    });
    let limiter = limiter(
        counted.clone(),
        &clock,
        config(&[(RouteClass::General, 1000, 1000)]),
    );
    let subject = ip("198.51.100.9");
    for n in 1..=1000u32 {
        let d = limiter.check(RouteClass::General, &subject).await.unwrap();
        assert_eq!(
            d,
            allowed(1000 - n, 1000, 10),
            "request {n} of one instance is counted exactly"
        );
    }
    let writes = counted.log.take().summary().writes;
    assert!(writes <= 100, "1000 requests cost {writes} writes");
    // Past the limit the instance refuses on its own: hammering costs no writes.
    for _ in 0..500 {
        assert!(
            !limiter
                .check(RouteClass::General, &subject)
                .await
                .unwrap()
                .allowed
        );
    }
    assert_eq!(counted.log.take().summary().writes, 0);
}

async fn instances_sharing_a_counter_never_pass_the_limit_and_refuse_early_by_little(
    table: Arc<dyn Table>,
    clock: ManualClock,
) {
    // Three Lambda instances serving one client, taking turns: together they must not pass the limit, and what
    // they refuse early is bounded by their unspent leases (at most a tenth of the limit each).
    let instances: Vec<RateLimiter> = (0..3)
        .map(|_| {
            limiter(
                table.clone(),
                &clock,
                config(&[(RouteClass::General, 300, 300)]),
            )
        })
        .collect();
    let subject = ip("198.51.100.10");
    let mut allowed_count = 0;
    for i in 0..600 {
        if instances[i % 3]
            .check(RouteClass::General, &subject)
            .await
            .unwrap()
            .allowed
        {
            allowed_count += 1;
        }
    }
    assert!(
        allowed_count <= 300,
        "{allowed_count} allowed of a limit of 300"
    );
    assert!(
        allowed_count >= 300 - 3 * 30,
        "{allowed_count} allowed: refused too early"
    );
}

async fn one_instance_counts_reads_on_credit_exactly(table: Arc<dyn Table>, clock: ManualClock) {
    // The dev server, or one warm Lambda: its first read of the window is lent a token, and the lease that follows
    // covers it, so concurrent reads are still allowed exactly up to the limit.
    let instance = Arc::new(limiter(
        table.clone(),
        &clock,
        config(&[(RouteClass::General, 5, 5)]),
    ));
    let subject = ip("198.51.100.20");
    let checks = (0..12).map(|_| {
        let instance = instance.clone();
        let subject = subject.clone();
        tokio::spawn(async move {
            instance
                .check_on_credit(RouteClass::General, &subject)
                .await
                .unwrap()
                .allowed
        })
    });
    let mut allowed_count = 0;
    for check in checks.collect::<Vec<_>>() {
        allowed_count += usize::from(check.await.unwrap());
    }
    assert_eq!(allowed_count, 5);
    // The counter holds what was spent: another instance finds the limit reached.
    let other = limiter(table, &clock, config(&[(RouteClass::General, 5, 5)]));
    assert!(
        !other
            .check(RouteClass::General, &subject)
            .await
            .unwrap()
            .allowed
    );
}

async fn credit_answers_at_most_one_read_per_instance_past_a_spent_limit(
    table: Arc<dyn Table>,
    clock: ManualClock,
) {
    let limits = config(&[(RouteClass::General, 3, 3), (RouteClass::Auth, 3, 3)]);
    let busy = limiter(table.clone(), &clock, limits.clone());
    let subject = ip("198.51.100.30");
    for class in [RouteClass::General, RouteClass::Auth] {
        for _ in 0..3 {
            assert!(busy.check(class, &subject).await.unwrap().allowed);
        }
    }
    // A new instance lends its first general read a token before it knows: the one read past the limit that
    // credit allows. Its next read waits for the lease and is refused.
    let cold = limiter(table, &clock, limits);
    let lent = cold
        .check_on_credit(RouteClass::General, &subject)
        .await
        .unwrap();
    assert_eq!(lent, allowed(2, 3, 10));
    let next = cold
        .check_on_credit(RouteClass::General, &subject)
        .await
        .unwrap();
    assert!(!next.allowed);
    // Other classes never answer on credit.
    assert!(
        !cold
            .check_on_credit(RouteClass::Auth, &subject)
            .await
            .unwrap()
            .allowed
    );
}

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod on_embedded {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let clock = clock();
                    let (table, _dir) = embedded::table(Arc::new(clock.clone()));
                    super::$case(table, clock).await;
                }
            )*
        }
        mod on_aws {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let clock = clock();
                    let Some(table) = aws::table(Arc::new(clock.clone())).await else {
                        eprintln!("skipped: the AWS emulator is unavailable");
                        return;
                    };
                    super::$case(table, clock).await;
                }
            )*
        }
    };
}

on_both!(
    limit_hit_at_n_plus_one,
    window_rolls_over,
    subjects_and_classes_are_independent,
    concurrent_checks_never_exceed_limit,
    ipv6_grouped_per_64,
    keys_hide_subjects_and_counters_expire,
    middleware_uses_gateway_ip_never_forwarded_headers,
    middleware_reports_the_strictest_account_check,
    disabled_config_counts_nothing,
    a_busy_subject_costs_a_tenth_of_a_write_per_request_and_nothing_past_its_limit,
    instances_sharing_a_counter_never_pass_the_limit_and_refuse_early_by_little,
    one_instance_counts_reads_on_credit_exactly,
    credit_answers_at_most_one_read_per_instance_past_a_spent_limit,
);

// ---- store failures ----

#[tokio::test]
async fn store_failure_fails_open_for_general_and_closed_otherwise() {
    let clock = clock();
    let limiter = Arc::new(limiter(Arc::new(DownTable), &clock, config(&[])));
    let subject = ip("203.0.113.7");
    assert!(limiter.check(RouteClass::General, &subject).await.is_err());
    assert_eq!(
        limiter.enforce(RouteClass::General, &subject).await,
        Ok(None)
    );
    for class in [RouteClass::Auth, RouteClass::Expensive] {
        let problem = limiter.enforce(class, &subject).await.unwrap_err();
        assert_eq!(problem.status, 503);
        assert!(problem.retry_after.is_some());
    }

    let app = |class| {
        Router::new()
            .route("/v1/x", get(|| async { "ok" }).post(|| async { "ok" }))
            .route_layer(ratelimit::layer(limiter.clone(), class))
    };
    let response = app(RouteClass::General)
        .oneshot(gateway_request("POST", "/v1/x", "203.0.113.7", "x", ""))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(rate_headers(&response), [None, None, None]);
    // A read is answered on credit before the store is asked; the failed lease then lets the next one through too.
    for _ in 0..2 {
        let response = app(RouteClass::General)
            .oneshot(gateway_request("GET", "/v1/x", "203.0.113.7", "x", ""))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        tokio::task::yield_now().await;
    }
    for class in [RouteClass::Auth, RouteClass::Expensive] {
        let response = app(class)
            .oneshot(gateway_request("GET", "/v1/x", "203.0.113.7", "x", ""))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(header(&response, "retry-after").is_some());
        assert_eq!(
            header(&response, "content-type").as_deref(),
            Some("application/problem+json")
        );
    }
}

// ---- test tables ----

/// Records the key of every update before passing it on.
struct Spy {
    inner: Arc<dyn Table>,
    keys: Mutex<Vec<Key>>,
}

impl Spy {
    fn new(inner: Arc<dyn Table>) -> Self {
        Self {
            inner,
            keys: Mutex::new(Vec::new()),
        }
    }
    fn keys(&self) -> Vec<Key> {
        self.keys.lock().unwrap().clone()
    }
}

#[async_trait]
impl Table for Spy {
    async fn get(&self, key: &Key) -> TableResult<Option<Item>> {
        self.inner.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> TableResult<Vec<Item>> {
        self.inner.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Condition) -> TableResult<()> {
        self.inner.put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Condition) -> TableResult<Item> {
        self.keys.lock().unwrap().push(key.clone());
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> TableResult<()> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> TableResult<Page> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> TableResult<()> {
        self.inner.transact(ops).await
    }
    async fn sweep_expired(&self, limit: usize) -> TableResult<usize> {
        self.inner.sweep_expired(limit).await
    }
    async fn ping(&self) -> TableResult<()> {
        self.inner.ping().await
    }
}

/// A store that is down.
struct DownTable;

fn down<T>() -> TableResult<T> {
    Err(TableError::Unavailable("the store is down".into()))
}

#[async_trait]
impl Table for DownTable {
    async fn get(&self, _: &Key) -> TableResult<Option<Item>> {
        down()
    }
    async fn batch_get(&self, _: &[Key]) -> TableResult<Vec<Item>> {
        down()
    }
    async fn put(&self, _: Item, _: Condition) -> TableResult<()> {
        down()
    }
    async fn update(&self, _: &Key, _: Update, _: Condition) -> TableResult<Item> {
        down()
    }
    async fn delete(&self, _: &Key, _: Condition) -> TableResult<()> {
        down()
    }
    async fn query(&self, _: Query) -> TableResult<Page> {
        down()
    }
    async fn transact(&self, _: Vec<TxOp>) -> TableResult<()> {
        down()
    }
    async fn sweep_expired(&self, _: usize) -> TableResult<usize> {
        down()
    }
    async fn ping(&self) -> TableResult<()> {
        down()
    }
}
