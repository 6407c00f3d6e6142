//! Access tokens (JWTs), refresh tokens and the JWKS: expiry, forgeries, misuse, rotation races, and accounts that
//! stopped being active while their sessions existed.

use std::time::Duration;

use lectern_accounts::signing_keys::{KeyRing, SigningKey};
use lectern_accounts::tokens::{TokenKind, TokenService};
use lectern_accounts::users::Status;
use lectern_e2e::api::{Api, Auth, PASSWORD, Signed, assert_problem};
use lectern_e2e::encoding::{b64url_decode, b64url_encode, jwt_from, jwt_parts};
use lectern_e2e::{DevServer, test_accounts};
use lectern_shared::clock::Clock;
use reqwest::StatusCode;
use serde_json::json;

/// A token of `kind` from `service` for `user` (signed in now), valid from `later` after the server's now for
/// 900 seconds.
fn issue_token(
    service: &TokenService,
    kind: TokenKind,
    user: &Signed,
    session_id: Option<&str>,
    api: &Api,
    later: Duration,
) -> String {
    service
        .issue(
            kind,
            &user.user_id,
            session_id,
            api.clock().epoch_seconds(),
            api.clock().now() + later,
            Duration::from_secs(900),
        )
        .expect("issue")
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_expires_after_its_lifetime_plus_leeway() {
    let api = Api::start().await;
    let user = api.signed_up("expiry@example.com").await;
    api.clock().advance(Duration::from_secs(900 + 29));
    assert_eq!(
        api.me(&user.access).await.status,
        200,
        "still inside the leeway"
    );
    api.clock().advance(Duration::from_secs(2));
    assert_problem(&api.me(&user.access).await, 401, "unauthenticated");
    // The session itself lives on: a refresh gives a working token.
    let renewed = api.fresh_access(&user).await;
    api.me(&renewed).await.expect_status(200);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_altered_and_foreign_bearer_tokens_are_refused() {
    let api = Api::start().await;
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
        api.base.clone(),
        "lectern",
    );
    let access_for = |service: &TokenService| {
        let sid = Some(user.session_id.as_str());
        issue_token(service, TokenKind::Access, &user, sid, &api, Duration::ZERO)
    };
    let foreign_token = access_for(&foreign);
    // Control: the server's own key issuing the very same claims is accepted.
    let own = test_accounts(api.server.platform.clone());
    let own_token = access_for(&own.tokens);
    assert_eq!(api.me(&own_token).await.status, 200, "control token");

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
        let reply = api
            .me(Auth::Authorization(&format!("Bearer {token}")))
            .await;
        assert_eq!(reply.status, 401, "{name}: {reply}");
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
        let reply = api.me(Auth::Authorization(&value)).await;
        assert_problem(&reply, 401, "unauthenticated");
    }
    // The genuine tokens still work.
    assert_eq!(api.me(&user.access).await.status, 200);
    assert_eq!(api.me(&other.access).await.status, 200);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_signed_with_the_real_key_but_wrong_claims_are_refused() {
    let api = Api::start().await;
    let user = api.signed_up("claims@example.com").await;
    // The server's own key, read from its data dir: only the claims differ from a genuine token.
    let ring = || KeyRing::local(api.server.dir.path()).expect("the server's key");
    let sid = Some(user.session_id.as_str());
    let issue = |service: &TokenService, kind, sid: Option<&str>, later| {
        issue_token(service, kind, &user, sid, &api, later)
    };
    let now = Duration::ZERO;
    let genuine = TokenService::new(ring(), api.base.clone(), "lectern");
    let control = issue(&genuine, TokenKind::Access, sid, now);
    assert_eq!(api.me(&control).await.status, 200, "control token");

    let other_audience = TokenService::new(ring(), api.base.clone(), "another-app");
    let other_issuer = TokenService::new(ring(), "https://evil.example.com", "lectern");
    let nobodys_session = Some("01AAAAAAAAAAAAAAAAAAAAAAAA");
    let an_hour_later = Duration::from_secs(3600);
    let access = TokenKind::Access;
    let cases = [
        ("another audience", &other_audience, access, sid, now),
        ("another issuer", &other_issuer, access, sid, now),
        ("no session id", &genuine, access, None, now),
        (
            "a session that does not exist",
            &genuine,
            access,
            nobodys_session,
            now,
        ),
        (
            "not valid for another hour",
            &genuine,
            access,
            sid,
            an_hour_later,
        ),
        ("a challenge", &genuine, TokenKind::Challenge, sid, now),
    ];
    for (name, service, kind, sid, later) in cases {
        let reply = api.me(&issue(service, kind, sid, later)).await;
        assert_eq!(reply.status, 401, "{name}: {reply}");
        assert_eq!(reply.problem_type(), Some("unauthenticated"), "{name}");
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_misused_refresh_tokens_are_refused() {
    let api = Api::start().await;
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
        assert_problem(&api.refresh(garbage).await, 400, "invalid-token");
    }
    // Logged out: the refresh token and the access token die with the session.
    let second = api.login(&user.email).await;
    api.logout(&second.access).await.expect_status(204);
    assert_problem(&api.refresh(&second.refresh).await, 400, "invalid-token");
    assert_problem(&api.me(&second.access).await, 401, "unauthenticated");
    // The first session is untouched by the other session's logout.
    assert_eq!(api.me(&user.access).await.status, 200);

    // A rotated token shown again after the grace period ends the whole session.
    let rotated = api.refresh(&user.refresh).await.expect_status(200);
    api.clock().advance(Duration::from_secs(6));
    let reuse = api.refresh(&user.refresh).await;
    assert_problem(&reuse, 401, "refresh-token-reused");
    let newest = rotated.text("refresh_token");
    assert_problem(&api.refresh(&newest).await, 400, "invalid-token");
    assert_problem(
        &api.me(&rotated.text("access_token")).await,
        401,
        "unauthenticated",
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_have_exactly_one_winner() {
    let api = Api::start().await;
    let user = api.signed_up("tabs@example.com").await;
    let bodies = (0..10)
        .map(|_| json!({"refresh_token": user.refresh}))
        .collect();
    let answers = api.post_at_once("/v1/auth/refresh", bodies).await;
    let winners: Vec<_> = answers
        .iter()
        .filter(|reply| reply.status == StatusCode::OK)
        .collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for loser in answers.iter().filter(|r| r.status != StatusCode::OK) {
        assert_eq!(loser.status, StatusCode::CONFLICT, "{loser}");
        assert_eq!(loser.problem_type(), Some("refresh-token-used"));
    }
    // The losers did not end the session: the winner's tokens work.
    let winner = winners[0];
    assert_eq!(api.me(&winner.text("access_token")).await.status, 200);
    let next = api.refresh(&winner.text("refresh_token")).await;
    assert_eq!(next.status, 200, "{next}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_cannot_be_refreshed_and_a_password_reset_ends_access_at_once() {
    let api = Api::start().await;
    let idle = api.signed_up("idle@example.com").await;
    api.clock().advance(Duration::from_secs(14 * 24 * 3600 + 1));
    assert_problem(&api.refresh(&idle.refresh).await, 400, "invalid-token");

    let user = api.signed_up("resetme@example.com").await;
    api.forgot_password(&user.email).await.expect_status(202);
    let token = api.mailed_token(&user.email, "reset-password").await;
    api.reset_password(&token, "a completely new passphrase")
        .await
        .expect_status(204);
    assert_problem(&api.me(&user.access).await, 401, "unauthenticated");
    assert_problem(&api.refresh(&user.refresh).await, 400, "invalid-token");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_accounts_cannot_refresh_or_use_their_tokens() {
    let api = Api::start().await;
    let admin = api.admin("boss@example.com").await;
    let user = api.signed_up("suspended@example.com").await;
    api.admin_action(&admin.access, &user.user_id, "suspend")
        .await
        .expect_status(200);

    assert_problem(&api.refresh(&user.refresh).await, 400, "invalid-token");
    assert_problem(&api.me(&user.access).await, 401, "unauthenticated");
    assert_problem(
        &api.login_with(&user.email, PASSWORD).await,
        403,
        "account-suspended",
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_refuses_accounts_made_inactive_even_while_their_sessions_exist() {
    // The status changes below go straight to the store, leaving the sessions in place, so the refresh
    // route's own status check is what is tested (admin suspension also ends the sessions).
    let api = Api::start().await;
    let accounts = test_accounts(api.server.platform.clone());
    for (email, status) in [
        ("flip-suspended@example.com", Status::Suspended),
        ("flip-deleted@example.com", Status::Deleted),
    ] {
        let user = api.signed_up(email).await;
        let mut stored = accounts.users.get(&user.user_id).await.unwrap().unwrap();
        stored.status = status;
        accounts
            .users
            .save(&mut stored, api.clock().epoch_seconds())
            .await
            .unwrap();
        let session = async || {
            accounts
                .sessions
                .get(&user.user_id, &user.session_id)
                .await
                .unwrap()
        };
        assert!(session().await.is_some(), "the session is still stored");
        assert_problem(&api.refresh(&user.refresh).await, 400, "invalid-token");
        assert_problem(&api.me(&user.access).await, 401, "unauthenticated");
        // Refusing the refresh ended the session for good.
        assert!(
            session().await.is_none(),
            "{email}: the session should be gone"
        );
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_accounts_cannot_refresh() {
    let api = Api::start().await;
    let user = api.signed_up("leaving@example.com").await;
    let other_session = api.login(&user.email).await;
    api.delete_me(&user.access).await.expect_status(202);
    for session in [&user, &other_session] {
        api.assert_signed_out(session, "a session of a deleted account")
            .await;
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_publishes_the_ed25519_key_that_signs_access_tokens_and_nothing_private() {
    let api = Api::start().await;
    let user = api.signed_up("keys@example.com").await;
    let reply = api.jwks().await.expect_status(200);
    assert!(
        reply.header("cache-control").contains("max-age"),
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
    let dir = api.stop().await;
    let api = Api::on(DevServer::start_in(dir).await);
    let again = api.jwks().await;
    assert_eq!(again.body["keys"], reply.body["keys"]);
    api.stop().await;
}
