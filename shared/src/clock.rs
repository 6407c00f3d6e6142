//! Time in one place. Domain code asks a [`Clock`] for "now" so tests can move time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;

    /// Whole seconds since the Unix epoch (what TTL attributes hold).
    fn epoch_seconds(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock tests set and advance by hand. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    nanos: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            nanos: Arc::new(AtomicI64::new((start.unix_timestamp_nanos()) as i64)),
        }
    }
    /// Starts at the real current time.
    pub fn starting_now() -> Self {
        Self::new(OffsetDateTime::now_utc())
    }
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(by.as_nanos() as i64, Ordering::SeqCst);
    }
    pub fn set(&self, to: OffsetDateTime) {
        self.nanos
            .store(to.unix_timestamp_nanos() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(self.nanos.load(Ordering::SeqCst) as i128)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

pub type SharedClock = Arc<dyn Clock>;
