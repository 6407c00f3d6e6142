//! In-process scheduler: runs what EventBridge schedules on AWS.

use std::time::Duration;

use lectern_shared::Platform;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// How often housekeeping runs (the SAM schedule is `rate(1 hour)` too).
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);
/// How often the outbox relay runs. On AWS it is every minute, EventBridge's shortest rate; here a few seconds,
/// so an email a request could not send itself arrives about as soon as the grace period allows.
pub const RELAY_EVERY: Duration = Duration::from_secs(2);

/// How often the exam deadline job runs (the SAM schedule is `rate(1 minute)` too).
pub const EXAM_DEADLINES_EVERY: Duration = Duration::from_secs(60);

/// The wait until the next top of the hour of the platform's clock: the hourly scheduler (reminders, weekly parent
/// reports) runs then, as the SAM schedule `cron(0 * * * ? *)` does.
fn until_next_hour(platform: &Platform) -> Duration {
    let now = platform.clock.epoch_seconds();
    Duration::from_secs((3600 - now.rem_euclid(3600)) as u64)
}

/// Runs scheduled jobs until stopped. Housekeeping first runs after a minute so start-up stays quick.
pub async fn run(platform: Platform, stop: CancellationToken) {
    let notifications = crate::notifications_on(&platform);
    let mut hourly = tokio::time::Instant::now() + until_next_hour(&platform);
    let mut housekeeping = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut relay = tokio::time::interval(RELAY_EVERY);
    relay.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut deadlines = tokio::time::interval(EXAM_DEADLINES_EVERY);
    deadlines.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = relay.tick() => {
                if let Err(e) = lectern_platform_outbox::scheduled(&platform).await {
                    tracing::warn!(error = %e, "outbox relay failed; will try again next time");
                }
            }
            _ = deadlines.tick() => {
                if let Err(e) = lectern_exams_deadlines::scheduled(&platform).await {
                    tracing::warn!(error = %e, "exam deadlines failed; will try again next time");
                }
            }
            _ = tokio::time::sleep_until(hourly) => {
                if let Err(e) = lectern_platform_scheduler::run(&platform, &notifications).await {
                    tracing::warn!(error = %e, "the hourly scheduler failed; will try again next time");
                }
                hourly = tokio::time::Instant::now() + until_next_hour(&platform).max(Duration::from_secs(60));
            }
            _ = tokio::time::sleep_until(housekeeping) => {
                if let Err(e) = lectern_platform_housekeeping::scheduled(&platform).await {
                    tracing::warn!(error = %e, "housekeeping failed; will try again next time");
                }
                housekeeping += HOUSEKEEPING_EVERY;
            }
        }
    }
}
