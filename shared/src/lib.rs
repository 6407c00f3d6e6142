//! Lectern's common crate: the ports (table, blobs, queue, mail, clock, ids) with their AWS and embedded
//! adapters, the HTTP conventions every function follows, and the glue that runs routers and workers on Lambda.

#[cfg(feature = "aws")]
pub mod aws;
pub mod blobs;
pub mod cache;
pub mod clock;
pub mod config;
pub mod erasure;
pub mod export;
pub mod http;
pub mod ids;
pub mod iprules;
pub mod lambda;
pub mod locale;
pub mod mail;
pub mod metrics;
#[cfg(feature = "pdf")]
pub mod pdf;
pub mod platform;
pub mod queue;
pub mod ratelimit;
pub mod schedule;
pub mod sealing;
pub mod secrets;
pub mod table;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::Config;
pub use platform::Platform;

use table::{Entity, EntityInfo};

/// Every entity this crate stores. Each crate that stores items lists its own, and `tests/architecture/keys.rs`
/// checks all of them together: no two may share a key, and every declared entity must be listed.
pub const ENTITIES: &[EntityInfo] = &[
    queue::claims::JobClaim::INFO,
    queue::outbox::OutboxEntry::INFO,
    queue::failures::JobFailure::INFO,
    ratelimit::COUNTER,
    erasure::ErasureDue::INFO,
    iprules::IpRules::INFO,
    schedule::JobState::INFO,
    schedule::ScheduleZone::INFO,
    blobs::pending::PendingUpload::INFO,
];
