//! The outbox relay: requests write the jobs their changes cause (emails above all) into the table in the same
//! transaction as the change, and send them right after the commit. This sends what they did not get to — the
//! process died, the queue was down — once it is older than the grace period, every minute on AWS (EventBridge)
//! and every few seconds in the dev server. See `lectern_shared::queue::outbox` for the design.

use lectern_messages::schedules;
use lectern_shared::Platform;
use lectern_shared::queue::outbox::{self, RELAY_GRACE, RelayReport};
use lectern_shared::schedule::{Ran, run_scheduled};
use lectern_shared::secrets::Purpose;

/// The scheduled run: [`run`] as the `outbox-relay` job, refused while another run holds it
/// (`lectern_shared::schedule`); called by the scheduled Lambda and by the dev server's scheduler.
pub async fn scheduled(platform: &Platform) -> anyhow::Result<Ran<RelayReport>> {
    run_scheduled(platform, &schedules::OUTBOX_RELAY, || run(platform)).await
}

/// One relay run.
#[tracing::instrument(skip_all)]
pub async fn run(platform: &Platform) -> anyhow::Result<RelayReport> {
    // Without its keys the relay could open no entry: fail loudly rather than drop every waiting job.
    platform.keys.require(Purpose::Outbox)?;
    let now = platform.clock.epoch_seconds();
    Ok(outbox::relay(
        platform.table.as_ref(),
        platform.queue.as_ref(),
        &platform.outbox_key,
        now,
        RELAY_GRACE,
    )
    .await?)
}
