//! `POST /v1/auth/register`: the password policy and the other checks, no account enumeration, races, and the
//! verification that follows.

use lectern_e2e::api::{Api, PASSWORD, assert_problem};
use lectern_e2e::mail::VERIFY_LINK;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_verify_and_read_own_profile() {
    let api = Api::start().await;
    let me = api.signed_up("smoke@example.com").await;
    let profile = api.me(&me.access).await.expect_status(200);
    assert_eq!(profile.body["email_verified"], true);
    assert_eq!(profile.body["user_id"], me.user_id.as_str());
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_a_role_field_and_register_with_is_admin_are_refused_naming_the_field() {
    let api = Api::start().await;
    api.signed_up("fields@example.com").await;

    let reply = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": "fields@example.com", "password": PASSWORD, "role": "admin"}),
        )
        .await;
    assert_problem(&reply, 400, "validation");
    assert!(reply.errors_text().contains("role"), "{reply}");

    let reply = api
        .register_json(json!({"email": "new@example.com", "password": PASSWORD, "display_name": "N", "is_admin": true}))
        .await;
    assert_problem(&reply, 400, "validation");
    assert!(reply.errors_text().contains("is_admin"), "{reply}");
    // Refused before anything happened: no account, so no verification link.
    api.flush_mail().await;
    assert_eq!(api.count_mails("new@example.com", VERIFY_LINK), 0);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refuses_bad_passwords_emails_names_and_privileged_roles() {
    let api = Api::start().await;
    let ok = json!({"email": "policy@example.com", "password": PASSWORD, "display_name": "Pat"});
    let with = |key: &str, value: Value| {
        let mut body = ok.clone();
        body[key] = value;
        body
    };
    let cases = [
        ("short password", "password", json!("short1")),
        ("9 characters", "password", json!("abcdefgh9")),
        ("129 characters", "password", json!("x".repeat(129))),
        ("common password", "password", json!("password123")),
        (
            "password containing the email",
            "password",
            json!("my policy@example.com pass"),
        ),
        (
            "password containing the local part",
            "password",
            json!("POLICY-and-more-words"),
        ),
        ("no @", "email", json!("not-an-email")),
        ("empty email", "email", json!("")),
        ("two @", "email", json!("a@b@example.com")),
        ("empty display name", "display_name", json!("")),
        ("blank display name", "display_name", json!("   ")),
        ("control character", "display_name", json!("Pat\u{7}")),
        (
            "101-char display name",
            "display_name",
            json!("n".repeat(101)),
        ),
        ("role admin", "role", json!("admin")),
        ("role instructor", "role", json!("instructor")),
        ("role moderator", "role", json!("moderator")),
        ("unknown role", "role", json!("superuser")),
    ];
    for (name, field, value) in cases {
        let reply = api.register_json(with(field, value)).await;
        assert_problem(&reply, 400, "validation");
        assert!(
            reply.fields().iter().any(|f| f == field),
            "{name}: errors should name {field}: {reply}"
        );
    }
    // Several problems at once are all reported.
    let reply = api
        .register_json(
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
    api.flush_mail().await;
    assert_eq!(api.count_mails("policy@example.com", VERIFY_LINK), 0);
    api.register_json(with("role", json!("parent")))
        .await
        .expect_status(202);
    let learner = api.register("learner@example.com", "exactly10!").await;
    assert_eq!(learner.status, 202, "10 characters is enough: {learner}");
    let max = api
        .register("max@example.com", &"y".repeat(127).replace("yyy", "yzy"))
        .await;
    assert_eq!(max.status, 202, "127 characters is fine: {max}");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_unicode_passphrase_is_accepted_and_verified_exactly_as_typed() {
    let api = Api::start().await;
    let email = "phrase@example.com";
    let phrase =
        "  Les élèves lisent 📚 sous le grand chêne — 三本の木 — until the bell rings twice ";
    assert!(phrase.chars().count() >= 64, "{}", phrase.chars().count());
    api.register(email, phrase).await.expect_status(202);
    let token = api.mailed_token(email, "verify-email").await;
    api.verify_email(&token).await.expect_status(204);

    let ok = api.login_with(email, phrase).await;
    assert_eq!(ok.status, 200, "the exact passphrase signs in: {ok}");
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
        let reply = api.login_with(email, &attempt).await;
        assert_eq!(reply.status, 401, "{what}: {reply}");
        assert_eq!(reply.problem_type(), Some("invalid-credentials"), "{what}");
    }
    // The failures above did not lock (4 < 5); the exact phrase still works.
    api.login_with(email, phrase).await.expect_status(200);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_an_existing_email_answers_like_a_new_one_and_only_tells_the_owner() {
    let api = Api::start().await;
    let fresh = api.register("first@example.com", PASSWORD).await;
    let existing = api.signed_up("taken@example.com").await;
    api.flush_mail().await;
    assert_eq!(api.count_mails(&existing.email, VERIFY_LINK), 1);

    for variant in [
        "taken@example.com",
        "TAKEN@Example.com",
        "  taken@example.com ",
    ] {
        let again = api
            .register_json(json!({"email": variant, "password": "another good passphrase", "display_name": "Mallory"}))
            .await;
        assert_eq!(again.status, fresh.status, "{variant}");
        assert_eq!(again.comparable(), fresh.comparable(), "{variant}");
    }
    // An unverified account registered again: same answer, no new link.
    let pending = api.register("pending@example.com", PASSWORD).await;
    assert_eq!(pending.comparable(), fresh.comparable());
    let again = api
        .register("pending@example.com", "another good passphrase")
        .await;
    assert_eq!(again.comparable(), fresh.comparable());

    api.flush_mail().await;
    assert_eq!(
        api.count_mails(&existing.email, VERIFY_LINK),
        1,
        "no second verification link"
    );
    assert_eq!(api.count_mails("pending@example.com", VERIFY_LINK), 1);
    // The owner hears about the attempt once (not once per attempt), with a way back in.
    assert_eq!(
        api.count_mails(&existing.email, "already belongs to your account"),
        1,
        "one notice per hour, however many attempts"
    );
    // The account and its password are untouched.
    api.login_with(&existing.email, PASSWORD)
        .await
        .expect_status(200);
    api.login_with(&existing.email, "another good passphrase")
        .await
        .expect_status(401);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_email_create_one_account_and_one_link() {
    let api = Api::start().await;
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
    let answers = api.post_at_once("/v1/auth/register", bodies).await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer}");
        assert_eq!(
            answer.body, answers[0].body,
            "every racer gets the same answer"
        );
    }
    api.flush_mail().await;
    assert_eq!(
        api.count_mails("race@example.com", VERIFY_LINK),
        1,
        "exactly one verification link"
    );
    let listed = api
        .admin_users(&admin.access, "email=race%40")
        .await
        .expect_status(200);
    assert_eq!(listed.items().len(), 1, "exactly one account: {listed}");
    api.stop().await;
}
