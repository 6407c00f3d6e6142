//! Readiness checks: one per adapter, run concurrently, each bounded so a hung dependency cannot hang the probe.

use std::time::Duration;

use lectern_shared::Platform;

/// How long one check may take before it counts as down.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

async fn bounded<E: std::fmt::Display>(
    name: &'static str,
    check: impl Future<Output = Result<(), E>>,
) -> (&'static str, bool) {
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(())) => (name, true),
        Ok(Err(e)) => {
            // The cause goes to the logs only; the public answer just names the check.
            tracing::warn!(check = name, error = %e, "readiness check failed");
            (name, false)
        }
        Err(_) => {
            tracing::warn!(check = name, "readiness check timed out");
            (name, false)
        }
    }
}

/// Runs every check; returns each check's name and whether it passed, in a fixed order.
pub async fn run(platform: &Platform) -> Vec<(&'static str, bool)> {
    let (table, blobs, queue) = tokio::join!(
        bounded("table", platform.table.ping()),
        bounded("blobs", platform.blobs.ping()),
        bounded("queue", platform.queue.ping()),
    );
    vec![table, blobs, queue]
}
