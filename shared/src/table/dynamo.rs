//! The [`Table`] port on DynamoDB.
//!
//! Items travel as JSON objects and are converted with `serde_dynamo`. DynamoDB's TTL deletion is lazy (up to two
//! days late, and never on local emulators), so expiry is enforced here on every read and inside every condition:
//! an item whose `ttl` is at or before the injected clock's "now" is treated exactly as if it were absent.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TransactWriteItem, Update as DynUpdate,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::{
    Change, Condition, Index, Item, Key, PK, Page, Query, SK, SortKey, TTL, Table, TableError,
    TableResult, TxOp, Update, is_expired, validate_item, validate_key, validate_query,
    validate_transaction, validate_update,
};
use crate::clock::SharedClock;

/// Most keys DynamoDB accepts in one BatchGetItem call.
const BATCH_GET_CHUNK: usize = 100;
/// Attempts at a batch chunk's unprocessed keys before giving up with a retryable error.
const BATCH_GET_ATTEMPTS: u32 = 8;
/// Query round trips one page may take while skipping expired items before it returns what it has.
const MAX_QUERY_ROUNDS: usize = 64;
/// Times an update or transaction clears expired items in its way and tries again.
const EXPIRED_RETRIES: usize = 2;

type DynItem = HashMap<String, AttributeValue>;

/// The single table on DynamoDB.
pub struct DynamoTable {
    client: Client,
    table: String,
    clock: SharedClock,
}

impl DynamoTable {
    /// Wraps a client for the table named `table`; "now" for expiry always comes from `clock`.
    pub fn new(client: Client, table: &str, clock: SharedClock) -> Self {
        Self {
            client,
            table: table.to_string(),
            clock,
        }
    }

    fn now(&self) -> i64 {
        self.clock.epoch_seconds()
    }

