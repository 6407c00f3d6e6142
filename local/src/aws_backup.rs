//! Backups of a deployment on AWS: `lectern aws-export` and `lectern aws-restore`.
//!
//! The table has point-in-time recovery on (the template), which restores the table *as another table* within the
//! last 35 days. For a copy kept longer, elsewhere, or restored into a **new stack**, these commands:
//!
//! - **export** asks DynamoDB for an export to S3 (`ExportTableToPointInTime`, DynamoDB JSON: one consistent
//!   moment, read from the PITR backups, so it costs the table no read capacity and the API notices nothing), waits
//!   for it, then copies every object of the blob bucket next to it with server-side copies (nothing passes through
//!   this machine) and writes `lectern-backup.json`, the manifest (time, table, export, item and object counts);
//! - **restore** loads such an export into the configured table, which must be empty (a freshly deployed stack),
//!   with batched writes, and copies the objects back into the configured bucket; it checks the item count against
//!   the export's.
//!
//! Layout under `s3://<backup bucket>/<prefix>/`: `table/AWSDynamoDB/<export id>/data/*.json.gz` (DynamoDB's
//! own), `blobs/<key>` and `lectern-backup.json`. The key rings are Secrets Manager secrets, not in the table: a
//! restore into a new stack copies their values too (README, "Backup and restore").

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use aws_sdk_dynamodb::types::{
    AttributeValue, ExportFormat, ExportStatus, PutRequest, WriteRequest,
};
use aws_smithy_types::error::display::DisplayErrorContext;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The manifest's name under the prefix.
pub const MANIFEST: &str = "lectern-backup.json";
/// The format this version writes and reads.
pub const FORMAT: u32 = 1;

/// Items per `BatchWriteItem` (DynamoDB's limit).
const WRITE_BATCH: usize = 25;
/// Retries of the unprocessed part of one batch (throttling), with doubling pauses.
const WRITE_RETRIES: u32 = 10;
/// How long an export may take before the command gives up waiting (the export itself carries on).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(4 * 3600);

/// What `lectern-backup.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsManifest {
    pub format: u32,
    pub lectern_version: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub table: String,
    pub export_arn: String,
    pub items: u64,
    pub objects: u64,
    pub object_bytes: u64,
}

/// The clients both commands use, from one SDK configuration.
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig, s3_path_style: bool) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(sdk)
                    .force_path_style(s3_path_style)
                    .build(),
            ),
        }
    }
}

/// Where a backup lives.
#[derive(Debug, Clone)]
pub struct Location {
    pub bucket: String,
    pub prefix: String,
}

