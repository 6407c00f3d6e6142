//! Blobs in a local folder, with presigned uploads and downloads served by the dev server (see [`router`]).
//!
//! Each object is one file under `<root>/objects/`: key segments become folders and the last segment a file named
//! `<segment>~obj` (`~` never occurs in keys, so `a` and `a/b` can coexist as on S3). The file starts with a short
//! header holding the object's metadata, then its bytes, so content and content type are replaced together by a
//! single rename; writes go to `<root>/tmp/` first, so nobody ever sees half an object.
//!
//! Presigned uploads mirror an S3 browser POST: a signed policy (key, content type, size range, expiry) travels in
//! the form fields, and the upload route enforces it while streaming, never holding more than the allowed size.

use std::collections::{BTreeMap, HashMap};
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{
    BlobError, BlobResult, Blobs, MAX_PRESIGN_TTL, ObjectInfo, PresignedUpload, UploadRules,
    validate_key, validate_rules,
};
use crate::clock::SharedClock;
use crate::http::problem::Problem;
use crate::secrets::{KeyRing, derive};

/// Largest upload the local store accepts (the policy's own maximum is enforced while streaming).
pub const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
/// Route path of presigned uploads.
pub const UPLOAD_PATH: &str = "/_blobs/upload";
/// Route path of presigned downloads.
pub const OBJECT_PATH: &str = "/_blobs/object";

/// Room for the form fields around the file part.
const FORM_OVERHEAD: usize = 64 * 1024;
/// Largest text field accepted in an upload form.
const MAX_FIELD_BYTES: usize = 8 * 1024;
const MAGIC: &[u8; 7] = b"LBLOB1\n";
const MAX_META_BYTES: u32 = 64 * 1024;
const OBJECT_SUFFIX: &str = "~obj";
/// File systems cap names at 255 bytes; S3 segments may be longer, local ones may not.
const MAX_SEGMENT_BYTES: usize = 200;
const MAX_LIST_LIMIT: usize = 1000;

type HmacSha256 = Hmac<Sha256>;

/// What a presigned upload allows, signed into the form's `policy` field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Policy {
    key: String,
    content_type: String,
    min: u64,
    max: u64,
    /// Epoch seconds; the form is refused from this second on.
    expires: i64,
}

/// Metadata kept in an object's header.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Meta {
    content_type: String,
}

/// The local blob store.
pub struct EmbeddedBlobs {
    root: PathBuf,
    public_url: String,
    /// Key id → derived signing key, the signing key first (signatures name their key, so a rotated ring still
    /// accepts the forms and URLs handed out before).
    keys: Vec<(String, [u8; 32])>,
    clock: SharedClock,
}

impl EmbeddedBlobs {
    /// Creates the folder layout under `root`. `public_url` is where clients reach the dev server (signed URLs
    /// point at it); `keys` (the blob URL key ring) sign upload policies and download URLs.
    pub fn new(
        root: PathBuf,
        public_url: &str,
        keys: &KeyRing,
        clock: SharedClock,
    ) -> BlobResult<Self> {
        let keys = keys
            .iter()
            .map(|(kid, material)| (kid.to_string(), derive(material, "lectern/blob-urls/v1")))
            .collect();
        let public_url = public_url.trim_end_matches('/').to_string();
        url::Url::parse(&public_url)
            .map_err(|e| BlobError::Invalid(format!("public url {public_url:?}: {e}")))?;
        for dir in [root.join("objects"), root.join("tmp")] {
            std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        }
        Ok(Self {
            root,
            public_url,
            keys,
            clock,
        })
    }

