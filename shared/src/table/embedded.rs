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
//! Every write runs in one redb write transaction that reads the current item, evaluates the condition, and
//! rewrites the item and its index entries together. redb has a single writer, so this is serializable.
//! redb is blocking, so each operation runs on tokio's blocking pool.

use std::collections::HashSet;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

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
}

impl EmbeddedTable {
    /// Opens (or creates) the database file, creating its parent folders and the table's redb tables.
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
        Ok(Self {
            db: Arc::new(db),
            clock,
        })
    }

    /// The underlying database, shared with the embedded queue so one file holds all local state.
    pub fn database(&self) -> Arc<Database> {
        self.db.clone()
    }

    /// Runs blocking redb work off the async runtime, handing it the database and "now" in epoch seconds.
    async fn blocking<T, F>(&self, work: F) -> TableResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database, i64) -> TableResult<T> + Send + 'static,
    {
        let db = self.db.clone();
        let clock = self.clock.clone();
        tokio::task::spawn_blocking(move || work(&db, clock.epoch_seconds()))
            .await
            .map_err(|e| TableError::Unavailable(format!("store task failed: {e}")))?
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

    /// The stored item, expired or not (its index entries must be cleaned up either way).
    fn stored(&self, key: &Key) -> TableResult<Option<Item>> {
        read_item(&self.items, &base_key(key))
    }

    /// Replaces `old` (what is stored under `key`) with `new`, keeping every index in step.
    fn replace(&mut self, key: &Key, old: Option<&Item>, new: Option<&Item>) -> TableResult<()> {
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
            Some(new) => {
                let bytes = serialize_item(new)?;
                self.items
                    .insert(k.as_slice(), bytes.as_slice())
                    .map_err(store_err)?;
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

/// Runs `f` in a write transaction and commits only when it succeeds (dropping the transaction aborts it).
fn write<T>(db: &Database, f: impl FnOnce(&mut Writer<'_>) -> TableResult<T>) -> TableResult<T> {
    let txn = db.begin_write().map_err(store_err)?;
    let out = {
        let mut writer = Writer::open(&txn)?;
        f(&mut writer)?
    };
    txn.commit().map_err(store_err)?;
    Ok(out)
}

/// What one transaction operation will write once every condition has held.
enum Planned {
    Write(Key, Option<Item>, Option<Item>),
    Nothing,
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
        self.blocking(move |db, now| {
            let txn = db.begin_read().map_err(store_err)?;
            let items = txn.open_table(ITEMS).map_err(store_err)?;
            Ok(live(read_item(&items, &key)?, now))
        })
        .await
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
        self.blocking(move |db, now| {
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
        .await
    }

    async fn put(&self, item: Item, condition: Condition) -> TableResult<()> {
        let key = validate_item(&item)?;
        self.blocking(move |db, now| {
            write(db, |w| {
                let old = w.stored(&key)?;
                let current = old.clone().filter(|i| !is_expired(i, now));
                if !condition_holds(&condition, current.as_ref()) {
                    return Err(TableError::ConditionFailed);
                }
                w.replace(&key, old.as_ref(), Some(&item))
            })
        })
        .await
    }

    async fn update(&self, key: &Key, update: Update, condition: Condition) -> TableResult<Item> {
        validate_key(key)?;
        validate_update(&update)?;
        let key = key.clone();
        self.blocking(move |db, now| {
            write(db, |w| {
                let old = w.stored(&key)?;
                let current = old.clone().filter(|i| !is_expired(i, now));
                if !condition_holds(&condition, current.as_ref()) {
                    return Err(TableError::ConditionFailed);
                }
                // An expired item is gone: the update starts from nothing, as it would after DynamoDB's deletion.
                let new = apply_update(current, &key, &update)?;
                validate_item(&new)?;
                w.replace(&key, old.as_ref(), Some(&new))?;
                Ok(new)
            })
        })
        .await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> TableResult<()> {
        validate_key(key)?;
        let key = key.clone();
        self.blocking(move |db, now| {
            write(db, |w| {
                let old = w.stored(&key)?;
                let current = old.clone().filter(|i| !is_expired(i, now));
                if !condition_holds(&condition, current.as_ref()) {
                    return Err(TableError::ConditionFailed);
                }
                if old.is_some() {
                    w.replace(&key, old.as_ref(), None)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn query(&self, query: Query) -> TableResult<Page> {
        validate_query(&query)?;
        self.blocking(move |db, now| run_query(db, &query, now))
            .await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> TableResult<()> {
        validate_transaction(&ops)?;
        self.blocking(move |db, now| {
            write(db, |w| {
                // Every condition is checked against the state before the transaction (keys are distinct), and
                // nothing is written until all have held.
                let mut planned = Vec::with_capacity(ops.len());
                for (i, op) in ops.iter().enumerate() {
                    let key = op
                        .key()
                        .ok_or_else(|| TableError::Invalid("operation without key".into()))?;
                    let old = w.stored(&key)?;
                    let current = old.clone().filter(|item| !is_expired(item, now));
                    let condition = match op {
                        TxOp::Put { condition, .. }
                        | TxOp::Update { condition, .. }
                        | TxOp::Delete { condition, .. }
                        | TxOp::Check { condition, .. } => condition,
                    };
                    if !condition_holds(condition, current.as_ref()) {
                        return Err(TableError::TransactionCancelled {
                            index: Some(i),
                            reason: "ConditionalCheckFailed".into(),
                        });
                    }
                    planned.push(match op {
                        TxOp::Put { item, .. } => Planned::Write(key, old, Some(item.clone())),
                        TxOp::Update { update, .. } => {
                            let new = apply_update(current, &key, update)?;
                            validate_item(&new)?;
                            Planned::Write(key, old, Some(new))
                        }
                        TxOp::Delete { .. } => Planned::Write(key, old, None),
                        TxOp::Check { .. } => Planned::Nothing,
                    });
                }
                for plan in planned {
                    if let Planned::Write(key, old, new) = plan
                        && (old.is_some() || new.is_some())
                    {
                        w.replace(&key, old.as_ref(), new.as_ref())?;
                    }
                }
                Ok(())
            })
        })
        .await
    }

    async fn sweep_expired(&self, limit: usize) -> TableResult<usize> {
        if limit == 0 {
            return Ok(0);
        }
        self.blocking(move |db, now| {
            write(db, |w| {
                // Entries with ttl <= now sort before the first entry of ttl now + 1.
                let end = now.checked_add(1).map(ttl_bytes);
                let upper = end
                    .as_ref()
                    .map_or(Bound::Unbounded, |e| Bound::Excluded(e.as_slice()));
                let due: Vec<Vec<u8>> = w
                    .ttl
                    .range::<&[u8]>((Bound::Unbounded, upper))
                    .map_err(store_err)?
                    .take(limit)
                    .map(|entry| entry.map(|(k, _)| k.value().to_vec()).map_err(store_err))
                    .collect::<TableResult<_>>()?;
                let mut removed = 0;
                for entry in due {
                    let parts = entry.get(8..).and_then(decode).filter(|p| p.len() == 2);
                    let Some(parts) = parts else {
                        w.ttl.remove(entry.as_slice()).map_err(store_err)?;
                        continue;
                    };
                    let key = Key::new(parts[0].clone(), parts[1].clone());
                    match w.stored(&key)? {
                        Some(item) if is_expired(&item, now) => {
                            w.replace(&key, Some(&item), None)?;
                            removed += 1;
                        }
                        // A stale entry (the item changed without it); drop it so it is not read again.
                        _ => {
                            w.ttl.remove(entry.as_slice()).map_err(store_err)?;
                        }
                    }
                }
                if removed > 0 {
                    tracing::debug!(removed, "swept expired items");
                }
                Ok(removed)
            })
        })
        .await
    }

    async fn ping(&self) -> TableResult<()> {
        self.blocking(|db, _| {
            let txn = db.begin_read().map_err(store_err)?;
            txn.open_table(ITEMS).map_err(store_err)?;
            Ok(())
        })
        .await
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
