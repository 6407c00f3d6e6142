//! The worker renders queued `NotifyEmail` jobs and delivers them to the dev outbox, once per idempotency key;
//! jobs that can never render are dropped rather than retried.

use std::sync::Arc;
use std::time::Duration;

use lectern_messages::{NotifyEmail, SendEmail, Template};
use lectern_platform_notifications::{Branding, worker_with};
use lectern_shared::clock::ManualClock;
use lectern_shared::mail::Email;
use lectern_shared::mail::embedded::read_outbox;
use lectern_shared::queue::worker::BatchOutcome;
use lectern_shared::queue::{JobKind, NewJob, enqueue, queues};
use lectern_shared::{Config, Platform};

async fn platform() -> (Platform, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let platform = Platform::with_clock(
        Config::for_tests(dir.path().to_path_buf()),
        Arc::new(ManualClock::starting_now()),
    )
    .await
    .unwrap();
    (platform, dir)
}

fn branding() -> Branding {
    Branding::new("Acme Learn", "https://app.example.com", None).unwrap()
}

/// Receives what is on the notifications queue and runs it, acknowledging what the worker finished.
async fn run_queue(platform: &Platform) -> BatchOutcome {
    let worker = worker_with(platform, branding());
    let deliveries = platform
        .queue
        .receive(queues::NOTIFICATIONS, 10, Duration::from_secs(60))
        .await
        .unwrap();
    let receipts: Vec<(String, String)> = deliveries
        .iter()
        .map(|d| (d.message_id.clone(), d.receipt.clone()))
        .collect();
    let outcome = worker.process_batch(deliveries).await;
    for (id, receipt) in receipts {
        if outcome.done.contains(&id) {
            platform
                .queue
                .ack(queues::NOTIFICATIONS, &receipt)
                .await
                .unwrap();
        }
    }
    outcome
}

fn reset(link: &str) -> NotifyEmail {
    NotifyEmail::new(
        "ada@example.com",
        Template::PasswordReset {
            link: link.into(),
            expires_minutes: 30,
        },
    )
    .name("Ada")
}

#[tokio::test]
async fn a_queued_notify_email_lands_in_the_outbox_once() {
    let (platform, dir) = platform().await;
    assert_eq!(NotifyEmail::QUEUE, queues::NOTIFICATIONS);
    let job = reset("https://app.example.com/reset?token=tok-42");
    for attempt in 0..2 {
        // The same request retried after the first email went out: same idempotency key.
        let new = NewJob::new(&job)
            .unwrap()
            .idempotency_key("reset:tok-42-id");
        enqueue::<NotifyEmail>(platform.queue.as_ref(), new)
            .await
            .unwrap();
        let outcome = run_queue(&platform).await;
        assert_eq!(outcome.done.len(), 1, "attempt {attempt}: {outcome:?}");
        assert!(outcome.failed.is_empty());
    }

    let outbox = read_outbox(&dir.path().join("outbox"));
    assert_eq!(outbox.len(), 1, "one email per idempotency key");
    let (_, eml) = &outbox[0];
    assert!(eml.contains("To: ada@example.com"), "{eml}");
    assert!(
        eml.contains("Subject: Reset your Acme Learn password"),
        "{eml}"
    );
    assert!(eml.contains("Content-Type: text/plain"), "{eml}");
    assert!(eml.contains("Content-Type: text/html"), "{eml}");
    assert!(
        eml.contains("tok-42"),
        "the link reaches the message: {eml}"
    );
}

#[tokio::test]
async fn jobs_that_cannot_render_are_dropped_not_retried() {
    let (platform, dir) = platform().await;
    let bad_link = NewJob::new(&reset("javascript:alert(1)")).unwrap();
    let mut bad_payload = NewJob::new(&reset("https://app.example.com/r")).unwrap();
    bad_payload.job.payload["data"]["expires_minutes"] = "soon".into();
    let bad_recipient =
        NewJob::new(&NotifyEmail::new("nobody", Template::TwoFactorEnabled)).unwrap();
    platform
        .queue
        .send(
            NotifyEmail::QUEUE,
            vec![bad_link, bad_payload, bad_recipient],
        )
        .await
        .unwrap();
    let outcome = run_queue(&platform).await;
    assert_eq!(outcome.done.len(), 3, "permanent failures are acknowledged");
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    assert!(read_outbox(&dir.path().join("outbox")).is_empty());
}

#[tokio::test]
async fn pre_rendered_emails_still_send() {
    let (platform, dir) = platform().await;
    let email = SendEmail(Email {
        to: "grace@example.com".into(),
        subject: "Hello".into(),
        html: "<p>Hi</p>".into(),
        text: "Hi".into(),
    });
    enqueue::<SendEmail>(
        platform.queue.as_ref(),
        NewJob::new(&email).unwrap().idempotency_key("hello"),
    )
    .await
    .unwrap();
    let outcome = run_queue(&platform).await;
    assert_eq!(outcome.done.len(), 1);
    assert_eq!(read_outbox(&dir.path().join("outbox")).len(), 1);
}
