//! The adapter of a port whose real adapters were left out of this binary (see the cargo features of
//! lectern-shared). Every call answers "unavailable", naming what is missing, so a function that calls a port it
//! never declared fails loudly instead of linking an SDK it does not need.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::blobs::{BlobError, BlobResult, Blobs, ObjectInfo, PresignedUpload, UploadRules};
use crate::mail::{Email, MailError, Mailer};
use crate::queue::{Delivery, NewJob, Queue, QueueError, QueueResult};
use crate::table::{
    Condition, Item, Key, Page, Query, Table, TableError, TableResult, TxOp, Update,
};

/// A port without an adapter; holds what is missing ("the S3 blob store (feature aws-s3)").
pub struct Absent(pub &'static str);

impl Absent {
    fn why(&self) -> String {
        format!("this function was built without {}", self.0)
    }
}

#[async_trait]
impl Table for Absent {
    async fn get(&self, _: &Key) -> TableResult<Option<Item>> {
        Err(TableError::Unavailable(self.why()))
    }
    async fn batch_get(&self, _: &[Key]) -> TableResult<Vec<Item>> {
        Err(TableError::Unavailable(self.why()))
    }
    async fn put(&self, _: Item, _: Condition) -> TableResult<()> {
        Err(TableError::Unavailable(self.why()))
    }
    async fn update(&self, _: &Key, _: Update, _: Condition) -> TableResult<Item> {
        Err(TableError::Unavailable(self.why()))
    }
    async fn delete(&self, _: &Key, _: Condition) -> TableResult<()> {
        Err(TableError::Unavailable(self.why()))
    }
    async fn query(&self, _: Query) -> TableResult<Page> {
        Err(TableError::Unavailable(self.why()))
    }
    async fn transact(&self, _: Vec<TxOp>) -> TableResult<()> {
        Err(TableError::Unavailable(self.why()))
    }
    async fn sweep_expired(&self, _: usize) -> TableResult<usize> {
        Err(TableError::Unavailable(self.why()))
    }
    async fn ping(&self) -> TableResult<()> {
        Err(TableError::Unavailable(self.why()))
    }
}

#[async_trait]
impl Blobs for Absent {
    async fn presign_upload(&self, _: &str, _: &UploadRules) -> BlobResult<PresignedUpload> {
        Err(BlobError::Unavailable(self.why()))
    }
    async fn presign_download(&self, _: &str, _: Duration) -> BlobResult<String> {
        Err(BlobError::Unavailable(self.why()))
    }
    async fn put(&self, _: &str, _: Bytes, _: &str) -> BlobResult<()> {
        Err(BlobError::Unavailable(self.why()))
    }
    async fn put_file(&self, _: &str, _: &std::path::Path, _: &str) -> BlobResult<()> {
        Err(BlobError::Unavailable(self.why()))
    }
    async fn get(&self, _: &str) -> BlobResult<Bytes> {
        Err(BlobError::Unavailable(self.why()))
    }
    async fn get_prefix(&self, _: &str, _: u64) -> BlobResult<Bytes> {
        Err(BlobError::Unavailable(self.why()))
    }
    async fn head(&self, _: &str) -> BlobResult<ObjectInfo> {
        Err(BlobError::Unavailable(self.why()))
    }
    async fn delete(&self, _: &str) -> BlobResult<()> {
        Err(BlobError::Unavailable(self.why()))
    }
    async fn list(
        &self,
        _: &str,
        _: Option<String>,
        _: usize,
    ) -> BlobResult<(Vec<ObjectInfo>, Option<String>)> {
        Err(BlobError::Unavailable(self.why()))
    }
    async fn ping(&self) -> BlobResult<()> {
        Err(BlobError::Unavailable(self.why()))
    }
}

#[async_trait]
impl Queue for Absent {
    async fn send(&self, _: &str, _: Vec<NewJob>) -> QueueResult<Vec<String>> {
        Err(QueueError::Unavailable(self.why()))
    }
    async fn receive(&self, _: &str, _: usize, _: Duration) -> QueueResult<Vec<Delivery>> {
        Err(QueueError::Unavailable(self.why()))
    }
    async fn ack(&self, _: &str, _: &str) -> QueueResult<()> {
        Err(QueueError::Unavailable(self.why()))
    }
    async fn retry_later(&self, _: &str, _: &str, _: Duration) -> QueueResult<()> {
        Err(QueueError::Unavailable(self.why()))
    }
    async fn dead_letters(&self, _: &str, _: usize) -> QueueResult<Vec<Delivery>> {
        Err(QueueError::Unavailable(self.why()))
    }
    async fn dead_letter_count(&self, _: &str) -> QueueResult<u64> {
        Err(QueueError::Unavailable(self.why()))
    }
    async fn redrive(&self, _: &str, _: usize) -> QueueResult<usize> {
        Err(QueueError::Unavailable(self.why()))
    }
    async fn ping(&self) -> QueueResult<()> {
        Err(QueueError::Unavailable(self.why()))
    }
}

#[async_trait]
impl Mailer for Absent {
    async fn send(&self, _: &Email) -> Result<String, MailError> {
        Err(MailError::Unavailable(self.why()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_port_answers_unavailable_naming_what_is_missing() {
        let absent = Absent("the S3 blob store (feature aws-s3)");
        let err = Blobs::ping(&absent).await.unwrap_err().to_string();
        assert!(err.contains("built without the S3 blob store"), "{err}");
        assert!(matches!(
            Table::get(&absent, &Key::new("a", "b")).await,
            Err(TableError::Unavailable(_))
        ));
        assert!(matches!(
            Queue::ping(&absent).await,
            Err(QueueError::Unavailable(_))
        ));
    }
}
