//! The single-table storage port.
//!
//! Every entity lives in one table keyed by a string partition key (`pk`) and a string sort key (`sk`), with two
//! global secondary indexes (`gsi1pk`/`gsi1sk`, `gsi2pk`/`gsi2sk`) and a TTL attribute (`ttl`, epoch seconds).
//! The shape is DynamoDB's so the AWS adapter is a thin translation; the embedded adapter reproduces the same
//! semantics on one redb file. Every kind of item is an entity declared once beside its type (see [`entity`]):
//! its name, stored as the `entity` attribute, and the shapes of its keys, from which every key is built.
//!
//! Semantics both adapters guarantee (and `tests/contract_table.rs` checks):
//! - an item whose `ttl` is at or before "now" is absent: never returned by get, batch get or query, treated as
//!   missing by conditions, and replaced (not merged into) by updates;
//! - conditions are evaluated atomically with the write they guard;
//! - a transaction applies all of its writes or none and reports which operation's condition failed;
//! - queries return items in sort-key order (byte order of the UTF-8 strings) and page with an opaque cursor.

#[cfg(feature = "aws-dynamodb")]
pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod entity;
pub mod keys;

pub use entity::{Entity, EntityInfo, IndexKey, IndexLayout, KeyLayout, Shape};

use std::fmt;

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

/// Partition key attribute of the base table.
pub const PK: &str = "pk";
/// Sort key attribute of the base table.
pub const SK: &str = "sk";
/// TTL attribute: epoch seconds after which the item no longer exists.
pub const TTL: &str = "ttl";
/// Entity attribute: which kind of item this is (see [`entity`]).
pub const ENTITY: &str = "entity";

/// A stored item: a JSON object holding at least `pk` and `sk` (both strings).
pub type Item = Map<String, Value>;

/// The largest item either adapter accepts (DynamoDB's hard limit is 400 KB including attribute names).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// Most operations one transaction may hold (DynamoDB's limit).
pub const MAX_TRANSACTION_OPS: usize = 100;
/// Most keys one batch get may ask for in one call; adapters split larger requests themselves.
pub const MAX_QUERY_LIMIT: usize = 1000;

/// The primary key of an item.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// Reads the key out of an item, if it has one.
    pub fn of(item: &Item) -> Option<Key> {
        Some(Key::new(item.get(PK)?.as_str()?, item.get(SK)?.as_str()?))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|{}", self.pk, self.sk)
    }
}

/// A global secondary index. Items appear in an index only when they carry both of its key attributes as strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Index {
    Gsi1,
    Gsi2,
}

impl Index {
    pub const ALL: [Index; 2] = [Index::Gsi1, Index::Gsi2];

    pub fn name(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1",
            Index::Gsi2 => "gsi2",
        }
    }
    pub fn pk_attr(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1pk",
            Index::Gsi2 => "gsi2pk",
        }
    }
    pub fn sk_attr(self) -> &'static str {
        match self {
            Index::Gsi1 => "gsi1sk",
            Index::Gsi2 => "gsi2sk",
        }
    }
}

/// A condition a write requires of the item currently stored under its key (expired items count as absent).
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// No condition.
    Always,
    /// No live item exists under the key.
    NotExists,
    /// A live item exists under the key.
    Exists,
    /// A live item exists and its attribute equals the value (use with a `version` attribute for optimistic locking).
    Equals(String, Value),
    /// A live item exists and the attribute is absent from it.
    AttributeNotExists(String),
    /// Every condition holds.
    All(Vec<Condition>),
}

impl Condition {
    pub fn equals(attr: impl Into<String>, value: impl Into<Value>) -> Self {
        Condition::Equals(attr.into(), value.into())
    }

    /// The write of a versioned item read at `version` (its `version` attribute): still absent when it was read
    /// absent (version 0), else still at that version. A concurrent write makes this one fail.
    pub fn at_version(version: i64) -> Self {
        if version == 0 {
            Condition::NotExists
        } else {
            Condition::equals("version", version)
        }
    }
}

/// One change an update makes. Updates create the item when it is absent (like DynamoDB's UpdateItem).
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Set an attribute to a value.
    Set(String, Value),
    /// Set an attribute only when it is absent.
    SetIfAbsent(String, Value),
    /// Remove an attribute.
    Remove(String),
    /// Atomically add to a numeric attribute (absent counts as 0).
    Add(String, i64),
}