    /// Reads an item as stored, expired or not.
    async fn get_raw(&self, key: &Key) -> TableResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| map_err("GetItem", e))?;
        out.item.map(from_dyn).transpose()
    }

    /// Removes an expired item so a retried write sees the key as absent. Guarded on the `ttl` seen, so a live
    /// item written meanwhile is never lost; losing that race is fine (the retry then sees the new item).
    async fn delete_expired(&self, key: &Key, seen_ttl: &Value) -> TableResult<()> {
        let mut ex = Expr::new();
        let cond = format!("{} = {}", ex.name(TTL), ex.value(to_attr(seen_ttl)?));
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .condition_expression(cond)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .send()
            .await;
        match result.map_err(|e| map_err("DeleteItem", e)) {
            Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether a write failed only because an expired item is in the way; clears it when so.
    /// `old` is the item DynamoDB returned with the failure, when it did.
    async fn clear_if_expired(&self, key: &Key, old: Option<&DynItem>) -> TableResult<bool> {
        let old = match old {
            Some(item) => Some(from_dyn(item.clone())?),
            None => self.get_raw(key).await?,
        };
        match old {
            Some(item) if is_expired(&item, self.now()) => {
                let ttl = item.get(TTL).cloned().unwrap_or(Value::Null);
                self.delete_expired(key, &ttl).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn update_once(
        &self,
        key: &Key,
        changes: &[(String, Folded)],
        condition: &Condition,
    ) -> UpdateOutcome {
        let now = self.now();
        let mut ex = Expr::new();
        let update_expr = match update_expression(&mut ex, changes) {
            Ok(e) => e,
            Err(e) => return UpdateOutcome::Err(e),
        };
        // The user's condition plus "not expired": an expired item must be replaced, not merged into, which a
        // single UpdateItem cannot express, so an expired item fails here and is cleared by the caller.
        let mut parts = Vec::new();
        match condition_expression(&mut ex, condition, now) {
            Ok(Some(c)) => parts.push(c),
            Ok(None) => {}
            Err(e) => return UpdateOutcome::Err(e),
        }
        parts.push(live_clause(&mut ex, now));
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .condition_expression(parts.join(" AND "))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        // An empty update still creates the item when absent, as the port promises.
        let update_expr = update_expr.unwrap_or_else(|| empty_update(&mut ex));
        req = req.update_expression(update_expr);
        let result = req
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes {
                Some(attrs) => match from_dyn(attrs) {
                    Ok(item) => UpdateOutcome::Done(item),
                    Err(e) => UpdateOutcome::Err(e),
                },
                None => UpdateOutcome::Err(TableError::Unavailable(
                    "UpdateItem returned no attributes".into(),
                )),
            },
            Err(err) => {
                if let SdkError::ServiceError(ctx) = &err
                    && let UpdateItemError::ConditionalCheckFailedException(c) = ctx.err()
                {
                    return UpdateOutcome::ConditionFailed(c.item().cloned());
                }
                UpdateOutcome::Err(map_err("UpdateItem", err))
            }
        }
    }

    fn tx_item(&self, op: &TxOp, now: i64) -> TableResult<TransactWriteItem> {
        let mut ex = Expr::new();
        let item = match op {
            TxOp::Put { item, condition } => {
                let cond = condition_expression(&mut ex, condition, now)?;
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_dyn(item)?))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().put(put).build()
            }
            TxOp::Update {
                key,
                update,
                condition,
            } => {
                let changes = fold_changes(update)?;
                let expr = update_expression(&mut ex, &changes)?;
                let mut parts = Vec::new();
                if let Some(c) = condition_expression(&mut ex, condition, now)? {
                    parts.push(c);
                }
                parts.push(live_clause(&mut ex, now));
                let upd = DynUpdate::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_map(key)))
                    .update_expression(match expr {
                        Some(e) => e,
                        None => empty_update(&mut ex),
                    })
                    .condition_expression(parts.join(" AND "))
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().update(upd).build()
            }
            TxOp::Delete { key, condition } => {
                let cond = condition_expression(&mut ex, condition, now)?;
                let del = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_map(key)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().delete(del).build()
            }
            TxOp::Check { key, condition } => {
                // DynamoDB requires a condition on a check; `Always` is trivially true for any item.
                let cond = condition_expression(&mut ex, condition, now)?.unwrap_or_else(|| {
                    format!(
                        "attribute_exists({0}) OR attribute_not_exists({0})",
                        ex.name(PK)
                    )
                });
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_map(key)))
                    .condition_expression(cond)
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(item)
    }

    async fn transact_once(&self, ops: &[TxOp]) -> TableResult<TxOutcome> {
        let now = self.now();
        let items = ops
            .iter()
            .map(|op| self.tx_item(op, now))
            .collect::<TableResult<Vec<_>>>()?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(TxOutcome::Done),
            Err(err) => err,
        };
        if let SdkError::ServiceError(ctx) = &err
            && let TransactWriteItemsError::TransactionCanceledException(c) = ctx.err()
        {
            let reasons: Vec<(Option<String>, Option<DynItem>)> = c
                .cancellation_reasons()
                .iter()
                .map(|r| (r.code().map(str::to_string), r.item().cloned()))
                .collect();
            let message = c.message().unwrap_or_default().to_string();
            return Ok(TxOutcome::Cancelled { reasons, message });
        }
        Err(map_err("TransactWriteItems", err))
    }

    async fn query_round(
        &self,
        q: &Query,
        key_cond: &KeyCond,
        start: Option<DynItem>,
        limit: usize,
    ) -> TableResult<(Vec<Item>, Option<DynItem>)> {
        let now = self.now();
        let mut ex = Expr::new();
        let (pk_attr, sk_attr) = match q.index {
            Some(i) => (i.pk_attr(), i.sk_attr()),
            None => (PK, SK),
        };
        let mut kc = format!(
            "{} = {}",
            ex.name(pk_attr),
            ex.value(AttributeValue::S(q.pk.clone()))
        );
        if let Some(sk) = sort_key_expression(&mut ex, sk_attr, key_cond) {
            kc.push_str(" AND ");
            kc.push_str(&sk);
        }
        let filter = live_clause(&mut ex, now);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(|i| i.name().to_string()))
            .consistent_read(q.index.is_none())
            .key_condition_expression(kc)
            .filter_expression(filter)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .scan_index_forward(q.forward)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| map_err("Query", e))?;
        let mut items = Vec::new();
        for raw in out.items.unwrap_or_default() {
            let item = from_dyn(raw)?;
            // The filter already dropped expired items; this guards against a clock that moved mid-request.
            if !is_expired(&item, now) {
                items.push(item);
            }
        }
        Ok((items, out.last_evaluated_key))
    }
}

enum UpdateOutcome {
    Done(Item),
    ConditionFailed(Option<DynItem>),
    Err(TableError),
}

