//! The one-time tokens that arrive by email: `verify-email` and `resend-verification`, `forgot-password` and
//! `reset-password`. No account enumeration, the password policy, purpose, expiry, single use and races.

use std::time::Duration;

use lectern_e2e::api::{Api, PASSWORD, assert_problem};
use lectern_e2e::mail::{RESET_LINK, VERIFY_LINK};
use reqwest::StatusCode;
use serde_json::json;

const FRESH_PASSWORD: &str = "a fresh passphrase";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_password_and_resend_verification_answer_the_same_for_unknown_emails_and_send_no_link()
 {
    let api = Api::start().await;
    let known = api.signed_up("known@example.com").await;
    api.register("unverified@example.com", PASSWORD)
        .await
        .expect_status(202);
    api.mails_to("unverified@example.com", 1).await;
    let ghost = "ghost@example.com";

    let forgot_known = api.forgot_password(&known.email).await;
    let forgot_ghost = api.forgot_password(ghost).await;
    assert_eq!(forgot_known.status, 202);
    assert_eq!(forgot_ghost.status, 202);
    assert_eq!(forgot_ghost.comparable(), forgot_known.comparable());

    let resend_pending = api.resend_verification("unverified@example.com").await;
    let resend_verified = api.resend_verification(&known.email).await;
    let resend_ghost = api.resend_verification(ghost).await;
    for reply in [&resend_pending, &resend_verified, &resend_ghost] {
        assert_eq!(reply.status, 202, "{reply}");
        assert_eq!(reply.comparable(), resend_pending.comparable());
    }

    api.flush_mail().await;
    // An unknown address is told there is nothing to reset (the request costs the same either way), and gets
    // no link of any kind.
    let to_ghost = api.delivered_to(ghost);
    assert_eq!(to_ghost.len(), 1, "{to_ghost:?}");
    assert!(to_ghost[0].contains("no active"), "{}", to_ghost[0]);
    assert!(!to_ghost[0].contains(RESET_LINK) && !to_ghost[0].contains(VERIFY_LINK));
    assert_eq!(api.count_mails(&known.email, RESET_LINK), 1);
    assert_eq!(
        api.count_mails(&known.email, VERIFY_LINK),
        1,
        "a verified account gets no new link"
    );
    assert_eq!(api.count_mails("unverified@example.com", VERIFY_LINK), 2);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_password_applies_the_policy_without_spending_the_token() {
    let api = Api::start().await;
    let user = api.signed_up("resetpolicy@example.com").await;
    api.forgot_password(&user.email).await.expect_status(202);
    let token = api.mailed_token(&user.email, "reset-password").await;
    for bad in [
        "short",
        "password123",
        "resetpolicy is my name",
        &"z".repeat(129),
    ] {
        let reply = api.reset_password(&token, bad).await;
        assert_problem(&reply, 400, "validation");
        assert_eq!(reply.fields(), vec!["password".to_string()], "{reply}");
    }
    let reply = api.reset_password(&token, "a brand new passphrase").await;
    assert_eq!(
        reply.status, 204,
        "the token survived the refusals: {reply}"
    );
    assert_eq!(
        api.refresh(&user.refresh).await.status,
        400,
        "sessions ended"
    );
    api.login_with(&user.email, PASSWORD)
        .await
        .expect_status(401);
    api.login_with(&user.email, "a brand new passphrase")
        .await
        .expect_status(200);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_and_reset_tokens_refuse_garbage_the_other_purpose_and_reuse() {
    let api = Api::start().await;
    let email = "onetime@example.com";
    api.register(email, PASSWORD).await.expect_status(202);
    let verify = api.mailed_token(email, "verify-email").await;
    assert!(verify.starts_with("lve_"), "{verify}");
    api.forgot_password(email).await.expect_status(202);
    let reset = api.mailed_token(email, "reset-password").await;
    assert!(reset.starts_with("lpr_"), "{reset}");

    let reset_password = async |token: &str| api.reset_password(token, FRESH_PASSWORD).await;
    for garbage in [
        "",
        "garbage",
        "lve_",
        "lpr_",
        "lve_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_problem(&api.verify_email(garbage).await, 400, "invalid-token");
        assert_problem(&reset_password(garbage).await, 400, "invalid-token");
    }
    // The right token on the wrong route, even with the other purpose's prefix pasted on.
    assert_problem(&api.verify_email(&reset).await, 400, "invalid-token");
    assert_problem(&reset_password(&verify).await, 400, "invalid-token");
    let swapped = format!("lve_{}", reset.trim_start_matches("lpr_"));
    assert_problem(&api.verify_email(&swapped).await, 400, "invalid-token");
    let reply = api.verify_email(&reset).await;
    assert_eq!(reply.fields(), vec!["token".to_string()]);

    // Both still work where they belong, once.
    api.verify_email(&verify).await.expect_status(204);
    assert_problem(&api.verify_email(&verify).await, 400, "invalid-token");
    reset_password(&reset).await.expect_status(204);
    assert_problem(&reset_password(&reset).await, 400, "invalid-token");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_links_expire_after_24_hours_and_reset_links_after_15_minutes() {
    let api = Api::start().await;
    for email in ["early@example.com", "late@example.com"] {
        api.register(email, PASSWORD).await.expect_status(202);
    }
    let early = api.mailed_token("early@example.com", "verify-email").await;
    let late = api.mailed_token("late@example.com", "verify-email").await;
    api.clock().advance(Duration::from_secs(24 * 3600 - 60));
    let reply = api.verify_email(&early).await;
    assert_eq!(reply.status, 204, "valid just before 24 h: {reply}");
    api.clock().advance(Duration::from_secs(61));
    assert_problem(&api.verify_email(&late).await, 400, "invalid-token");

    let user = api.login("early@example.com").await;
    for (wait, valid) in [(15 * 60 + 1, false), (15 * 60 - 30, true)] {
        api.forgot_password(&user.email).await.expect_status(202);
        let token = api.mailed_token(&user.email, "reset-password").await;
        api.clock().advance(Duration::from_secs(wait));
        let reply = api.reset_password(&token, FRESH_PASSWORD).await;
        if valid {
            assert_eq!(reply.status, 204, "valid before 15 min: {reply}");
        } else {
            assert_problem(&reply, 400, "invalid-token");
        }
    }
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_reset_token_used_twice_at_once_works_once() {
    let api = Api::start().await;
    let user = api.signed_up("twice@example.com").await;
    api.forgot_password(&user.email).await.expect_status(202);
    let token = api.mailed_token(&user.email, "reset-password").await;
    let bodies = vec![
        json!({"token": token, "password": "first new passphrase"}),
        json!({"token": token, "password": "second new passphrase"}),
    ];
    let answers = api.post_at_once("/v1/auth/reset-password", bodies).await;
    let ok: Vec<usize> = (0..2)
        .filter(|i| answers[*i].status == StatusCode::NO_CONTENT)
        .collect();
    assert_eq!(ok.len(), 1, "{answers:?}");
    let loser = &answers[1 - ok[0]];
    assert_eq!(loser.status, StatusCode::BAD_REQUEST, "{loser}");
    assert_eq!(loser.problem_type(), Some("invalid-token"));
    // The winner's password is the one that holds.
    let (won, lost) = if ok[0] == 0 {
        ("first new passphrase", "second new passphrase")
    } else {
        ("second new passphrase", "first new passphrase")
    };
    api.login_with(&user.email, won).await.expect_status(200);
    api.login_with(&user.email, lost).await.expect_status(401);
    api.stop().await;
}
