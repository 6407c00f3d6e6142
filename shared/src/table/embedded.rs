//! The single table on one redb file, for the dev server and tests.
//!
//! Layout (all redb tables map bytes to bytes):
//! - `items`: `enc(pk, sk)` → the item as JSON;
//! - `gsi1`, `gsi2`: `enc(gsipk, gsisk, pk, sk)` → empty, for items carrying both index attributes as strings;
//! - `ttl_index`: `ttl (sign-flipped big-endian) ++ enc(pk, sk)` → empty, so the sweep reads only expired items.
//!
//! `enc` writes each part with NUL escaped as `00 FF` and ends it with `00 01`. That is order-preserving and
//! prefix-free, so redb's byte order over the encoded keys is exactly DynamoDB's order within a partition (UTF-8
//! byte order of the sort key), and range bounds can be computed instead of scanning. Base keys never hold NUL
//! (`validate_key`), but index attributes may, hence the escaping.
//!
//! Reads run on the calling task: redb reads are MVCC snapshots that never wait for the writer and take
//! microseconds, less than a hop to tokio's blocking pool and back (that hop, two futex wake-ups per operation, was
//! most of the dev server's CPU under load). They need no `block_in_place` either, which would also panic on the
//! current-thread runtimes tests use. Writes go to one writer thread that commits whatever queued up meanwhile in
//! one redb transaction (group commit, see "writes" below); each write reads the current item, evaluates its
//! condition and rewrites the item and its index entries together, in arrival order, so writes are serializable.

use std::collections::HashSet;
use std::ops::Bound;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};
use serde_json::Value;

use super::{
    Condition, Index, Item, Key, Page, Query, SortKey, Table, TableError, TableResult, TxOp,
    Update, apply_update, condition_holds, is_expired, sort_key_matches, validate_item,
    validate_key, validate_query, validate_transaction, validate_update,
};
use crate::clock::SharedClock;

type Bytes = &'static [u8];

const ITEMS: TableDefinition<Bytes, Bytes> = TableDefinition::new("items");
const GSI1: TableDefinition<Bytes, Bytes> = TableDefinition::new("gsi1");
const GSI2: TableDefinition<Bytes, Bytes> = TableDefinition::new("gsi2");
const TTL_INDEX: TableDefinition<Bytes, Bytes> = TableDefinition::new("ttl_index");

/// Version byte of query cursors, so a future layout change can refuse old cursors cleanly.
const CURSOR_VERSION: u8 = 1;

/// The single table stored in one redb file.
pub struct EmbeddedTable {
    db: Arc<Database>,
    clock: SharedClock,
    writer: GroupCommit,
}

impl EmbeddedTable {
    /// Opens (or creates) the database file, creating its parent folders and the table's redb tables, and starts
    /// the writer thread.
    pub fn open(path: &Path, clock: SharedClock) -> TableResult<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                TableError::Unavailable(format!("creating {}: {e}", parent.display()))
            })?;
        }
        let db = Database::create(path).map_err(store_err)?;
        let txn = db.begin_write().map_err(store_err)?;
        for def in [ITEMS, GSI1, GSI2, TTL_INDEX] {
            txn.open_table(def).map_err(store_err)?;
        }
        txn.commit().map_err(store_err)?;
        let db = Arc::new(db);
        Ok(Self {
            writer: GroupCommit::start(db.clone())?,
            db,
            clock,
        })
    }

    /// The underlying database, shared with the embedded queue so one file holds all local state.
    pub fn database(&self) -> Arc<Database> {
        self.db.clone()
    }

    /// How the writes so far were grouped into commits.
    pub fn write_stats(&self) -> WriteStats {
        WriteStats {
            groups: self.writer.counters.groups.load(Ordering::Relaxed),
            writes: self.writer.counters.writes.load(Ordering::Relaxed),
        }
    }

    /// Holds the writer thread until the guard is dropped, so the writes sent meanwhile queue up and commit as one
    /// group (tests use it to make group commit deterministic).
    #[cfg(feature = "testing")]
    pub fn hold_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer
            .gate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a read on the calling task with the database and "now" in epoch seconds (see the module comment).
    fn read<T>(&self, work: impl FnOnce(&Database, i64) -> TableResult<T>) -> TableResult<T> {
        work(&self.db, self.clock.epoch_seconds())
    }

    /// Hands a write to the writer thread and waits for its group to commit.
    async fn write(&self, op: WriteOp) -> TableResult<Written> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let request = Request {
            op,
            now: self.clock.epoch_seconds(),
            reply,
        };
        self.writer
            .requests
            .as_ref()
            .and_then(|requests| requests.send(request).ok())
            .ok_or_else(|| TableError::Unavailable("the table's writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| TableError::Unavailable("the table's writer failed".into()))?
    }
}

