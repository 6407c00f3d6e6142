//! Keys per purpose: the TOTP key can be rotated without locking out anyone enrolled under the old one, and only the
//! function that issues tokens holds a private key — the others verify with the public keys auth publishes.

use axum::body::Body;
use http_body_util::BodyExt;
use lectern_accounts::config::AccountsConfig;
use lectern_accounts::service::Accounts;
use lectern_accounts::tokens::{TokenError, TokenKind};
use lectern_e2e::DevServer;
use lectern_e2e::api::Api;
use lectern_shared::config::Backend;
use lectern_shared::http::layers;
use lectern_shared::secrets::{Keys, Purpose, RingText};
use tower::ServiceExt;

const K1: &str = "k1:first-totp-key-of-this-deployment-0123456789";
const K2: &str = "k2:second-totp-key-of-this-deployment-0123456789";

/// A dev server over `dir` whose TOTP ring is `ring`.
async fn with_totp_ring(dir: tempfile::TempDir, ring: &str) -> Api {
    let ring = RingText(ring.to_string());
    Api::on(
        DevServer::start_configured(dir, |config| {
            config.secrets.rings.insert(Purpose::Totp, ring);
        })
        .await,
    )
}

async fn sealed_secret(api: &Api, user_id: &str) -> String {
    let user = api.stored_user(user_id).await;
    user.two_factor.expect("2FA on").sealed_secret
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_totp_key_keeps_two_factor_users_signing_in() {
    let dir = tempfile::tempdir().unwrap();
    let api = with_totp_ring(dir, K1).await;
    let (ada, enrolled, _) = api.two_factor_user("ada@example.com").await;
    assert!(
        sealed_secret(&api, &ada.user_id)
            .await
            .starts_with("v2.k1.")
    );
    let dir = api.stop().await;

    // k2 becomes the active key; k1 stays to open what it sealed.
    let api = with_totp_ring(dir, &format!("{K2},{K1}")).await;
    // This server's clock starts where the first one did: move past the steps already used.
    api.clock().advance(std::time::Duration::from_secs(300));
    let code = api.totp_now(&enrolled.secret);
    let reply = api.login_2fa("ada@example.com", &code).await;
    assert_eq!(reply.status, 200, "{reply}");
    assert_eq!(reply.body["token_type"], "Bearer");
    // New enrolments are sealed under the active key.
    let (grace, _, _) = api.two_factor_user("grace@example.com").await;
    assert!(
        sealed_secret(&api, &grace.user_id)
            .await
            .starts_with("v2.k2.")
    );
    api.stop().await;
}

/// The public keys of a JWKS answer, as `LECTERN_JWT_PUBLIC_KEYS` takes them.
fn public_keys(jwks: &serde_json::Value) -> String {
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            format!(
                "{}:{}",
                k["kid"].as_str().unwrap(),
                k["x"].as_str().unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_that_only_verify_tokens_hold_public_keys_and_accept_the_issuers_tokens() {
    let api = Api::start().await;
    let ada = api.signed_up("ada@example.com").await;
    let public = public_keys(&api.jwks().await.expect_status(200).body);

    // The users function as deployed: every key ring but the access-token one, and the issuer's public keys.
    let issuer = &api.server.platform;
    let keys = Keys::new(
        [Purpose::Cursor, Purpose::RateLimit, Purpose::Outbox]
            .map(|p| issuer.keys.require(p).unwrap().clone()),
    );
    let mut platform = issuer.clone();
    platform.keys = keys;
    let mut config = AccountsConfig::from_lookup(&platform.config, |_| None).unwrap();
    config.jwt_public_keys = Some(public);
    let users = Accounts::new(platform.clone(), config, lectern_e2e::test_argon()).unwrap();

    let router = layers::api(lectern_accounts_users::router(users.clone()), &platform);
    let request = axum::http::Request::get("/v1/users/me")
        .header("authorization", format!("Bearer {}", ada.access))
        .body(Body::empty())
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    // It cannot issue a token: it holds no private key.
    let now = platform.clock.now();
    let issued = users.tokens.issue(
        TokenKind::Access,
        &ada.user_id,
        None,
        now.unix_timestamp(),
        now,
        std::time::Duration::from_secs(60),
    );
    assert_eq!(issued.unwrap_err(), TokenError::CannotSign);

    // On AWS a function must be told one or the other.
    let mut aws = (*platform.config).clone();
    aws.backend = Backend::Aws;
    let err = AccountsConfig::from_lookup(&aws, |_| None).unwrap_err();
    assert_eq!(err.var, "LECTERN_JWT_PUBLIC_KEYS");
    drop((users, platform));
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_without_its_key_rings_refuses_to_start() {
    let api = Api::start().await;
    let mut platform = api.server.platform.clone();
    platform.keys = Keys::default();
    // Every function that authenticates needs the rate-limit ring; the accounts' own functions also need the
    // cursor ring (their lists) and the outbox ring (their emails and audit records).
    let config = AccountsConfig::from_lookup(&platform.config, |_| None).unwrap();
    let err = Accounts::new(platform.clone(), config, lectern_e2e::test_argon())
        .err()
        .expect("no rate-limit keys");
    assert!(err.to_string().contains("ratelimit"), "{err}");
    let err = Accounts::for_account_routes(platform)
        .err()
        .expect("no cursor keys");
    assert!(err.to_string().contains("cursor"), "{err}");
    api.stop().await;
}
