//! Completing a soft delete: after the grace period, housekeeping finds the account through the erasure index, the
//! jobs worker purges it in every domain, and nothing of it is left but the audit record of its erasure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use lectern_accounts::erasure::{PurgeAccounts, Purged};
use lectern_accounts::users::User;
use lectern_e2e::api::{Api, Signed};
use lectern_e2e::eventually;
use lectern_messages::PurgeAccount;
use lectern_shared::clock::{Clock, ManualClock};
use lectern_shared::erasure::{Budget, EraseError, Erased, Eraser, ErasureDue, erase_items};
use lectern_shared::queue::queues;
use lectern_shared::queue::worker::{Worker, settle};
use lectern_shared::table::{Condition, Item, Key, Query, Table, TableError};
use lectern_shared::testing::embedded::{all_items, db_path};
use lectern_shared::{Config, Platform};
use serde_json::{Value, json};

use crate::avatar::{png, upload_avatar};

const GRACE: Duration = Duration::from_secs(30 * 24 * 3600);

/// An account with something in every place the accounts domain keeps data: sessions (one refreshed, leaving a
/// rotated refresh token), an API key, an avatar, preferences, audit events; then deleted by its owner.
async fn deleted_account(api: &Api, email: &str) -> Signed {
    let user = api.signed_up(email).await;
    let second = api.login(email).await;
    api.refresh(&second.refresh).await.expect_status(200);
    api.new_key(
        &user.access,
        json!({"name": "ci", "scopes": ["content:read"]}),
    )
    .await;
    let key = upload_avatar(api, &user, png(300)).await;
    api.confirm_avatar(&user.access, &key, "image/png")
        .await
        .expect_status(200);
    api.patch_me(&user.access, json!({"theme": "dark", "locale": "fr"}))
        .await
        .expect_status(200);
    api.delete_me(&user.access).await.expect_status(202);
    user
}

