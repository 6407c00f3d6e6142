//! What the domain's test binaries share: a learning service on a fresh embedded store, its clock stopped at
//! [`NOW`].

use std::sync::Arc;

use lectern_learning::config::LearningConfig;
use lectern_learning::service::Learning;
use lectern_shared::clock::ManualClock;
use lectern_shared::{Config, Platform};
use time::OffsetDateTime;

pub const NOW: i64 = 1_900_000_000;

pub async fn learning() -> (Arc<Learning>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(OffsetDateTime::from_unix_timestamp(NOW).unwrap());
    let platform = Platform::with_clock(Config::for_tests(dir.path().into()), Arc::new(clock))
        .await
        .unwrap();
    (
        Learning::new(platform, LearningConfig::from_lookup(|_| None).unwrap()),
        dir,
    )
}
