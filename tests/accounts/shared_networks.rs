//! Sign-in behind shared networks (a school or campus behind one NAT address) with the default limits on:
//! successful sign-ins and refreshes are not throttled per address, failed checks are — per network across
//! accounts (credential stuffing), and per account *and* source (smart lockout), so an attacker cannot lock the
//! owner out from another network nor keep them from resetting the password.

use futures::StreamExt;
use lectern_accounts::service::signup::Registration;
use lectern_e2e::api::{Api, PASSWORD, assert_problem};
use lectern_e2e::mail::RESET_LINK;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::ratelimit::RateLimitConfig;
use serde_json::Value;

/// Registers `n` accounts `pupil<i>@school.example` directly in the store (registration through HTTP has its own
/// per-address budget for the emails it sends, which is not what these tests are about).
async fn pupils(api: &Api, n: usize) -> Vec<String> {
    let accounts = lectern_e2e::test_accounts(api.server.platform.clone());
    let mut emails = Vec::with_capacity(n);
    for i in 0..n {
        let email = format!("pupil{i}@school.example");
        accounts
            .register(
                Registration {
                    email: email.clone(),
                    password: PASSWORD.into(),
                    display_name: format!("Pupil {i}"),
                    role: None,
                },
                &ClientInfo::default(),
            )
            .await
            .expect("registered");
        emails.push(email);
    }
    emails
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_school_behind_one_address_signs_in_300_pupils_who_refresh_4_times_without_one_refusal() {
    let api = Api::start_with_limits(RateLimitConfig::default()).await;
    let emails = pupils(&api, 300).await;
    let refused = futures::stream::iter(emails)
        .map(|email| {
            let api = &api;
            async move {
                let reply = api.login_with(&email, PASSWORD).await;
                if reply.status != 200 {
                    return vec![format!("login {email}: {reply}")];
                }
                let mut refresh = reply.body["refresh_token"]
                    .as_str()
                    .expect("a refresh token")
                    .to_string();
                let mut refused = Vec::new();
                for round in 0..4 {
                    let reply = api.refresh(&refresh).await;
                    match reply.body.get("refresh_token").and_then(Value::as_str) {
                        Some(next) if reply.status == 200 => refresh = next.to_string(),
                        _ => refused.push(format!("refresh {round} of {email}: {reply}")),
                    }
                }
                refused
            }
        })
        .buffer_unordered(16)
        .concat()
        .await;
    assert!(
        refused.is_empty(),
        "{} refused, e.g. {:?}",
        refused.len(),
        refused.first()
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_stuffing_from_one_network_is_throttled_within_30_attempts() {
    let api = Api::start_with_limits(RateLimitConfig::default()).await;
    let emails = pupils(&api, 3).await;
    // Wrong passwords for many addresses, registered or not, from one network.
    let mut throttled_at = None;
    for attempt in 1..=40 {
        let email = format!("guess{attempt}@school.example");
        let reply = api.login_with(&email, "password123 guess").await;
        match reply.status.as_u16() {
            401 => assert_problem(&reply, 401, "invalid-credentials"),
            429 => {
                assert_problem(&reply, 429, "rate-limited");
                assert!(reply.header("retry-after").parse::<u64>().unwrap() >= 1);
                throttled_at.get_or_insert(attempt);
            }
            _ => panic!("attempt {attempt}: {reply}"),
        }
    }
    let throttled_at = throttled_at.expect("the network was throttled");
    assert!(
        throttled_at <= 30,
        "throttled only at attempt {throttled_at}"
    );
    // The throttled network is refused before any check, even with a right password...
    assert_eq!(api.login_with(&emails[0], PASSWORD).await.status, 429);
    // ...while another network signs in as usual.
    let elsewhere = api.from_network(2);
    assert_eq!(elsewhere.login_with(&emails[0], PASSWORD).await.status, 200);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_wrong_passwords_from_one_network_neither_lock_the_owner_out_elsewhere_nor_block_a_reset()
 {
    let api = Api::start_with_limits(RateLimitConfig::default()).await;
    let owner = pupils(&api, 1).await.remove(0);
    let attacker = api.from_network(66);
    let mut answers = std::collections::BTreeMap::<u16, usize>::new();
    for _ in 0..50 {
        let reply = attacker.login_with(&owner, "not the password").await;
        *answers.entry(reply.status.as_u16()).or_default() += 1;
    }
    // Every attempt failed: the first ones as wrong passwords, then locked for that network, then throttled.
    assert_eq!(answers.keys().copied().collect::<Vec<_>>(), [401, 429]);
    // Even the right password no longer opens the account from the attacker's network.
    assert_ne!(attacker.login_with(&owner, PASSWORD).await.status, 200);

    // The owner, on the school's network, signs in...
    let reply = api.login_with(&owner, PASSWORD).await;
    assert_eq!(reply.status, 200, "{reply}");
    // ...and can always reset the password, even when the attacker asks for resets too.
    for _ in 0..3 {
        attacker.forgot_password(&owner).await.expect_status(202);
    }
    api.forgot_password(&owner).await.expect_status(202);
    let token = api.mailed_token(&owner, "reset-password").await;
    api.reset_password(&token, "a brand new passphrase")
        .await
        .expect_status(204);
    api.flush_mail().await;
    assert!(api.count_mails(&owner, RESET_LINK) >= 1);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_from_one_network_lock_the_account_for_that_network_only() {
    let api = Api::start().await;
    let owner = pupils(&api, 1).await.remove(0);
    let attacker = api.from_network(77);
    for _ in 0..5 {
        let reply = attacker.login_with(&owner, "not the password").await;
        assert_problem(&reply, 401, "invalid-credentials");
    }
    // Locked for the attacker's network, even with the right password (the answer does not say so)...
    let reply = attacker.login_with(&owner, PASSWORD).await;
    assert_problem(&reply, 401, "invalid-credentials");
    // ...but not for the owner's.
    assert_eq!(api.login_with(&owner, PASSWORD).await.status, 200);
    api.stop().await;
}