impl Location {
    /// Parses `s3://bucket/prefix` (the prefix without a trailing slash; required, so backups never mix).
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("s3://")
            .with_context(|| format!("{url:?} is not an s3://bucket/prefix URL"))?;
        let (bucket, prefix) = rest
            .split_once('/')
            .with_context(|| format!("{url:?} names no prefix: s3://bucket/prefix"))?;
        let prefix = prefix.trim_end_matches('/');
        ensure!(
            !bucket.is_empty() && !prefix.is_empty(),
            "{url:?} must name a bucket and a prefix: s3://bucket/prefix"
        );
        Ok(Self {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    fn key(&self, rest: &str) -> String {
        format!("{}/{rest}", self.prefix)
    }
}

/// Exports `table` and the objects of `data_bucket` to `to`; answers the manifest it wrote.
pub async fn export(
    clients: &Clients,
    table: &str,
    data_bucket: &str,
    to: &Location,
    poll_every: Duration,
) -> anyhow::Result<AwsManifest> {
    let described = clients
        .dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_error("DescribeTable", e))?;
    let table_arn = described
        .table()
        .and_then(|t| t.table_arn())
        .context("DescribeTable answered no table ARN")?
        .to_string();
    let started = clients
        .dynamodb
        .export_table_to_point_in_time()
        .table_arn(&table_arn)
        .s3_bucket(&to.bucket)
        .s3_prefix(to.key("table"))
        .export_format(ExportFormat::DynamodbJson)
        .send()
        .await
        .map_err(|e| sdk_error("ExportTableToPointInTime", e))?;
    let export_arn = started
        .export_description()
        .and_then(|d| d.export_arn())
        .context("the export has no ARN")?
        .to_string();
    let deadline = tokio::time::Instant::now() + EXPORT_TIMEOUT;
    let items = loop {
        let described = clients
            .dynamodb
            .describe_export()
            .export_arn(&export_arn)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeExport", e))?;
        let export = described
            .export_description()
            .context("DescribeExport answered nothing")?;
        match export.export_status() {
            Some(ExportStatus::Completed) => break export.item_count().unwrap_or(0) as u64,
            Some(ExportStatus::Failed) => bail!(
                "the export failed: {} {}",
                export.failure_code().unwrap_or_default(),
                export.failure_message().unwrap_or_default()
            ),
            _ if tokio::time::Instant::now() > deadline => bail!(
                "the export {export_arn} is still running after {EXPORT_TIMEOUT:?}; it will finish by itself"
            ),
            _ => tokio::time::sleep(poll_every).await,
        }
    };
    let (objects, object_bytes) =
        copy_objects(&clients.s3, data_bucket, "", &to.bucket, &to.key("blobs/")).await?;
    let manifest = AwsManifest {
        format: FORMAT,
        lectern_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        table: table.to_string(),
        export_arn,
        items,
        objects,
        object_bytes,
    };
    clients
        .s3
        .put_object()
        .bucket(&to.bucket)
        .key(to.key(MANIFEST))
        .content_type("application/json")
        .body(serde_json::to_vec_pretty(&manifest)?.into())
        .send()
        .await
        .map_err(|e| sdk_error("PutObject", e))?;
    Ok(manifest)
}

/// Turns on point-in-time recovery, as the template does (an export needs it): `aws-setup` mirrors the template.
pub async fn enable_point_in_time_recovery(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> anyhow::Result<()> {
    dynamodb
        .update_continuous_backups()
        .table_name(table)
        .point_in_time_recovery_specification(
            aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()?,
        )
        .send()
        .await
        .map_err(|e| sdk_error("UpdateContinuousBackups", e))?;
    Ok(())
}

/// What a restore did.
#[derive(Debug, PartialEq, Eq)]
pub struct AwsRestored {
    pub manifest: AwsManifest,
    pub items: u64,
    pub objects: u64,
}

/// Restores the backup at `from` into `table` (which must be empty) and `data_bucket`.
pub async fn restore(
    clients: &Clients,
    from: &Location,
    table: &str,
    data_bucket: &str,
) -> anyhow::Result<AwsRestored> {
    let manifest: AwsManifest = {
        let object = clients
            .s3
            .get_object()
            .bucket(&from.bucket)
            .key(from.key(MANIFEST))
            .send()
            .await
            .map_err(|e| sdk_error("GetObject (the manifest)", e))?;
        let bytes = object.body.collect().await?.into_bytes();
        serde_json::from_slice(&bytes).context("the backup's manifest is not valid")?
    };
    ensure!(
        manifest.format == FORMAT,
        "backup format {} is not supported by this version (it reads format {FORMAT})",
        manifest.format
    );
    let scanned = clients
        .dynamodb
        .scan()
        .table_name(table)
        .limit(1)
        .send()
        .await
        .map_err(|e| sdk_error("Scan", e))?;
    ensure!(
        scanned.count() == 0,
        "the table {table} is not empty: restore into a freshly deployed stack"
    );

    let mut items = 0u64;
    for key in list_keys(&clients.s3, &from.bucket, &from.key("table/")).await? {
        // DynamoDB names its data files `data/<id>.json.gz`; its manifests sit beside `data/`.
        if !(key.contains("/data/") && key.ends_with(".gz")) {
            continue;
        }
        let object = clients
            .s3
            .get_object()
            .bucket(&from.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| sdk_error("GetObject (an export file)", e))?;
        // One data file at a time, compressed (DynamoDB keeps them to a few hundred MB); lines are decompressed
        // and written as they are read.
        let compressed = object.body.collect().await?.into_bytes();
        let lines = BufReader::new(flate2::read::GzDecoder::new(&compressed[..]));
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        for line in lines.lines() {
            let line = line.with_context(|| format!("reading {key}"))?;
            if line.trim().is_empty() {
                continue;
            }
            let record: Value =
                serde_json::from_str(&line).with_context(|| format!("a line of {key}"))?;
            let item = record
                .get("Item")
                .with_context(|| format!("a line of {key} holds no Item"))?;
            batch.push(item_from_json(item).with_context(|| format!("an item of {key}"))?);
            if batch.len() == WRITE_BATCH {
                items += write_batch(&clients.dynamodb, table, std::mem::take(&mut batch)).await?;
            }
        }
        if !batch.is_empty() {
            items += write_batch(&clients.dynamodb, table, batch).await?;
        }
    }
    ensure!(
        items == manifest.items,
        "restored {items} items, but the export holds {}",
        manifest.items
    );
    let (objects, _) = copy_objects(
        &clients.s3,
        &from.bucket,
        &from.key("blobs/"),
        data_bucket,
        "",
    )
    .await?;
    ensure!(
        objects == manifest.objects,
        "restored {objects} objects, but the backup holds {}",
        manifest.objects
    );
    Ok(AwsRestored {
        manifest,
        items,
        objects,
    })
}

/// Writes one batch, retrying what DynamoDB leaves unprocessed (throttling) with doubling pauses.
async fn write_batch(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<HashMap<String, AttributeValue>>,
) -> anyhow::Result<u64> {
    let count = items.len() as u64;
    let mut requests = items
        .into_iter()
        .map(|item| {
            Ok(WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build()?)
                .build())
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut pause = Duration::from_millis(50);
    for _ in 0..=WRITE_RETRIES {
        let written = dynamodb
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .map_err(|e| sdk_error("BatchWriteItem", e))?;
        requests = written
            .unprocessed_items()
            .and_then(|left| left.get(table))
            .cloned()
            .unwrap_or_default();
        if requests.is_empty() {
            return Ok(count);
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
    bail!("DynamoDB kept refusing writes (throttled): retry the restore into a fresh table")
}

/// Server-side copies of every object under `from_prefix` in `from` to `to`, the prefix replaced by `to_prefix`;
/// answers the count and bytes. (Objects over 5 GB would need a multipart copy; uploads here are capped far below.)
async fn copy_objects(
    s3: &aws_sdk_s3::Client,
    from: &str,
    from_prefix: &str,
    to: &str,
    to_prefix: &str,
) -> anyhow::Result<(u64, u64)> {
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(from)
            .prefix(from_prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| sdk_error("ListObjectsV2", e))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let target = format!("{to_prefix}{}", &key[from_prefix.len()..]);
            s3.copy_object()
                .bucket(to)
                .key(&target)
                .copy_source(format!("{from}/{}", encode_key(key)))
                .send()
                .await
                .map_err(|e| sdk_error("CopyObject", e))?;
            count += 1;
            bytes += object.size().unwrap_or(0).max(0) as u64;
        }
        match page.next_continuation_token() {
            Some(next) => token = Some(next.to_string()),
            None => return Ok((count, bytes)),
        }
    }
}

/// Every key under `prefix`.
async fn list_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| sdk_error("ListObjectsV2", e))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        match page.next_continuation_token() {
            Some(next) => token = Some(next.to_string()),
            None => return Ok(keys),
        }
    }
}

