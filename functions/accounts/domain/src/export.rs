//! The accounts domain's part of a personal-data export: what its eraser deletes — the account, its sessions and
//! refresh tokens, API key listings, 2FA state (whether it is on, never the seed or codes), the audit events
//! about it, and its avatars. Secrets and digests are dropped by the export itself
//! (`lectern_shared::export::personal_view`).

use std::sync::Arc;

use async_trait::async_trait;
use lectern_shared::Platform;
use lectern_shared::blobs::Blobs;
use lectern_shared::export::{ExportError, ExportSink, Exporter, export_blobs, export_query};
use lectern_shared::table::{Entity, Table};

use crate::audit::StoredEvent;
use crate::erasure::ACCOUNT_PARTITION;
use crate::service::profile::avatar_prefix;
use crate::sessions::TOKENS_BY_USER;

const PAGE: usize = 100;

/// Exports an account.
pub struct AccountExporter {
    table: Arc<dyn Table>,
    blobs: Arc<dyn Blobs>,
}

impl AccountExporter {
    pub fn new(platform: &Platform) -> Self {
        Self {
            table: platform.table.clone(),
            blobs: platform.blobs.clone(),
        }
    }
}

#[async_trait]
impl Exporter for AccountExporter {
    fn name(&self) -> &'static str {
        "accounts"
    }

    fn entities(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "user",
                "your account: email, name, role, tier, locale, time zone, status, when it changed",
            ),
            (
                "session",
                "your signed-in sessions: when, from which address and browser",
            ),
            (
                "refresh_token",
                "the refresh tokens of those sessions (their values are never stored)",
            ),
            (
                "api_key_listing",
                "your API keys: names, scopes, when created and last used (not the keys)",
            ),
            (
                "audit_event",
                "the security log of your account: sign-ins, changes, by whom, from where",
            ),
            ("parent_pin", "that a parental PIN is set (never the PIN)"),
            ("pin_attempts", "recent failed PIN entries"),
            (
                "lockout",
                "recent failed sign-ins that can lock the account",
            ),
            (
                "one_time_token",
                "pending email links (verification, password reset), until they expire",
            ),
            (
                "data_export",
                "the exports of your data you asked for: when, and what each held",
            ),
            (
                "export_allowance",
                "when you last asked for an export (one a week)",
            ),
        ]
    }

    async fn export(&self, user_id: &str, sink: &mut dyn ExportSink) -> Result<(), ExportError> {
        let table = self.table.as_ref();
        let name = self.name();
        for query in [
            ACCOUNT_PARTITION.query(&[user_id]),
            TOKENS_BY_USER.query(&[user_id]),
            StoredEvent::INFO.query(&[user_id]),
        ] {
            export_query(table, query.limit(PAGE), name, sink).await?;
        }
        export_blobs(self.blobs.as_ref(), &avatar_prefix(user_id), name, sink).await?;
        Ok(())
    }
}
