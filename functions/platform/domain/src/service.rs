//! The notification centre's shared state, built once per process.

use std::sync::Arc;

use lectern_shared::Platform;

use crate::config::NotificationsConfig;

/// Everything the notification use cases need.
pub struct Notifications {
    pub platform: Platform,
    pub config: NotificationsConfig,
}

impl Notifications {
    /// Builds the service from the platform and the environment.
    pub fn from_env(platform: Platform) -> anyhow::Result<Arc<Self>> {
        Ok(Self::new(platform, NotificationsConfig::from_env()?))
    }

    pub fn new(platform: Platform, config: NotificationsConfig) -> Arc<Self> {
        Arc::new(Self { platform, config })
    }

    /// Now, epoch seconds.
    pub fn now(&self) -> i64 {
        self.platform.clock.epoch_seconds()
    }

    /// Now, epoch milliseconds (notification ids and the read-all watermark are ULIDs).
    pub fn now_ms(&self) -> u64 {
        let nanos = self.platform.clock.now().unix_timestamp_nanos();
        u64::try_from(nanos / 1_000_000).unwrap_or(0)
    }
}
