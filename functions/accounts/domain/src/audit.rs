//! The security audit log: who did what to which account, from where, when, under which request id.
//!
//! Entity (declared once, here): an event is stored once, under its target account
//! `AUDIT#<target_id>` / `<at>#<event_id>` (a user's own security events, newest first; `at` is RFC 3339), on
//! `gsi1` as `AUDITLOG` / `<at>#<event_id>` (the admin view, by time) and on `gsi2` as `AUDITACTION#<action>` /
//! `<at>#<event_id>` (the admin view filtered by action). Events expire after the retention period.

use std::sync::Arc;

use lectern_shared::http::client::ClientInfo;
use lectern_shared::table::{
    Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Page, Shape, SortKey, Table,
    TableResult,
};
use serde::{Deserialize, Serialize};

/// Sort key of an event everywhere it is stored: by time, then id.
const BY_TIME: Shape = Shape::values(&["at", "event_id"]);
/// gsi1: every account's events in one partition.
pub const LOG: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(Shape::fixed("AUDITLOG"), BY_TIME),
);
/// gsi2: the events of one action.
pub const BY_ACTION: IndexLayout = IndexLayout::new(
    Index::Gsi2,
    KeyLayout::new(Shape::new("AUDITACTION", &["action"]), BY_TIME),
);
/// How long events are kept.
pub const RETENTION_SECS: i64 = 400 * 24 * 3600;

/// Every audited action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Register,
    EmailVerified,
    LoginSucceeded,
    LoginFailed,
    AccountLocked,
    RefreshReuseDetected,
    Logout,
    LogoutAll,
    SessionRevoked,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    EmailChangeRequested,
    EmailChanged,
    TwoFactorEnabled,
    TwoFactorDisabled,
    BackupCodeUsed,
    ApiKeyCreated,
    ApiKeyRevoked,
    RoleChanged,
    TierChanged,
    Suspended,
    Activated,
    ForceLogout,
    AccountDeleted,
    AccountRestored,
    /// The purge erased a deleted account after its grace period (the one event about it that stays).
    AccountErased,
    /// A personal-data export was asked for (by the account, or by an admin for a support case: the actor).
    DataExportRequested,
    /// An admin revoked an exam certificate of the account (`details`: the certificate and the reason).
    CertificateRevoked,
    /// An admin changed the app settings (target `settings`; `details`: the names of the changed settings).
    SettingsChanged,
    /// An admin created, changed or deleted a feature flag (target `flags`; `details`: the key, before and after).
    FlagChanged,
    /// An admin added or deleted an IP rule (target `ip-rules`; `details`: the rule).
    IpRuleChanged,
}

impl Action {
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// One audit event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    pub event_id: String,
    pub action: Action,
    /// Who acted (`None` for anonymous attempts, e.g. a failed login).
    pub actor_id: Option<String>,
    /// The account acted on.
    pub target_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The request's id as the client saw it: its own `X-Request-Id` when it sent one, so it proves nothing.
    pub request_id: Option<String>,
    /// The request's id that no client chose: API Gateway's request id (as in its access logs) on Lambda, one the
    /// server generated elsewhere.
    #[serde(default)]
    pub server_request_id: Option<String>,
    /// RFC 3339 time.
    pub at: String,
    /// Small, non-secret details (e.g. `{"role": "admin"}`).
    #[serde(default)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// An event as stored: the event and when it expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    #[serde(flatten)]
    pub event: Event,
    /// Only the item's `ttl`.
    #[serde(rename = "ttl", skip_serializing)]
    pub expires_at: i64,
}

impl StoredEvent {
    fn sort(&self) -> [&str; 2] {
        [&self.event.at, &self.event.event_id]
    }
}

impl Entity for StoredEvent {
    const INFO: EntityInfo = EntityInfo::new(
        "audit_event",
        KeyLayout::new(Shape::new("AUDIT", &["target_id"]), BY_TIME),
    )
    .indexed(&[LOG, BY_ACTION]);

