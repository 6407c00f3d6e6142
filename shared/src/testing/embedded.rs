//! Factories for the embedded adapters, each on its own temporary folder (kept alive by the returned guard).

use std::path::Path;
use std::sync::Arc;

use tempfile::TempDir;

use crate::blobs::embedded::{self, EmbeddedBlobs};
use crate::clock::{SharedClock, SystemClock};
use crate::mail::embedded::EmbeddedMailer;
use crate::queue::embedded::EmbeddedQueue;
use crate::secrets::{KeyRing, Purpose};
use crate::table::Item;
use crate::table::embedded::EmbeddedTable;

/// The signing secret of test blob stores.
pub const TEST_SECRET: &[u8] = b"lectern-test-secret-0123456789abcdef";

/// The blob URL key ring of test blob stores: [`TEST_SECRET`] as key `test`.
pub fn test_blob_keys() -> KeyRing {
    KeyRing::single(Purpose::BlobUrls, "test", TEST_SECRET).expect("a valid test key")
}
/// How many receives the test queues allow before dead-lettering (the AWS test queues' maxReceiveCount too).
pub const MAX_RECEIVES: u32 = 3;
/// Sender of test mail.
pub const MAIL_FROM: &str = "Lectern <noreply@lectern.test>";

fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("lectern-test-")
        .tempdir()
        .expect("creating a temp dir")
}

/// The database file inside a test folder.
pub fn db_path(dir: &Path) -> std::path::PathBuf {
    dir.join("lectern.redb")
}

/// A fresh embedded table.
pub fn table(clock: SharedClock) -> (Arc<EmbeddedTable>, TempDir) {
    let dir = temp_dir();
    let table =
        EmbeddedTable::open(&db_path(dir.path()), clock).expect("opening the embedded table");
    (Arc::new(table), dir)
}

/// A fresh embedded queue (in its own database file) allowing [`MAX_RECEIVES`] receives.
pub fn queue(clock: SharedClock) -> (Arc<EmbeddedQueue>, TempDir) {
    let dir = temp_dir();
    let table = EmbeddedTable::open(&db_path(dir.path()), clock.clone())
        .expect("opening the embedded database");
    let queue = EmbeddedQueue::new(table.database(), clock, MAX_RECEIVES)
        .expect("opening the embedded queue");
    (Arc::new(queue), dir)
}

/// A fresh local blob store whose URLs point nowhere (for tests that do not speak HTTP).
pub fn blobs(clock: SharedClock) -> (Arc<EmbeddedBlobs>, TempDir) {
    let dir = temp_dir();
    let blobs = EmbeddedBlobs::new(
        dir.path().join("blobs"),
        "http://127.0.0.1:9",
        &test_blob_keys(),
        clock,
    )
    .expect("opening the blob folder");
    (Arc::new(blobs), dir)
}

/// A fresh local blob store with its upload/download routes served on `127.0.0.1` (a free port); returns the store,
/// the base URL its presigned URLs point at, and the folder guard. The server runs until the runtime stops.
pub async fn serve_blobs(clock: SharedClock) -> (Arc<EmbeddedBlobs>, String, TempDir) {
    let dir = temp_dir();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a test port");
    let base_url = format!("http://{}", listener.local_addr().expect("local address"));
    let blobs = Arc::new(
        EmbeddedBlobs::new(
            dir.path().join("blobs"),
            &base_url,
            &test_blob_keys(),
            clock,
        )
        .expect("opening the blob folder"),
    );
    let app = embedded::router(blobs.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "test blob server stopped");
        }
    });
    (blobs, base_url, dir)
}

/// A fresh outbox mailer writing into the returned folder.
pub fn mailer() -> (Arc<EmbeddedMailer>, TempDir) {
    let dir = temp_dir();
    let mailer =
        EmbeddedMailer::new(dir.path().to_path_buf(), MAIL_FROM).expect("opening the outbox");
    (Arc::new(mailer), dir)
}

/// Every item stored in an embedded database file, expired or not, read straight from the file rather than
/// through the port, so a test can see the whole table (that an erasure left nothing behind, say). The embedded
/// table keeps each item as JSON in the redb table `items`. The file must not be open in this process.
pub fn all_items(path: &Path) -> Vec<Item> {
    use redb::{ReadableTable, TableDefinition};
    const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");
    // A server that just stopped may still be dropping its last handles on the file.
    let mut opened = EmbeddedTable::open(path, Arc::new(SystemClock));
    for _ in 0..100 {
        if opened.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        opened = EmbeddedTable::open(path, Arc::new(SystemClock));
    }
    let db = opened.expect("opening the database").database();
    let txn = db.begin_read().expect("a read transaction");
    let items = txn.open_table(ITEMS).expect("the items table");
    items
        .iter()
        .expect("reading items")
        .map(|entry| {
            let (_, value) = entry.expect("an item");
            serde_json::from_slice(value.value()).expect("items are stored as JSON")
        })
        .collect()
}
