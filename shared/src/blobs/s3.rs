//! The [`Blobs`] port on S3. Uploads use signed POST policies (see [`super::post_policy`]) because they, unlike
//! presigned PUTs, let S3 itself refuse objects of the wrong size or type.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::post_policy::{self, PolicyInput};
use super::{
    BlobError, BlobResult, Blobs, MAX_PRESIGN_TTL, ObjectInfo, PresignedUpload, UploadRules,
    validate_key, validate_rules,
};
use crate::clock::SharedClock;
use crate::config::AwsConfig;

/// Most keys one ListObjectsV2 call returns.
const MAX_LIST: usize = 1000;

/// Objects in one S3 bucket.
pub struct S3Blobs {
    client: Client,
    bucket: String,
    region: String,
    /// Form action base (`{endpoint}` or `https://s3.{region}.amazonaws.com`) when path-style, else `None`.
    path_style_base: Option<String>,
    credentials: Option<SharedCredentialsProvider>,
    clock: SharedClock,
}

impl S3Blobs {
    /// Builds the adapter from the shared SDK configuration; expiry of presigned URLs follows `clock`.
    pub fn new(sdk: &aws_config::SdkConfig, aws: &AwsConfig, clock: SharedClock) -> Self {
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(aws.s3_path_style)
            .build();
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_string());
        let endpoint = aws
            .endpoint
            .clone()
            .or_else(|| sdk.endpoint_url().map(str::to_string));
        let path_style_base = match endpoint {
            Some(e) => Some(e.trim_end_matches('/').to_string()),
            None if aws.s3_path_style => Some(format!("https://s3.{region}.amazonaws.com")),
            None => None,
        };
        Self {
            client: Client::from_conf(conf),
            bucket: aws.bucket.clone(),
            region,
            path_style_base,
            credentials: sdk.credentials_provider(),
            clock,
        }
    }

    fn form_url(&self) -> String {
        match &self.path_style_base {
            Some(base) => format!("{base}/{}", self.bucket),
            None => format!("https://{}.s3.{}.amazonaws.com", self.bucket, self.region),
        }
    }
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn presign_upload(&self, key: &str, rules: &UploadRules) -> BlobResult<PresignedUpload> {
        validate_key(key)?;
        validate_rules(rules)?;
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| BlobError::Unavailable("no AWS credentials configured".into()))?;
        let creds = provider.provide_credentials().await.map_err(|e| {
            tracing::error!(error = %e, "could not load AWS credentials");
            BlobError::Unavailable("could not load AWS credentials".into())
        })?;
        // Whole seconds: the policy and the returned expiry must name the same instant.
        let now = self
            .clock
            .now()
            .replace_nanosecond(0)
            .map_err(|e| BlobError::Unavailable(e.to_string()))?;
        let expires_at = now + rules.expires_in;
        let signed = post_policy::sign(&PolicyInput {
            bucket: &self.bucket,
            key,
            content_type: &rules.content_type,
            min_bytes: rules.min_bytes,
            max_bytes: rules.max_bytes,
            region: &self.region,
            access_key_id: creds.access_key_id(),
            secret_access_key: creds.secret_access_key(),
            session_token: creds.session_token(),
            now,
            expires_at,
        })
        .map_err(|e| BlobError::Unavailable(format!("could not format policy dates: {e}")))?;
        Ok(PresignedUpload {
            method: "POST".into(),
            url: self.form_url(),
            fields: signed.fields,
            key: key.to_string(),
            max_bytes: rules.max_bytes,
            expires_at,
        })
    }

    async fn presign_download(&self, key: &str, expires_in: Duration) -> BlobResult<String> {
        validate_key(key)?;
        if expires_in.is_zero() || expires_in > MAX_PRESIGN_TTL {
            return Err(BlobError::Invalid(
                "expiry must be between 1 s and 7 days".into(),
            ));
        }
        let config = PresigningConfig::builder()
            .start_time(SystemTime::from(self.clock.now()))
            .expires_in(expires_in)
            .build()
            .map_err(|e| BlobError::Invalid(format!("presigning: {e}")))?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| map_err("GetObject(presign)", e))?;
        Ok(req.uri().to_string())
    }

    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> BlobResult<()> {
        validate_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| map_err("PutObject", e))?;
        Ok(())
    }

    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
    ) -> BlobResult<()> {
        validate_key(key)?;
        // Streamed from disk by the SDK (one PutObject, up to S3's 5 GB; exports are far below that).
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| BlobError::Unavailable(format!("reading {}: {e}", path.display())))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| map_err("PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> BlobResult<Bytes> {
        validate_key(key)?;
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_err("GetObject", e))?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Unavailable(format!("reading object: {e}")))?;
        Ok(body.into_bytes())
    }

    async fn get_prefix(&self, key: &str, len: u64) -> BlobResult<Bytes> {
        validate_key(key)?;
        if len == 0 {
            // `bytes=0--1` is not a range; still report a missing object as missing.
            self.head(key).await?;
            return Ok(Bytes::new());
        }
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=0-{}", len - 1))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            // S3 answers 416 for a range on an empty object: its prefix is empty.
            Err(e) if e.code() == Some("InvalidRange") => return Ok(Bytes::new()),
            Err(e) => return Err(map_err("GetObject(range)", e)),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Unavailable(format!("reading object: {e}")))?;
        let mut bytes = body.into_bytes();
        // A store that ignores Range sends everything; never hand back more than asked.
        bytes.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        Ok(bytes)
    }

    async fn head(&self, key: &str) -> BlobResult<ObjectInfo> {
        validate_key(key)?;
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_err("HeadObject", e))?;
        Ok(ObjectInfo {
            key: key.to_string(),
            size: out
                .content_length()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            content_type: out.content_type().map(str::to_string),
        })
    }

    async fn delete(&self, key: &str) -> BlobResult<()> {
        validate_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_err("DeleteObject", e))?;
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
        limit: usize,
    ) -> BlobResult<(Vec<ObjectInfo>, Option<String>)> {
        if prefix.len() > 1024 {
            return Err(BlobError::Invalid("prefix is too long".into()));
        }
        if limit == 0 {
            return Err(BlobError::Invalid("limit must be at least 1".into()));
        }
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(i32::try_from(limit.min(MAX_LIST)).unwrap_or(1000))
            .set_continuation_token(cursor)
            .send()
            .await
            .map_err(|e| map_err("ListObjectsV2", e))?;
        let items = out
            .contents()
            .iter()
            .filter_map(|o| {
                Some(ObjectInfo {
                    key: o.key()?.to_string(),
                    size: o.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    content_type: None,
                })
            })
            .collect();
        let next = if out.is_truncated() == Some(true) {
            out.next_continuation_token().map(str::to_string)
        } else {
            None
        };
        Ok((items, next))
    }

    async fn ping(&self) -> BlobResult<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| map_err("HeadBucket", e))?;
        Ok(())
    }
}