fn store_err(e: impl Into<redb::Error>) -> TableError {
    let e: redb::Error = e.into();
    tracing::error!(error = %e, "embedded table failure");
    TableError::Unavailable(e.to_string())
}

// ---- key encoding ----

fn push_part(out: &mut Vec<u8>, part: &str) {
    for &b in part.as_bytes() {
        if b == 0 {
            out.extend_from_slice(&[0, 0xFF]);
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(&[0, 1]);
}

fn encode(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        push_part(&mut out, part);
    }
    out
}

/// Splits an encoded key back into its parts; `None` when the bytes are not a well-formed encoding.
fn decode(bytes: &[u8]) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut current = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0 => {
                match bytes.get(i + 1)? {
                    0xFF => current.push(0),
                    1 => parts.push(String::from_utf8(std::mem::take(&mut current)).ok()?),
                    _ => return None,
                }
                i += 2;
            }
            b => {
                current.push(b);
                i += 1;
            }
        }
    }
    if current.is_empty() {
        Some(parts)
    } else {
        None
    }
}

/// The smallest byte string greater than every string that starts with `prefix` (`None`: no such bound).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

fn base_key(key: &Key) -> Vec<u8> {
    encode(&[&key.pk, &key.sk])
}

fn index_entry(index: Index, item: &Item) -> Option<Vec<u8>> {
    let ipk = item.get(index.pk_attr())?.as_str()?;
    let isk = item.get(index.sk_attr())?.as_str()?;
    let key = Key::of(item)?;
    Some(encode(&[ipk, isk, &key.pk, &key.sk]))
}

fn ttl_bytes(ttl: i64) -> [u8; 8] {
    // Flipping the sign bit makes big-endian byte order match numeric order for negative values too.
    ((ttl as u64) ^ (1 << 63)).to_be_bytes()
}

fn ttl_entry(item: &Item) -> Option<Vec<u8>> {
    let ttl = item.get(super::TTL)?.as_i64()?;
    let key = Key::of(item)?;
    let mut out = ttl_bytes(ttl).to_vec();
    out.extend_from_slice(&base_key(&key));
    Some(out)
}

fn index_table(index: Index) -> TableDefinition<'static, Bytes, Bytes> {
    match index {
        Index::Gsi1 => GSI1,
        Index::Gsi2 => GSI2,
    }
}

fn index_tag(index: Option<Index>) -> u8 {
    match index {
        None => 0,
        Some(Index::Gsi1) => 1,
        Some(Index::Gsi2) => 2,
    }
}

fn parse_item(bytes: &[u8]) -> TableResult<Item> {
    serde_json::from_slice(bytes)
        .map_err(|e| TableError::Unavailable(format!("stored item is corrupt: {e}")))
}

fn serialize_item(item: &Item) -> TableResult<Vec<u8>> {
    serde_json::to_vec(item)
        .map_err(|e| TableError::Invalid(format!("item does not serialize: {e}")))
}

fn read_item(table: &impl ReadableTable<Bytes, Bytes>, key: &[u8]) -> TableResult<Option<Item>> {
    match table.get(key).map_err(store_err)? {
        Some(guard) => parse_item(guard.value()).map(Some),
        None => Ok(None),
    }
}

fn live(item: Option<Item>, now: i64) -> Option<Item> {
    item.filter(|i| !is_expired(i, now))
}

