//! The transactional outbox: a job a state change must cause (an email, a message to another domain) is written
//! to the table in the same transaction as the change, so either both happen or neither does. A crash between
//! the commit and the queue can then delay the job but never lose it.
//!
//! ```text
//!   request: transact([ ...the change..., OutboxEntry(job) ])      one round trip, all or nothing
//!            then, best effort: queue.send(job); delete the entry    the fast path: the job leaves at once
//!   relay:   every minute (EventBridge) / few seconds (dev server): entries older than RELAY_GRACE
//!            are sent and deleted                                    what the fast path did not finish
//! ```
//!
//! A job can therefore be sent twice (the fast path sent it but crashed before deleting the entry; a relay run
//! overlapped a slow request). Every entry carries an idempotency key, and the worker runs a key once
//! ([`super::worker`]), so the second copy is skipped: delivery stays exactly-once as far as a user can tell.
//!
//! A waiting job can hold secrets (a reset email carries a live reset link), and the table keeps tokens only as
//! hashes so that a dump of it cannot be replayed; so the job is stored sealed (AES-256-GCM under an [`OutboxKey`]
//! of the outbox key ring, bound to its entry), and only its kind and id are readable.
//!
//! Entity (declared once, here): `OUTBOX#<shard>` / `<at>#<entry_id>`, where `at` is the creation time in
//! zero-padded epoch seconds (sort keys then order by time, and the relay asks for everything before a cutoff) and
//! `entry_id` is the job's id. Entries are spread over [`SHARDS`] partitions by their id, so a burst of writes is
//! not one hot key; the relay reads every shard. An entry expires after [`RETENTION`]: by then the worker no
//! longer remembers its key, and a late email (a 15-minute reset link) would be useless anyway.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::worker::DONE_RETENTION;
use super::{Job, JobKind, NewJob, Queue, QueueError, QueueResult, validate};
use crate::sealing::{SealError, Sealer};
use crate::secrets::KeyRing;
use crate::table::{
    Condition, Entity, EntityInfo, Key, KeyLayout, MAX_TRANSACTION_OPS, Shape, SortKey, Table,
    TableError, TableResult, TxOp,
};

/// How many partitions the outbox is spread over.
pub const SHARDS: u32 = 8;
/// How old an entry must be before the relay sends it: younger ones still belong to the request that wrote them
/// (its fast path is sending them). Long enough for a slow request, short enough for a reset link to arrive soon.
pub const RELAY_GRACE: Duration = Duration::from_secs(30);
/// How long an entry is kept when it cannot be sent: the worker's memory of idempotency keys.
pub const RETENTION: Duration = DONE_RETENTION;
/// Most entries one relay run sends per shard, so a run stays short; the next run continues.
pub const RELAY_BATCH_PER_SHARD: usize = 500;
/// Entries read per query while relaying.
const PAGE: usize = 100;

/// The keys that seal waiting jobs: AES-256-GCM under keys derived from the outbox key ring (every function that
/// writes to the outbox, and the relay, are given that ring), through the workspace's one [`Sealer`]. New seals use
/// the active key and name it (`v1.<key id>.<nonce>.<ciphertext>`); a seal under an older key of the ring still
/// opens, so a rotation loses no waiting job. `Debug` hides the keys.
#[derive(Clone, Debug)]
pub struct OutboxKey(Sealer);

/// Separates the outbox's keys from any other use of the same material.
const LABEL: &str = "lectern/outbox/v1";

impl OutboxKey {
    /// The keys of the outbox ring.
    pub fn from_ring(ring: &KeyRing) -> Self {
        Self(Sealer::from_ring(ring, LABEL))
    }

    /// For a function given no outbox ring: sealing fails (with an error that says so) and nothing opens.
    pub fn none() -> Self {
        Self(Sealer::none())
    }

    /// One key (id `k0`) derived from `material`, for tests and tools.
    pub fn derive(material: &[u8]) -> Self {
        Self(Sealer::derive("k0", material, LABEL))
    }

