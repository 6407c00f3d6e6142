//! The dev server as a user meets it: real HTTP on a port, workers and signed blob URLs in-process.

use std::time::Duration;

use lectern_e2e::api::{Client, PASSWORD};
use lectern_e2e::{DevServer, eventually};
use lectern_messages::SendEmail;
use lectern_shared::blobs::UploadRules;
use lectern_shared::blobs::confirm::{ConfirmError, confirm_upload};
use lectern_shared::mail::Email;
use lectern_shared::mail::embedded::read_outbox;
use lectern_shared::queue::{NewJob, enqueue};
use serde_json::Value;

/// Queues an email job (built from an email with `subject`) on the server's queue.
async fn enqueue_email(server: &DevServer, subject: &str, job: impl FnOnce(NewJob) -> NewJob) {
    let email = SendEmail(Email {
        to: "learner@example.com".into(),
        subject: subject.into(),
        html: "<p>Hello</p>".into(),
        text: "Hello".into(),
    });
    let job = job(NewJob::new(&email).unwrap());
    enqueue::<SendEmail>(server.platform.queue.as_ref(), job)
        .await
        .unwrap();
}

/// Waits (bounded) for the server's outbox to hold one email.
async fn one_email_delivered(server: &DevServer) -> bool {
    eventually(async || read_outbox(&server.outbox()).len() == 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_ready_and_problems_over_http() {
    let server = DevServer::start().await;
    let client = reqwest::Client::new();
    let ready = client
        .get(server.url("/v1/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let missing = client.get(server.url("/v1/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = missing.json().await.unwrap();
    assert!(body["request_id"].is_string());
    let wrong_method = client
        .delete(server.url("/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(
        wrong_method.headers()["content-type"],
        "application/problem+json"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_email_lands_in_the_outbox() {
    let server = DevServer::start().await;
    enqueue_email(&server, "Welcome", |job| job.idempotency_key("welcome:1")).await;
    assert!(
        one_email_delivered(&server).await,
        "the worker delivered the email"
    );
    let (_, text) = &read_outbox(&server.outbox())[0];
    assert!(text.contains("Subject: Welcome"), "{text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_survive_a_restart() {
    let server = DevServer::start().await;
    enqueue_email(&server, "Later", |job| job.delay(Duration::from_secs(300))).await;
    let dir = server.stop().await;
    assert!(
        read_outbox(&dir.path().join("outbox")).is_empty(),
        "not due before shutdown"
    );

    let server = DevServer::start_in(dir).await;
    server.clock.advance(Duration::from_secs(301));
    assert!(
        one_email_delivered(&server).await,
        "the delayed job ran after restart"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_upload_through_the_dev_server_then_confirm() {
    let server = DevServer::start().await;
    let blobs = server.platform.blobs.clone();
    let png: Vec<u8> = [
        &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..],
        &[0u8; 200][..],
    ]
    .concat();
    let rules = UploadRules {
        content_type: "image/png".into(),
        min_bytes: 1,
        max_bytes: 1024,
        expires_in: Duration::from_secs(600),
    };
    let upload = |key: &'static str, body: Vec<u8>| {
        let blobs = blobs.clone();
        let rules = rules.clone();
        async move {
            let presigned = blobs.presign_upload(key, &rules).await.unwrap();
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in &presigned.fields {
                form = form.text(k.clone(), v.clone());
            }
            let part = reqwest::multipart::Part::bytes(body)
                .file_name("a.png")
                .mime_str("image/png")
                .unwrap();
            form = form.part("file", part);
            reqwest::Client::new()
                .post(&presigned.url)
                .multipart(form)
                .send()
                .await
                .unwrap()
                .status()
        }
    };

    assert!(upload("avatars/ok.png", png.clone()).await.is_success());
    let confirmed = confirm_upload(blobs.as_ref(), "avatars/ok.png", &rules)
        .await
        .unwrap();
    assert_eq!(confirmed.size, png.len() as u64);

    let status = upload("avatars/big.png", vec![0x89; 4096]).await;
    assert_eq!(status, 413, "the dev server enforces the signed size limit");
    assert!(matches!(
        confirm_upload(blobs.as_ref(), "avatars/big.png", &rules).await,
        Err(ConfirmError::Missing)
    ));

    assert!(
        upload("avatars/fake.png", b"GIF89a not really a png".to_vec())
            .await
            .is_success()
    );
    assert!(matches!(
        confirm_upload(blobs.as_ref(), "avatars/fake.png", &rules).await,
        Err(ConfirmError::Type { .. })
    ));
    assert!(
        blobs.head("avatars/fake.png").await.is_err(),
        "refused uploads are deleted"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_creates_demo_accounts_once_with_a_fresh_password() {
    let server = DevServer::start().await;
    let accounts = lectern_e2e::test_accounts(server.platform.clone());
    let report = lectern_local::seed::run(&server.platform, &accounts)
        .await
        .unwrap();
    assert!(report.applied.contains(&"demo-accounts"), "{report:?}");
    let password = report
        .notes
        .iter()
        .find_map(|n| n.strip_prefix("password for both: "))
        .unwrap()
        .to_string();
    assert_ne!(password, PASSWORD);

    let again = lectern_local::seed::run(&server.platform, &accounts)
        .await
        .unwrap();
    assert!(
        again.skipped.contains(&"demo-accounts") && again.notes.is_empty(),
        "{again:?}"
    );

    let api = Client::new(server.base.clone());
    let login = api
        .login_with("admin@lectern.local", &password)
        .await
        .expect_status(200);
    let admin_list = api
        .admin_users(&login.text("access_token"), "role=learner")
        .await;
    assert_eq!(
        admin_list.status, 200,
        "the seeded admin holds admin permissions: {admin_list}"
    );
    let listed = admin_list.body;
    assert_eq!(listed["items"][0]["email"], "learner@lectern.local");
    server.stop().await;
}
