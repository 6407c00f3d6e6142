//! Personal-data exports (GDPR art. 15 and 20): an account asks for a copy of everything kept about it and its
//! children; a worker writes it and emails a download link.
//!
//! The accounts domain owns the request, as it owns deletion, its sibling: who may ask, how often, the record of
//! each export, and the email. What goes *in* an export comes from every domain's
//! [`lectern_shared::export::Exporter`], handed to [`ExportAccounts`] by the jobs worker, as erasers are handed to
//! the purge.
//!
//! - **Asking** ([`Accounts::request_export`]) is one transaction: the export's record (`queued`), the account's
//!   allowance (at most one export a week: a versioned item, so two requests racing for the same week give one
//!   202 and one 429), the audit event and the `account.export` job in the outbox — a crash after the commit
//!   delays the export, never loses it. An admin can run one for a support case; it is audited with the admin as
//!   the actor and does not use the account's weekly allowance.
//! - **Writing** ([`ExportAccounts`]): every exporter writes into an `ExportArchive` spooled on local disk, the zip
//!   is streamed to the blob store (`exports/<user_id>/<export_id>.zip`, private), and one transaction marks the
//!   export `ready` (only if it is still `queued`) and puts the email with a link valid [`LINK_TTL`] in the outbox.
//!   A redelivered job finds the export ready and does nothing; one that crashed half-way writes it again.
//! - The record stays a year (`GET /v1/users/me/exports` is the history); the link, 48 hours. The file is
//!   erased with the account (its prefix is the account's), and on AWS the bucket's lifecycle rule removes
//!   `exports/` objects after 3 days.

use std::collections::BTreeMap;
#[cfg(feature = "export")]
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "export")]
use async_trait::async_trait;
use lectern_messages::ExportAccount;
#[cfg(feature = "export")]
use lectern_messages::{NotifyEmail, Template};
#[cfg(feature = "export")]
use lectern_shared::Platform;
#[cfg(feature = "export")]
use lectern_shared::export::Exporter;
#[cfg(feature = "export")]
use lectern_shared::export::archive::ExportArchive;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::ids::new_id;
#[cfg(feature = "export")]
use lectern_shared::queue::Job;
#[cfg(feature = "export")]
use lectern_shared::queue::outbox::{self, OutboxEntry};
#[cfg(feature = "export")]
use lectern_shared::queue::worker::{JobError, JobHandler};
use lectern_shared::queue::{JobKind, NewJob};
use lectern_shared::table::{
    Condition, Entity, EntityInfo, Key, KeyLayout, Query, Shape, TableError, TxOp,
};
use serde::{Deserialize, Serialize};

use crate::audit::Action;
use crate::change::Change;
use crate::errors::AccountError;
use crate::service::Accounts;
use crate::users::USER_PARTITION;

/// An account may ask for one export per this many seconds (a week).
pub const EXPORT_INTERVAL_SECS: i64 = 7 * 24 * 3600;
/// How long the emailed download link works.
pub const LINK_TTL: Duration = Duration::from_secs(48 * 3600);
/// How long an export's record stays in the history.
pub const HISTORY_SECS: i64 = 365 * 24 * 3600;
/// Most exports one history page lists.
pub const HISTORY_PAGE: usize = 50;

/// Where an export's file is stored (under the account's own prefix, erased with it).
pub fn export_prefix(user_id: &str) -> String {
    format!("exports/{user_id}/")
}

fn export_key(user_id: &str, export_id: &str) -> String {
    format!("{}{export_id}.zip", export_prefix(user_id))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    /// Asked for; the worker has not finished it yet.
    Queued,
    /// Written; the download link was emailed.
    Ready,
}

/// One export of an account, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataExport {
    pub export_id: String,
    pub user_id: String,
    /// Who asked: the account itself, or an admin (a support case).
    pub requested_by: String,
    pub status: ExportStatus,
    pub requested_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
    /// When the download link stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Records per file of the archive.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contents: BTreeMap<String, u64>,
}

impl DataExport {
    pub fn key_of(user_id: &str, export_id: &str) -> Key {
        Self::INFO.key(&[user_id], &[export_id])
    }