/// Whether a stored item says anything about the account (its id or its address, in any case).
fn mentions(item: &Item, user: &Signed) -> bool {
    let text = Value::Object(item.clone()).to_string().to_lowercase();
    text.contains(&user.user_id.to_lowercase()) || text.contains(&user.email.to_lowercase())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_account_leaves_nothing_but_the_record_of_its_erasure() {
    let api = Api::start().await;
    let gone = deleted_account(&api, "Erase.Me@example.com").await;
    let stays = api.signed_up("stays@example.com").await;

    // Within the grace period nothing is due.
    let platform = api.server.platform.clone();
    let report = lectern_platform_housekeeping::run(&platform).await.unwrap();
    assert_eq!(report.purges_enqueued, 0);

    api.clock().advance(GRACE + Duration::from_secs(3600));
    let report = lectern_platform_housekeeping::run(&platform).await.unwrap();
    assert_eq!(report.purges_enqueued, 1, "found through the erasure index");
    // The dev server's jobs worker runs the purge.
    let erased = eventually(async || {
        platform
            .table
            .get(&User::key_of(&gone.user_id))
            .await
            .unwrap()
            .is_none()
    })
    .await;
    assert!(erased, "the account was purged");
    // Nothing is due any more, and expired items are swept from the file too.
    let report = lectern_platform_housekeeping::run(&platform).await.unwrap();
    assert_eq!(report.purges_enqueued, 0);

    let (blobs, _) = platform.blobs.list("", None, 1000).await.unwrap();
    assert!(
        blobs.iter().all(|b| !b.key.contains(&gone.user_id)),
        "no blob of the account: {blobs:?}"
    );
    drop(platform);
    let dir = api.stop().await;

    let items = all_items(&db_path(dir.path()));
    let left: Vec<&Item> = items.iter().filter(|i| mentions(i, &gone)).collect();
    assert_eq!(left.len(), 1, "only the erasure record is left: {left:#?}");
    let record = left[0];
    assert_eq!(record["entity"], "audit_event");
    assert_eq!(record["action"], "account_erased");
    assert_eq!(record["target_id"], gone.user_id.as_str());
    assert_eq!(record["actor_id"], Value::Null);
    assert!(
        !Value::Object(record.clone())
            .to_string()
            .to_lowercase()
            .contains("erase.me@"),
        "no email in the record: {record:?}"
    );
    // Another account is untouched.
    assert!(
        items
            .iter()
            .any(|i| mentions(i, &stays) && i["entity"] == "user"),
        "the other account is still there"
    );

    // The address is free again: a new account can take it.
    let api = Api::on(lectern_e2e::DevServer::start_in(dir).await);
    // The outbox still holds the first account's verification link; set it aside.
    api.mailed_token("erase.me@example.com", "verify-email")
        .await;
    let again = api.signed_up("erase.me@example.com").await;
    assert_ne!(again.user_id, gone.user_id);
    api.stop().await;
}

/// Another domain's data about an account (what a later domain keeps under its own keys), and its eraser. Its
/// first run dies half-way, as a process killed mid-purge would.
struct LearningEraser {
    table: Arc<dyn Table>,
    crash_once: AtomicBool,
}

fn progress_key(user_id: &str, n: usize) -> Key {
    Key::new(format!("PROGRESS#{user_id}"), format!("{n:03}"))
}

#[async_trait]
impl Eraser for LearningEraser {
    fn name(&self) -> &'static str {
        "learning"
    }

    async fn erase(&self, user_id: &str, budget: &Budget) -> Result<Erased, EraseError> {
        if self.crash_once.swap(false, Ordering::SeqCst) {
            for n in 0..5 {
                self.table
                    .delete(&progress_key(user_id, n), Condition::Always)
                    .await?;
            }
            return Err(TableError::Unavailable("the process died".into()).into());
        }
        let query = Query::partition(format!("PROGRESS#{user_id}")).limit(3);
        Ok(erase_items(self.table.as_ref(), query, |_| false, budget).await?)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_that_dies_or_runs_out_of_time_continues_on_the_next_run() {
    let api = Api::start().await;
    let gone = deleted_account(&api, "resume@example.com").await;
    let deleted_at = api.clock().now();
    let dir = api.stop().await;
    // The grace period has passed; no dev server runs, so each step below is the test's.
    let clock = ManualClock::new(deleted_at + GRACE + Duration::from_secs(60));
    let platform = Platform::with_clock(
        Config::for_tests(dir.path().to_path_buf()),
        Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    let table = platform.table.clone();
    for n in 0..10 {
        let mut item = Item::new();
        let key = progress_key(&gone.user_id, n);
        item.insert("pk".into(), key.pk.into());
        item.insert("sk".into(), key.sk.into());
        item.insert("lesson".into(), n.into());
        table.put(item, Condition::Always).await.unwrap();
    }
    let learning = Arc::new(LearningEraser {
        table: table.clone(),
        crash_once: AtomicBool::new(true),
    });
    let progress = async || {
        let page = table
            .query(Query::partition(format!("PROGRESS#{}", gone.user_id)))
            .await
            .unwrap();
        page.items.len()
    };
    let (due, _) = ErasureDue::due(table.as_ref(), clock.epoch_seconds(), 10, None)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    let job = PurgeAccount {
        user_id: gone.user_id.clone(),
        due_at: due[0].due_at,
    };

    // Run 1 dies in the other domain's eraser: half of its data is gone, the account is untouched.
    let purge = PurgeAccounts::new(&platform, vec![learning.clone()]);
    assert!(purge.purge(&job).await.is_err());
    assert_eq!(progress().await, 5);
    let account = table.get(&User::key_of(&gone.user_id)).await.unwrap();
    assert!(account.is_some(), "the account goes last");

    // Run 2 has no time at all: it erases a little and hands the rest to a continuation job.
    let hurried = PurgeAccounts::new(&platform, vec![learning.clone()]).with_budget(Duration::ZERO);
    assert_eq!(hurried.purge(&job).await.unwrap(), Purged::Continued);
    assert_eq!(progress().await, 2);

    // The continuation runs through the jobs worker and finishes.
    let worker = Worker::new(table.clone(), platform.clock.clone()).with(Arc::new(purge));
    let deliveries = platform
        .queue
        .receive(queues::JOBS, 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1, "the continuation job");
    let receipts = deliveries
        .iter()
        .map(|d| (d.message_id.clone(), d.receipt.clone()))
        .collect();
    let outcome = worker.process_batch(deliveries).await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    settle(platform.queue.as_ref(), queues::JOBS, &receipts, &outcome).await;

    assert_eq!(progress().await, 0);
    assert!(
        table
            .get(&User::key_of(&gone.user_id))
            .await
            .unwrap()
            .is_none()
    );
    let (due, _) = ErasureDue::due(table.as_ref(), clock.epoch_seconds(), 10, None)
        .await
        .unwrap();
    assert!(due.is_empty(), "nothing is due any more");
    // A duplicate of the job (a redelivery) finds nothing left.
    let again = PurgeAccounts::new(&platform, vec![learning]);
    assert_eq!(again.purge(&job).await.unwrap(), Purged::NothingLeft);
    assert!(
        platform
            .queue
            .receive(queues::JOBS, 10, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_account_is_taken_off_the_erasure_list() {
    let api = Api::start().await;
    let user = deleted_account(&api, "back@example.com").await;
    let platform = api.server.platform.clone();
    let now = api.clock().epoch_seconds();
    let (due, _) = ErasureDue::due(
        platform.table.as_ref(),
        now + GRACE.as_secs() as i64,
        10,
        None,
    )
    .await
    .unwrap();
    assert_eq!(due.len(), 1, "listed when deleted");
    // Signing in within the grace period restores the account and unlists it.
    api.login(&user.email).await;
    let later = now + 2 * GRACE.as_secs() as i64;
    let (due, _) = ErasureDue::due(platform.table.as_ref(), later, 10, None)
        .await
        .unwrap();
    assert!(due.is_empty(), "unlisted when restored: {due:?}");
    // A purge job already on its way finds the account active and touches nothing.
    let purge = PurgeAccounts::new(&platform, Vec::new());
    let job = PurgeAccount {
        user_id: user.user_id.clone(),
        due_at: now + GRACE.as_secs() as i64,
    };
    api.clock().advance(GRACE + Duration::from_secs(60));
    assert_eq!(purge.purge(&job).await.unwrap(), Purged::NotDue);
    api.me(&api.login(&user.email).await.access)
        .await
        .expect_status(200);
    drop(platform);
    api.stop().await;
}