enum TxOutcome {
    Done,
    Cancelled {
        reasons: Vec<(Option<String>, Option<DynItem>)>,
        message: String,
    },
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> TableResult<Option<Item>> {
        validate_key(key)?;
        let now = self.now();
        Ok(self
            .get_raw(key)
            .await?
            .filter(|item| !is_expired(item, now)))
    }

    async fn batch_get(&self, keys: &[Key]) -> TableResult<Vec<Item>> {
        let mut seen = HashSet::new();
        let mut unique = Vec::new();
        for key in keys {
            validate_key(key)?;
            // DynamoDB rejects a request that names one key twice.
            if seen.insert(key) {
                unique.push(key);
            }
        }
        let now = self.now();
        let mut found = Vec::new();
        for chunk in unique.chunks(BATCH_GET_CHUNK) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(|k| key_map(k)).collect()))
                .consistent_read(true)
                .build()
                .map_err(build_err)?;
            let mut attempt = 0;
            loop {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| map_err("BatchGetItem", e))?;
                for raw in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let item = from_dyn(raw)?;
                    if !is_expired(&item, now) {
                        found.push(item);
                    }
                }
                match out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() => {
                        attempt += 1;
                        if attempt >= BATCH_GET_ATTEMPTS {
                            return Err(TableError::Retryable(
                                "batch get left keys unprocessed".into(),
                            ));
                        }
                        tokio::time::sleep(backoff(attempt)).await;
                        pending = rest;
                    }
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    async fn put(&self, item: Item, condition: Condition) -> TableResult<()> {
        validate_item(&item)?;
        let mut ex = Expr::new();
        let cond = condition_expression(&mut ex, &condition, self.now())?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_dyn(&item)?))
            .set_condition_expression(cond)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .send()
            .await
            .map_err(|e| map_err("PutItem", e))?;
        Ok(())
    }

    async fn update(&self, key: &Key, update: Update, condition: Condition) -> TableResult<Item> {
        validate_key(key)?;
        validate_update(&update)?;
        let changes = fold_changes(&update)?;
        for attempt in 0..=EXPIRED_RETRIES {
            match self.update_once(key, &changes, &condition).await {
                UpdateOutcome::Done(item) => return Ok(item),
                UpdateOutcome::Err(e) => return Err(e),
                UpdateOutcome::ConditionFailed(old) => {
                    if attempt == EXPIRED_RETRIES
                        || !self.clear_if_expired(key, old.as_ref()).await?
                    {
                        return Err(TableError::ConditionFailed);
                    }
                }
            }
        }
        Err(TableError::ConditionFailed)
    }

    async fn delete(&self, key: &Key, condition: Condition) -> TableResult<()> {
        validate_key(key)?;
        let mut ex = Expr::new();
        let cond = condition_expression(&mut ex, &condition, self.now())?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .send()
            .await
            .map_err(|e| map_err("DeleteItem", e))?;
        Ok(())
    }

    async fn query(&self, q: Query) -> TableResult<Page> {
        validate_query(&q)?;
        let key_cond = match normalize_sort_key(&q.sk) {
            Some(k) => k,
            None => return Ok(Page::default()),
        };
        let mut start = match &q.cursor {
            Some(c) => Some(decode_cursor(c, &q)?),
            None => None,
        };
        // One item more than the page so the last page can say "no more" instead of leaving an empty page behind.
        let want = q.limit + 1;
        let mut items: Vec<Item> = Vec::new();
        let mut rounds = 0;
        loop {
            rounds += 1;
            let (mut got, last) = self
                .query_round(&q, &key_cond, start.take(), want - items.len())
                .await?;
            items.append(&mut got);
            if items.len() >= want {
                items.truncate(q.limit);
                let cursor = items
                    .last()
                    .map(|last| encode_cursor(last, q.index))
                    .transpose()?;
                return Ok(Page { items, cursor });
            }
            match last {
                None => {
                    return Ok(Page {
                        items,
                        cursor: None,
                    });
                }
                Some(last) if rounds >= MAX_QUERY_ROUNDS => {
                    // A long run of expired items: hand back a short page rather than read the partition unbounded.
                    let cursor = Some(encode_key_map(&last)?);
                    return Ok(Page { items, cursor });
                }
                Some(last) => start = Some(last),
            }
        }
    }

    async fn transact(&self, ops: Vec<TxOp>) -> TableResult<()> {
        validate_transaction(&ops)?;
        for attempt in 0..=EXPIRED_RETRIES {
            let (reasons, message) = match self.transact_once(&ops).await? {
                TxOutcome::Done => return Ok(()),
                TxOutcome::Cancelled { reasons, message } => (reasons, message),
            };
            let code = |i: usize| reasons.get(i).and_then(|(c, _)| c.as_deref());
            let failed: Vec<usize> = (0..reasons.len())
                .filter(|&i| code(i) == Some("ConditionalCheckFailed"))
                .collect();
            if failed.is_empty() {
                let retryable = reasons.iter().any(|(c, _)| {
                    matches!(
                        c.as_deref(),
                        Some(
                            "TransactionConflict"
                                | "ThrottlingError"
                                | "ProvisionedThroughputExceeded"
                                | "RequestLimitExceeded"
                        )
                    )
                });
                if retryable {
                    return Err(TableError::Retryable(format!(
                        "transaction cancelled: {message}"
                    )));
                }
                if reasons
                    .iter()
                    .any(|(c, _)| c.as_deref() == Some("ValidationError"))
                {
                    return Err(TableError::Invalid(format!(
                        "transaction rejected: {message}"
                    )));
                }
                return Err(TableError::TransactionCancelled {
                    index: None,
                    reason: message,
                });
            }
            // Updates carry a "not expired" clause (they must replace an expired item, not merge into it); when
            // that is all that failed, clear the expired items and run the transaction again.
            let mut cleared = false;
            let mut genuine = None;
            for &i in &failed {
                let expired_update = match ops.get(i) {
                    Some(TxOp::Update { key, .. }) if attempt < EXPIRED_RETRIES => {
                        let old = reasons.get(i).and_then(|(_, item)| item.as_ref());
                        self.clear_if_expired(key, old).await?
                    }
                    _ => false,
                };
                if expired_update {
                    cleared = true;
                } else if genuine.is_none() {
                    genuine = Some(i);
                }
            }
            if let Some(index) = genuine {
                return Err(TableError::TransactionCancelled {
                    index: Some(index),
                    reason: format!("condition of operation {index} failed"),
                });
            }
            if !cleared {
                break;
            }
        }
        Err(TableError::Retryable(
            "transaction kept meeting expired items".into(),
        ))
    }

    async fn sweep_expired(&self, _limit: usize) -> TableResult<usize> {
        // DynamoDB's TTL process deletes expired items; they are already invisible through this adapter.
        Ok(0)
    }

    async fn ping(&self) -> TableResult<()> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| map_err("DescribeTable", e))?;
        Ok(())
    }
}