    fn mac(key: &[u8; 32], kid: &str, purpose: &str, parts: &[&str]) -> HmacSha256 {
        // A key of any length is accepted by HMAC, so this cannot fail.
        let mut mac = match HmacSha256::new_from_slice(key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(kid.as_bytes());
        mac.update(b"\n");
        mac.update(purpose.as_bytes());
        for part in parts {
            mac.update(b"\n");
            mac.update(part.as_bytes());
        }
        mac
    }

    /// `<key id>.<hex signature>` under the signing key.
    fn sign(&self, purpose: &str, parts: &[&str]) -> String {
        let (kid, key) = &self.keys[0];
        let tag = Self::mac(key, kid, purpose, parts).finalize().into_bytes();
        format!("{kid}.{}", hex::encode(tag))
    }

    /// Constant-time check of a signature made by [`EmbeddedBlobs::sign`] with any key of the ring.
    fn verify(&self, purpose: &str, parts: &[&str], signature: &str) -> bool {
        let Some((kid, hex_tag)) = signature.split_once('.') else {
            return false;
        };
        let Some((_, key)) = self.keys.iter().find(|(k, _)| k == kid) else {
            return false;
        };
        match hex::decode(hex_tag) {
            Ok(bytes) => Self::mac(key, kid, purpose, parts)
                .verify_slice(&bytes)
                .is_ok(),
            Err(_) => false,
        }
    }

    fn object_path(&self, key: &str) -> BlobResult<PathBuf> {
        validate_key(key)?;
        let mut path = self.root.join("objects");
        let segments: Vec<&str> = key.split('/').collect();
        for (i, segment) in segments.iter().enumerate() {
            if segment.len() > MAX_SEGMENT_BYTES {
                return Err(BlobError::Invalid(format!(
                    "key segments are limited to {MAX_SEGMENT_BYTES} bytes locally"
                )));
            }
            if i + 1 == segments.len() {
                path.push(format!("{segment}{OBJECT_SUFFIX}"));
            } else {
                path.push(segment);
            }
        }
        Ok(path)
    }

    fn temp_path(&self) -> PathBuf {
        self.root.join("tmp").join(crate::ids::new_id())
    }

    /// Writes an object from `source`: to a temp file first, then one rename into place, so nobody ever sees
    /// half of it (the one way `put` and `put_file` store).
    async fn store(
        &self,
        key: &str,
        content_type: &str,
        source: &mut (impl tokio::io::AsyncRead + Unpin),
    ) -> BlobResult<()> {
        let target = self.object_path(key)?;
        if content_type.parse::<mime::Mime>().is_err() {
            return Err(BlobError::Invalid("content type is not a MIME type".into()));
        }
        let temp_path = self.temp_path();
        let mut temp = TempFile::create(temp_path.clone(), content_type)
            .await
            .map_err(|e| io_err(&temp_path, e))?;
        tokio::io::copy(source, &mut temp.file)
            .await
            .map_err(|e| io_err(&temp_path, e))?;
        temp.finish().await.map_err(|e| io_err(&temp_path, e))?;
        self.publish(&temp.path, &target).await?;
        temp.keep();
        Ok(())
    }

    /// Moves a finished temp file into place, creating the key's folders.
    async fn publish(&self, temp: &Path, target: &Path) -> BlobResult<()> {
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_err(parent, e))?;
        }
        tokio::fs::rename(temp, target)
            .await
            .map_err(|e| io_err(target, e))
    }

    /// Opens an object positioned at its first content byte; returns its metadata and content size.
    async fn open_object(&self, key: &str) -> BlobResult<(tokio::fs::File, Meta, u64)> {
        let path = self.object_path(key)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BlobError::NotFound),
            Err(e) => return Err(io_err(&path, e)),
        };
        let total = file.metadata().await.map_err(|e| io_err(&path, e))?.len();
        let mut fixed = [0u8; 11];
        file.read_exact(&mut fixed)
            .await
            .map_err(|e| io_err(&path, e))?;
        let meta_len = u32::from_be_bytes([fixed[7], fixed[8], fixed[9], fixed[10]]);
        if &fixed[..7] != MAGIC || meta_len > MAX_META_BYTES {
            return Err(BlobError::Unavailable(format!(
                "{} is not a blob file",
                path.display()
            )));
        }
        let mut meta = vec![0u8; meta_len as usize];
        file.read_exact(&mut meta)
            .await
            .map_err(|e| io_err(&path, e))?;
        let meta: Meta = serde_json::from_slice(&meta).map_err(|e| {
            BlobError::Unavailable(format!("{} has a corrupt header: {e}", path.display()))
        })?;
        let header = 11 + u64::from(meta_len);
        file.seek(SeekFrom::Start(header))
            .await
            .map_err(|e| io_err(&path, e))?;
        Ok((file, meta, total.saturating_sub(header)))
    }

    /// Stores the body of a presigned upload's `file` part, enforcing the policy's size while streaming.
    async fn store_upload(&self, policy: &Policy, mut field: Field<'_>) -> Result<(), Problem> {
        let target = self
            .object_path(&policy.key)
            .map_err(|e| policy_problem(e.to_string()))?;
        let mut temp = TempFile::create(self.temp_path(), &policy.content_type)
            .await
            .map_err(internal)?;
        let mut size: u64 = 0;
        while let Some(chunk) = field.chunk().await.map_err(multipart_problem)? {
            size = size.saturating_add(chunk.len() as u64);
            if size > policy.max {
                // Stop reading at once: the rest of the body is never buffered or stored.
                return Err(too_large(policy.max));
            }
            temp.file.write_all(&chunk).await.map_err(internal)?;
        }
        if size < policy.min {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "upload-too-small",
                "Upload is too small",
            )
            .detail(format!("the file must be at least {} bytes", policy.min)));
        }
        temp.finish().await.map_err(internal)?;
        self.publish(&temp.path, &target).await.map_err(|e| {
            tracing::error!(error = %e, "storing upload");
            Problem::internal()
        })?;
        temp.keep();
        tracing::info!(key = %policy.key, size, "presigned upload stored");
        Ok(())
    }

    /// Checks the signed policy of an upload form against its other fields and the clock.
    fn check_policy(&self, fields: &BTreeMap<String, String>) -> Result<Policy, Problem> {
        let field = |name: &str| {
            fields
                .get(name)
                .ok_or_else(|| policy_problem(format!("the form has no {name} field")))
        };
        let policy_b64 = field("policy")?;
        let signature = field("x-lectern-signature")?;
        if !self.verify("upload", &[policy_b64], signature) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "upload-signature",
                "Upload signature is invalid",
            )
            .detail("the policy was not signed by this server"));
        }
        let policy: Policy = URL_SAFE_NO_PAD
            .decode(policy_b64)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| policy_problem("the policy does not decode".into()))?;
        if self.clock.epoch_seconds() >= policy.expires {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "upload-expired",
                "Upload form has expired",
            )
            .detail("request a new upload"));
        }
        if field("key")? != &policy.key {
            return Err(policy_problem("key does not match the policy".into()));
        }
        if field("Content-Type")? != &policy.content_type {
            return Err(policy_problem(
                "Content-Type does not match the policy".into(),
            ));
        }
        Ok(policy)
    }

    async fn accept_upload(&self, mut form: Multipart) -> Result<(), Problem> {
        let mut fields = BTreeMap::new();
        loop {
            let Some(mut field) = form.next_field().await.map_err(multipart_problem)? else {
                return Err(malformed("the form has no file part"));
            };
            let name = field.name().unwrap_or_default().to_string();
            if name == "file" {
                let policy = self.check_policy(&fields)?;
                return self.store_upload(&policy, field).await;
            }
            if fields.len() >= 32 {
                return Err(malformed("too many form fields"));
            }
            let value = read_text_field(&mut field).await?;
            fields.insert(name, value);
        }
    }

    fn serve_download(&self, params: &HashMap<String, String>) -> Result<String, Problem> {
        let forged = || {
            Problem::new(
                StatusCode::FORBIDDEN,
                "download-signature",
                "Download link is invalid",
            )
            .detail("the link was not signed by this server")
        };
        let (Some(key), Some(expires), Some(signature)) = (
            params.get("key"),
            params.get("expires"),
            params.get("signature"),
        ) else {
            return Err(forged());
        };
        if !self.verify("download", &[key, expires], signature) {
            return Err(forged());
        }
        let expires: i64 = expires.parse().map_err(|_| forged())?;
        if self.clock.epoch_seconds() >= expires {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "download-expired",
                "Download link has expired",
            )
            .detail("request a new link"));
        }
        Ok(key.clone())
    }

    async fn download(&self, params: HashMap<String, String>) -> Result<Response, Problem> {
        let key = self.serve_download(&params)?;
        let (file, meta, size) = match self.open_object(&key).await {
            Ok(found) => found,
            Err(BlobError::NotFound) => return Err(Problem::not_found("no such object")),
            Err(BlobError::Invalid(detail)) => return Err(Problem::validation(detail)),
            Err(e) => {
                tracing::error!(error = %e, "reading object");
                return Err(Problem::internal());
            }
        };
        let stream = futures::stream::try_unfold(file, |mut file| async move {
            let mut buf = vec![0u8; 64 * 1024];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), file)))
        });
        let mut response = Body::from_stream(stream).into_response();
        let headers = response.headers_mut();
        let content_type = HeaderValue::from_str(&meta.content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
        headers.insert(header::CONTENT_TYPE, content_type);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=60"),
        );
        Ok(response)
    }

    /// Every key under `dir` (a folder of `objects/`), with `key_prefix` being that folder's key form.
    fn walk(dir: &Path, key_prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() {
                Self::walk(&entry.path(), &format!("{key_prefix}{name}/"), out)?;
            } else if let Some(segment) = name.strip_suffix(OBJECT_SUFFIX) {
                out.push(format!("{key_prefix}{segment}"));
            }
        }
        Ok(())
    }
}

