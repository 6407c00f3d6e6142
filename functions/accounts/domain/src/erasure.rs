//! Completing a soft delete: once an account's grace period is over, the `account.purge` job erases it in every
//! domain (see `lectern_shared::erasure` for the whole design).
//!
//! - [`due_ops`] keeps the erasure index in step with the account: soft-deleting writes the account's
//!   `ErasureDue` entry and restoring removes it, in the same transaction as the account itself.
//! - [`AccountEraser`] forgets what this domain keeps about an account: API keys (lookups and listings), refresh
//!   tokens (found through their per-account index), everything else in the `USER#<user_id>` partition but the
//!   account item, the audit events about it, and its avatars.
//! - [`PurgeAccounts`] handles the job: it checks the account is still deleted and due, runs every other domain's
//!   eraser, then its own, and finally deletes the account, releases its email and its due entry and records the
//!   erasure in the audit log, all in one transaction. What remains of the account is that record: its target is
//!   the user id, and it holds no email, IP or user agent. A run that runs out of time enqueues a continuation;
//!   one that crashes is run again (SQS redelivery, or the next housekeeping run finds the entry still due).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lectern_messages::PurgeAccount;
use lectern_shared::Platform;
use lectern_shared::blobs::Blobs;
use lectern_shared::clock::SharedClock;
use lectern_shared::erasure::{
    Budget, EraseError, Erased, Eraser, ErasureDue, erase_blobs, erase_items,
};
use lectern_shared::queue::worker::{JobError, JobHandler};
use lectern_shared::queue::{Job, JobKind, NewJob, Queue, enqueue};
use lectern_shared::table::{
    Condition, ENTITY, Entity, Item, KeyLayout, Shape, Table, TableError, TableResult, TxOp,
};
use serde_json::Value;

use crate::apikeys::{ApiKeyListing, ApiKeyLookup};
use crate::audit::{Action, Event, RETENTION_SECS, StoredEvent, timestamp};
use crate::service::profile::avatar_prefix;
use crate::sessions::TOKENS_BY_USER;
use crate::users::{EmailClaim, Status, USER_PARTITION, User, Users};

/// How long one purge run erases before it hands the rest to a continuation job: well within the jobs worker's
/// Lambda timeout (30 s), so a run is never cut off mid-way by the runtime.
pub const PURGE_BUDGET: Duration = Duration::from_secs(20);

/// Every item in an account's partition, whatever its entity (sessions, API key listings, the lockout counter,
/// and whatever this domain keeps there later).
pub(crate) const ACCOUNT_PARTITION: KeyLayout =
    KeyLayout::new(USER_PARTITION, Shape::values(&["item"]));

/// Page size of the erasers' queries.
const PAGE: usize = 100;

/// The erasure-index writes that go with an account change: an entry due at `purge_after` while the account is
/// soft-deleted, none otherwise. Empty when the change does not touch deletion.
pub fn due_ops(before: &User, after: &User) -> TableResult<Vec<TxOp>> {
    let due = |u: &User| {
        (u.status == Status::Deleted)
            .then_some(u.purge_after)
            .flatten()
    };
    let (was, will) = (due(before), due(after));
    if was == will {
        return Ok(Vec::new());
    }
    let mut ops = Vec::new();
    if let Some(at) = was {
        ops.push(ErasureDue::remove(&before.user_id, at));
    }
    if let Some(at) = will {
        ops.push(ErasureDue::new(&after.user_id, at).put()?);
    }
    Ok(ops)
}

/// The accounts domain's part of an erasure. The account item and the email claim are left to the purge's last
/// transaction, so the account stays "deleted and due" (and the purge resumable) until everything else is gone.
pub struct AccountEraser {
    table: Arc<dyn Table>,
    blobs: Arc<dyn Blobs>,
}

impl AccountEraser {
    pub fn new(platform: &Platform) -> Self {
        Self {
            table: platform.table.clone(),
            blobs: platform.blobs.clone(),
        }
    }