/// Creates the single table with its two indexes (the shape the SAM template declares) and enables TTL on `ttl`.
/// Succeeds when the table already exists.
pub async fn create_table(client: &Client, name: &str) -> TableResult<()> {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build_err)
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .map_err(build_err)
    };
    let mut defs = vec![attr(PK)?, attr(SK)?];
    let mut indexes = Vec::new();
    for index in Index::ALL {
        defs.push(attr(index.pk_attr())?);
        defs.push(attr(index.sk_attr())?);
        indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(index.name())
                .key_schema(key(index.pk_attr(), KeyType::Hash)?)
                .key_schema(key(index.sk_attr(), KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_err)?,
        );
    }
    let created = client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(defs))
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .set_global_secondary_indexes(Some(indexes))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.code() == Some("ResourceInUseException") => {
            tracing::debug!(table = name, "table already exists");
        }
        Err(e) => return Err(map_err("CreateTable", e)),
    }
    // Creation is asynchronous on AWS; wait (bounded) until the table takes writes.
    for attempt in 1..=60 {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| map_err("DescribeTable", e))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            break;
        }
        if attempt == 60 {
            return Err(TableError::Unavailable(format!(
                "table {name} did not become active"
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(TTL)
        .enabled(true)
        .build()
        .map_err(build_err)?;
    match client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Enabling TTL twice is a validation error; the table is already as wanted.
        Err(e) if e.code() == Some("ValidationException") => Ok(()),
        Err(e) => Err(map_err("UpdateTimeToLive", e)),
    }
}

/// Placeholder bookkeeping for one request: attribute names and values never appear in expression text.
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn new() -> Self {
        Self {
            names: HashMap::new(),
            values: HashMap::new(),
        }
    }

    fn name(&mut self, attr: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a.as_str() == attr) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attr.to_string());
        placeholder
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), v);
        placeholder
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// `(no ttl OR ttl in the future)`: the stored item, if any, is live.
fn live_clause(ex: &mut Expr, now: i64) -> String {
    let ttl = ex.name(TTL);
    let now = ex.value(AttributeValue::N(now.to_string()));
    format!("(attribute_not_exists({ttl}) OR {ttl} > {now})")
}

