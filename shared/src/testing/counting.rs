//! Counting adapters: wrap the `Table`, `Blobs` and `Queue` of a platform and record every round trip, so tests can
//! hold a route to its storage budget ("`GET /v1/users/me`: 1 read, 0 writes") and prove that two paths do the same
//! number and kind of work (an unknown and a known email on login) without a stopwatch.
//!
//! ```ignore
//! let (platform, log) = counting::wrap(platform);
//! // ... run a request against `platform` ...
//! assert_eq!(log.take().summary(), Summary { reads: 1, ..Summary::default() });
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::Platform;
use crate::blobs::{BlobResult, Blobs, ObjectInfo, PresignedUpload, UploadRules};
use crate::queue::{Delivery, NewJob, Queue, QueueResult};
use crate::table::{Condition, Item, Key, Page, Query, Table, TableResult, TxOp, Update};

/// One round trip to a store, named by port and operation (`table.get`, `table.transact`, `queue.send`...).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Op {
    pub name: &'static str,
    /// How many items or messages it carried (keys of a batch get, operations of a transaction, jobs sent); 1
    /// for single-item operations.
    pub size: usize,
}

/// Round trips grouped the way a budget is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// `get`, `batch_get` and `query` calls.
    pub reads: usize,
    /// `put`, `update`, `delete` and `transact` calls (a transaction is one round trip).
    pub writes: usize,
    /// Queue `send` calls.
    pub sends: usize,
    /// Blob store calls of any kind (presigning included: on S3 it is local, but it stays visible here).
    pub blobs: usize,
}

/// The recorded operations, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ops(pub Vec<Op>);

impl Ops {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for op in &self.0 {
            match op.name {
                "table.get" | "table.batch_get" | "table.query" => s.reads += 1,
                "table.put" | "table.update" | "table.delete" | "table.transact" => s.writes += 1,
                "queue.send" => s.sends += 1,
                name if name.starts_with("blobs.") => s.blobs += 1,
                _ => {}
            }
        }
        s
    }

    /// The operation names in order, for comparing the *kind* of work two paths do.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|op| op.name).collect()
    }
}

/// Where the wrapped adapters record. Cloning shares the log.
#[derive(Clone, Debug, Default)]
pub struct OpLog(Arc<Mutex<Vec<Op>>>);

impl OpLog {
    fn record(&self, name: &'static str, size: usize) {
        if let Ok(mut ops) = self.0.lock() {
            ops.push(Op { name, size });
        }
    }

    /// Returns what was recorded since the last `take` and starts afresh.
    pub fn take(&self) -> Ops {
        Ops(self
            .0
            .lock()
            .map(|mut ops| std::mem::take(&mut *ops))
            .unwrap_or_default())
    }

    /// Forgets what was recorded so far.
    pub fn reset(&self) {
        self.take();
    }
}

/// Wraps a platform's table (also under its rate limiter), blobs and queue; everything else is shared with the
/// original.
pub fn wrap(platform: Platform) -> (Platform, OpLog) {
    let log = OpLog::default();
    let table: Arc<dyn Table> = Arc::new(CountingTable {
        inner: platform.table.clone(),
        log: log.clone(),
    });
    let wrapped = Platform {
        // Rate-limit counters are round trips too: the limiter counts on the wrapped table.
        limiter: Arc::new(platform.limiter.on_table(table.clone())),
        table,
        blobs: Arc::new(CountingBlobs {
            inner: platform.blobs.clone(),
            log: log.clone(),
        }),
        queue: Arc::new(CountingQueue {
            inner: platform.queue.clone(),
            log: log.clone(),
        }),
        ..platform
    };
    (wrapped, log)
}