    /// The account's exports, newest first (ids sort by time).
    pub fn history(user_id: &str) -> Query {
        Self::INFO.query(&[user_id]).backwards().limit(HISTORY_PAGE)
    }
}

impl Entity for DataExport {
    const INFO: EntityInfo = EntityInfo::new(
        "data_export",
        KeyLayout::new(USER_PARTITION, Shape::new("EXPORT", &["export_id"])),
    );
    fn key(&self) -> Key {
        Self::key_of(&self.user_id, &self.export_id)
    }
    fn ttl(&self) -> Option<i64> {
        Some(self.requested_at + HISTORY_SECS)
    }
}

/// When an account last asked for an export (its weekly allowance), versioned for the conditional write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportAllowance {
    pub user_id: String,
    pub last_requested_at: i64,
    pub version: i64,
}

impl ExportAllowance {
    pub fn key_of(user_id: &str) -> Key {
        Self::INFO.key(&[user_id], &[])
    }
}

impl Entity for ExportAllowance {
    const INFO: EntityInfo = EntityInfo::new(
        "export_allowance",
        KeyLayout::new(USER_PARTITION, Shape::fixed("EXPORT_ALLOWANCE")),
    );
    fn key(&self) -> Key {
        Self::key_of(&self.user_id)
    }
    fn ttl(&self) -> Option<i64> {
        // Only needed while it can still refuse a request.
        Some(self.last_requested_at + EXPORT_INTERVAL_SECS)
    }
}

impl Accounts {
    /// Asks for an export of `user_id`'s data. `admin` is the admin running it for a support case (no weekly
    /// limit, audited as theirs); `None` when the account asks for itself.
    pub async fn request_export(
        &self,
        user_id: &str,
        admin: Option<&str>,
        client: &ClientInfo,
    ) -> Result<DataExport, AccountError> {
        // An admin may name any id, so the account must exist; the owner's was read by the authenticator already.
        if admin.is_some() {
            self.user(user_id).await?;
        }
        let now = self.epoch();
        let export = DataExport {
            export_id: new_id(),
            user_id: user_id.to_string(),
            requested_by: admin.unwrap_or(user_id).to_string(),
            status: ExportStatus::Queued,
            requested_at: now,
            completed_at: None,
            link_expires_at: None,
            size_bytes: None,
            contents: BTreeMap::new(),
        };
        let mut change = Change::new();
        if admin.is_none() {
            let allowance = self
                .platform
                .table
                .get(&ExportAllowance::key_of(user_id))
                .await?
                .map(ExportAllowance::from_item)
                .transpose()?;
            let version = match &allowance {
                Some(a) if a.last_requested_at + EXPORT_INTERVAL_SECS > now => {
                    return Err(AccountError::ExportTooSoon(
                        (a.last_requested_at + EXPORT_INTERVAL_SECS - now) as u64,
                    ));
                }
                Some(a) => a.version,
                None => 0,
            };
            let next = ExportAllowance {
                user_id: user_id.to_string(),
                last_requested_at: now,
                version: version + 1,
            };
            change.op(TxOp::Put {
                item: next.to_item()?,
                condition: Condition::at_version(version),
            });
        }
        change.op(TxOp::Put {
            item: export.to_item()?,
            condition: Condition::NotExists,
        });
        let actor = admin.unwrap_or(user_id);
        change.audit(self.event(Action::DataExportRequested, Some(actor), user_id, client));
        let job = NewJob::new(&ExportAccount {
            user_id: user_id.to_string(),
            export_id: export.export_id.clone(),
        })
        .map_err(|e| AccountError::Internal(format!("could not build the export job: {e}")))?
        .idempotency_key(format!("{}:{}", ExportAccount::KIND, export.export_id));
        change.send(self.outbox_entry::<ExportAccount>(job)?);
        self.commit(change).await.map_err(|e| match e {
            // Another request for the same week committed first.
            TableError::TransactionCancelled { .. } => {
                AccountError::ExportTooSoon(EXPORT_INTERVAL_SECS as u64)
            }
            other => other.into(),
        })?;
        Ok(export)
    }