// ---- writes ----
//
// Every write goes to one writer thread, which commits whatever has queued up meanwhile in one redb transaction
// (group commit): redb admits a single writer and each commit ends with an fsync, so committing writes one by one
// on the blocking pool made concurrent requests queue behind each other's fsync and paid a thread hop each. A
// group costs one fsync however many writes it carries. Within a group each write is planned against the state
// the earlier ones left and is refused without touching anything when its condition fails, so it answers
// exactly as if it had run alone, in arrival order. A write is acknowledged only after its group committed.

/// Most writes committed in one group: bounds how long one transaction holds the writer, and the work redone one
/// by one if a group's commit fails.
const MAX_GROUP: usize = 128;

/// The redb tables a write touches, opened inside one write transaction.
struct Writer<'t> {
    items: redb::Table<'t, Bytes, Bytes>,
    gsi1: redb::Table<'t, Bytes, Bytes>,
    gsi2: redb::Table<'t, Bytes, Bytes>,
    ttl: redb::Table<'t, Bytes, Bytes>,
}

impl<'t> Writer<'t> {
    fn open(txn: &'t WriteTransaction) -> TableResult<Self> {
        Ok(Self {
            items: txn.open_table(ITEMS).map_err(store_err)?,
            gsi1: txn.open_table(GSI1).map_err(store_err)?,
            gsi2: txn.open_table(GSI2).map_err(store_err)?,
            ttl: txn.open_table(TTL_INDEX).map_err(store_err)?,
        })
    }

    /// The stored item, expired or not (its index entries must be cleaned up either way), and the live one.
    fn current(&self, key: &Key, now: i64) -> TableResult<(Option<Item>, Option<Item>)> {
        let stored = read_item(&self.items, &base_key(key))?;
        let live = stored.clone().filter(|i| !is_expired(i, now));
        Ok((stored, live))
    }

    /// Replaces `old` (what is stored under `key`) with `new` and its serialized form, keeping every index in step.
    fn replace(
        &mut self,
        key: &Key,
        old: Option<&Item>,
        new: Option<(&Item, &[u8])>,
    ) -> TableResult<()> {
        if let Some(old) = old {
            for index in Index::ALL {
                if let Some(entry) = index_entry(index, old) {
                    self.index_mut(index)
                        .remove(entry.as_slice())
                        .map_err(store_err)?;
                }
            }
            if let Some(entry) = ttl_entry(old) {
                self.ttl.remove(entry.as_slice()).map_err(store_err)?;
            }
        }
        let k = base_key(key);
        match new {
            Some((new, bytes)) => {
                self.items.insert(k.as_slice(), bytes).map_err(store_err)?;
                for index in Index::ALL {
                    if let Some(entry) = index_entry(index, new) {
                        self.index_mut(index)
                            .insert(entry.as_slice(), [].as_slice())
                            .map_err(store_err)?;
                    }
                }
                if let Some(entry) = ttl_entry(new) {
                    self.ttl
                        .insert(entry.as_slice(), [].as_slice())
                        .map_err(store_err)?;
                }
            }
            None => {
                self.items.remove(k.as_slice()).map_err(store_err)?;
            }
        }
        Ok(())
    }

    fn index_mut(&mut self, index: Index) -> &mut redb::Table<'t, Bytes, Bytes> {
        match index {
            Index::Gsi1 => &mut self.gsi1,
            Index::Gsi2 => &mut self.gsi2,
        }
    }
}

/// One write, as the writer thread receives it.
enum WriteOp {
    /// One put, update or delete, refused on its own (`ConditionFailed`) like the table's single-item writes.
    One(TxOp),
    Transact(Vec<TxOp>),
    Sweep {
        limit: usize,
    },
}

/// What a write answers once committed.
enum Written {
    Nothing,
    Item(Item),
    Count(usize),
}

