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
use lectern_shared::table::{Condition, EntityInfo, Item, TableError, TxOp};

use crate::errors::{OpsError, OpsResult};
use crate::flags::FlagSet;
use crate::settings::StoredSettings;

/// Every entity this crate stores (the IP rules are `lectern-shared`'s).
pub const ENTITIES: &[EntityInfo] = &[
    <StoredSettings as lectern_shared::table::Entity>::INFO,
    <FlagSet as lectern_shared::table::Entity>::INFO,
];

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