    /// Deletes the lookup item of each of the account's API keys (their listings go with the partition).
    async fn erase_key_lookups(&self, user_id: &str, budget: &Budget) -> TableResult<Erased> {
        let mut cursor = None;
        loop {
            let page = self
                .table
                .query(
                    ApiKeyListing::INFO
                        .query(&[user_id])
                        .limit(PAGE)
                        .after(cursor),
                )
                .await?;
            for item in page.items {
                let listing = ApiKeyListing::from_item(item)?;
                self.table
                    .delete(&ApiKeyLookup::key_of(&listing.0.hash), Condition::Always)
                    .await?;
            }
            if budget.spent() {
                return Ok(Erased::More);
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(Erased::Done),
            }
        }
    }
}

fn keep_nothing(_: &Item) -> bool {
    false
}

/// The account item itself, left for the purge's last transaction.
fn is_account_item(item: &Item) -> bool {
    item.get(ENTITY).and_then(Value::as_str) == Some(User::INFO.name)
}

/// The audit record of an erasure, which is what stays.
fn is_erasure_record(item: &Item) -> bool {
    item.get("action").and_then(Value::as_str) == Some(Action::AccountErased.as_str().as_str())
}

#[async_trait]
impl Eraser for AccountEraser {
    fn name(&self) -> &'static str {
        "accounts"
    }

    async fn erase(&self, user_id: &str, budget: &Budget) -> Result<Erased, EraseError> {
        let table = self.table.as_ref();
        // Each step stops the run as soon as the budget is spent; a rerun starts over and finds less to do.
        if self.erase_key_lookups(user_id, budget).await? == Erased::More {
            return Ok(Erased::More);
        }
        let items = [
            (
                TOKENS_BY_USER.query(&[user_id]),
                keep_nothing as fn(&Item) -> bool,
            ),
            (ACCOUNT_PARTITION.query(&[user_id]), is_account_item),
            (StoredEvent::INFO.query(&[user_id]), is_erasure_record),
        ];
        for (query, keep) in items {
            if erase_items(table, query.limit(PAGE), keep, budget).await? == Erased::More {
                return Ok(Erased::More);
            }
        }
        if erase_blobs(self.blobs.as_ref(), &avatar_prefix(user_id), budget).await? == Erased::More
        {
            return Ok(Erased::More);
        }
        let exports = crate::data_exports::export_prefix(user_id);
        Ok(erase_blobs(self.blobs.as_ref(), &exports, budget).await?)
    }
}

/// How a purge run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purged {
    /// Everything is gone; the erasure is recorded.
    Erased,
    /// The budget ran out; a continuation job was enqueued.
    Continued,
    /// The account was restored (or is not due yet): nothing was touched.
    NotDue,
    /// Nothing is left to erase (a duplicate of a finished purge).
    NothingLeft,
}