    /// The account's exports, newest first (the last [`HISTORY_PAGE`]).
    pub async fn exports(&self, user_id: &str) -> Result<Vec<DataExport>, AccountError> {
        let page = self
            .platform
            .table
            .query(DataExport::history(user_id))
            .await?;
        Ok(page
            .items
            .into_iter()
            .map(DataExport::from_item)
            .collect::<Result<_, _>>()?)
    }

    /// A fresh download link of a ready export whose link has not expired (its owner or an admin may ask).
    pub async fn export_link(&self, export: &DataExport) -> Result<Option<String>, AccountError> {
        let now = self.epoch();
        match (export.status, export.link_expires_at) {
            (ExportStatus::Ready, Some(until)) if until > now => {
                let left = Duration::from_secs((until - now) as u64);
                let url = self
                    .platform
                    .blobs
                    .presign_download(&export_key(&export.user_id, &export.export_id), left)
                    .await
                    .map_err(|e| AccountError::Internal(format!("could not sign the link: {e}")))?;
                Ok(Some(url))
            }
            _ => Ok(None),
        }
    }
}

/// One export, as its owner (or an admin) sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportView {
    pub export_id: String,
    pub status: ExportStatus,
    /// Epoch seconds.
    pub requested_at: i64,
    /// Whether an admin ran it for a support case (the link still went to the account's address).
    pub requested_by_admin: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
    /// When the download link stops working (48 hours after completion).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// Records per file of the archive (`<part>/<kind>`), and files per part (`<part>/files`).
    pub contents: BTreeMap<String, u64>,
    /// A link to the archive, while it works; also emailed to the account's address when the export was ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
}

impl ExportView {
    /// The view of `export`, with a download link while it works.
    pub async fn of(accounts: &Accounts, export: DataExport) -> Result<Self, AccountError> {
        let download_url = accounts.export_link(&export).await?;
        Ok(Self {
            requested_by_admin: export.requested_by != export.user_id,
            export_id: export.export_id,
            status: export.status,
            requested_at: export.requested_at,
            completed_at: export.completed_at,
            link_expires_at: export.link_expires_at,
            size_bytes: export.size_bytes,
            contents: export.contents,
            download_url,
        })
    }

    /// The views of an account's exports, newest first.
    pub async fn list(accounts: &Accounts, user_id: &str) -> Result<Vec<Self>, AccountError> {
        let mut views = Vec::new();
        for export in accounts.exports(user_id).await? {
            views.push(Self::of(accounts, export).await?);
        }
        Ok(views)
    }
}

#[cfg(feature = "export")]
/// The `account.export` job: writes the archive from every domain's exporter and emails the link.
pub struct ExportAccounts {
    platform: Platform,
    users: crate::users::Users,
    exporters: Vec<Arc<dyn Exporter>>,
}

#[cfg(feature = "export")]
/// What the archive's README says before its list of files.
const README: &str = "This archive holds a copy of the personal data kept about your account and, if you are a \
parent, about each of your children's profiles, as of the time it was made.\n\n\
Each folder is one part of the service. Each .json file holds the records of one kind, as a JSON array; a .csv \
copy sits beside it when the records are flat, for spreadsheets. files/ folders hold files you uploaded \
(avatars). Passwords, PINs, codes and keys are never included: only their existence.\n";

#[cfg(feature = "export")]
impl ExportAccounts {
    /// `exporters`: every other domain's; the accounts' own is added last.
    pub fn new(platform: &Platform, mut exporters: Vec<Arc<dyn Exporter>>) -> Self {
        exporters.push(Arc::new(crate::export::AccountExporter::new(platform)));
        Self {
            platform: platform.clone(),
            users: crate::users::Users::new(platform.table.clone()),
            exporters,
        }
    }

    /// The archive's README: what the archive is, then what each kind of record holds.
    fn readme(&self) -> String {
        let mut text = README.to_string();
        text.push_str("\nWhat each kind of record holds:\n");
        for exporter in &self.exporters {
            for (entity, what) in exporter.entities() {
                text.push_str(&format!("- {}/{entity}: {what}\n", exporter.name()));
            }
        }
        text
    }