/// A set of changes to one item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    pub changes: Vec<Change>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(mut self, attr: impl Into<String>, value: impl Into<Value>) -> Self {
        self.changes.push(Change::Set(attr.into(), value.into()));
        self
    }
    pub fn set_if_absent(mut self, attr: impl Into<String>, value: impl Into<Value>) -> Self {
        self.changes
            .push(Change::SetIfAbsent(attr.into(), value.into()));
        self
    }
    pub fn remove(mut self, attr: impl Into<String>) -> Self {
        self.changes.push(Change::Remove(attr.into()));
        self
    }
    pub fn add(mut self, attr: impl Into<String>, by: i64) -> Self {
        self.changes.push(Change::Add(attr.into(), by));
        self
    }
}

/// A condition on the sort key of a query (on the index's sort key when querying an index).
#[derive(Clone, Debug, PartialEq)]
pub enum SortKey {
    Any,
    Equals(String),
    BeginsWith(String),
    /// Inclusive on both ends.
    Between(String, String),
    LessThan(String),
    LessOrEqual(String),
    GreaterThan(String),
    GreaterOrEqual(String),
}

/// A query of one partition, on the base table or an index.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub index: Option<Index>,
    pub pk: String,
    pub sk: SortKey,
    /// Descending sort-key order when false.
    pub forward: bool,
    /// Most items to return (1..=[`MAX_QUERY_LIMIT`]).
    pub limit: usize,
    /// Where the previous page stopped; `None` for the first page.
    pub cursor: Option<String>,
}

impl Query {
    pub fn partition(pk: impl Into<String>) -> Self {
        Self {
            index: None,
            pk: pk.into(),
            sk: SortKey::Any,
            forward: true,
            limit: 100,
            cursor: None,
        }
    }
    pub fn on(mut self, index: Index) -> Self {
        self.index = Some(index);
        self
    }
    pub fn sk(mut self, sk: SortKey) -> Self {
        self.sk = sk;
        self
    }
    pub fn backwards(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
}

/// One page of query results. `cursor` is set when more items may follow; pass it back to continue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub cursor: Option<String>,
}

/// One write inside a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum TxOp {
    Put {
        item: Item,
        condition: Condition,
    },
    Update {
        key: Key,
        update: Update,
        condition: Condition,
    },
    Delete {
        key: Key,
        condition: Condition,
    },
    /// Writes nothing; only requires the condition of another item.
    Check {
        key: Key,
        condition: Condition,
    },
}

impl TxOp {
    pub fn key(&self) -> Option<Key> {
        match self {
            TxOp::Put { item, .. } => Key::of(item),
            TxOp::Update { key, .. } | TxOp::Delete { key, .. } | TxOp::Check { key, .. } => {
                Some(key.clone())
            }
        }
    }
}

/// Why a table operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The write's condition did not hold; nothing was written.
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction was cancelled; nothing was written. `index` is the position of the first operation whose
    /// condition failed, when one did.
    #[error("transaction cancelled (operation {index:?}): {reason}")]
    TransactionCancelled {
        index: Option<usize>,
        reason: String,
    },
    /// The request itself is invalid (bad key, item too large, bad cursor, too many operations...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Too many requests or a conflicting concurrent transaction; safe to retry.
    #[error("throttled or conflicting, retry: {0}")]
    Retryable(String),
    /// The store could not be reached or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

pub type TableResult<T> = Result<T, TableError>;

/// The single-table store. Implementations: [`dynamo::DynamoTable`] and [`embedded::EmbeddedTable`].
#[async_trait]
pub trait Table: Send + Sync + 'static {
    /// Reads one live item.
    async fn get(&self, key: &Key) -> TableResult<Option<Item>>;

    /// Reads many live items by key, in no particular order; missing or expired keys are left out.
    /// Any number of keys may be given (adapters split into store-sized chunks and retry unprocessed keys).
    async fn batch_get(&self, keys: &[Key]) -> TableResult<Vec<Item>>;

    /// Writes a whole item (replacing any existing one) if the condition holds.
    async fn put(&self, item: Item, condition: Condition) -> TableResult<()>;

    /// Applies changes to one item (creating it when absent) if the condition holds; returns the item as stored.
    async fn update(&self, key: &Key, update: Update, condition: Condition) -> TableResult<Item>;

    /// Deletes an item if the condition holds. Deleting an absent item with [`Condition::Always`] succeeds.
    async fn delete(&self, key: &Key, condition: Condition) -> TableResult<()>;

    /// Reads one page of a partition in sort-key order.
    async fn query(&self, query: Query) -> TableResult<Page>;

    /// Applies every operation or none (at most [`MAX_TRANSACTION_OPS`], each on a distinct key).
    async fn transact(&self, ops: Vec<TxOp>) -> TableResult<()>;

    /// Physically removes up to `limit` expired items; returns how many. They are already invisible, this only
    /// reclaims space. DynamoDB deletes expired items itself, so its adapter returns 0.
    async fn sweep_expired(&self, limit: usize) -> TableResult<usize>;

    /// Checks that the store is reachable (for readiness probes).
    async fn ping(&self) -> TableResult<()>;
}