/// A temp file holding an object being written; removed on drop unless kept (also when a request is cancelled).
struct TempFile {
    path: PathBuf,
    file: tokio::fs::File,
    keep: bool,
}

impl TempFile {
    async fn create(path: PathBuf, content_type: &str) -> std::io::Result<Self> {
        let file = tokio::fs::File::create(&path).await?;
        let mut temp = Self {
            path,
            file,
            keep: false,
        };
        let meta = serde_json::to_vec(&Meta {
            content_type: content_type.to_string(),
        })
        .map_err(std::io::Error::other)?;
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&(meta.len() as u32).to_be_bytes());
        header.extend_from_slice(&meta);
        temp.file.write_all(&header).await?;
        Ok(temp)
    }

    /// Flushes the bytes to disk so the rename never publishes an empty or partial file after a crash.
    async fn finish(&mut self) -> std::io::Result<()> {
        self.file.flush().await?;
        self.file.sync_all().await
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn io_err(path: &Path, e: std::io::Error) -> BlobError {
    tracing::error!(path = %path.display(), error = %e, "blob folder failure");
    BlobError::Unavailable(format!("{}: {e}", path.display()))
}

fn internal(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "storing upload");
    Problem::internal()
}

fn policy_problem(detail: String) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "upload-policy",
        "Upload does not match its policy",
    )
    .detail(detail)
}