/// Whether an S3 answer means "no such object" although it says 403: without `s3:ListBucket`, S3 answers a HEAD of
/// a missing key with 403 so as not to reveal which keys exist (and a HEAD response has no body to tell the two
/// apart). The template grants ListBucket on the prefixes HEAD is used on; should a role lack it anyway, the object
/// cannot be read either way, and "missing" (a 400 to the client) is the truthful answer, where "unavailable" would
/// be a 500 for every confirmation of an upload that never happened.
fn missing_behind_403(op: &str, status: Option<u16>) -> bool {
    op == "HeadObject" && status == Some(403)
}

/// Maps S3 errors onto the port's kinds; a 404 for an object (not the bucket) is `NotFound`.
fn map_err<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> BlobError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let crate::aws::SdkFailure {
        code,
        message,
        detail,
    } = crate::aws::SdkFailure::of(&err);
    if missing_behind_403(op, status) {
        tracing::warn!(
            op,
            "HeadObject answered 403: the role may lack s3:ListBucket on this prefix; treated as missing"
        );
        return BlobError::NotFound;
    }
    match code.as_str() {
        "NoSuchKey" | "NotFound" => BlobError::NotFound,
        "NoSuchBucket" => {
            tracing::error!(op, "bucket does not exist");
            BlobError::Unavailable(format!("{op}: bucket does not exist"))
        }
        "InvalidArgument" | "InvalidRequest" | "KeyTooLongError" | "InvalidObjectName" => {
            BlobError::Invalid(format!(
                "{op}: {}",
                if message.is_empty() { &code } else { &message }
            ))
        }
        _ if status == Some(404) && op != "HeadBucket" => BlobError::NotFound,
        _ => {
            tracing::error!(op, error = %detail, "s3 call failed");
            BlobError::Unavailable(format!("{op}: {detail}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::missing_behind_403;

    #[test]
    fn only_a_forbidden_head_of_an_object_reads_as_missing() {
        assert!(missing_behind_403("HeadObject", Some(403)));
        assert!(!missing_behind_403("HeadObject", Some(500)));
        assert!(!missing_behind_403("GetObject", Some(403)));
        assert!(!missing_behind_403("HeadBucket", Some(403)));
        assert!(!missing_behind_403("HeadObject", None));
    }
}