/// One change a planned write makes. Everything that can refuse a write (conditions, update semantics,
/// serialization) runs while planning, so applying changes fails only when the store itself does.
enum Change {
    /// Replace what is stored under a key (`None`: delete), with the new item's serialized form.
    Replace {
        key: Key,
        old: Option<Item>,
        new: Option<(Item, Vec<u8>)>,
    },
    /// Drop a TTL index entry whose item is gone or no longer expires then.
    DropTtlEntry(Vec<u8>),
}

impl Change {
    fn replace(key: Key, old: Option<Item>, new: Option<Item>) -> TableResult<Self> {
        let new = match new {
            Some(item) => {
                let bytes = serialize_item(&item)?;
                Some((item, bytes))
            }
            None => None,
        };
        Ok(Change::Replace { key, old, new })
    }
}

fn condition_failed_unless(holds: bool) -> TableResult<()> {
    if holds {
        Ok(())
    } else {
        Err(TableError::ConditionFailed)
    }
}

/// The key `op` writes, with what is stored under it and the live (unexpired) part of that.
fn current_of(
    op: &TxOp,
    w: &Writer<'_>,
    now: i64,
) -> TableResult<(Key, Option<Item>, Option<Item>)> {
    let key = op
        .key()
        .ok_or_else(|| TableError::Invalid("operation without key".into()))?;
    let (old, live) = w.current(&key, now)?;
    Ok((key, old, live))
}

fn condition_of(op: &TxOp) -> &Condition {
    match op {
        TxOp::Put { condition, .. }
        | TxOp::Update { condition, .. }
        | TxOp::Delete { condition, .. }
        | TxOp::Check { condition, .. } => condition,
    }
}

/// What `op` changes once its condition held (a check changes nothing), and the item an update makes.
fn plan_op(
    op: &TxOp,
    key: Key,
    old: Option<Item>,
    live: Option<Item>,
) -> TableResult<(Option<Change>, Option<Item>)> {
    match op {
        TxOp::Put { item, .. } => Ok((Some(Change::replace(key, old, Some(item.clone()))?), None)),
        TxOp::Update { update, .. } => {
            // An expired item is gone: the update starts from nothing, as it would after DynamoDB's deletion.
            let new = apply_update(live, &key, update)?;
            validate_item(&new)?;
            let change = Change::replace(key, old, Some(new.clone()))?;
            Ok((Some(change), Some(new)))
        }
        TxOp::Delete { .. } => Ok((Some(Change::replace(key, old, None)?), None)),
        TxOp::Check { .. } => Ok((None, None)),
    }
}

/// Decides what `op` changes, reading through the open transaction and writing nothing.
fn plan(op: &WriteOp, w: &Writer<'_>, now: i64) -> TableResult<(Vec<Change>, Written)> {
    match op {
        WriteOp::One(op) => {
            let (key, old, live) = current_of(op, w, now)?;
            condition_failed_unless(condition_holds(condition_of(op), live.as_ref()))?;
            let (change, made) = plan_op(op, key, old, live)?;
            let written = made.map_or(Written::Nothing, Written::Item);
            Ok((change.into_iter().collect(), written))
        }
        WriteOp::Transact(ops) => {
            // Every condition is checked against the state before the transaction (keys are distinct), and
            // nothing is written unless all hold.
            let mut changes = Vec::with_capacity(ops.len());
            for (i, op) in ops.iter().enumerate() {
                let (key, old, live) = current_of(op, w, now)?;
                if !condition_holds(condition_of(op), live.as_ref()) {
                    return Err(TableError::TransactionCancelled {
                        index: Some(i),
                        reason: "ConditionalCheckFailed".into(),
                    });
                }
                changes.extend(plan_op(op, key, old, live)?.0);
            }
            Ok((changes, Written::Nothing))
        }
        WriteOp::Sweep { limit } => {
            // Entries with ttl <= now sort before the first entry of ttl now + 1.
            let end = now.checked_add(1).map(ttl_bytes);
            let upper = end
                .as_ref()
                .map_or(Bound::Unbounded, |e| Bound::Excluded(e.as_slice()));
            let due: Vec<Vec<u8>> = w
                .ttl
                .range::<&[u8]>((Bound::Unbounded, upper))
                .map_err(store_err)?
                .take(*limit)
                .map(|entry| entry.map(|(k, _)| k.value().to_vec()).map_err(store_err))
                .collect::<TableResult<_>>()?;
            let mut changes = Vec::with_capacity(due.len());
            let mut removed = 0;
            for entry in due {
                let parts = entry.get(8..).and_then(decode).filter(|p| p.len() == 2);
                let Some(parts) = parts else {
                    changes.push(Change::DropTtlEntry(entry));
                    continue;
                };
                let key = Key::new(parts[0].clone(), parts[1].clone());
                match w.current(&key, now)?.0 {
                    Some(item) if is_expired(&item, now) => {
                        changes.push(Change::replace(key, Some(item), None)?);
                        removed += 1;
                    }
                    // A stale entry (the item changed without it); drop it so it is not read again.
                    _ => changes.push(Change::DropTtlEntry(entry)),
                }
            }
            Ok((changes, Written::Count(removed)))
        }
    }
}