/// A key for `x-amz-copy-source`: percent-encoded, slashes kept.
fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|segment| {
            percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An item in DynamoDB JSON (`{"pk": {"S": "..."}, "n": {"N": "3"}}`), what exports hold, as SDK values.
pub fn item_from_json(item: &Value) -> anyhow::Result<HashMap<String, AttributeValue>> {
    item.as_object()
        .context("an item is an object")?
        .iter()
        .map(|(name, value)| Ok((name.clone(), attribute_from_json(value)?)))
        .collect()
}

fn attribute_from_json(value: &Value) -> anyhow::Result<AttributeValue> {
    let object = value.as_object().context("an attribute is an object")?;
    ensure!(object.len() == 1, "an attribute has one type: {value}");
    let (kind, inner) = object.iter().next().context("an attribute has a type")?;
    let text = || {
        inner
            .as_str()
            .with_context(|| format!("{kind} holds a string"))
    };
    let texts = || -> anyhow::Result<Vec<String>> {
        inner
            .as_array()
            .with_context(|| format!("{kind} holds a list"))?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .context("a set holds strings")
            })
            .collect()
    };
    let binary = |b64: &str| -> anyhow::Result<aws_smithy_types::Blob> {
        Ok(aws_smithy_types::Blob::new(
            base64::engine::general_purpose::STANDARD.decode(b64)?,
        ))
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(text()?.to_string()),
        "N" => AttributeValue::N(text()?.to_string()),
        "B" => AttributeValue::B(binary(text()?)?),
        "BOOL" => AttributeValue::Bool(inner.as_bool().context("BOOL holds a boolean")?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(texts()?),
        "NS" => AttributeValue::Ns(texts()?),
        "BS" => AttributeValue::Bs(
            texts()?
                .iter()
                .map(|b| binary(b))
                .collect::<anyhow::Result<_>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .context("L holds a list")?
                .iter()
                .map(attribute_from_json)
                .collect::<anyhow::Result<_>>()?,
        ),
        "M" => AttributeValue::M(item_from_json(inner)?),
        other => bail!("unknown attribute type {other}"),
    })
}