    fn key(&self) -> Key {
        Self::INFO.key(&[&self.event.target_id], &self.sort())
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        vec![
            LOG.key(&[], &self.sort()),
            BY_ACTION.key(&[&self.event.action.as_str()], &self.sort()),
        ]
    }

    fn ttl(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// RFC 3339 at whole seconds in UTC (`2026-11-21T10:00:00Z`): one fixed width, so the strings sort as times do.
pub fn timestamp(at: time::OffsetDateTime) -> String {
    // A valid RFC 3339 time can lie beyond the last representable UTC instant (`9999-12-31T23:59:59-23:59`):
    // `to_offset` would panic on it; kept in its own offset, it still sorts after every real event.
    let at = at
        .checked_to_offset(time::UtcOffset::UTC)
        .unwrap_or(at)
        .replace_nanosecond(0)
        .unwrap_or(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Writes and reads audit events.
#[derive(Clone)]
pub struct AuditLog {
    table: Arc<dyn Table>,
}

impl AuditLog {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// An event at `now`, ready to be committed with the change it describes (see [`crate::change::Change`]): an
    /// audit record is written in the same transaction as what it records, so neither exists without the other.
    pub fn event(
        action: Action,
        actor_id: Option<&str>,
        target_id: &str,
        client: &ClientInfo,
        now: time::OffsetDateTime,
        details: serde_json::Map<String, serde_json::Value>,
    ) -> StoredEvent {
        let event = Event {
            event_id: lectern_shared::ids::new_id(),
            action,
            actor_id: actor_id.map(str::to_string),
            target_id: target_id.to_string(),
            ip: client.ip.map(|ip| ip.to_string()),
            user_agent: client.user_agent.clone(),
            request_id: lectern_shared::http::request_id::current(),
            server_request_id: lectern_shared::http::request_id::server_id(),
            at: timestamp(now),
            details,
        };
        StoredEvent {
            event,
            expires_at: now.unix_timestamp() + RETENTION_SECS,
        }
    }

    /// Events about one account, newest first, optionally within `[from, to]` (RFC 3339 strings).
    pub async fn for_user(
        &self,
        user_id: &str,
        range: &TimeRange,
        limit: usize,
        cursor: Option<String>,
    ) -> TableResult<Page> {
        self.table
            .query(
                StoredEvent::INFO
                    .query(&[user_id])
                    .sk(range.sort_key())
                    .backwards()
                    .limit(limit)
                    .after(cursor),
            )
            .await
    }

    /// Every account's events, newest first, optionally of one action.
    pub async fn all(
        &self,
        action: Option<Action>,
        range: &TimeRange,
        limit: usize,
        cursor: Option<String>,
    ) -> TableResult<Page> {
        let query = match action {
            Some(a) => BY_ACTION.query(&[&a.as_str()]),
            None => LOG.query(&[]),
        };
        self.table
            .query(
                query
                    .sk(range.sort_key())
                    .backwards()
                    .limit(limit)
                    .after(cursor),
            )
            .await
    }
}

/// An optional time window over RFC 3339 sort keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl TimeRange {
    /// Reads optional RFC 3339 bounds (the `from` and `to` query parameters of the audit lists).
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Self, crate::errors::AccountError> {
        let parse = |field: &str, v: Option<&str>| {
            v.map(|v| {
                time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                    .map(timestamp)
                    .map_err(|_| {
                        crate::errors::AccountError::field(
                            &format!("query.{field}"),
                            "an RFC 3339 time",
                        )
                    })
            })
            .transpose()
        };
        Ok(Self {
            from: parse("from", from)?,
            to: parse("to", to)?,
        })
    }

    fn sort_key(&self) -> SortKey {
        // Sort keys are `<time>#<id>`: `~` sorts after every id character, so `to` includes its whole second.
        match (&self.from, &self.to) {
            (Some(f), Some(t)) => SortKey::Between(f.clone(), format!("{t}~")),
            (Some(f), None) => SortKey::GreaterOrEqual(f.clone()),
            (None, Some(t)) => SortKey::LessOrEqual(format!("{t}~")),
            (None, None) => SortKey::Any,
        }
    }
}