    /// Sealed and bound to `entry_id` (a sealed job cannot be moved to another entry).
    fn seal(&self, plaintext: &[u8], entry_id: &str) -> QueueResult<String> {
        self.0
            .seal(plaintext, entry_id.as_bytes())
            .map_err(|e| match e {
                SealError::NoKeys => QueueError::Invalid(
                    "no outbox keys: this function was given no outbox key ring (LECTERN_SECRET_OUTBOX)".into(),
                ),
                _ => QueueError::Invalid("the job could not be sealed".into()),
            })
    }

    fn open(&self, sealed: &str, entry_id: &str) -> Option<Vec<u8>> {
        self.0.open(sealed, entry_id.as_bytes()).ok()
    }
}

/// One job waiting to be sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The partition, `00`..; in the key only.
    #[serde(skip_serializing)]
    pub shard: String,
    /// Creation time, zero-padded epoch seconds; in the key only.
    #[serde(skip_serializing)]
    pub at: String,
    /// The job's id; in the key only.
    #[serde(skip_serializing)]
    pub entry_id: String,
    /// The logical queue it goes to.
    pub queue: String,
    /// The job's kind, readable (for logs and operators).
    pub kind: String,
    /// The job exactly as it will be sent (its id and idempotency key are fixed here, so every send is the same),
    /// sealed with the [`OutboxKey`].
    pub sealed_job: String,
    /// Delay the job asked for, counted from `at`.
    #[serde(default)]
    pub delay_secs: u64,
    /// Only the item's `ttl`.
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

/// The sort-key form of a time: fixed width, so strings sort as times do.
fn at_key(epoch_seconds: i64) -> String {
    format!("{:012}", epoch_seconds.max(0))
}

/// The shard of a job id: a stable hash, so the same entry always lands in the same partition.
fn shard_of(id: &str) -> String {
    let hash = id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("{:02}", hash % SHARDS)
}

impl OutboxEntry {
    /// An entry for a typed job created at `now` (epoch seconds), sealed with `key`. Jobs without an idempotency
    /// key get one from their id, because the outbox may send an entry twice and only the key makes that harmless.
    pub fn new<J: JobKind>(job: NewJob, now: i64, key: &OutboxKey) -> QueueResult<Self> {
        Self::for_queue(J::QUEUE, job, now, key)
    }

    /// [`OutboxEntry::new`] for a job whose queue is known by name.
    pub fn for_queue(queue: &str, mut job: NewJob, now: i64, key: &OutboxKey) -> QueueResult<Self> {
        if job.job.idempotency_key.is_none() {
            job.job.idempotency_key = Some(format!("outbox:{}", job.job.id));
        }
        // Refused here, in the request, rather than by every relay run for a week.
        let plaintext = validate(queue, &job)?;
        let entry_id = job.job.id.clone();
        Ok(Self {
            shard: shard_of(&entry_id),
            at: at_key(now),
            sealed_job: key.seal(&plaintext, &entry_id)?,
            entry_id,
            queue: queue.to_string(),
            kind: job.job.kind,
            delay_secs: job.delay.as_secs(),
            expires_at: now + RETENTION.as_secs() as i64,
        })
    }

    /// The job as it will be sent; `None` when it does not open under `key` (another deployment secret).
    pub fn job(&self, key: &OutboxKey) -> Option<Job> {
        let plaintext = key.open(&self.sealed_job, &self.entry_id)?;
        serde_json::from_slice(&plaintext).ok()
    }

    /// The write that stores it, for a transaction (a fresh id never exists, so the condition only guards bugs).
    pub fn put(&self) -> TableResult<TxOp> {
        Ok(TxOp::Put {
            item: self.to_item()?,
            condition: Condition::NotExists,
        })
    }

    /// The job to send at `now`, with what is left of its delay.
    fn to_send(&self, key: &OutboxKey, now: i64) -> Option<NewJob> {
        let created: i64 = self.at.parse().unwrap_or(now);
        let waited = u64::try_from(now.saturating_sub(created)).unwrap_or(0);
        Some(NewJob {
            job: self.job(key)?,
            delay: Duration::from_secs(self.delay_secs.saturating_sub(waited)),
        })
    }
}