    /// Writes the export if it is still queued; answers whether it wrote it.
    pub async fn run(&self, job: &ExportAccount) -> Result<bool, AccountError> {
        let platform = &self.platform;
        let key = DataExport::key_of(&job.user_id, &job.export_id);
        let Some(item) = platform.table.get(&key).await? else {
            return Ok(false); // erased with its account meanwhile
        };
        let export = DataExport::from_item(item)?;
        if export.status != ExportStatus::Queued {
            return Ok(false);
        }
        let user = self
            .users
            .get(&job.user_id)
            .await?
            .ok_or(AccountError::NotFound)?;
        let mut archive = ExportArchive::new().map_err(internal)?;
        for exporter in &self.exporters {
            exporter
                .export(&job.user_id, &mut archive)
                .await
                .map_err(|e| AccountError::Internal(format!("{} export: {e}", exporter.name())))?;
        }
        let readme = self.readme();
        let folder = tempfile::tempdir().map_err(internal)?;
        let file = folder.path().join("export.zip");
        let written = {
            let file = file.clone();
            tokio::task::spawn_blocking(move || archive.finish(&readme, &file))
                .await
                .map_err(internal)?
                .map_err(internal)?
        };
        let size = std::fs::metadata(&file).map_err(internal)?.len();
        let blob = export_key(&job.user_id, &job.export_id);
        platform
            .blobs
            .put_file(&blob, &file, "application/zip")
            .await
            .map_err(internal)?;
        let now = platform.clock.epoch_seconds();
        let link_expires_at = now + LINK_TTL.as_secs() as i64;
        let link = platform
            .blobs
            .presign_download(&blob, LINK_TTL)
            .await
            .map_err(internal)?;
        let mut contents = written.items;
        for (domain, files) in written.files {
            contents.insert(format!("{domain}/files"), files);
        }
        let ready = DataExport {
            status: ExportStatus::Ready,
            completed_at: Some(now),
            link_expires_at: Some(link_expires_at),
            size_bytes: Some(size),
            contents,
            ..export
        };
        let expires_at = time::OffsetDateTime::from_unix_timestamp(link_expires_at)
            .map_err(|e| AccountError::Internal(format!("link expiry out of range: {e}")))?;
        // To the account's address (an admin-run export too: the data is the account's; the admin sees the link
        // in the account's export history). In the outbox with the record, so a crash between the two cannot
        // leave an export ready and unannounced.
        let mut email =
            NotifyEmail::new(&user.email, Template::DataExportReady { link, expires_at })
                .name(user.display_name.clone());
        if let Some(locale) = &user.preferences.locale {
            email = email.locale(locale.clone());
        }
        let job = NewJob::new(&email)
            .map_err(internal)?
            .idempotency_key(format!(
                "data_export_ready:{}:{}",
                job.user_id, job.export_id
            ));
        let entry =
            OutboxEntry::new::<NotifyEmail>(job, now, &platform.outbox_key).map_err(internal)?;
        let ops = vec![
            TxOp::Put {
                item: ready.to_item()?,
                condition: Condition::equals("status", "queued"),
            },
            entry.put()?,
        ];
        match platform.table.transact(ops).await {
            Ok(()) => {}
            // Another run finished it first.
            Err(TableError::TransactionCancelled { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        outbox::deliver(
            platform.table.as_ref(),
            platform.queue.as_ref(),
            &platform.outbox_key,
            &[entry],
            now,
        )
        .await;
        Ok(true)
    }
}

#[cfg(feature = "export")]
fn internal(e: impl std::fmt::Display) -> AccountError {
    AccountError::Internal(e.to_string())
}

#[cfg(feature = "export")]
#[async_trait]
impl JobHandler for ExportAccounts {
    fn kind(&self) -> &'static str {
        ExportAccount::KIND
    }

    async fn handle(&self, job: &Job) -> Result<(), JobError> {
        let export: ExportAccount = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("not an export job: {e}")))?;
        if !lectern_shared::ids::is_id(&export.user_id)
            || !lectern_shared::ids::is_id(&export.export_id)
        {
            return Err(JobError::Permanent("an id is malformed".into()));
        }
        match self.run(&export).await {
            Ok(_) => Ok(()),
            Err(AccountError::NotFound) => Ok(()), // the account is gone: nothing to export
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }
}
