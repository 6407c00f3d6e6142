//! The core account flow on the AWS adapters (DynamoDB, S3, SQS, SESv2 on moto): register, verify through the
//! emailed link (read from the SQS job, then sent through SES by the notifications worker), login, refresh,
//! refresh-token reuse detection and logout-all; and concurrent registrations of one address. Skipped when moto
//! is not available (unless `LECTERN_REQUIRE_AWS=1`).

use std::sync::Arc;
use std::time::Duration;

use lectern_accounts::service::Accounts;
use lectern_accounts::service::admin::UserFilter;
use lectern_e2e::api::{Client, PASSWORD};
use lectern_e2e::moto_stack::MotoStack;
use lectern_shared::Platform;
use lectern_shared::clock::ManualClock;
use lectern_shared::queue::{Delivery, queues};
use lectern_shared::testing::{aws, moto};
use serde_json::{Value, json};

/// The API over a `Platform` on moto, served on a free port without queue pollers: queued emails stay in SQS
/// for the test to read.
struct AwsStack {
    api: Client,
    platform: Platform,
    accounts: Arc<Accounts>,
    clock: ManualClock,
    /// Messages received from the notifications queue so far (hidden from other receivers meanwhile).
    received: tokio::sync::Mutex<Vec<Delivery>>,
    _dir: tempfile::TempDir,
}

/// Builds the stack on fresh moto resources; `None` when moto is not available.
async fn stack() -> Option<AwsStack> {
    let MotoStack {
        api,
        platform,
        accounts,
        clock,
        dir,
    } = MotoStack::start().await?;
    Some(AwsStack {
        api,
        platform,
        accounts,
        clock,
        received: tokio::sync::Mutex::new(Vec::new()),
        _dir: dir,
    })
}

impl AwsStack {
    /// Receives what the notifications queue holds now into the received set.
    async fn receive(&self, received: &mut Vec<Delivery>) {
        let batch = self
            .platform
            .queue
            .receive(queues::NOTIFICATIONS, 10, Duration::from_secs(600))
            .await
            .expect("receive");
        received.extend(batch);
    }

    /// Waits (bounded) for the `email.notify` job with `template` to `to` on the notifications queue and takes
    /// it out of the received set. Other messages stay received (hidden), so they are not counted again towards
    /// the dead-letter limit.
    async fn mail_job(&self, to: &str, template: &str) -> Delivery {
        let found = lectern_e2e::poll(async || {
            let mut received = self.received.lock().await;
            self.receive(&mut received).await;
            let at = received.iter().position(|d| {
                d.job.kind == "email.notify"
                    && d.job.payload["to"] == to
                    && d.job.payload["template"] == template
            })?;
            Some(received.remove(at))
        })
        .await;
        found.unwrap_or_else(|| panic!("no {template} email to {to} on the notifications queue"))
    }
}

/// The emails moto's SES has accepted for `to` (its model dump: subject, source, body, destinations).
async fn ses_sent_to(to: &str) -> Vec<Value> {
    let endpoint = moto::endpoint().await.expect("moto");
    let dump: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .expect("moto model dump")
        .json()
        .await
        .expect("moto model dump is JSON");
    dump["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|t| t == to))
        })
        .collect()
}