fn sdk_error<E, R>(
    what: &str,
    e: aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    anyhow::anyhow!("{what} failed: {}", DisplayErrorContext(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_attribute_type_of_an_export_line_is_read() {
        let item = item_from_json(&json!({
            "pk": {"S": "USER#1"}, "n": {"N": "-3.5"}, "b": {"B": "AAE="}, "ok": {"BOOL": true},
            "none": {"NULL": true}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["AA=="]},
            "l": {"L": [{"S": "x"}, {"N": "1"}]}, "m": {"M": {"inner": {"S": "y"}}}
        }))
        .unwrap();
        assert_eq!(item["pk"], AttributeValue::S("USER#1".into()));
        assert_eq!(item["n"], AttributeValue::N("-3.5".into()));
        assert_eq!(
            item["b"],
            AttributeValue::B(aws_smithy_types::Blob::new(vec![0, 1]))
        );
        assert_eq!(item["ok"], AttributeValue::Bool(true));
        assert_eq!(item["none"], AttributeValue::Null(true));
        assert_eq!(item["ss"], AttributeValue::Ss(vec!["a".into(), "b".into()]));
        assert_eq!(item["ns"], AttributeValue::Ns(vec!["1".into(), "2".into()]));
        assert_eq!(
            item["bs"],
            AttributeValue::Bs(vec![aws_smithy_types::Blob::new(vec![0])])
        );
        assert_eq!(
            item["l"],
            AttributeValue::L(vec![
                AttributeValue::S("x".into()),
                AttributeValue::N("1".into())
            ])
        );
        assert_eq!(
            item["m"],
            AttributeValue::M(HashMap::from([(
                "inner".into(),
                AttributeValue::S("y".into())
            )]))
        );
        for bad in [
            json!({"x": {"Q": "1"}}),
            json!({"x": {"S": 1}}),
            json!({"x": {"S": "a", "N": "1"}}),
            json!([1]),
        ] {
            assert!(item_from_json(&bad).is_err(), "{bad} is refused");
        }
    }

    #[test]
    fn a_backup_location_names_a_bucket_and_a_prefix() {
        let at = Location::parse("s3://backups/lectern/2026-11-29/").unwrap();
        assert_eq!(
            (at.bucket.as_str(), at.prefix.as_str()),
            ("backups", "lectern/2026-11-29")
        );
        for bad in ["backups/x", "s3://backups", "s3://backups/", "s3:///x"] {
            assert!(Location::parse(bad).is_err(), "{bad} is refused");
        }
    }
}
