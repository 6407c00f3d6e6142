//! The operations domain: typed app settings ([`settings`]), feature flags ([`flags`]) and the administration of
//! the IP block and allow lists ([`ip_rules`]; the lists themselves and their check are in
//! `lectern_shared::iprules`, since every function enforces them).
//!
//! Each is one item (settings, the flag set, the IP rules), so a function answers from one read per cache period
//! and a change is one conditional write, in the same transaction as its audit record. The audit record is built
//! by the function from the accounts' audit log (`lectern_accounts::audit::AuditLog::event`), as the exams'
//! certificate revocation does: this domain does not depend on accounts, it commits the record it is handed.

pub mod errors;
pub mod flags;
pub mod ip_rules;
pub mod settings;

use std::sync::Arc;

use lectern_shared::Platform;
use lectern_shared::cache::Refreshing;
use lectern_shared::table::{Condition, Entity, EntityInfo, Item, Table, TableError, TxOp};

use crate::errors::{OpsError, OpsResult};
use crate::flags::FlagSet;
use crate::settings::StoredSettings;

/// Every entity this crate stores (the IP rules are `lectern-shared`'s).
pub const ENTITIES: &[EntityInfo] = &[StoredSettings::INFO, FlagSet::INFO];

/// The operations service: the platform and this process's copies of the flags and the public settings.
pub struct Operations {
    pub platform: Platform,
    flag_cache: Refreshing<FlagSet>,
    settings_cache: Refreshing<StoredSettings>,
}

impl Operations {
    pub fn new(platform: Platform) -> Arc<Self> {
        let clock = platform.clock.clone();
        Arc::new(Self {
            flag_cache: Refreshing::new(clock.clone(), flags::CACHE_TTL),
            settings_cache: Refreshing::new(clock, flags::CACHE_TTL),
            platform,
        })
    }
}

/// RFC 3339 at whole seconds in UTC: one fixed width, so stored times sort as times do.
pub(crate) fn stamp(at: time::OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One item holding a whole versioned document (the settings, the flag set, the IP rules): read whole, changed
/// whole, written only at the version read.
pub(crate) trait Versioned: Entity + Default {
    fn version(&self) -> i64;
    fn set_version(&mut self, version: i64);
}

impl Versioned for StoredSettings {
    fn version(&self) -> i64 {
        self.version
    }
    fn set_version(&mut self, version: i64) {
        self.version = version;
    }
}

impl Versioned for FlagSet {
    fn version(&self) -> i64 {
        self.version
    }
    fn set_version(&mut self, version: i64) {
        self.version = version;
    }
}

impl Versioned for lectern_shared::iprules::IpRules {
    fn version(&self) -> i64 {
        self.version
    }
    fn set_version(&mut self, version: i64) {
        self.version = version;
    }
}

/// Reads a versioned document (its defaults, at version 0, when it was never stored).
pub(crate) async fn load<T: Versioned>(table: &dyn Table) -> OpsResult<T> {
    Ok(match table.get(&T::INFO.key(&[], &[])).await? {
        Some(item) => T::from_item(item)?,
        None => T::default(),
    })
}

/// How often a change that lost a race with another change of the same document is retried before answering 409.
const WRITE_ATTEMPTS: usize = 3;

/// Reads the document, applies `change` (which answers the audit record), and writes it back at the version read
/// together with the record, reading again and retrying when another change won the race (two admins editing
/// different flags or rules do not conflict). Answers the document as written.
pub(crate) async fn change_versioned<T: Versioned>(
    ops: &Operations,
    what: &str,
    change: impl Fn(&mut T) -> OpsResult<Item>,
) -> OpsResult<T> {
    for _ in 0..WRITE_ATTEMPTS {
        let mut doc: T = load(ops.platform.table.as_ref()).await?;
        let read_version = doc.version();
        let record = change(&mut doc)?;
        doc.set_version(read_version + 1);
        let write = TxOp::Put {
            item: doc.to_item()?,
            condition: Condition::at_version(read_version),
        };
        match transact_with_audit(ops, write, record).await {
            Ok(()) => return Ok(doc),
            Err(OpsError::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(OpsError::Conflict(format!(
        "the {what} changed too often meanwhile; try again"
    )))
}

/// Commits a versioned write and its audit record together. A failed condition on the write (someone else wrote
/// first) is a [`OpsError::Conflict`]; the caller decides whether to retry or answer 412.
pub(crate) async fn transact_with_audit(
    ops: &Operations,
    write: TxOp,
    audit: Item,
) -> OpsResult<()> {
    let audit = TxOp::Put {
        item: audit,
        condition: Condition::Always,
    };
    match ops.platform.table.transact(vec![write, audit]).await {
        Ok(()) => Ok(()),
        Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
            Err(OpsError::Conflict("changed meanwhile".into()))
        }
        Err(e) => Err(e.into()),
    }
}