/// `(an item exists AND it is live)`.
fn exists_live(ex: &mut Expr, now: i64) -> String {
    let pk = ex.name(PK);
    format!("(attribute_exists({pk}) AND {})", live_clause(ex, now))
}

/// Translates a condition; `None` when it always holds.
fn condition_expression(
    ex: &mut Expr,
    condition: &Condition,
    now: i64,
) -> TableResult<Option<String>> {
    Ok(match condition {
        Condition::Always => None,
        Condition::NotExists => {
            let pk = ex.name(PK);
            let ttl = ex.name(TTL);
            let now = ex.value(AttributeValue::N(now.to_string()));
            Some(format!("(attribute_not_exists({pk}) OR {ttl} <= {now})"))
        }
        Condition::Exists => Some(exists_live(ex, now)),
        Condition::Equals(attr, value) => {
            let name = ex.name(attr);
            let value = ex.value(to_attr(value)?);
            Some(format!("({name} = {value} AND {})", exists_live(ex, now)))
        }
        Condition::AttributeNotExists(attr) => {
            let name = ex.name(attr);
            Some(format!(
                "(attribute_not_exists({name}) AND {})",
                exists_live(ex, now)
            ))
        }
        Condition::All(all) => {
            let mut parts = Vec::new();
            for c in all {
                if let Some(part) = condition_expression(ex, c, now)? {
                    parts.push(part);
                }
            }
            // Each part is parenthesized already: one alone is returned as it is, since DynamoDB refuses
            // redundant parentheses.
            match parts.len() {
                0 => None,
                1 => parts.pop(),
                _ => Some(format!("({})", parts.join(" AND "))),
            }
        }
    })
}

/// What an update finally does to one attribute, after folding repeated changes: DynamoDB refuses two actions on
/// one path in a single expression, while the port applies changes in order.
#[derive(Clone, Debug, PartialEq)]
enum Folded {
    Set(Value),
    SetIfAbsent(Value),
    Remove,
    Add(i64),
    /// `if_not_exists(a, v) + n`.
    IfAbsentPlus(Value, i64),
}

fn fold_changes(update: &Update) -> TableResult<Vec<(String, Folded)>> {
    let mut order: Vec<String> = Vec::new();
    let mut folded: HashMap<String, Folded> = HashMap::new();
    for change in &update.changes {
        let (attr, next) = match change {
            Change::Set(a, v) => (a, Folded::Set(v.clone())),
            Change::SetIfAbsent(a, v) => (a, Folded::SetIfAbsent(v.clone())),
            Change::Remove(a) => (a, Folded::Remove),
            Change::Add(a, n) => (a, Folded::Add(*n)),
        };
        if attr.is_empty() || attr == PK || attr == SK {
            return Err(TableError::Invalid(format!(
                "cannot update key attribute {attr:?}"
            )));
        }
        let combined = match (folded.remove(attr), next) {
            (None, next) => next,
            (Some(_), Folded::Set(v)) => Folded::Set(v),
            (Some(_), Folded::Remove) => Folded::Remove,
            (Some(Folded::Set(v)), Folded::SetIfAbsent(_)) => Folded::Set(v),
            (Some(Folded::Set(v)), Folded::Add(n)) => {
                Folded::Set(Value::from(add_number(&v, n, attr)?))
            }
            (Some(Folded::Remove), Folded::SetIfAbsent(v)) => Folded::Set(v),
            (Some(Folded::Remove), Folded::Add(n)) => Folded::Set(Value::from(n)),
            (Some(Folded::SetIfAbsent(v)), Folded::SetIfAbsent(_)) => Folded::SetIfAbsent(v),
            (Some(Folded::SetIfAbsent(v)), Folded::Add(n)) => Folded::IfAbsentPlus(v, n),
            (Some(Folded::Add(n)), Folded::SetIfAbsent(_)) => Folded::Add(n),
            (Some(Folded::Add(n)), Folded::Add(m)) => Folded::Add(checked(n, m, attr)?),
            (Some(Folded::IfAbsentPlus(v, n)), Folded::SetIfAbsent(_)) => {
                Folded::IfAbsentPlus(v, n)
            }
            (Some(Folded::IfAbsentPlus(v, n)), Folded::Add(m)) => {
                Folded::IfAbsentPlus(v, checked(n, m, attr)?)
            }
            (Some(_), Folded::IfAbsentPlus(..)) => unreachable_fold(attr)?,
        };
        if !order.contains(attr) {
            order.push(attr.clone());
        }
        folded.insert(attr.clone(), combined);
    }
    let mut out = Vec::new();
    for attr in order {
        if let Some(f) = folded.remove(&attr) {
            if let Folded::IfAbsentPlus(v, _) = &f
                && !v.is_i64()
            {
                return Err(TableError::Invalid(format!("{attr} is not a whole number")));
            }
            out.push((attr, f));
        }
    }
    Ok(out)
}

