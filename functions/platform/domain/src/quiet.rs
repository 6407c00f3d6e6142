//! Quiet hours: when held email goes out, and how a hold longer than a queue delay is carried.
//!
//! A queue delay is at most 15 minutes (SQS's cap, which the embedded queue keeps too), and a night is longer, so a
//! held email travels as a chain of delayed jobs ("hops") to the end of the quiet hours. The hops of one hold land
//! on a grid fixed by its end (`until - 15 min × k`), so whoever enqueues the next hop — the job that held the
//! email, or a redelivery of any hop — names the same one (its idempotency key holds the hop's time), and
//! duplicates collapse in the worker instead of multiplying.

use std::time::Duration;

use lectern_shared::locale::timezone;
use lectern_shared::queue::MAX_DELAY;

use crate::preferences::{QuietHours, minutes_of};

/// When the quiet hours holding `now` (epoch seconds) end, or `None` when `now` is not inside them (or the
/// stored zone is unknown to this build: then nothing is held).
pub fn held_until(now: i64, quiet: &QuietHours) -> Option<i64> {
    let (start, end) = (minutes_of(&quiet.start)?, minutes_of(&quiet.end)?);
    if start == end {
        return None;
    }
    let zone = timezone(&quiet.timezone)?;
    let local = jiff::Timestamp::from_second(now)
        .ok()?
        .to_zoned(zone.clone());
    let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
    let day = 24 * 60;
    let length = (end - start).rem_euclid(day);
    if (minute - start).rem_euclid(day) >= length {
        return None;
    }
    // The next `end` after now: today's, or tomorrow's when today's has passed. A time that a clock change skips
    // or repeats is resolved as jiff's "compatible" rule does (the later instant of a gap, the earlier of a fold).
    let (h, m) = (i8::try_from(end / 60).ok()?, i8::try_from(end % 60).ok()?);
    let today = local.date().at(h, m, 0, 0).to_zoned(zone.clone()).ok()?;
    let until = if today.timestamp().as_second() > now {
        today
    } else {
        local
            .date()
            .tomorrow()
            .ok()?
            .at(h, m, 0, 0)
            .to_zoned(zone)
            .ok()?
    };
    Some(until.timestamp().as_second())
}

/// The next hop of a hold ending at `until`, seen at `now` (before `until`): when it runs (epoch seconds, on the
/// hold's grid) and the delay to send it with.
pub fn next_hop(now: i64, until: i64) -> (i64, Duration) {
    let step = MAX_DELAY.as_secs() as i64;
    let left = (until - now).max(1);
    // Whole steps still needed after this hop: ceil(left / step) - 1.
    let after = (left - 1) / step;
    let due = until - step * after;
    (due, Duration::from_secs((due - now).clamp(0, step) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(start: &str, end: &str, zone: &str) -> QuietHours {
        QuietHours {
            start: start.into(),
            end: end.into(),
            timezone: zone.into(),
        }
    }

    /// Epoch seconds of a UTC date-time.
    fn utc(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    #[test]
    fn a_night_over_midnight_holds_until_its_end_in_the_zone() {
        let night = quiet("22:00", "07:00", "Europe/Paris");
        // 23:30 in Paris (UTC+1 in winter): held until 07:00 Paris the next morning.
        assert_eq!(
            held_until(utc("2026-01-10T22:30:00Z"), &night),
            Some(utc("2026-01-11T06:00:00Z"))
        );
        // 06:59 Paris: a minute left.
        assert_eq!(
            held_until(utc("2026-01-11T05:59:00Z"), &night),
            Some(utc("2026-01-11T06:00:00Z"))
        );
        // 07:00 and midday: not quiet.
        assert_eq!(held_until(utc("2026-01-11T06:00:00Z"), &night), None);
        assert_eq!(held_until(utc("2026-01-11T11:00:00Z"), &night), None);
        // A daytime window, and an unknown zone holding nothing.
        let lunch = quiet("12:00", "13:00", "UTC");
        assert_eq!(
            held_until(utc("2026-01-11T12:10:00Z"), &lunch),
            Some(utc("2026-01-11T13:00:00Z"))
        );
        assert_eq!(
            held_until(
                utc("2026-01-11T12:10:00Z"),
                &quiet("12:00", "13:00", "Mars/Olympus")
            ),
            None
        );
    }

    #[test]
    fn hops_land_on_the_grid_of_the_hold_and_reach_its_end() {
        let until = 100_000;
        let mut now = until - 2_000;
        let mut hops = Vec::new();
        while now < until {
            let (due, delay) = next_hop(now, until);
            assert!(delay <= MAX_DELAY && due > now, "{now} → {due}");
            hops.push(due);
            now = due;
        }
        assert_eq!(hops, [until - 1_800, until - 900, until]);
        // A late or duplicate hop names the same next one.
        assert_eq!(next_hop(until - 1_799, until).0, until - 900);
        assert_eq!(next_hop(until - 1_800, until).0, until - 900);
    }
}
