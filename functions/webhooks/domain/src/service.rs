//! The webhooks domain's shared state, built once per process.

use std::sync::Arc;

use lectern_shared::Platform;
use lectern_shared::sealing::Sealer;
use lectern_shared::secrets::Purpose;

use crate::sender::{Resolver, Sender, SystemResolver};

/// Derives the keys that seal signing secrets from the webhooks ring (versioned: a new derivation, a new label).
const SEAL_LABEL: &str = "lectern/webhook-secrets/v1";

/// Everything the webhook use cases need.
pub struct Webhooks {
    pub platform: Platform,
    /// Seals endpoints' signing secrets (the webhooks key ring; a function without it can neither create endpoints
    /// nor sign).
    pub sealer: Sealer,
    pub sender: Sender,
}

impl Webhooks {
    /// Over the platform, resolving with the system resolver.
    pub fn new(platform: Platform) -> Arc<Self> {
        Self::with_resolver(platform, Arc::new(SystemResolver))
    }

    /// Over the platform with another resolver (tests).
    pub fn with_resolver(platform: Platform, resolver: Arc<dyn Resolver>) -> Arc<Self> {
        let sealer = platform
            .keys
            .get(Purpose::Webhooks)
            .map_or_else(Sealer::none, |ring| Sealer::from_ring(ring, SEAL_LABEL));
        let sender = Sender::new(resolver, platform.config.webhooks_allow_insecure);
        Arc::new(Self {
            platform,
            sealer,
            sender,
        })
    }

    /// Now, epoch seconds.
    pub fn now(&self) -> i64 {
        self.platform.clock.epoch_seconds()
    }
}