fn apply(w: &mut Writer<'_>, changes: Vec<Change>) -> TableResult<()> {
    for change in changes {
        match change {
            Change::Replace { key, old, new } => {
                if old.is_some() || new.is_some() {
                    let new = new.as_ref().map(|(item, bytes)| (item, bytes.as_slice()));
                    w.replace(&key, old.as_ref(), new)?;
                }
            }
            Change::DropTtlEntry(entry) => {
                w.ttl.remove(entry.as_slice()).map_err(store_err)?;
            }
        }
    }
    Ok(())
}

/// A write waiting for the writer thread, with the time it was asked at and where its answer goes.
struct Request {
    op: WriteOp,
    now: i64,
    reply: tokio::sync::oneshot::Sender<TableResult<Written>>,
}

/// Runs `group` in order in one write transaction and commits it if anything changed. `Err` means the store
/// failed and nothing of the group was committed; a refused write is an `Ok` entry holding its own error.
fn run_group(db: &Database, group: &[Request]) -> TableResult<Vec<TableResult<Written>>> {
    let txn = db.begin_write().map_err(store_err)?;
    let mut answers = Vec::with_capacity(group.len());
    let mut changed = false;
    {
        let mut w = Writer::open(&txn)?;
        for request in group {
            match plan(&request.op, &w, request.now) {
                Ok((changes, written)) => {
                    changed |= !changes.is_empty();
                    apply(&mut w, changes)?;
                    answers.push(Ok(written));
                }
                // A failing read means the store failed, not that the write was refused.
                Err(e @ TableError::Unavailable(_)) => return Err(e),
                Err(refused) => answers.push(Err(refused)),
            }
        }
    }
    if changed {
        txn.commit().map_err(store_err)?;
    } else {
        // Nothing to make durable (every write was refused or changed nothing): skip the fsync.
        txn.abort().map_err(store_err)?;
    }
    Ok(answers)
}

/// Counters of the writer thread, for tests and diagnostics.
#[derive(Default)]
struct Counters {
    groups: AtomicU64,
    writes: AtomicU64,
}

/// How writes have been grouped since the table was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteStats {
    /// Write transactions run (each ends in one commit when it changed anything).
    pub groups: u64,
    /// Writes answered, refused ones included.
    pub writes: u64,
}

fn commit_group(db: &Database, group: Vec<Request>, counters: &Counters) {
    let answers = match run_group(db, &group) {
        Ok(answers) => answers,
        Err(e) if group.len() == 1 => vec![Err(e)],
        Err(e) => {
            // Nothing of the group was committed. Run each write alone so one write that breaks the store
            // (or a transient failure) fails only itself.
            tracing::warn!(error = %e, writes = group.len(), "group commit failed; retrying its writes one by one");
            for request in group {
                let answer = run_group(db, std::slice::from_ref(&request)).and_then(|mut a| {
                    a.pop()
                        .unwrap_or(Err(TableError::Unavailable("no answer".into())))
                });
                counters.groups.fetch_add(1, Ordering::Relaxed);
                counters.writes.fetch_add(1, Ordering::Relaxed);
                let _ = request.reply.send(answer);
            }
            return;
        }
    };
    counters.groups.fetch_add(1, Ordering::Relaxed);
    counters
        .writes
        .fetch_add(group.len() as u64, Ordering::Relaxed);
    // `bench/run` adds these up (LECTERN_LOG=lectern_shared::table::embedded=debug) to count the dev server's
    // writes per request under load; filtered out, the event costs one cached check per group.
    tracing::debug!(writes = group.len(), "group committed");
    for (request, answer) in group.into_iter().zip(answers) {
        // The caller may have stopped waiting; the write stands either way (as a committed DynamoDB write would).
        let _ = request.reply.send(answer);
    }
}