fn unreachable_fold(attr: &str) -> TableResult<Folded> {
    Err(TableError::Invalid(format!(
        "cannot combine changes to {attr}"
    )))
}

fn add_number(v: &Value, n: i64, attr: &str) -> TableResult<i64> {
    let current = v
        .as_i64()
        .ok_or_else(|| TableError::Invalid(format!("{attr} is not a whole number")))?;
    checked(current, n, attr)
}

fn checked(a: i64, b: i64, attr: &str) -> TableResult<i64> {
    a.checked_add(b)
        .ok_or_else(|| TableError::Invalid(format!("{attr} would overflow")))
}

fn update_expression(ex: &mut Expr, changes: &[(String, Folded)]) -> TableResult<Option<String>> {
    let (mut set, mut remove, mut add) = (Vec::new(), Vec::new(), Vec::new());
    for (attr, change) in changes {
        let name = ex.name(attr);
        match change {
            Folded::Set(v) => set.push(format!("{name} = {}", ex.value(to_attr(v)?))),
            Folded::SetIfAbsent(v) => set.push(format!(
                "{name} = if_not_exists({name}, {})",
                ex.value(to_attr(v)?)
            )),
            Folded::IfAbsentPlus(v, n) => {
                let v = ex.value(to_attr(v)?);
                let n = ex.value(AttributeValue::N(n.to_string()));
                set.push(format!("{name} = if_not_exists({name}, {v}) + {n}"));
            }
            Folded::Remove => remove.push(name),
            Folded::Add(n) => add.push(format!(
                "{name} {}",
                ex.value(AttributeValue::N(n.to_string()))
            )),
        }
    }
    let mut clauses = Vec::new();
    if !set.is_empty() {
        clauses.push(format!("SET {}", set.join(", ")));
    }
    if !remove.is_empty() {
        clauses.push(format!("REMOVE {}", remove.join(", ")));
    }
    if !add.is_empty() {
        clauses.push(format!("ADD {}", add.join(", ")));
    }
    Ok((!clauses.is_empty()).then(|| clauses.join(" ")))
}

/// A transactional Update must change something; removing an attribute nobody may set keeps the item unchanged
/// while still creating it when absent (as the port's empty update does).
fn empty_update(ex: &mut Expr) -> String {
    format!("REMOVE {}", ex.name("__lectern_none"))
}

/// A sort-key condition DynamoDB can run. DynamoDB refuses empty key values and inverted ranges, which the port
/// allows, so those are rewritten to what they mean; `None` means nothing can match.
enum KeyCond {
    Any,
    Cond(SortKey),
}

fn normalize_sort_key(sk: &SortKey) -> Option<KeyCond> {
    let any = Some(KeyCond::Any);
    let keep = |c: SortKey| Some(KeyCond::Cond(c));
    match sk {
        SortKey::Any => any,
        SortKey::Equals(v) if v.is_empty() => None,
        SortKey::BeginsWith(v) if v.is_empty() => any,
        SortKey::LessThan(v) | SortKey::LessOrEqual(v) if v.is_empty() => None,
        SortKey::GreaterThan(v) | SortKey::GreaterOrEqual(v) if v.is_empty() => any,
        SortKey::Between(a, b) if a > b || b.is_empty() => None,
        SortKey::Between(a, b) if a.is_empty() => keep(SortKey::LessOrEqual(b.clone())),
        other => keep(other.clone()),
    }
}

