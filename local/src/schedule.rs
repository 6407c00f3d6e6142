//! In-process scheduler: runs what EventBridge schedules on AWS.

use std::time::Duration;

use lectern_shared::Platform;
use tokio_util::sync::CancellationToken;

/// How often housekeeping runs (the SAM schedule is `rate(1 hour)` too).
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);

/// Runs scheduled jobs until stopped. The first run waits a minute so start-up stays quick.
pub async fn run(platform: Platform, stop: CancellationToken) {
    let mut next = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(next) => {}
        }
        if let Err(e) = lectern_platform_housekeeping::run(&platform).await {
            tracing::warn!(error = %e, "housekeeping failed; will try again next time");
        }
        next += HOUSEKEEPING_EVERY;
    }
}