/// The writer thread: takes one write, then everything that queued up behind it (up to [`MAX_GROUP`]), and
/// commits them as one group. Ends when the table is dropped.
fn writer_loop(
    db: Arc<Database>,
    requests: mpsc::Receiver<Request>,
    gate: Arc<Mutex<()>>,
    counters: Arc<Counters>,
) {
    while let Ok(first) = requests.recv() {
        // Uncontended unless a test holds it to make writes pile up into one group.
        let _open = gate.lock().unwrap_or_else(PoisonError::into_inner);
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        // A bug that panics must not take the store down with it: the group's callers get an error (their reply
        // senders are dropped, nothing was committed) and the next group runs as usual.
        let run =
            std::panic::catch_unwind(AssertUnwindSafe(|| commit_group(&db, group, &counters)));
        if run.is_err() {
            tracing::error!("embedded table writer panicked; the writes of that group failed");
        }
    }
}

/// The handle on the writer thread. Dropping it closes the queue and waits for the thread to finish what it
/// holds, so once the table is dropped the database file is free to be opened again.
struct GroupCommit {
    requests: Option<mpsc::Sender<Request>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Only tests take it from this side ([`EmbeddedTable::hold_writes`]).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    gate: Arc<Mutex<()>>,
    counters: Arc<Counters>,
}

impl GroupCommit {
    fn start(db: Arc<Database>) -> TableResult<Self> {
        let (tx, rx) = mpsc::channel();
        let gate = Arc::new(Mutex::new(()));
        let counters = Arc::new(Counters::default());
        let thread = std::thread::Builder::new()
            .name("lectern-table-writer".into())
            .spawn({
                let (gate, counters) = (gate.clone(), counters.clone());
                move || writer_loop(db, rx, gate, counters)
            })
            .map_err(|e| TableError::Unavailable(format!("starting the writer thread: {e}")))?;
        Ok(Self {
            requests: Some(tx),
            thread: Some(thread),
            gate,
            counters,
        })
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("embedded table writer thread ended in a panic");
        }
    }
}

// ---- queries ----

/// The key range of a query: the partition prefix narrowed by the sort-key condition.
fn query_bounds(prefix: &[u8], sk: &SortKey) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let with = |v: &str| {
        let mut k = prefix.to_vec();
        push_part(&mut k, v);
        k
    };
    let after = |k: Vec<u8>| successor(&k).map_or(Bound::Unbounded, Bound::Excluded);
    let start = Bound::Included(prefix.to_vec());
    let end = after(prefix.to_vec());
    match sk {
        SortKey::Any => (start, end),
        SortKey::Equals(v) => (Bound::Included(with(v)), after(with(v))),
        SortKey::BeginsWith(p) => {
            let mut k = prefix.to_vec();
            // The escaped prefix without its terminator: every matching sort key's encoding starts with it.
            push_part(&mut k, p);
            k.truncate(k.len() - 2);
            (Bound::Included(k.clone()), after(k))
        }
        SortKey::Between(a, b) => (Bound::Included(with(a)), after(with(b))),
        SortKey::LessThan(v) => (start, Bound::Excluded(with(v))),
        SortKey::LessOrEqual(v) => (start, after(with(v))),
        SortKey::GreaterThan(v) => (after(with(v)), end),
        SortKey::GreaterOrEqual(v) => (Bound::Included(with(v)), end),
    }
}

