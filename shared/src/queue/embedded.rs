//! A durable job queue inside the embedded redb file, with SQS's delivery semantics.
//!
//! A message stays in the file until it is acknowledged. Receiving it hides it until `now + visibility` and counts
//! the receive in the same transaction, so a worker that dies mid-job loses nothing: the job reappears once the
//! visibility timeout passes. A message already received `max_receives` times moves to the queue's dead-letter
//! table on the next receive instead of being delivered again (SQS's redrive policy).
//!
//! Layout (redb tables of bytes):
//! - `queue_messages`: `queue 00 id` → message record (JSON);
//! - `queue_ready`: `queue 00 visible_at_ms (sign-flipped big-endian) id` → empty, the delivery order;
//! - `queue_dead`: `queue 00 id` → message record (JSON). Ids are monotonic ULIDs, so key order is send order.
//!
//! Receipts are `id.receive_count.random`; one stays valid until the message is received again, after which
//! acknowledging or retrying with it is a no-op (it can never touch another worker's delivery).

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{Delivery, Job, MAX_BATCH, NewJob, Queue, QueueError, QueueResult, queues, validate};
use crate::clock::SharedClock;

type Bytes = &'static [u8];

const MESSAGES: TableDefinition<Bytes, Bytes> = TableDefinition::new("queue_messages");
const READY: TableDefinition<Bytes, Bytes> = TableDefinition::new("queue_ready");
const DEAD: TableDefinition<Bytes, Bytes> = TableDefinition::new("queue_dead");

use super::MAX_VISIBILITY;

/// One message as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Message {
    id: String,
    job: Job,
    /// Epoch milliseconds from which the message may be received.
    visible_at: i64,
    receive_count: u32,
    /// The receipt of the latest receive, if any.
    receipt: Option<String>,
}

/// The embedded queue. Cheap to share. Reads (an idle receive, dead letters, ping) run on the calling task, as
/// redb reads never wait for a writer; every change is one redb write transaction on the blocking pool.
pub struct EmbeddedQueue {
    db: Arc<Database>,
    clock: SharedClock,
    max_receives: u32,
    ids: Arc<Mutex<ulid::Generator>>,
}

impl EmbeddedQueue {
    /// Opens the queue's tables in `db` (usually [`crate::table::embedded::EmbeddedTable::database`]).
    /// `max_receives` is how many times a message is delivered before it is dead-lettered (at least 1).
    pub fn new(db: Arc<Database>, clock: SharedClock, max_receives: u32) -> QueueResult<Self> {
        if max_receives == 0 {
            return Err(QueueError::Invalid(
                "max_receives must be at least 1".into(),
            ));
        }
        let txn = db.begin_write().map_err(store_err)?;
        for def in [MESSAGES, READY, DEAD] {
            txn.open_table(def).map_err(store_err)?;
        }
        txn.commit().map_err(store_err)?;
        Ok(Self {
            db,
            clock,
            max_receives,
            ids: Arc::new(Mutex::new(ulid::Generator::new())),
        })
    }

    fn now_ms(&self) -> i64 {
        (self.clock.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// A message id that sorts after every earlier one from this process, so batches keep their order.
    fn next_id(&self) -> String {
        // `Ulid::default()` is the nil id, so fall back to a fresh random one explicitly.
        match self.ids.lock().ok().and_then(|mut g| g.generate().ok()) {
            Some(id) => id.to_string(),
            None => ulid::Ulid::new().to_string(),
        }
    }

    /// Whether a message of `queue` is visible at `now_ms`, read without taking redb's single writer. Pollers ask
    /// every 250 ms; answering "nothing" from a read keeps an idle queue from committing (and fsyncing) an empty
    /// write transaction each time, which also held up the table's writes meanwhile.
    fn anything_due(&self, queue: &str, now_ms: i64) -> QueueResult<bool> {
        let txn = self.db.begin_read().map_err(store_err)?;
        let ready = txn.open_table(READY).map_err(store_err)?;
        let prefix = ready_prefix(queue);
        let mut end = prefix.clone();
        end.extend_from_slice(&time_bytes(now_ms.saturating_add(1)));
        let mut due = ready
            .range::<&[u8]>((
                Bound::Included(prefix.as_slice()),
                Bound::Excluded(end.as_slice()),
            ))
            .map_err(store_err)?;
        Ok(due.next().is_some())
    }

    async fn blocking<T, F>(&self, work: F) -> QueueResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> QueueResult<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| QueueError::Unavailable(format!("queue task failed: {e}")))?
    }
}