/// A table that records each call before passing it on.
pub struct CountingTable {
    pub inner: Arc<dyn Table>,
    pub log: OpLog,
}

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, key: &Key) -> TableResult<Option<Item>> {
        self.log.record("table.get", 1);
        self.inner.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> TableResult<Vec<Item>> {
        self.log.record("table.batch_get", keys.len());
        self.inner.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Condition) -> TableResult<()> {
        self.log.record("table.put", 1);
        self.inner.put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Condition) -> TableResult<Item> {
        self.log.record("table.update", 1);
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> TableResult<()> {
        self.log.record("table.delete", 1);
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: Query) -> TableResult<Page> {
        self.log.record("table.query", 1);
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<TxOp>) -> TableResult<()> {
        self.log.record("table.transact", ops.len());
        self.inner.transact(ops).await
    }
    async fn sweep_expired(&self, limit: usize) -> TableResult<usize> {
        self.log.record("table.sweep_expired", 1);
        self.inner.sweep_expired(limit).await
    }
    async fn ping(&self) -> TableResult<()> {
        self.log.record("table.ping", 1);
        self.inner.ping().await
    }
}

/// A blob store that records each call before passing it on.
pub struct CountingBlobs {
    pub inner: Arc<dyn Blobs>,
    pub log: OpLog,
}

#[async_trait]
impl Blobs for CountingBlobs {
    async fn presign_upload(&self, key: &str, rules: &UploadRules) -> BlobResult<PresignedUpload> {
        self.log.record("blobs.presign_upload", 1);
        self.inner.presign_upload(key, rules).await
    }
    async fn presign_download(&self, key: &str, expires_in: Duration) -> BlobResult<String> {
        self.log.record("blobs.presign_download", 1);
        self.inner.presign_download(key, expires_in).await
    }
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<()> {
        self.log.record("blobs.put", 1);
        self.inner.put(key, body, content_type).await
    }
    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> BlobResult<()> {
        self.log.record("blobs.put", 1);
        self.inner.put_file(key, path, content_type).await
    }
    async fn get(&self, key: &str) -> BlobResult<Bytes> {
        self.log.record("blobs.get", 1);
        self.inner.get(key).await
    }
    async fn get_prefix(&self, key: &str, len: u64) -> BlobResult<Bytes> {
        self.log.record("blobs.get_prefix", 1);
        self.inner.get_prefix(key, len).await
    }
    async fn head(&self, key: &str) -> BlobResult<ObjectInfo> {
        self.log.record("blobs.head", 1);
        self.inner.head(key).await
    }
    async fn delete(&self, key: &str) -> BlobResult<()> {
        self.log.record("blobs.delete", 1);
        self.inner.delete(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> BlobResult<(Vec<ObjectInfo>, Option<String>)> {
        self.log.record("blobs.list", 1);
        self.inner.list(prefix, cursor, limit).await
    }
    async fn ping(&self) -> BlobResult<()> {
        self.log.record("blobs.ping", 1);
        self.inner.ping().await
    }
}

/// A queue that records each call before passing it on.
pub struct CountingQueue {
    pub inner: Arc<dyn Queue>,
    pub log: OpLog,
}

#[async_trait]
impl Queue for CountingQueue {
    async fn send(&self, queue: &str, jobs: Vec<NewJob>) -> QueueResult<Vec<String>> {
        self.log.record("queue.send", jobs.len());
        self.inner.send(queue, jobs).await
    }
    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> QueueResult<Vec<Delivery>> {
        // Pollers receive all the time; counting them would only make budgets noisy.
        self.inner.receive(queue, max, visibility).await
    }
    async fn ack(&self, queue: &str, receipt: &str) -> QueueResult<()> {
        self.inner.ack(queue, receipt).await
    }
    async fn retry_later(&self, queue: &str, receipt: &str, delay: Duration) -> QueueResult<()> {
        self.inner.retry_later(queue, receipt, delay).await
    }
    async fn dead_letters(&self, queue: &str, max: usize) -> QueueResult<Vec<Delivery>> {
        self.log.record("queue.dead_letters", 1);
        self.inner.dead_letters(queue, max).await
    }
    async fn dead_letter_count(&self, queue: &str) -> QueueResult<u64> {
        self.log.record("queue.dead_letter_count", 1);
        self.inner.dead_letter_count(queue).await
    }
    async fn redrive(&self, queue: &str, max: usize) -> QueueResult<usize> {
        self.log.record("queue.redrive", 1);
        self.inner.redrive(queue, max).await
    }
    async fn ping(&self) -> QueueResult<()> {
        self.log.record("queue.ping", 1);
        self.inner.ping().await
    }
}
