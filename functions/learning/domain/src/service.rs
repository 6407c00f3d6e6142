//! The learning use cases' shared state, built once per process.

use std::sync::Arc;

use lectern_shared::Platform;

use crate::config::LearningConfig;

/// Everything the learning use cases need.
pub struct Learning {
    pub platform: Platform,
    pub config: LearningConfig,
}

impl Learning {
    /// Builds the service from the platform and the environment.
    pub fn from_env(platform: Platform) -> anyhow::Result<Arc<Self>> {
        Ok(Self::new(platform, LearningConfig::from_env()?))
    }

    pub fn new(platform: Platform, config: LearningConfig) -> Arc<Self> {
        Arc::new(Self { platform, config })
    }

    /// Now, epoch seconds.
    pub fn now(&self) -> i64 {
        self.platform.clock.epoch_seconds()
    }

    /// The current UTC calendar year.
    pub fn year(&self) -> i32 {
        self.platform.clock.now().year()
    }
}