fn store_err(e: impl Into<redb::Error>) -> QueueError {
    let e: redb::Error = e.into();
    tracing::error!(error = %e, "embedded queue failure");
    QueueError::Unavailable(e.to_string())
}

fn known(queue: &str) -> QueueResult<()> {
    if queues::ALL.contains(&queue) {
        Ok(())
    } else {
        Err(QueueError::UnknownQueue(queue.to_string()))
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn message_key(queue: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(queue.len() + 1 + id.len());
    k.extend_from_slice(queue.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn time_bytes(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

fn ready_prefix(queue: &str) -> Vec<u8> {
    let mut k = queue.as_bytes().to_vec();
    k.push(0);
    k
}

/// The bounds of one queue's dead letters (keys `queue 00 id`; `queue 01` sorts after all of them).
fn dead_range(queue: &str) -> (Vec<u8>, Vec<u8>) {
    let start = ready_prefix(queue);
    let mut end = start.clone();
    if let Some(last) = end.last_mut() {
        *last = 1;
    }
    (start, end)
}

fn ready_key(queue: &str, visible_at: i64, id: &str) -> Vec<u8> {
    let mut k = ready_prefix(queue);
    k.extend_from_slice(&time_bytes(visible_at));
    k.extend_from_slice(id.as_bytes());
    k
}

fn encode_message(m: &Message) -> QueueResult<Vec<u8>> {
    serde_json::to_vec(m).map_err(|e| QueueError::Invalid(e.to_string()))
}

fn decode_message(bytes: &[u8]) -> QueueResult<Message> {
    serde_json::from_slice(bytes)
        .map_err(|e| QueueError::Unavailable(format!("stored message is corrupt: {e}")))
}

fn delivery(m: &Message) -> Delivery {
    Delivery {
        message_id: m.id.clone(),
        receipt: m.receipt.clone().unwrap_or_default(),
        receive_count: m.receive_count,
        job: m.job.clone(),
    }
}

/// The message id a receipt names; malformed receipts are refused outright.
fn receipt_id(receipt: &str) -> QueueResult<&str> {
    let mut parts = receipt.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(id), Some(count), Some(token), None)
            if crate::ids::is_id(id) && count.parse::<u32>().is_ok() && !token.is_empty() =>
        {
            Ok(id)
        }
        _ => Err(QueueError::Invalid("malformed receipt".into())),
    }
}

/// Applies `change` to the message a receipt names, if the receipt is still its latest; stale receipts do nothing.
fn with_current_receipt(
    db: &Database,
    queue: &str,
    receipt: &str,
    change: impl FnOnce(
        &mut redb::Table<'_, Bytes, Bytes>,
        &mut redb::Table<'_, Bytes, Bytes>,
        Message,
    ) -> QueueResult<()>,
) -> QueueResult<()> {
    let id = receipt_id(receipt)?;
    let key = message_key(queue, id);
    let txn = db.begin_write().map_err(store_err)?;
    {
        let mut messages = txn.open_table(MESSAGES).map_err(store_err)?;
        let mut ready = txn.open_table(READY).map_err(store_err)?;
        let stored = match messages.get(key.as_slice()).map_err(store_err)? {
            Some(guard) => Some(decode_message(guard.value())?),
            None => None,
        };
        match stored {
            Some(message) if message.receipt.as_deref() == Some(receipt) => {
                change(&mut messages, &mut ready, message)?
            }
            _ => {
                tracing::debug!(queue, "stale or unknown receipt ignored");
                return Ok(());
            }
        }
    }
    txn.commit().map_err(store_err)?;
    Ok(())
}

#[async_trait]
impl Queue for EmbeddedQueue {
    async fn send(&self, queue: &str, jobs: Vec<NewJob>) -> QueueResult<Vec<String>> {
        known(queue)?;
        let now = self.now_ms();
        let mut messages = Vec::with_capacity(jobs.len());
        for job in &jobs {
            validate(queue, job)?;
            messages.push(Message {
                id: self.next_id(),
                job: job.job.clone(),
                visible_at: now.saturating_add(millis(job.delay)),
                receive_count: 0,
                receipt: None,
            });
        }
        let queue = queue.to_string();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(store_err)?;
            {
                let mut table = txn.open_table(MESSAGES).map_err(store_err)?;
                let mut ready = txn.open_table(READY).map_err(store_err)?;
                for m in &messages {
                    table
                        .insert(
                            message_key(&queue, &m.id).as_slice(),
                            encode_message(m)?.as_slice(),
                        )
                        .map_err(store_err)?;
                    ready
                        .insert(
                            ready_key(&queue, m.visible_at, &m.id).as_slice(),
                            [].as_slice(),
                        )
                        .map_err(store_err)?;
                }
            }
            txn.commit().map_err(store_err)?;
            Ok(messages.into_iter().map(|m| m.id).collect())
        })
        .await
    }

    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> QueueResult<Vec<Delivery>> {
        known(queue)?;
        if visibility > MAX_VISIBILITY {
            return Err(QueueError::Invalid("visibility is over 12 hours".into()));
        }
        // SQS hands out at most 10 messages per receive; match it so batch sizes never differ between backends.
        let max = max.min(MAX_BATCH);
        if max == 0 {
            return Ok(Vec::new());
        }
        let now = self.now_ms();
        if !self.anything_due(queue, now)? {
            return Ok(Vec::new());
        }
        let hidden_until = now.saturating_add(millis(visibility));
        let max_receives = self.max_receives;
        let queue = queue.to_string();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(store_err)?;
            let mut out = Vec::new();
            {
                let mut messages = txn.open_table(MESSAGES).map_err(store_err)?;
                let mut ready = txn.open_table(READY).map_err(store_err)?;
                let mut dead = txn.open_table(DEAD).map_err(store_err)?;
                let prefix = ready_prefix(&queue);
                let mut end = prefix.clone();
                end.extend_from_slice(&time_bytes(now.saturating_add(1)));
                let mut start = Bound::Included(prefix.clone());
                let mut seen = HashSet::new();
                while out.len() < max {
                    let due: Vec<Vec<u8>> = ready
                        .range::<&[u8]>((start.as_ref().map(Vec::as_slice), Bound::Excluded(end.as_slice())))
                        .map_err(store_err)?
                        .take(max - out.len())
                        .map(|e| e.map(|(k, _)| k.value().to_vec()).map_err(store_err))
                        .collect::<QueueResult<_>>()?;
                    let Some(last) = due.last() else { break };
                    start = Bound::Excluded(last.clone());
                    for entry in due {
                        let id = String::from_utf8_lossy(entry.get(prefix.len() + 8..).unwrap_or_default()).into_owned();
                        // A message made visible again within this call (zero visibility) is not handed out twice.
                        if !seen.insert(id.clone()) {
                            continue;
                        }
                        ready.remove(entry.as_slice()).map_err(store_err)?;
                        let key = message_key(&queue, &id);
                        let stored = match messages.get(key.as_slice()).map_err(store_err)? {
                            Some(guard) => decode_message(guard.value())?,
                            None => continue,
                        };
                        let mut message = stored;
                        if message.receive_count >= max_receives {
                            tracing::warn!(queue = %queue, id = %id, receives = message.receive_count, "job dead-lettered");
                            messages.remove(key.as_slice()).map_err(store_err)?;
                            dead.insert(key.as_slice(), encode_message(&message)?.as_slice()).map_err(store_err)?;
                            continue;
                        }
                        message.receive_count += 1;
                        message.visible_at = hidden_until;
                        message.receipt =
                            Some(format!("{}.{}.{}", message.id, message.receive_count, crate::ids::random_secret(16)));
                        messages.insert(key.as_slice(), encode_message(&message)?.as_slice()).map_err(store_err)?;
                        ready
                            .insert(ready_key(&queue, hidden_until, &id).as_slice(), [].as_slice())
                            .map_err(store_err)?;
                        out.push(delivery(&message));
                    }
                }
            }
            txn.commit().map_err(store_err)?;
            Ok(out)
        })
        .await
    }

    async fn ack(&self, queue: &str, receipt: &str) -> QueueResult<()> {
        known(queue)?;
        let (queue, receipt) = (queue.to_string(), receipt.to_string());
        self.blocking(move |db| {
            with_current_receipt(db, &queue, &receipt, |messages, ready, m| {
                messages
                    .remove(message_key(&queue, &m.id).as_slice())
                    .map_err(store_err)?;
                ready
                    .remove(ready_key(&queue, m.visible_at, &m.id).as_slice())
                    .map_err(store_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn retry_later(&self, queue: &str, receipt: &str, delay: Duration) -> QueueResult<()> {
        known(queue)?;
        if delay > MAX_VISIBILITY {
            return Err(QueueError::Invalid("retry delay is over 12 hours".into()));
        }
        let visible_at = self.now_ms().saturating_add(millis(delay));
        let (queue, receipt) = (queue.to_string(), receipt.to_string());
        self.blocking(move |db| {
            with_current_receipt(db, &queue, &receipt, |messages, ready, mut m| {
                ready
                    .remove(ready_key(&queue, m.visible_at, &m.id).as_slice())
                    .map_err(store_err)?;
                m.visible_at = visible_at;
                messages
                    .insert(
                        message_key(&queue, &m.id).as_slice(),
                        encode_message(&m)?.as_slice(),
                    )
                    .map_err(store_err)?;
                ready
                    .insert(
                        ready_key(&queue, visible_at, &m.id).as_slice(),
                        [].as_slice(),
                    )
                    .map_err(store_err)?;
                Ok(())
            })
        })
        .await
    }

    async fn dead_letters(&self, queue: &str, max: usize) -> QueueResult<Vec<Delivery>> {
        known(queue)?;
        let prefix = ready_prefix(queue);
        let txn = self.db.begin_read().map_err(store_err)?;
        let dead = txn.open_table(DEAD).map_err(store_err)?;
        // Keys are `queue 00 id`; `queue 01` sorts after all of them and before any other queue's.
        let mut end = prefix.clone();
        if let Some(last) = end.last_mut() {
            *last = 1;
        }
        let mut out = Vec::new();
        let range = dead
            .range::<&[u8]>((
                Bound::Included(prefix.as_slice()),
                Bound::Excluded(end.as_slice()),
            ))
            .map_err(store_err)?;
        for entry in range.take(max) {
            let (_, value) = entry.map_err(store_err)?;
            out.push(delivery(&decode_message(value.value())?));
        }
        Ok(out)
    }

    async fn dead_letter_count(&self, queue: &str) -> QueueResult<u64> {
        known(queue)?;
        let queue = queue.to_string();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(store_err)?;
            let dead = txn.open_table(DEAD).map_err(store_err)?;
            let (start, end) = dead_range(&queue);
            let range = dead
                .range::<&[u8]>((
                    Bound::Included(start.as_slice()),
                    Bound::Excluded(end.as_slice()),
                ))
                .map_err(store_err)?;
            Ok(range.count() as u64)
        })
        .await
    }

    async fn redrive(&self, queue: &str, max: usize) -> QueueResult<usize> {
        known(queue)?;
        let now = self.now_ms();
        let queue = queue.to_string();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(store_err)?;
            let moved;
            {
                let mut messages = txn.open_table(MESSAGES).map_err(store_err)?;
                let mut ready = txn.open_table(READY).map_err(store_err)?;
                let mut dead = txn.open_table(DEAD).map_err(store_err)?;
                let (start, end) = dead_range(&queue);
                let entries: Vec<(Vec<u8>, Message)> = dead
                    .range::<&[u8]>((
                        Bound::Included(start.as_slice()),
                        Bound::Excluded(end.as_slice()),
                    ))
                    .map_err(store_err)?
                    .take(max)
                    .map(|e| {
                        let (k, v) = e.map_err(store_err)?;
                        Ok((k.value().to_vec(), decode_message(v.value())?))
                    })
                    .collect::<QueueResult<_>>()?;
                moved = entries.len();
                for (key, mut message) in entries {
                    dead.remove(key.as_slice()).map_err(store_err)?;
                    // Back as a fresh message: a new count of receives, visible now.
                    message.receive_count = 0;
                    message.receipt = None;
                    message.visible_at = now;
                    messages
                        .insert(key.as_slice(), encode_message(&message)?.as_slice())
                        .map_err(store_err)?;
                    ready
                        .insert(
                            ready_key(&queue, now, &message.id).as_slice(),
                            [].as_slice(),
                        )
                        .map_err(store_err)?;
                }
            }
            txn.commit().map_err(store_err)?;
            Ok(moved)
        })
        .await
    }

    async fn ping(&self) -> QueueResult<()> {
        let txn = self.db.begin_read().map_err(store_err)?;
        txn.open_table(MESSAGES).map_err(store_err)?;
        Ok(())
    }
}
