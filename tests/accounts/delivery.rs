//! Account emails are committed with the change that causes them (the outbox): a queue that fails on send, or a
//! process that dies between the commit and the send, delays a verification or reset email but does not lose it,
//! and the relay sending one twice still delivers one email.

use std::time::Duration;

use lectern_e2e::DevServer;
use lectern_e2e::api::{Api, NEW_PASSWORD, PASSWORD};
use lectern_e2e::mail::{RESET_LINK, VERIFY_LINK};
use lectern_shared::queue::outbox::{self, OutboxEntry, RELAY_GRACE};
use lectern_shared::table::{Condition, Entity};

/// Moves the server clock past the relay's grace period, so the relay takes every entry written so far.
fn past_grace(api: &Api) {
    api.clock().advance(RELAY_GRACE + Duration::from_secs(1));
}

/// The entries waiting in the outbox.
async fn pending(api: &Api) -> Vec<OutboxEntry> {
    outbox::pending(api.server.platform.table.as_ref())
        .await
        .expect("outbox readable")
}

/// The entries that carry emails (a registration also commits its `user.registered` webhook event).
fn emails(entries: Vec<OutboxEntry>) -> Vec<OutboxEntry> {
    entries
        .into_iter()
        .filter(|e| e.kind != "webhooks.event")
        .collect()
}

/// Waits a little longer than one relay period of the dev server (it runs every 2 s).
async fn one_relay_period() {
    tokio::time::sleep(Duration::from_millis(2500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_committed_while_the_queue_fails_are_delivered_once_it_works_again() {
    let api = Api::start().await;
    let user = api.signed_up("queue-down@example.com").await;
    api.server.queue_faults.fail_sends(true);

    // Both requests succeed although nothing can be sent: what they must send is in the outbox.
    api.forgot_password(&user.email).await.expect_status(202);
    api.register("newcomer@example.com", PASSWORD)
        .await
        .expect_status(202);
    past_grace(&api);
    one_relay_period().await;
    let waiting = emails(pending(&api).await);
    assert_eq!(waiting.len(), 2, "kept while the queue is down");
    // A waiting reset email holds a live link: the table shows neither it nor the address.
    for entry in &waiting {
        let stored = serde_json::to_string(&entry.to_item().unwrap()).unwrap();
        assert!(!stored.contains("token="), "{stored}");
        assert!(!stored.contains(&user.email), "{stored}");
    }
    assert_eq!(api.count_mails(&user.email, RESET_LINK), 0);

    // The queue is back: the relay sends both, and the links in them work.
    api.server.queue_faults.fail_sends(false);
    let reset = api.mailed_token(&user.email, "reset-password").await;
    api.reset_password(&reset, NEW_PASSWORD)
        .await
        .expect_status(204);
    let verify = api
        .mailed_token("newcomer@example.com", "verify-email")
        .await;
    api.verify_email(&verify).await.expect_status(204);
    assert!(pending(&api).await.is_empty());
    assert_eq!(api.count_mails(&user.email, RESET_LINK), 1);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_a_crash_left_unsent_is_delivered_by_the_relay_and_only_once() {
    // Every request here stops right after its commit, before sending what it committed.
    let api = Api::on(DevServer::start_crashing_after_commit().await);
    let email = "crash@example.com";
    api.register(email, PASSWORD).await.expect_status(202);
    one_relay_period().await;
    assert_eq!(
        api.count_mails(email, VERIFY_LINK),
        0,
        "young entries belong to their request"
    );
    let left = emails(pending(&api).await);
    assert_eq!(left.len(), 1, "{left:?}");

    past_grace(&api);
    let token = api.mailed_token(email, "verify-email").await;
    api.verify_email(&token).await.expect_status(204);
    assert!(pending(&api).await.is_empty(), "sent entries are removed");

    // The relay's delete of a sent entry was lost: it finds the entry again and sends it a second time.
    let table = api.server.platform.table.clone();
    table
        .put(left[0].to_item().unwrap(), Condition::NotExists)
        .await
        .unwrap();
    past_grace(&api);
    assert!(
        lectern_e2e::eventually(async || pending(&api).await.is_empty()).await,
        "the relay sent it again"
    );
    // Two sentinels sent after it: once the second is delivered, the worker has handled the duplicate.
    for n in 0..2 {
        let sentinel = format!("sentinel-{n}@example.com");
        api.register(&sentinel, PASSWORD).await.expect_status(202);
        past_grace(&api);
        assert_eq!(api.mails_to(&sentinel, 1).await.len(), 1);
    }
    assert_eq!(
        api.count_mails(email, VERIFY_LINK),
        1,
        "one email for two sends"
    );
    api.stop().await;
}