/// A value's serde attributes as an item, without keys ([`Entity::to_item`] adds the item layout).
pub fn to_item<T: Serialize>(value: &T) -> TableResult<Item> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(TableError::Invalid(
            "entity must serialize to an object".into(),
        )),
        Err(e) => Err(TableError::Invalid(format!(
            "entity does not serialize: {e}"
        ))),
    }
}

/// Reads an entity back out of an item (store attributes it does not declare are ignored).
pub fn from_item<T: DeserializeOwned>(item: Item) -> TableResult<T> {
    serde_json::from_value(Value::Object(item))
        .map_err(|e| TableError::Invalid(format!("stored item does not match: {e}")))
}

/// Whether an item has expired at `now` (epoch seconds). Items without a numeric `ttl` never expire.
pub fn is_expired(item: &Item, now: i64) -> bool {
    item.get(TTL)
        .and_then(Value::as_i64)
        .is_some_and(|ttl| ttl <= now)
}

/// Validates what both adapters require of a key: non-empty strings of bounded length without NUL
/// (the embedded adapter uses NUL as a separator; DynamoDB limits key sizes).
pub fn validate_key(key: &Key) -> TableResult<()> {
    for (name, v, max) in [("pk", &key.pk, 2048), ("sk", &key.sk, 1024)] {
        if v.is_empty() || v.len() > max || v.contains('\0') {
            return Err(TableError::Invalid(format!(
                "{name} must be 1..={max} bytes without NUL"
            )));
        }
    }
    Ok(())
}

/// Checks one index key attribute's value: a non-empty string of at most `max` bytes. DynamoDB refuses an empty
/// string (or an over-long one) in any key attribute, secondary indexes included, so the embedded store must too,
/// or code that works locally would fail on AWS.
fn validate_index_value(attr: &str, value: &Value, max: usize) -> TableResult<()> {
    match value {
        Value::String(s) if !s.is_empty() && s.len() <= max => Ok(()),
        Value::String(_) => Err(TableError::Invalid(format!(
            "{attr} must be 1..={max} bytes"
        ))),
        _ => Err(TableError::Invalid(format!("{attr} must be a string"))),
    }
}

/// The byte limit of an index key attribute (DynamoDB's: 2048 for a partition key, 1024 for a sort key).
fn index_attr_max(attr: &str) -> Option<usize> {
    Index::ALL.iter().find_map(|i| {
        if attr == i.pk_attr() {
            Some(2048)
        } else if attr == i.sk_attr() {
            Some(1024)
        } else {
            None
        }
    })
}

/// Validates an item before writing: it must carry string keys, fit the size limit, and any index key
/// attribute it carries must be a non-empty string.
pub fn validate_item(item: &Item) -> TableResult<Key> {
    let key =
        Key::of(item).ok_or_else(|| TableError::Invalid("item needs string pk and sk".into()))?;
    validate_key(&key)?;
    for (attr, value) in item {
        if let Some(max) = index_attr_max(attr) {
            validate_index_value(attr, value, max)?;
        }
    }
    if let Some(ttl) = item.get(TTL)
        && !ttl.is_i64()
    {
        return Err(TableError::Invalid(
            "ttl must be whole epoch seconds".into(),
        ));
    }
    let size = serde_json::to_vec(item)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_ITEM_BYTES {
        return Err(TableError::Invalid(format!(
            "item is {size} bytes, over the {MAX_ITEM_BYTES} limit"
        )));
    }
    Ok(key)
}

/// Applies an update to an item in memory. Both adapters share this so their semantics cannot drift:
/// the embedded adapter stores the result; the DynamoDB adapter uses it only in tests.
pub fn apply_update(existing: Option<Item>, key: &Key, update: &Update) -> TableResult<Item> {
    let mut item = existing.unwrap_or_default();
    item.insert(PK.into(), Value::String(key.pk.clone()));
    item.insert(SK.into(), Value::String(key.sk.clone()));
    for change in &update.changes {
        match change {
            Change::Set(a, v) => {
                guard_key_attr(a)?;
                item.insert(a.clone(), v.clone());
            }
            Change::SetIfAbsent(a, v) => {
                guard_key_attr(a)?;
                item.entry(a.clone()).or_insert_with(|| v.clone());
            }
            Change::Remove(a) => {
                guard_key_attr(a)?;
                item.remove(a);
            }
            Change::Add(a, by) => {
                guard_key_attr(a)?;
                let current = match item.get(a) {
                    None => 0,
                    Some(v) => v
                        .as_i64()
                        .ok_or_else(|| TableError::Invalid(format!("{a} is not a whole number")))?,
                };
                let next = current
                    .checked_add(*by)
                    .ok_or_else(|| TableError::Invalid(format!("{a} would overflow")))?;
                item.insert(a.clone(), Value::from(next));
            }
        }
    }
    Ok(item)
}

