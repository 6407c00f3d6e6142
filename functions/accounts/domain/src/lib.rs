//! The accounts domain, shared by the `auth`, `users` and `admin` functions: who users are, how they prove it,
//! what they may do, and the record of what happened. Written once on the ports, so it runs on Lambda and in
//! the dev server alike.

pub mod apikeys;
pub mod audit;
pub mod authenticator;
pub mod change;
pub mod config;
pub mod crypto;
pub mod data_exports;
pub mod device_sessions;
pub mod erasure;
pub mod errors;
pub mod export;
pub mod lockout;
pub mod notify;
pub mod onetime;
pub mod password;
pub mod permissions;
pub mod schema;
pub mod service;
pub mod sessions;
pub mod signing_keys;
pub mod stats;
pub mod tokens;
pub mod twofactor;
pub mod users;

use lectern_shared::table::{Entity, EntityInfo};

/// Every entity this domain stores. `tests/architecture/keys.rs` checks them together with every other crate's:
/// no two may share a key, and an entity declared but missing here fails the test.
pub const ENTITIES: &[EntityInfo] = &[
    users::User::INFO,
    users::EmailClaim::INFO,
    sessions::Session::INFO,
    sessions::RefreshRecord::INFO,
    onetime::OneTimeToken::INFO,
    lockout::COUNTER,
    lockout::SOURCE_COUNTER,
    audit::StoredEvent::INFO,
    apikeys::ApiKeyLookup::INFO,
    apikeys::ApiKeyListing::INFO,
    service::admin::ADMIN_COUNT,
    twofactor::challenges::SpentChallenge::INFO,
    device_sessions::ParentPin::INFO,
    device_sessions::PIN_ATTEMPTS_COUNTER,
    data_exports::DataExport::INFO,
    data_exports::ExportAllowance::INFO,
    stats::TOTALS,
    stats::DAY,
    stats::ActiveMark::INFO,
];
