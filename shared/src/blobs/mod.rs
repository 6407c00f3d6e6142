//! The file storage port: presigned uploads whose size and type the store itself enforces, presigned downloads,
//! and plain object operations. Uploads are only trusted after [`confirm::confirm_upload`] re-checks the stored
//! object's size and magic bytes.

pub mod confirm;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod pending;
#[cfg(feature = "aws-s3")]
pub mod post_policy;
#[cfg(feature = "aws-s3")]
pub mod s3;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;
use time::OffsetDateTime;

/// Longest lifetime of any presigned URL we hand out.
pub const MAX_PRESIGN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// What an upload may contain: the store refuses anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRules {
    /// The exact `Content-Type` the client must send.
    pub content_type: String,
    /// Smallest accepted size in bytes.
    pub min_bytes: u64,
    /// Largest accepted size in bytes.
    pub max_bytes: u64,
    /// How long the upload form stays valid.
    pub expires_in: Duration,
}

/// A presigned upload: the client sends `multipart/form-data` with `method` to `url`, including every entry of
/// `fields` (in order) and then the file in a part named `file`. The same shape on S3 and on the dev server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PresignedUpload {
    pub method: String,
    pub url: String,
    pub fields: BTreeMap<String, String>,
    pub key: String,
    pub max_bytes: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Metadata of a stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub content_type: Option<String>,
}

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no such object")]
    NotFound,
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
}

pub type BlobResult<T> = Result<T, BlobError>;

/// The blob store. Implementations: [`s3::S3Blobs`] and [`embedded::EmbeddedBlobs`].
#[async_trait]
pub trait Blobs: Send + Sync + 'static {
    /// A form upload to `key` that the store accepts only if it matches `rules` and is sent before expiry.
    async fn presign_upload(&self, key: &str, rules: &UploadRules) -> BlobResult<PresignedUpload>;

    /// A URL that downloads `key` until `expires_in` has passed.
    async fn presign_download(&self, key: &str, expires_in: Duration) -> BlobResult<String>;

    /// Stores an object.
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<()>;

    /// Stores a local file as an object, streaming it: large objects (exports) never sit in memory.
    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> BlobResult<()>;

    /// Reads a whole object.
    async fn get(&self, key: &str) -> BlobResult<Bytes>;

    /// Reads the first `len` bytes of an object (fewer when it is shorter).
    async fn get_prefix(&self, key: &str, len: u64) -> BlobResult<Bytes>;

    /// Reads an object's metadata.
    async fn head(&self, key: &str) -> BlobResult<ObjectInfo>;

    /// Deletes an object; deleting an absent object succeeds.
    async fn delete(&self, key: &str) -> BlobResult<()>;

    /// Lists objects under a prefix in key order, one page at a time.
    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> BlobResult<(Vec<ObjectInfo>, Option<String>)>;

    /// Checks that the store is reachable (for readiness probes).
    async fn ping(&self) -> BlobResult<()>;
}

/// Object keys: 1..=1024 bytes of printable ASCII path segments, no `..`, no leading `/`. Both adapters enforce
/// this so a key can never escape the local folder or surprise S3.
pub fn validate_key(key: &str) -> BlobResult<()> {
    let ok = !key.is_empty()
        && key.len() <= 1024
        && !key.starts_with('/')
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(BlobError::Invalid(format!("bad object key {key:?}")))
    }
}

/// Checks presign rules for sanity before either adapter signs anything.
pub fn validate_rules(rules: &UploadRules) -> BlobResult<()> {
    if rules.min_bytes > rules.max_bytes || rules.max_bytes == 0 {
        return Err(BlobError::Invalid("size range is empty".into()));
    }
    if rules.expires_in.is_zero() || rules.expires_in > MAX_PRESIGN_TTL {
        return Err(BlobError::Invalid(
            "expiry must be between 1 s and 7 days".into(),
        ));
    }
    if rules.content_type.parse::<mime::Mime>().is_err() {
        return Err(BlobError::Invalid("content type is not a MIME type".into()));
    }
    Ok(())
}