fn sort_key_expression(ex: &mut Expr, attr: &str, cond: &KeyCond) -> Option<String> {
    let cond = match cond {
        KeyCond::Any => return None,
        KeyCond::Cond(c) => c,
    };
    let name = ex.name(attr);
    let mut v = |s: &String| ex.value(AttributeValue::S(s.clone()));
    Some(match cond {
        SortKey::Any => return None,
        SortKey::Equals(s) => format!("{name} = {}", v(s)),
        SortKey::BeginsWith(s) => format!("begins_with({name}, {})", v(s)),
        SortKey::Between(a, b) => {
            let a = v(a);
            format!("{name} BETWEEN {a} AND {}", v(b))
        }
        SortKey::LessThan(s) => format!("{name} < {}", v(s)),
        SortKey::LessOrEqual(s) => format!("{name} <= {}", v(s)),
        SortKey::GreaterThan(s) => format!("{name} > {}", v(s)),
        SortKey::GreaterOrEqual(s) => format!("{name} >= {}", v(s)),
    })
}

/// The attributes a page boundary needs: the table key, plus the index key when querying an index.
fn cursor_attrs(index: Option<Index>) -> Vec<&'static str> {
    let mut attrs = vec![PK, SK];
    if let Some(i) = index {
        attrs.push(i.pk_attr());
        attrs.push(i.sk_attr());
    }
    attrs
}

fn encode_cursor(item: &Item, index: Option<Index>) -> TableResult<String> {
    let mut map = Map::new();
    for attr in cursor_attrs(index) {
        let v = item
            .get(attr)
            .and_then(Value::as_str)
            .ok_or_else(|| TableError::Unavailable(format!("item without {attr}")))?;
        map.insert(attr.to_string(), Value::String(v.to_string()));
    }
    Ok(URL_SAFE_NO_PAD.encode(Value::Object(map).to_string()))
}

fn encode_key_map(key: &DynItem) -> TableResult<String> {
    let mut map = Map::new();
    for (attr, v) in key {
        match v {
            AttributeValue::S(s) => {
                map.insert(attr.clone(), Value::String(s.clone()));
            }
            _ => return Err(TableError::Unavailable("non-string key attribute".into())),
        }
    }
    Ok(URL_SAFE_NO_PAD.encode(Value::Object(map).to_string()))
}

/// Reads a cursor back; it is client-supplied, so its shape is checked and it must belong to the same partition.
fn decode_cursor(cursor: &str, q: &Query) -> TableResult<DynItem> {
    let bad = || TableError::Invalid("bad cursor".into());
    if cursor.len() > 8192 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let map: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let attrs = cursor_attrs(q.index);
    if map.len() != attrs.len() {
        return Err(bad());
    }
    let mut key = DynItem::new();
    for attr in attrs {
        let v = map
            .get(attr)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(bad)?;
        key.insert(attr.to_string(), AttributeValue::S(v.to_string()));
    }
    let partition = q.index.map_or(PK, |i| i.pk_attr());
    if key.get(partition) != Some(&AttributeValue::S(q.pk.clone())) {
        return Err(bad());
    }
    Ok(key)
}