fn encode_cursor(index: Option<Index>, position: &[u8]) -> String {
    let mut bytes = vec![CURSOR_VERSION, index_tag(index)];
    bytes.extend_from_slice(position);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a cursor and checks it was issued for this partition of this index.
fn decode_cursor(query: &Query, cursor: &str) -> TableResult<Vec<u8>> {
    let bad = || TableError::Invalid("cursor is not valid for this query".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let [version, tag, position @ ..] = bytes.as_slice() else {
        return Err(bad());
    };
    if *version != CURSOR_VERSION || *tag != index_tag(query.index) {
        return Err(bad());
    }
    let parts = decode(position).ok_or_else(bad)?;
    let arity = if query.index.is_some() { 4 } else { 2 };
    if parts.len() != arity || parts[0] != query.pk {
        return Err(bad());
    }
    Ok(position.to_vec())
}

fn is_empty_range(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u)) => l >= u,
        _ => false,
    }
}

fn run_query(db: &Database, query: &Query, now: i64) -> TableResult<Page> {
    let prefix = encode(&[&query.pk]);
    let (mut lower, mut upper) = query_bounds(&prefix, &query.sk);
    if let Some(cursor) = &query.cursor {
        let position = decode_cursor(query, cursor)?;
        // Continue strictly after (or, backwards, before) the last item returned.
        if query.forward {
            lower = Bound::Excluded(position);
        } else {
            upper = Bound::Excluded(position);
        }
    }
    if is_empty_range(&lower, &upper) {
        return Ok(Page::default());
    }
    let txn = db.begin_read().map_err(store_err)?;
    let items = txn.open_table(ITEMS).map_err(store_err)?;
    let scanned = match query.index {
        None => items
            .range::<&[u8]>((bound_ref(&lower), bound_ref(&upper)))
            .map_err(store_err)?,
        Some(index) => {
            let table = txn.open_table(index_table(index)).map_err(store_err)?;
            table
                .range::<&[u8]>((bound_ref(&lower), bound_ref(&upper)))
                .map_err(store_err)?
        }
    };
    let scanned: Box<dyn Iterator<Item = _>> = if query.forward {
        Box::new(scanned)
    } else {
        Box::new(scanned.rev())
    };

    let mut page = Page::default();
    let mut last_position = None;
    for entry in scanned {
        let (position, value) = entry.map_err(store_err)?;
        let position = position.value().to_vec();
        let item = match query.index {
            None => Some(parse_item(value.value())?),
            Some(_) => {
                let parts = decode(&position)
                    .filter(|p| p.len() == 4)
                    .ok_or_else(|| TableError::Unavailable("corrupt index entry".into()))?;
                read_item(&items, &encode(&[&parts[2], &parts[3]]))?
            }
        };
        let Some(item) = live(item, now) else {
            continue;
        };
        let (pk_attr, sk_attr) = match query.index {
            None => (super::PK, super::SK),
            Some(index) => (index.pk_attr(), index.sk_attr()),
        };
        // The range already selects these; re-checking guards against any index entry that went stale.
        let in_partition = item.get(pk_attr).and_then(Value::as_str) == Some(query.pk.as_str());
        let sk_ok = item
            .get(sk_attr)
            .and_then(Value::as_str)
            .is_some_and(|sk| sort_key_matches(&query.sk, sk));
        if !in_partition || !sk_ok {
            continue;
        }
        if page.items.len() == query.limit {
            // One live item beyond the page exists, so a cursor leads somewhere.
            page.cursor = last_position
                .as_deref()
                .map(|p| encode_cursor(query.index, p));
            break;
        }
        page.items.push(item);
        last_position = Some(position);
    }
    Ok(page)
}

fn bound_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

#[async_trait]
impl Table for EmbeddedTable {
    async fn get(&self, key: &Key) -> TableResult<Option<Item>> {
        validate_key(key)?;
        let key = base_key(key);
        self.read(|db, now| {
            let txn = db.begin_read().map_err(store_err)?;
            let items = txn.open_table(ITEMS).map_err(store_err)?;
            Ok(live(read_item(&items, &key)?, now))
        })
    }