/// Checks an update before either adapter applies it: key attributes are never changed, index key attributes
/// are only set to non-empty strings, and `ttl` only to whole epoch seconds (DynamoDB would refuse or silently
/// mis-index what the embedded store would accept, so both refuse it up front).
pub fn validate_update(update: &Update) -> TableResult<()> {
    for change in &update.changes {
        let (attr, value) = match change {
            Change::Set(a, v) | Change::SetIfAbsent(a, v) => (a, Some(v)),
            Change::Remove(a) => (a, None),
            Change::Add(a, _) => (a, None),
        };
        guard_key_attr(attr)?;
        if let Some(max) = index_attr_max(attr) {
            if matches!(change, Change::Add(..)) {
                return Err(TableError::Invalid(format!("{attr} must be a string")));
            }
            if let Some(v) = value {
                validate_index_value(attr, v, max)?;
            }
        }
        if attr == TTL && value.is_some_and(|v| !v.is_i64()) {
            return Err(TableError::Invalid(
                "ttl must be whole epoch seconds".into(),
            ));
        }
    }
    Ok(())
}

fn guard_key_attr(attr: &str) -> TableResult<()> {
    if attr == PK || attr == SK || attr.is_empty() {
        return Err(TableError::Invalid(format!(
            "cannot update key attribute {attr:?}"
        )));
    }
    Ok(())
}

/// Evaluates a condition against the live item (already filtered for expiry) in memory.
pub fn condition_holds(condition: &Condition, live: Option<&Item>) -> bool {
    match condition {
        Condition::Always => true,
        Condition::NotExists => live.is_none(),
        Condition::Exists => live.is_some(),
        Condition::Equals(attr, value) => live
            .and_then(|i| i.get(attr))
            .is_some_and(|v| values_equal(v, value)),
        Condition::AttributeNotExists(attr) => live.is_some_and(|i| !i.contains_key(attr)),
        Condition::All(all) => all.iter().all(|c| condition_holds(c, live)),
    }
}

/// Numbers compare by value (DynamoDB stores `1` and `1.0` as the same number).
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Whether a sort key value matches the query's condition.
pub fn sort_key_matches(cond: &SortKey, sk: &str) -> bool {
    match cond {
        SortKey::Any => true,
        SortKey::Equals(v) => sk == v,
        SortKey::BeginsWith(p) => sk.starts_with(p.as_str()),
        SortKey::Between(a, b) => sk >= a.as_str() && sk <= b.as_str(),
        SortKey::LessThan(v) => sk < v.as_str(),
        SortKey::LessOrEqual(v) => sk <= v.as_str(),
        SortKey::GreaterThan(v) => sk > v.as_str(),
        SortKey::GreaterOrEqual(v) => sk >= v.as_str(),
    }
}

/// Checks a query's shape before either adapter runs it.
pub fn validate_query(q: &Query) -> TableResult<()> {
    if q.pk.is_empty() || q.pk.contains('\0') {
        return Err(TableError::Invalid(
            "query pk must be non-empty without NUL".into(),
        ));
    }
    if q.limit == 0 || q.limit > MAX_QUERY_LIMIT {
        return Err(TableError::Invalid(format!(
            "limit must be 1..={MAX_QUERY_LIMIT}"
        )));
    }
    Ok(())
}

/// Checks a transaction's shape: size bounds and distinct keys (DynamoDB rejects two operations on one item).
pub fn validate_transaction(ops: &[TxOp]) -> TableResult<()> {
    if ops.is_empty() || ops.len() > MAX_TRANSACTION_OPS {
        return Err(TableError::Invalid(format!(
            "a transaction holds 1..={MAX_TRANSACTION_OPS} operations"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for op in ops {
        let key = match op {
            TxOp::Put { item, .. } => validate_item(item)?,
            other => {
                if let TxOp::Update { update, .. } = other {
                    validate_update(update)?;
                }
                let key = other
                    .key()
                    .ok_or_else(|| TableError::Invalid("operation without key".into()))?;
                validate_key(&key)?;
                key
            }
        };
        if !seen.insert(key.clone()) {
            return Err(TableError::Invalid(format!(
                "two operations on {key} in one transaction"
            )));
        }
    }
    Ok(())
}