fn malformed(detail: &str) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "upload-malformed",
        "Upload form is malformed",
    )
    .detail(detail)
}

fn too_large(max: u64) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "upload-too-large",
        "Upload is too large",
    )
    .detail(format!("the file may be at most {max} bytes"))
}

fn multipart_problem(e: axum::extract::multipart::MultipartError) -> Problem {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(MAX_UPLOAD_BYTES)
    } else {
        malformed(&e.body_text())
    }
}

async fn read_text_field(field: &mut Field<'_>) -> Result<String, Problem> {
    let mut value = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_problem)? {
        if value.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(malformed("a form field is too long"));
        }
        value.extend_from_slice(&chunk);
    }
    String::from_utf8(value).map_err(|_| malformed("a form field is not UTF-8"))
}

fn expiry(now: OffsetDateTime, expires_in: Duration) -> BlobResult<OffsetDateTime> {
    if expires_in.is_zero() || expires_in > MAX_PRESIGN_TTL {
        return Err(BlobError::Invalid(
            "expiry must be between 1 s and 7 days".into(),
        ));
    }
    let secs = i64::try_from(expires_in.as_secs().max(1)).unwrap_or(i64::MAX);
    // Whole seconds: the signed expiry is compared in epoch seconds.
    Ok(now.replace_nanosecond(0).unwrap_or(now) + time::Duration::seconds(secs))
}

#[async_trait]
impl Blobs for EmbeddedBlobs {
    async fn presign_upload(&self, key: &str, rules: &UploadRules) -> BlobResult<PresignedUpload> {
        self.object_path(key)?;
        validate_rules(rules)?;
        if rules.max_bytes > MAX_UPLOAD_BYTES {
            return Err(BlobError::Invalid(format!(
                "uploads are limited to {MAX_UPLOAD_BYTES} bytes"
            )));
        }
        let expires_at = expiry(self.clock.now(), rules.expires_in)?;
        let policy = Policy {
            key: key.to_string(),
            content_type: rules.content_type.clone(),
            min: rules.min_bytes,
            max: rules.max_bytes,
            expires: expires_at.unix_timestamp(),
        };
        let policy_json =
            serde_json::to_vec(&policy).map_err(|e| BlobError::Invalid(e.to_string()))?;
        let policy_b64 = URL_SAFE_NO_PAD.encode(policy_json);
        let signature = self.sign("upload", &[&policy_b64]);
        let fields = BTreeMap::from([
            ("key".to_string(), key.to_string()),
            ("Content-Type".to_string(), rules.content_type.clone()),
            ("policy".to_string(), policy_b64),
            ("x-lectern-signature".to_string(), signature),
        ]);
        Ok(PresignedUpload {
            method: "POST".into(),
            url: format!("{}{UPLOAD_PATH}", self.public_url),
            fields,
            key: key.to_string(),
            max_bytes: rules.max_bytes,
            expires_at,
        })
    }

    async fn presign_download(&self, key: &str, expires_in: Duration) -> BlobResult<String> {
        self.object_path(key)?;
        let expires = expiry(self.clock.now(), expires_in)?
            .unix_timestamp()
            .to_string();
        let signature = self.sign("download", &[key, &expires]);
        let mut url = url::Url::parse(&format!("{}{OBJECT_PATH}", self.public_url))
            .map_err(|e| BlobError::Invalid(format!("public url: {e}")))?;
        url.query_pairs_mut()
            .append_pair("key", key)
            .append_pair("expires", &expires)
            .append_pair("signature", &signature);
        Ok(url.into())
    }

    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<()> {
        self.store(key, content_type, &mut &body[..]).await
    }

    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> BlobResult<()> {
        let mut source = tokio::fs::File::open(path)
            .await
            .map_err(|e| io_err(path, e))?;
        self.store(key, content_type, &mut source).await
    }