/// Why a purge run stopped early (the job is retried).
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(transparent)]
    Erase(#[from] EraseError),
    #[error("could not enqueue the continuation: {0}")]
    Queue(#[from] lectern_shared::queue::QueueError),
    #[error("the account changed during the purge; it is retried")]
    Conflict,
}

impl From<TableError> for PurgeError {
    fn from(e: TableError) -> Self {
        PurgeError::Erase(e.into())
    }
}

/// The `account.purge` job.
pub struct PurgeAccounts {
    table: Arc<dyn Table>,
    users: Users,
    queue: Arc<dyn Queue>,
    clock: SharedClock,
    /// Every other domain's eraser, then the accounts' own.
    erasers: Vec<Arc<dyn Eraser>>,
    budget: Duration,
}

impl PurgeAccounts {
    /// The purge with the erasers of the other domains (run first, in order); the accounts' own runs last.
    pub fn new(platform: &Platform, others: Vec<Arc<dyn Eraser>>) -> Self {
        let mut erasers = others;
        erasers.push(Arc::new(AccountEraser::new(platform)));
        Self {
            table: platform.table.clone(),
            users: Users::new(platform.table.clone()),
            queue: platform.queue.clone(),
            clock: platform.clock.clone(),
            erasers,
            budget: PURGE_BUDGET,
        }
    }

    /// Uses another time budget per run (tests use none at all to see the continuation).
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// One purge run for one due account.
    #[tracing::instrument(skip_all, fields(user_id = %job.user_id))]
    pub async fn purge(&self, job: &PurgeAccount) -> Result<Purged, PurgeError> {
        let now = self.clock.epoch_seconds();
        let user = self.users.get(&job.user_id).await?;
        let mut due_entries = vec![job.due_at];
        match &user {
            Some(u) if u.status == Status::Deleted && u.purge_after.is_some_and(|p| p <= now) => {
                // Deleted again after a restore: the account's own entry has another date.
                due_entries.extend(u.purge_after.filter(|p| *p != job.due_at));
            }
            Some(_) => {
                tracing::info!("the account was restored or is not due; nothing erased");
                return Ok(Purged::NotDue);
            }
            None => {
                let entry = ErasureDue::key_of(&job.user_id, job.due_at);
                if self.table.get(&entry).await?.is_none() {
                    return Ok(Purged::NothingLeft);
                }
            }
        }
        let budget = Budget::new(self.budget);
        for eraser in &self.erasers {
            if eraser.erase(&job.user_id, &budget).await? == Erased::More {
                tracing::info!(
                    eraser = eraser.name(),
                    "purge budget spent; continuing in a new job"
                );
                enqueue::<PurgeAccount>(self.queue.as_ref(), NewJob::new(job)?).await?;
                return Ok(Purged::Continued);
            }
        }
        self.finish(job, user.as_ref(), &due_entries).await?;
        tracing::info!("account erased");
        Ok(Purged::Erased)
    }

    /// The last step, all or nothing: the account, its email claim and its due entries go, the erasure record
    /// comes. The account must be exactly as read (a concurrent change makes the run retry).
    async fn finish(
        &self,
        job: &PurgeAccount,
        user: Option<&User>,
        due_entries: &[i64],
    ) -> Result<(), PurgeError> {
        let now = self.clock.now();
        let mut ops: Vec<TxOp> = due_entries
            .iter()
            .map(|at| ErasureDue::remove(&job.user_id, *at))
            .collect();
        if let Some(user) = user {
            ops.push(TxOp::Delete {
                key: user.key(),
                condition: Condition::equals("version", user.version),
            });
            let claim = EmailClaim::key_of(&user.email);
            let held = match self.table.get(&claim).await? {
                Some(item) => EmailClaim::from_item(item)?.user_id == user.user_id,
                None => false,
            };
            // Only the account's own claim is released; an address another account holds is not touched.
            if held {
                ops.push(TxOp::Delete {
                    key: claim,
                    condition: Condition::equals("user_id", user.user_id.clone()),
                });
            }
            // It leaves the admin statistics with its erasure.
            ops.push(crate::stats::erased_op(user));
        }
        let mut details = serde_json::Map::new();
        details.insert(
            "erasers".into(),
            self.erasers
                .iter()
                .map(|e| e.name())
                .collect::<Vec<_>>()
                .into(),
        );
        let record = StoredEvent {
            event: Event {
                event_id: lectern_shared::ids::new_id(),
                action: Action::AccountErased,
                actor_id: None,
                target_id: job.user_id.clone(),
                ip: None,
                user_agent: None,
                request_id: lectern_shared::http::request_id::current(),
                server_request_id: None,
                at: timestamp(now),
                details,
            },
            expires_at: now.unix_timestamp() + RETENTION_SECS,
        };
        ops.push(TxOp::Put {
            item: record.to_item()?,
            condition: Condition::NotExists,
        });
        match self.table.transact(ops).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCancelled { .. }) | Err(TableError::Retryable(_)) => {
                Err(PurgeError::Conflict)
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait]
impl JobHandler for PurgeAccounts {
    fn kind(&self) -> &'static str {
        PurgeAccount::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let purge: PurgeAccount = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("not a purge job: {e}")))?;
        if !lectern_shared::ids::is_id(&purge.user_id) {
            return Err(JobError::Permanent("the user id is malformed".into()));
        }
        match self.purge(&purge).await {
            Ok(_) => Ok(()),
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }
}