impl Entity for OutboxEntry {
    const INFO: EntityInfo = EntityInfo::new(
        "outbox_entry",
        KeyLayout::new(
            Shape::new("OUTBOX", &["shard"]),
            Shape::values(&["at", "entry_id"]),
        ),
    );

    fn key(&self) -> Key {
        Self::INFO.key(&[&self.shard], &[&self.at, &self.entry_id])
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// What one delivery or relay run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RelayReport {
    /// Entries sent and removed.
    pub sent: usize,
    /// Entries left for a later run (the queue or the store failed).
    pub left: usize,
    /// Entries dropped because no queue will ever take them (logged).
    pub dropped: usize,
}

/// Sends entries and removes the ones that went out: the fast path after a commit, and each relay batch. Never
/// fails: what could not be sent stays in the table for the relay, and the report says how much.
pub async fn deliver(
    table: &dyn Table,
    queue: &dyn Queue,
    key: &OutboxKey,
    entries: &[OutboxEntry],
    now: i64,
) -> RelayReport {
    let mut report = RelayReport::default();
    let mut by_queue: BTreeMap<&str, Vec<(&OutboxEntry, NewJob)>> = BTreeMap::new();
    for entry in entries {
        match entry.to_send(key, now) {
            Some(job) => by_queue
                .entry(entry.queue.as_str())
                .or_default()
                .push((entry, job)),
            None => {
                // Sealed under another secret: kept (this process may be the misconfigured one) until it expires.
                tracing::error!(kind = %entry.kind, job_id = %entry.entry_id,
                    "outbox entry does not open with this deployment's secret; left in place");
                report.left += 1;
            }
        }
    }
    let mut done: Vec<Key> = Vec::new();
    for (name, entries) in by_queue {
        let (entries, jobs): (Vec<&OutboxEntry>, Vec<NewJob>) = entries.into_iter().unzip();
        match queue.send(name, jobs).await {
            Ok(_) => done.extend(entries.iter().map(|e| e.key())),
            // A job no queue takes (unknown queue, too large) will never go out: keeping it would only make every
            // relay run for a week fail on it.
            Err(QueueError::Invalid(reason)) | Err(QueueError::UnknownQueue(reason)) => {
                for entry in &entries {
                    tracing::error!(queue = name, kind = %entry.kind, job_id = %entry.entry_id, %reason,
                        "outbox entry can never be sent; dropped");
                }
                report.dropped += entries.len();
                done.extend(entries.iter().map(|e| e.key()));
            }
            Err(e) => {
                tracing::warn!(queue = name, error = %e, entries = entries.len(),
                    "could not send outbox entries; the relay will retry");
                report.left += entries.len();
            }
        }
    }
    let sent = done.len() - report.dropped;
    match remove(table, &done).await {
        Ok(()) => report.sent += sent,
        Err(e) => {
            // They went out; the relay will send them again and the worker will skip the duplicates.
            tracing::warn!(error = %e, "could not remove sent outbox entries");
            report.sent += sent;
        }
    }
    report
}

async fn remove(table: &dyn Table, keys: &[Key]) -> TableResult<()> {
    for chunk in keys.chunks(MAX_TRANSACTION_OPS) {
        let ops = chunk
            .iter()
            .map(|key| TxOp::Delete {
                key: key.clone(),
                condition: Condition::Always,
            })
            .collect::<Vec<_>>();
        match ops.as_slice() {
            [TxOp::Delete { key, .. }] => table.delete(key, Condition::Always).await?,
            _ => table.transact(ops).await?,
        }
    }
    Ok(())
}

/// Entries of one shard whose sort key matches `sk`, oldest first, at most `limit`.
async fn entries(
    table: &dyn Table,
    shard: &str,
    sk: SortKey,
    limit: usize,
) -> TableResult<Vec<OutboxEntry>> {
    let mut out = Vec::new();
    let mut cursor = None;
    while out.len() < limit {
        let page = table
            .query(
                OutboxEntry::INFO
                    .query(&[shard])
                    .sk(sk.clone())
                    .limit(PAGE.min(limit - out.len()))
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            match OutboxEntry::from_item(item) {
                Ok(entry) => out.push(entry),
                Err(e) => tracing::error!(error = %e, shard, "unreadable outbox entry skipped"),
            }
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(out)
}

/// Every waiting entry, of every shard, oldest first per shard (operators and tests; the relay uses a cutoff).
pub async fn pending(table: &dyn Table) -> TableResult<Vec<OutboxEntry>> {
    let mut out = Vec::new();
    for shard in 0..SHARDS {
        out.extend(entries(table, &format!("{shard:02}"), SortKey::Any, usize::MAX).await?);
    }
    Ok(out)
}

/// One relay run: sends every entry older than `grace` at `now` (epoch seconds), shard by shard. A shard that
/// cannot be read is skipped (logged) so the others still go out; the next run retries it.
#[tracing::instrument(skip_all)]
pub async fn relay(
    table: &dyn Table,
    queue: &dyn Queue,
    key: &OutboxKey,
    now: i64,
    grace: Duration,
) -> Result<RelayReport, TableError> {
    // Sort keys are `<at>#<id>`: everything strictly before `<cutoff>` was created before the cutoff second.
    let before = SortKey::LessThan(at_key(now - grace.as_secs() as i64));
    let mut report = RelayReport::default();
    let mut failure = None;
    for shard in 0..SHARDS {
        let shard = format!("{shard:02}");
        let due = match entries(table, &shard, before.clone(), RELAY_BATCH_PER_SHARD).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, shard, "could not read an outbox shard");
                failure = Some(e);
                continue;
            }
        };
        if due.is_empty() {
            continue;
        }
        let done = deliver(table, queue, key, &due, now).await;
        report.sent += done.sent;
        report.left += done.left;
        report.dropped += done.dropped;
    }
    if report.sent + report.left + report.dropped > 0 {
        tracing::info!(
            sent = report.sent,
            left = report.left,
            dropped = report.dropped,
            "outbox relayed"
        );
    }
    match failure {
        // Nothing could be read at all: say so, so a scheduled run is marked failed.
        Some(e) if report == RelayReport::default() => Err(e),
        _ => Ok(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_spread_ids_and_are_stable() {
        let shards: std::collections::BTreeSet<String> =
            (0..200).map(|_| shard_of(&crate::ids::new_id())).collect();
        assert_eq!(shards.len(), SHARDS as usize, "{shards:?}");
        let id = crate::ids::new_id();
        assert_eq!(shard_of(&id), shard_of(&id));
    }

    #[test]
    fn sealed_jobs_open_only_with_their_key_and_entry() {
        let key = OutboxKey::derive(b"a deployment secret of some length");
        let sealed = key.seal(b"reset link with a token", "entry-1").unwrap();
        assert!(!sealed.contains("token"));
        assert_eq!(
            key.open(&sealed, "entry-1").as_deref(),
            Some(&b"reset link with a token"[..])
        );
        assert_eq!(key.open(&sealed, "entry-2"), None, "bound to its entry");
        let other = OutboxKey::derive(b"another deployment's secret here");
        assert_eq!(other.open(&sealed, "entry-1"), None);
        assert_eq!(key.open("v1.k0.x.y", "entry-1"), None);
        assert!(OutboxKey::none().seal(b"job", "entry-1").is_err());
    }

    #[test]
    fn a_rotation_keeps_waiting_jobs_openable() {
        use crate::secrets::Purpose;
        let before = KeyRing::single(Purpose::Outbox, "k1", &[1; 32]).unwrap();
        let sealed = OutboxKey::from_ring(&before).seal(b"job", "e").unwrap();
        let after = before.rotated("k2", &[2; 32]).unwrap();
        let rotated = OutboxKey::from_ring(&after);
        assert_eq!(rotated.open(&sealed, "e").as_deref(), Some(&b"job"[..]));
        assert!(rotated.seal(b"job", "e").unwrap().starts_with("v1.k2."));
    }

    #[test]
    fn time_keys_sort_as_times() {
        assert!(at_key(999) < at_key(1000));
        assert!(at_key(1_900_000_000) < at_key(19_000_000_000));
        assert_eq!(at_key(-5), at_key(0));
    }
}
