//! `POST /v1/auth/login`: one answer for every failure, and the lockout that wrong passwords and wrong second
//! factors lead to (however they are sent: login, `2fa/verify`, `2fa/disable`).

use std::time::Duration;

use lectern_e2e::api::{Api, PASSWORD, assert_problem};
use lectern_e2e::mail::LOCKED;

const WRONG: &str = "wrong passphrase";

/// Fails `n` logins of `email` with a wrong password, each answered as such.
async fn fail_logins(api: &Api, email: &str, n: usize) {
    for _ in 0..n {
        let reply = api.login_with(email, WRONG).await;
        assert_problem(&reply, 401, "invalid-credentials");
    }
}

/// Asserts the account of `email` is locked (its right password is refused like a wrong one) and its owner was
/// told, once.
async fn assert_locked_and_told(api: &Api, email: &str) {
    let reply = api.login_with(email, PASSWORD).await;
    assert_problem(&reply, 401, "invalid-credentials");
    api.flush_mail().await;
    assert_eq!(api.count_mails(email, LOCKED), 1, "exactly one lock email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_answers_unknown_email_and_wrong_password_identically() {
    let api = Api::start().await;
    let user = api.signed_up("real@example.com").await;
    let unknown = api.login_with("nobody@example.com", PASSWORD).await;
    let wrong = api
        .login_with(&user.email, "not the right passphrase")
        .await;
    api.register("unverified2@example.com", PASSWORD)
        .await
        .expect_status(202);
    assert_problem(&unknown, 401, "invalid-credentials");
    assert_problem(&wrong, 401, "invalid-credentials");
    assert_eq!(unknown.body["title"], wrong.body["title"]);
    assert_eq!(unknown.body["detail"], wrong.body["detail"]);
    assert_eq!(unknown.comparable(), wrong.comparable());
    // A bad email shape, an over-long password: the same answer again (no validation oracle on login).
    let malformed = api.login_with("not-an-email", PASSWORD).await;
    assert_eq!(malformed.comparable(), wrong.comparable());
    let huge = api.login_with(&user.email, &"p".repeat(5000)).await;
    assert_eq!(huge.comparable(), wrong.comparable());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_lock_the_account_for_its_duration_and_mail_the_owner_once() {
    let api = Api::start().await;
    let user = api.signed_up("locked@example.com").await;

    // Four failures do not lock, and a success clears the count.
    fail_logins(&api, &user.email, 4).await;
    api.login_with(&user.email, PASSWORD)
        .await
        .expect_status(200);

    fail_logins(&api, &user.email, 4).await;
    let wrong = api.login_with(&user.email, WRONG).await;
    assert_problem(&wrong, 401, "invalid-credentials");
    let locked = api.login_with(&user.email, PASSWORD).await;
    assert_problem(&locked, 401, "invalid-credentials");
    assert_eq!(
        locked.comparable(),
        wrong.comparable(),
        "a locked account answers like a wrong password"
    );
    // More failures while locked send no more mail; the lock still holds just before it ends.
    for _ in 0..3 {
        api.login_with(&user.email, WRONG).await;
    }
    api.clock().advance(Duration::from_secs(890));
    // Existing sessions are not touched by a lock.
    let access = api.fresh_access(&user).await;
    assert_eq!(api.me(&access).await.status, 200);
    assert_locked_and_told(&api, &user.email).await;

    api.clock().advance(Duration::from_secs(11));
    let reply = api.login_with(&user.email, PASSWORD).await;
    assert_eq!(reply.status, 200, "unlocked after 900 s: {reply}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_two_factor_codes_count_toward_the_same_lockout() {
    let api = Api::start().await;
    let user = api.signed_up("lock2fa@example.com").await;
    let secret = api.enrol_2fa(&user).await.secret;

    fail_logins(&api, &user.email, 3).await;
    let challenge = api.challenge(&user.email).await;
    for _ in 0..2 {
        let reply = api.verify_2fa(&challenge, &api.wrong_code(&secret)).await;
        assert_problem(&reply, 401, "invalid-code");
    }
    // Locked now: the right code and the right password are both refused.
    let right = api.totp_now(&secret);
    assert_problem(
        &api.verify_2fa(&challenge, &right).await,
        401,
        "invalid-code",
    );
    assert_locked_and_told(&api, &user.email).await;

    api.clock().advance(Duration::from_secs(901));
    let challenge = api.challenge(&user.email).await;
    let reply = api.verify_2fa(&challenge, &api.totp_now(&secret)).await;
    assert_eq!(reply.status, 200, "unlocked: {reply}");
    api.stop().await;
}

// Lockout reached through 2fa/disable (suspected bugs).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_reached_through_two_factor_disable_mails_the_owner() {
    let api = Api::start().await;
    let (user, enrolled, access) = api.two_factor_user("silentlock@example.com").await;
    fail_logins(&api, &user.email, 4).await;
    let reply = api
        .disable_2fa(&access, WRONG, &api.totp_now(&enrolled.secret))
        .await;
    assert_problem(&reply, 400, "validation");
    // That fifth failure locked the account, so its owner must hear about it, as with any other lock.
    assert_locked_and_told(&api, &user.email).await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_account_does_not_confirm_its_password_through_two_factor_disable() {
    let api = Api::start().await;
    let (user, enrolled, access) = api.two_factor_user("oracle@example.com").await;
    for _ in 0..5 {
        api.login_with(&user.email, WRONG).await;
    }
    assert_problem(
        &api.login_with(&user.email, PASSWORD).await,
        401,
        "invalid-credentials",
    );
    // Someone holding the access token (not the password) keeps guessing through 2fa/disable: a locked account
    // must answer a right and a wrong password alike there too.
    let wrong_code = api.wrong_code(&enrolled.secret);
    let wrong = api.disable_2fa(&access, WRONG, &wrong_code).await;
    let right = api.disable_2fa(&access, PASSWORD, &wrong_code).await;
    assert_eq!(
        right.status, wrong.status,
        "right: {right} / wrong: {wrong}"
    );
    assert_eq!(right.problem_type(), wrong.problem_type());
    api.stop().await;
}
