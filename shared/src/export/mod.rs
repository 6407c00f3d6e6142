//! Personal-data exports (GDPR art. 15 and 20): every domain hands over what it keeps about an account.
//!
//! The pieces, and who owns them:
//! - [`Exporter`]: what one domain contributes. Each domain implements it for the data it keeps under its own
//!   keys — the same partitions, indexes and blob prefixes its [`crate::erasure::Eraser`] finds, never a scan —
//!   and for each child profile of the account when the domain keeps data about profiles. The jobs worker
//!   (`functions/platform/jobs`) lists every domain's exporter next to its eraser, and a test fails when an item
//!   naming an account or one of its profiles is in no export.
//! - [`ExportSink`]: where an exporter writes. Stored items go in as they are, minus what is storage or a secret
//!   ([`personal_view`]): one file per entity; files (avatars, uploads) go in as files.
//! - `archive::ExportArchive` (feature `export`): the sink that spools everything to a local folder and then
//!   writes the zip — JSON per entity, CSV where an entity is flat, the files, a README explaining each file —
//!   streaming, so memory stays flat however large the account.

#[cfg(feature = "export")]
pub mod archive;

use async_trait::async_trait;
use serde_json::Value;

use crate::blobs::{BlobError, Blobs};
use crate::table::entity::RESERVED;
use crate::table::{ENTITY, Item, Query, Table, TableError};

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// One domain's part of an account's export.
#[async_trait]
pub trait Exporter: Send + Sync + 'static {
    /// A stable name: the folder of this domain's files in the archive.
    fn name(&self) -> &'static str;

    /// The entities this exporter writes, each with a sentence for the archive's README (what it is, why it is
    /// kept). The coverage test checks every personal item's entity is listed by some exporter.
    fn entities(&self) -> &'static [(&'static str, &'static str)];

    /// Writes what this domain keeps about the account `user_id` (and its child profiles) into `sink`.
    async fn export(&self, user_id: &str, sink: &mut dyn ExportSink) -> Result<(), ExportError>;
}

/// Where exporters write. Synchronous: an implementation writes to local disk.
pub trait ExportSink: Send {
    /// Adds stored items (each goes to its entity's file, seen through [`personal_view`]).
    fn items(&mut self, domain: &str, items: Vec<Item>) -> Result<(), ExportError>;
    /// Adds a stored file under `files/<name>` of the domain's folder.
    fn file(&mut self, domain: &str, name: &str, bytes: &[u8]) -> Result<(), ExportError>;
}

/// Writes every item `query` returns into `sink`, page after page.
pub async fn export_query(
    table: &dyn Table,
    query: Query,
    domain: &str,
    sink: &mut dyn ExportSink,
) -> Result<usize, ExportError> {
    let mut cursor = None;
    let mut count = 0;
    loop {
        let page = table.query(query.clone().after(cursor)).await?;
        count += page.items.len();
        sink.items(domain, page.items)?;
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(count),
        }
    }
}

/// Writes every object under `prefix` into `sink` (named by its key).
pub async fn export_blobs(
    blobs: &dyn Blobs,
    prefix: &str,
    domain: &str,
    sink: &mut dyn ExportSink,
) -> Result<usize, ExportError> {
    let mut cursor = None;
    let mut count = 0;
    loop {
        let (objects, next) = blobs.list(prefix, cursor, 100).await?;
        for object in objects {
            let bytes = match blobs.get(&object.key).await {
                Ok(bytes) => bytes,
                // Replaced or erased since the listing.
                Err(BlobError::NotFound) => continue,
                Err(e) => return Err(e.into()),
            };
            sink.file(domain, &object.key, &bytes)?;
            count += 1;
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(count),
        }
    }
}

/// Whether a field holds a secret or a digest of one (passwords, PINs, tokens, codes, sealed seeds): never
/// exported, at any depth. A digest reveals nothing useful to its owner and helps whoever intercepts the archive.
fn is_secret(name: &str) -> bool {
    name == "hash"
        || name.ends_with("_hash")
        || name == "digest"
        || name == "backup_codes"
        || name.starts_with("sealed_")
        || name.contains("secret")
        || name == "password"
}

/// The item as its owner sees it: without storage attributes and secrets; answers its entity name too.
pub fn personal_view(mut item: Item) -> (String, Value) {
    let entity = item
        .remove(ENTITY)
        .and_then(|e| e.as_str().map(str::to_string))
        .unwrap_or_else(|| "other".into());
    // Storage attributes say how the item is found, not what it says.
    for key in RESERVED {
        item.remove(key);
    }
    let mut value = Value::Object(item);
    strip_secrets(&mut value);
    (entity, value)
}

fn strip_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !is_secret(k));
            map.values_mut().for_each(strip_secrets);
        }
        Value::Array(list) => list.iter_mut().for_each(strip_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_personal_view_drops_storage_attributes_and_secrets_at_every_depth() {
        let item = json!({
            "pk": "USER#1", "sk": "USER", "gsi1pk": "EMAIL#a", "gsi1sk": "x", "ttl": 5, "entity": "user",
            "email": "a@example.com", "password_hash": "$argon2id$...", "pin_hash": "x",
            "two_factor": {"enabled": true, "sealed_secret": "abc", "backup_codes": ["h1"]},
            "sessions": [{"ip": "192.0.2.1", "hash": "h"}], "display_name": "Ada"
        });
        let Value::Object(item) = item else {
            unreachable!()
        };
        let (entity, view) = personal_view(item);
        assert_eq!(entity, "user");
        assert_eq!(
            view,
            json!({
                "email": "a@example.com", "two_factor": {"enabled": true},
                "sessions": [{"ip": "192.0.2.1"}], "display_name": "Ada"
            })
        );
    }
}