    async fn batch_get(&self, keys: &[Key]) -> TableResult<Vec<Item>> {
        let mut unique = Vec::with_capacity(keys.len());
        let mut seen = HashSet::new();
        for key in keys {
            validate_key(key)?;
            if seen.insert(key) {
                unique.push(base_key(key));
            }
        }
        self.read(|db, now| {
            let txn = db.begin_read().map_err(store_err)?;
            let items = txn.open_table(ITEMS).map_err(store_err)?;
            let mut found = Vec::new();
            for key in &unique {
                if let Some(item) = live(read_item(&items, key)?, now) {
                    found.push(item);
                }
            }
            Ok(found)
        })
    }

    async fn put(&self, item: Item, condition: Condition) -> TableResult<()> {
        validate_item(&item)?;
        self.write(WriteOp::One(TxOp::Put { item, condition }))
            .await
            .map(|_| ())
    }

    async fn update(&self, key: &Key, update: Update, condition: Condition) -> TableResult<Item> {
        validate_key(key)?;
        validate_update(&update)?;
        let op = WriteOp::One(TxOp::Update {
            key: key.clone(),
            update,
            condition,
        });
        match self.write(op).await? {
            Written::Item(item) => Ok(item),
            _ => Err(TableError::Unavailable(
                "update answered without its item".into(),
            )),
        }
    }

    async fn delete(&self, key: &Key, condition: Condition) -> TableResult<()> {
        validate_key(key)?;
        self.write(WriteOp::One(TxOp::Delete {
            key: key.clone(),
            condition,
        }))
        .await
        .map(|_| ())
    }

    async fn query(&self, query: Query) -> TableResult<Page> {
        validate_query(&query)?;
        self.read(|db, now| run_query(db, &query, now))
    }

    async fn transact(&self, ops: Vec<TxOp>) -> TableResult<()> {
        validate_transaction(&ops)?;
        self.write(WriteOp::Transact(ops)).await.map(|_| ())
    }

    async fn sweep_expired(&self, limit: usize) -> TableResult<usize> {
        if limit == 0 {
            return Ok(0);
        }
        match self.write(WriteOp::Sweep { limit }).await? {
            Written::Count(removed) => {
                if removed > 0 {
                    tracing::debug!(removed, "swept expired items");
                }
                Ok(removed)
            }
            _ => Err(TableError::Unavailable(
                "sweep answered without a count".into(),
            )),
        }
    }

    async fn ping(&self) -> TableResult<()> {
        self.read(|db, _| {
            let txn = db.begin_read().map_err(store_err)?;
            txn.open_table(ITEMS).map_err(store_err)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_preserves_tuple_order() {
        let samples = [
            vec!["a", ""],
            vec!["a", "b"],
            vec!["a", "b\0"],
            vec!["a", "b\0c"],
            vec!["a", "ba"],
            vec!["a\0", "a"],
            vec!["ab", "a"],
        ];
        for s in &samples {
            assert_eq!(
                decode(&encode(s)).unwrap(),
                s.iter().map(|p| p.to_string()).collect::<Vec<_>>()
            );
        }
        for a in &samples {
            for b in &samples {
                assert_eq!(a.cmp(b), encode(a).cmp(&encode(b)), "{a:?} vs {b:?}");
            }
        }
        assert!(decode(&[b'a', 0, 7]).is_none());
        assert!(decode(b"dangling").is_none());
    }

    #[test]
    fn ttl_bytes_sort_numerically() {
        let values = [i64::MIN, -5, -1, 0, 1, 1_700_000_000, i64::MAX];
        for w in values.windows(2) {
            assert!(ttl_bytes(w[0]) < ttl_bytes(w[1]));
        }
    }

    #[test]
    fn successor_skips_trailing_ff() {
        assert_eq!(successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(successor(&[0xFF]), None);
        assert_eq!(successor(b"a"), Some(b"b".to_vec()));
    }
}