/// The token of a `.../verify-email?token=...` link.
fn token_of(link: &str) -> String {
    link.split("?token=")
        .nth(1)
        .unwrap_or_else(|| panic!("no token in {link}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_account_flow_on_dynamodb_sqs_and_ses() {
    let Some(stack) = stack().await else { return };
    let api = &stack.api;
    let email = "cloud.walker@example.com";

    api.register_json(
        json!({"email": email, "password": PASSWORD, "display_name": "Cloud Walker"}),
    )
    .await
    .expect_status(202);

    // The verification email travels as an SQS job; its link holds the token.
    let delivery = stack.mail_job(email, "verify_email").await;
    assert!(
        delivery.job.idempotency_key.is_some(),
        "account emails carry an idempotency key"
    );
    let link = delivery.job.payload["data"]["link"]
        .as_str()
        .expect("link")
        .to_string();
    assert!(link.contains("/verify-email?token="), "{link}");

    // The notifications worker renders it and sends it through SES (moto).
    let worker = lectern_platform_notifications::worker(&stack.platform);
    let outcome = worker.process_batch(vec![delivery.clone()]).await;
    assert_eq!(outcome.failed, Vec::<String>::new(), "{outcome:?}");
    assert_eq!(outcome.done, vec![delivery.message_id.clone()]);
    stack
        .platform
        .queue
        .ack(queues::NOTIFICATIONS, &delivery.receipt)
        .await
        .expect("ack");
    let sent = ses_sent_to(email).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["subject"], "Confirm your email address for Lectern");
    assert!(
        sent[0]["source"]
            .as_str()
            .is_some_and(|s| s.contains(aws::TEST_SENDER)),
        "{:?}",
        sent[0]["source"]
    );
    assert!(
        sent[0]["body"]
            .as_str()
            .is_some_and(|b| b.contains(&token_of(&link))),
        "the sent email holds the link"
    );
    // A redelivery of the same job is recognised as done and not sent again (still acknowledged).
    let again = worker.process_batch(vec![delivery.clone()]).await;
    assert_eq!(again.done, vec![delivery.message_id.clone()]);
    assert_eq!(ses_sent_to(email).await.len(), 1, "sent once");

    // Verify with the link; the token works once.
    api.verify_email(&token_of(&link)).await.expect_status(204);
    let reply = api.verify_email(&token_of(&link)).await;
    assert_eq!(
        reply.status, 400,
        "a verification token works once: {reply}"
    );

    let first = api.login(email).await;
    let profile = api.me(&first.access).await.expect_status(200);
    assert_eq!(profile.body["email_verified"], true);
    assert_eq!(profile.body["email"], email);

    // Refresh rotates within the session; the old access token still works until it expires.
    let reply = api.refresh(&first.refresh).await.expect_status(200);
    let access2 = reply.text("access_token");
    let refresh2 = reply.text("refresh_token");
    assert_eq!(reply.body["session_id"], first.session_id.as_str());
    assert_ne!(refresh2, first.refresh);
    assert_eq!(api.me(&access2).await.status, 200);
    assert_eq!(api.me(&first.access).await.status, 200);

    // Reuse of the rotated token after the grace period revokes the family and is audited.
    stack.clock.advance(Duration::from_secs(6));
    let reply = api.refresh(&first.refresh).await.expect_status(401);
    assert_eq!(reply.problem_type(), Some("refresh-token-reused"));
    api.assert_refresh_dead(&refresh2, "newest token of a revoked family")
        .await;
    api.assert_access_dead(&access2, "access token of a revoked family")
        .await;
    let third = api.login(email).await;
    let events = api
        .security_events(&third.access, "")
        .await
        .expect_status(200);
    let reuse = events.event("refresh_reuse_detected");
    assert_eq!(reuse["target_id"], first.user_id.as_str());
    assert_eq!(reuse["details"]["session_id"], first.session_id.as_str());

    // Logout-all ends every session: access and refresh tokens alike.
    let fourth = api.login(email).await;
    api.logout_all(&third.access).await.expect_status(204);
    for (what, session) in [
        ("session that logged out", &third),
        ("other session", &fourth),
    ] {
        api.assert_signed_out(session, what).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_address_make_exactly_one_account() {
    let Some(stack) = stack().await else { return };
    let spellings = [
        "race@example.com",
        "Race@example.com",
        "RACE@example.com",
        "race@Example.com",
        "race@EXAMPLE.COM",
        "rAce@example.com",
        "raCe@example.com",
        "racE@example.com",
        "RaCe@ExAmPlE.cOm",
        "  race@example.com ",
    ];
    let bodies = spellings
        .iter()
        .enumerate()
        .map(|(i, email)| {
            json!({"email": email, "password": PASSWORD, "display_name": format!("Racer {i}")})
        })
        .collect();
    for reply in stack.api.post_at_once("/v1/auth/register", bodies).await {
        // Every attempt gets the same answer, whether it won or not (no account enumeration).
        reply.expect_status(202);
    }

    // Exactly one account, through the admin search (an email prefix on the all-users index)...
    let (found, _) = stack
        .accounts
        .list_users(
            &UserFilter {
                email_prefix: Some("RACE@".into()),
                ..UserFilter::default()
            },
            100,
            None,
        )
        .await
        .expect("search");
    assert_eq!(found.len(), 1, "{found:?}");
    // ...and by the email claim, which points at that same account.
    let user = stack
        .accounts
        .users
        .find_by_email("race@example.com")
        .await
        .expect("find")
        .expect("an account");
    assert_eq!(user.user_id, found[0].user_id);
    // Only the winner was sent a verification link.
    let delivery = stack.mail_job(&user.email, "verify_email").await;
    assert_eq!(delivery.job.payload["to"], user.email.as_str());
    let extra: Vec<_> = {
        let mut received = stack.received.lock().await;
        stack.receive(&mut received).await;
        received
            .iter()
            .filter(|d| d.job.payload["template"] == "verify_email")
            .map(|d| d.job.payload["to"].clone())
            .collect()
    };
    assert!(extra.is_empty(), "one verification email only: {extra:?}");
}

/// Everything `queue` holds now, each hidden from other receivers for ten minutes.
async fn drain(platform: &Platform, queue: &str) -> Vec<Delivery> {
    let mut all = Vec::new();
    for _ in 0..20 {
        let got = platform
            .queue
            .receive(queue, 10, Duration::from_secs(600))
            .await
            .expect("receive");
        if got.is_empty() {
            break;
        }
        all.extend(got);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_export_is_queued_in_sqs_written_to_s3_once_and_announced_once() {
    let Some(stack) = MotoStack::start().await else {
        return;
    };
    let user = stack
        .signed_in(
            "cloud.export@example.com",
            "Exporter",
            lectern_accounts::permissions::Role::Learner,
        )
        .await;
    stack
        .api
        .request_export(&user.access)
        .await
        .expect_status(202);
    let jobs = drain(&stack.platform, queues::JOBS).await;
    assert_eq!(
        jobs.iter().map(|d| d.job.kind.as_str()).collect::<Vec<_>>(),
        ["account.export"]
    );
    // Delivered twice (a redelivery): written once, announced once.
    let worker = lectern_platform_jobs::worker(&stack.platform);
    lectern_e2e::moto_stack::run_twice(&worker, &jobs).await;
    let mails: Vec<Delivery> = drain(&stack.platform, queues::NOTIFICATIONS)
        .await
        .into_iter()
        .filter(|d| d.job.payload.to_string().contains("data_export_ready"))
        .collect();
    assert_eq!(mails.len(), 1, "one email: {mails:?}");

    let listed = stack.api.exports(&user.access).await.expect_status(200);
    let export = &listed.list()[0];
    assert_eq!(export["status"], "ready", "{listed}");
    let url = export["download_url"]
        .as_str()
        .expect("a presigned S3 link");
    let bytes = reqwest::get(url)
        .await
        .expect("download")
        .error_for_status()
        .expect("the link works")
        .bytes()
        .await
        .expect("archive");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    let mut account = String::new();
    std::io::Read::read_to_string(
        &mut zip.by_name("accounts/user.json").expect("the account"),
        &mut account,
    )
    .expect("utf-8");
    assert!(account.contains("cloud.export@example.com"), "{account}");
    assert!(!account.contains("password_hash"), "{account}");
}