    async fn get(&self, key: &str) -> BlobResult<Bytes> {
        let (mut file, _, size) = self.open_object(key).await?;
        let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut buf)
            .await
            .map_err(|e| BlobError::Unavailable(e.to_string()))?;
        Ok(Bytes::from(buf))
    }

    async fn get_prefix(&self, key: &str, len: u64) -> BlobResult<Bytes> {
        let (file, _, _) = self.open_object(key).await?;
        let mut buf = Vec::new();
        file.take(len)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| BlobError::Unavailable(e.to_string()))?;
        Ok(Bytes::from(buf))
    }

    async fn head(&self, key: &str) -> BlobResult<ObjectInfo> {
        let (_, meta, size) = self.open_object(key).await?;
        Ok(ObjectInfo {
            key: key.to_string(),
            size,
            content_type: Some(meta.content_type),
        })
    }

    async fn delete(&self, key: &str) -> BlobResult<()> {
        let path = self.object_path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> BlobResult<(Vec<ObjectInfo>, Option<String>)> {
        if limit == 0 || limit > MAX_LIST_LIMIT {
            return Err(BlobError::Invalid(format!(
                "limit must be 1..={MAX_LIST_LIMIT}"
            )));
        }
        let bad_prefix = || BlobError::Invalid(format!("bad prefix {prefix:?}"));
        if !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=".contains(&b))
            || prefix.starts_with('/')
        {
            return Err(bad_prefix());
        }
        // Only the folder holding every possible match is walked.
        let folder = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        let mut dir = self.root.join("objects");
        if !folder.is_empty() {
            validate_key(folder).map_err(|_| bad_prefix())?;
            dir.extend(folder.split('/'));
        }
        let after = match cursor {
            None => None,
            Some(c) => {
                let key = URL_SAFE_NO_PAD
                    .decode(&c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .filter(|k| k.starts_with(prefix))
                    .ok_or_else(|| {
                        BlobError::Invalid("cursor is not valid for this listing".into())
                    })?;
                Some(key)
            }
        };
        let key_prefix = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        let walked = dir.clone();
        let mut keys = tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            Self::walk(&walked, &key_prefix, &mut keys).map(|_| keys)
        })
        .await
        .map_err(|e| BlobError::Unavailable(e.to_string()))?
        .map_err(|e| io_err(&dir, e))?;
        keys.retain(|k| k.starts_with(prefix) && after.as_ref().is_none_or(|a| k > a));
        keys.sort();
        let more = keys.len() > limit;
        keys.truncate(limit);
        let mut infos = Vec::with_capacity(keys.len());
        for key in keys {
            match self.head(&key).await {
                Ok(info) => infos.push(info),
                // Deleted while listing: leave it out, as a later listing would.
                Err(BlobError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        let next = if more {
            infos.last().map(|i| URL_SAFE_NO_PAD.encode(&i.key))
        } else {
            None
        };
        Ok((infos, next))
    }

    async fn ping(&self) -> BlobResult<()> {
        let probe = self.temp_path();
        tokio::fs::write(&probe, b"ping")
            .await
            .map_err(|e| io_err(&probe, e))?;
        tokio::fs::remove_file(&probe)
            .await
            .map_err(|e| io_err(&probe, e))
    }
}

/// The dev server's routes for presigned uploads and downloads of `blobs`.
pub fn router(blobs: Arc<EmbeddedBlobs>) -> Router {
    let body_limit = usize::try_from(MAX_UPLOAD_BYTES)
        .unwrap_or(usize::MAX)
        .saturating_add(FORM_OVERHEAD);
    Router::new()
        .route(
            UPLOAD_PATH,
            post(upload).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route(OBJECT_PATH, get(download))
        .with_state(blobs)
}

async fn upload(
    State(blobs): State<Arc<EmbeddedBlobs>>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let form = match form {
        Ok(form) => form,
        Err(rejection) => return malformed(&rejection.body_text()).into_response(),
    };
    match blobs.accept_upload(form).await {
        // S3 answers a browser POST with 204 unless asked otherwise.
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(problem) => problem.into_response(),
    }
}

async fn download(
    State(blobs): State<Arc<EmbeddedBlobs>>,
    params: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // Unparseable parameters cannot carry a valid signature.
    let params = params.map(|Query(p)| p).unwrap_or_default();
    match blobs.download(params).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}
