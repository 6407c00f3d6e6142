//! Adapters built on first use. An AWS SDK client costs CPU and memory to build (its configuration, endpoint rules,
//! interceptors); a function whose usual request never touches a port — the users function reads profiles far more
//! often than it stores avatars or queues emails — should not pay for that port on every cold start. The table is
//! used by every request and is built eagerly.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::blobs::{BlobResult, Blobs, ObjectInfo, PresignedUpload, UploadRules};
use crate::mail::{Email, MailError, Mailer};
use crate::queue::{Delivery, NewJob, Queue, QueueResult};

/// A port whose adapter `make` builds the first time it is used, once.
pub struct Lazy<T: ?Sized> {
    adapter: OnceLock<Arc<T>>,
    make: Box<dyn Fn() -> Arc<T> + Send + Sync>,
}

impl<T: ?Sized> Lazy<T> {
    pub fn new(make: impl Fn() -> Arc<T> + Send + Sync + 'static) -> Self {
        Self {
            adapter: OnceLock::new(),
            make: Box::new(make),
        }
    }

    fn get(&self) -> &T {
        self.adapter.get_or_init(|| (self.make)())
    }

    /// Whether the adapter has been built yet.
    pub fn is_built(&self) -> bool {
        self.adapter.get().is_some()
    }
}

#[async_trait]
impl Blobs for Lazy<dyn Blobs> {
    async fn presign_upload(&self, key: &str, rules: &UploadRules) -> BlobResult<PresignedUpload> {
        self.get().presign_upload(key, rules).await
    }
    async fn presign_download(&self, key: &str, expires_in: Duration) -> BlobResult<String> {
        self.get().presign_download(key, expires_in).await
    }
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<()> {
        self.get().put(key, body, content_type).await
    }
    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> BlobResult<()> {
        self.get().put_file(key, path, content_type).await
    }
    async fn get(&self, key: &str) -> BlobResult<Bytes> {
        Lazy::get(self).get(key).await
    }
    async fn get_prefix(&self, key: &str, len: u64) -> BlobResult<Bytes> {
        self.get().get_prefix(key, len).await
    }
    async fn head(&self, key: &str) -> BlobResult<ObjectInfo> {
        self.get().head(key).await
    }
    async fn delete(&self, key: &str) -> BlobResult<()> {
        self.get().delete(key).await
    }
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> BlobResult<(Vec<ObjectInfo>, Option<String>)> {
        self.get().list(prefix, cursor, limit).await
    }
    async fn ping(&self) -> BlobResult<()> {
        self.get().ping().await
    }
}

#[async_trait]
impl Queue for Lazy<dyn Queue> {
    async fn send(&self, queue: &str, jobs: Vec<NewJob>) -> QueueResult<Vec<String>> {
        self.get().send(queue, jobs).await
    }
    async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: Duration,
    ) -> QueueResult<Vec<Delivery>> {
        self.get().receive(queue, max, visibility).await
    }
    async fn ack(&self, queue: &str, receipt: &str) -> QueueResult<()> {
        self.get().ack(queue, receipt).await
    }
    async fn retry_later(&self, queue: &str, receipt: &str, delay: Duration) -> QueueResult<()> {
        self.get().retry_later(queue, receipt, delay).await
    }
    async fn dead_letters(&self, queue: &str, max: usize) -> QueueResult<Vec<Delivery>> {
        self.get().dead_letters(queue, max).await
    }
    async fn dead_letter_count(&self, queue: &str) -> QueueResult<u64> {
        self.get().dead_letter_count(queue).await
    }
    async fn redrive(&self, queue: &str, max: usize) -> QueueResult<usize> {
        self.get().redrive(queue, max).await
    }
    async fn ping(&self) -> QueueResult<()> {
        self.get().ping().await
    }
}

#[async_trait]
impl Mailer for Lazy<dyn Mailer> {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        self.get().send(email).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::platform::absent::Absent;

    #[tokio::test]
    async fn the_adapter_is_built_on_first_use_and_only_once() {
        let built = Arc::new(AtomicUsize::new(0));
        let counter = built.clone();
        let queue = Lazy::<dyn Queue>::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Arc::new(Absent("a test queue"))
        });
        assert!(!queue.is_built());
        assert_eq!(built.load(Ordering::SeqCst), 0, "nothing is built up front");
        let _ = queue.ping().await;
        let _ = queue.ping().await;
        assert!(queue.is_built());
        assert_eq!(built.load(Ordering::SeqCst), 1);
    }
}