fn key_map(key: &Key) -> DynItem {
    HashMap::from([
        (PK.to_string(), AttributeValue::S(key.pk.clone())),
        (SK.to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

fn to_dyn(item: &Item) -> TableResult<DynItem> {
    serde_dynamo::to_item(item)
        .map_err(|e| TableError::Invalid(format!("item cannot be stored: {e}")))
}

fn from_dyn(item: DynItem) -> TableResult<Item> {
    serde_dynamo::from_item(item)
        .map_err(|e| TableError::Unavailable(format!("stored item cannot be read: {e}")))
}

fn to_attr(value: &Value) -> TableResult<AttributeValue> {
    serde_dynamo::to_attribute_value(value)
        .map_err(|e| TableError::Invalid(format!("value cannot be stored: {e}")))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(25u64.saturating_mul(1 << attempt.min(6)))
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> TableError {
    TableError::Invalid(format!("request could not be built: {e}"))
}

/// Maps an SDK error onto the port's error kinds. Only codes and service messages are logged, never items.
fn map_err<E, R>(op: &'static str, err: SdkError<E, R>) -> TableError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let crate::aws::SdkFailure {
        code,
        message,
        detail,
    } = crate::aws::SdkFailure::of(&err);
    match code.as_str() {
        "ConditionalCheckFailedException" => TableError::ConditionFailed,
        "ValidationException" | "SerializationException" => {
            tracing::warn!(op, code, message, "dynamodb rejected request");
            TableError::Invalid(format!("{op}: {message}"))
        }
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TransactionConflictException"
        | "TransactionInProgressException"
        | "LimitExceededException" => {
            tracing::info!(op, code, "dynamodb throttled or conflicted");
            TableError::Retryable(format!("{op}: {code}"))
        }
        _ => {
            tracing::error!(op, error = %detail, "dynamodb call failed");
            TableError::Unavailable(format!("{op}: {detail}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_changes_fold_like_the_in_memory_update() {
        let update = Update::new()
            .set("a", 1)
            .add("a", 2)
            .set_if_absent("b", 5)
            .add("b", 1)
            .remove("c")
            .add("c", 4)
            .add("d", 1)
            .add("d", 2);
        let folded = fold_changes(&update).unwrap();
        assert_eq!(
            folded,
            vec![
                ("a".into(), Folded::Set(Value::from(3))),
                ("b".into(), Folded::IfAbsentPlus(Value::from(5), 1)),
                ("c".into(), Folded::Set(Value::from(4))),
                ("d".into(), Folded::Add(3)),
            ]
        );
        assert!(matches!(
            fold_changes(&Update::new().set("pk", 1)),
            Err(TableError::Invalid(_))
        ));
    }

    #[test]
    fn conditions_use_placeholders_and_honour_expiry() {
        let mut ex = Expr::new();
        let c = condition_expression(&mut ex, &Condition::equals("weird name) OR (x", 1), 100)
            .unwrap()
            .unwrap();
        assert!(
            !c.contains("weird"),
            "attribute names must never be interpolated: {c}"
        );
        assert!(ex.names.values().any(|n| n == "weird name) OR (x"));
        assert!(
            ex.names.values().any(|n| n == TTL),
            "equality must also require a live item"
        );
        let mut ex = Expr::new();
        let c = condition_expression(&mut ex, &Condition::NotExists, 7)
            .unwrap()
            .unwrap();
        assert!(
            c.contains("<="),
            "an expired item must count as absent: {c}"
        );
        assert_eq!(
            condition_expression(&mut Expr::new(), &Condition::All(vec![]), 1).unwrap(),
            None
        );
        // A list of one is that one condition, without the redundant parentheses DynamoDB refuses.
        let one = Condition::All(vec![Condition::equals("status", "open")]);
        let alone = condition_expression(&mut Expr::new(), &Condition::equals("status", "open"), 1)
            .unwrap();
        assert_eq!(
            condition_expression(&mut Expr::new(), &one, 1).unwrap(),
            alone
        );
    }

    #[test]
    fn cursors_are_checked_and_bound_to_their_partition() {
        let q = Query::partition("P");
        let item: Item =
            serde_json::from_value(serde_json::json!({"pk": "P", "sk": "1", "x": 1})).unwrap();
        let cursor = encode_cursor(&item, None).unwrap();
        assert_eq!(
            decode_cursor(&cursor, &q).unwrap(),
            key_map(&Key::new("P", "1"))
        );
        assert!(matches!(
            decode_cursor(&cursor, &Query::partition("Q")),
            Err(TableError::Invalid(_))
        ));
        assert!(matches!(
            decode_cursor("!!!", &q),
            Err(TableError::Invalid(_))
        ));
        assert!(matches!(
            decode_cursor(&cursor, &q.clone().on(Index::Gsi1)),
            Err(TableError::Invalid(_))
        ));
    }

    #[test]
    fn sort_keys_dynamodb_cannot_take_are_rewritten() {
        assert!(normalize_sort_key(&SortKey::Equals(String::new())).is_none());
        assert!(normalize_sort_key(&SortKey::Between("b".into(), "a".into())).is_none());
        assert!(matches!(
            normalize_sort_key(&SortKey::BeginsWith(String::new())),
            Some(KeyCond::Any)
        ));
        assert!(matches!(
            normalize_sort_key(&SortKey::Between(String::new(), "a".into())),
            Some(KeyCond::Cond(SortKey::LessOrEqual(_)))
        ));
    }
}
