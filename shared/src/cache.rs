//! A value read from the store at most once per period per process: the IP rules (every request of every
//! function), the feature flags and the public settings (`lectern-operations`). One way to keep such a copy, so
//! every one of them behaves the same: readers take an `Arc` under a read lock (no storage round trip), the first
//! request after the period reads again while the others wait for that one read instead of each making their
//! own, and a failed read keeps the last copy (logged) and is retried after a short pause.
//!
//! Periods are measured on the platform's clock, so tests move time instead of waiting.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::clock::SharedClock;

/// After a failed read, how long the last copy is used before the next attempt.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

struct Snapshot<T> {
    value: Arc<T>,
    fresh_until: i64,
}

/// A copy of one stored value, read again once it is `ttl` old.
pub struct Refreshing<T> {
    clock: SharedClock,
    ttl: Duration,
    snapshot: RwLock<Option<Snapshot<T>>>,
    loading: tokio::sync::Mutex<()>,
}

impl<T: Default + Send + Sync> Refreshing<T> {
    pub fn new(clock: SharedClock, ttl: Duration) -> Self {
        Self {
            clock,
            ttl,
            snapshot: RwLock::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// The copy, read with `load` (given the clock's epoch seconds) when it is missing or stale. A failed read
    /// answers the last copy (the default value when there is none) and is logged under `what`.
    pub async fn get<F, Fut, E>(&self, what: &str, load: F) -> Arc<T>
    where
        F: FnOnce(i64) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: std::fmt::Display,
    {
        let now = self.clock.now().unix_timestamp();
        if let Some(value) = self.fresh(now) {
            return value;
        }
        let _one_at_a_time = self.loading.lock().await;
        if let Some(value) = self.fresh(now) {
            return value;
        }
        let (value, valid_for) = match load(now).await {
            Ok(value) => (Arc::new(value), self.ttl),
            Err(e) => {
                tracing::error!(error = %e, what, "a cached value could not be read; the last copy stays in use");
                let last = self
                    .snapshot
                    .read()
                    .ok()
                    .and_then(|s| s.as_ref().map(|s| s.value.clone()))
                    .unwrap_or_default();
                (last, RETRY_AFTER_FAILURE)
            }
        };
        if let Ok(mut snapshot) = self.snapshot.write() {
            *snapshot = Some(Snapshot {
                value: value.clone(),
                fresh_until: now + valid_for.as_secs() as i64,
            });
        }
        value
    }

    /// Drops the copy: the next [`Refreshing::get`] reads again (after a change made in this process).
    pub fn invalidate(&self) {
        if let Ok(mut snapshot) = self.snapshot.write() {
            *snapshot = None;
        }
    }

    fn fresh(&self, now: i64) -> Option<Arc<T>> {
        let snapshot = self.snapshot.read().ok()?;
        snapshot
            .as_ref()
            .filter(|s| now < s.fresh_until)
            .map(|s| s.value.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn reads_once_per_period_and_again_after_it_or_after_invalidation() {
        let clock = ManualClock::starting_now();
        let cache: Refreshing<usize> =
            Refreshing::new(Arc::new(clock.clone()), Duration::from_secs(30));
        let reads = AtomicUsize::new(0);
        let load = |_| async { Ok::<_, String>(reads.fetch_add(1, Ordering::SeqCst) + 1) };
        for _ in 0..100 {
            assert_eq!(*cache.get("n", load).await, 1);
        }
        clock.advance(Duration::from_secs(29));
        assert_eq!(*cache.get("n", load).await, 1);
        clock.advance(Duration::from_secs(1));
        assert_eq!(*cache.get("n", load).await, 2);
        cache.invalidate();
        assert_eq!(*cache.get("n", load).await, 3);
        assert_eq!(reads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_read_keeps_the_last_copy_and_retries_soon() {
        let clock = ManualClock::starting_now();
        let cache: Refreshing<usize> =
            Refreshing::new(Arc::new(clock.clone()), Duration::from_secs(30));
        assert_eq!(*cache.get("n", |_| async { Ok::<_, String>(7) }).await, 7);
        clock.advance(Duration::from_secs(30));
        assert_eq!(
            *cache.get("n", |_| async { Err::<usize, _>("down") }).await,
            7
        );
        clock.advance(Duration::from_secs(5));
        assert_eq!(*cache.get("n", |_| async { Ok::<_, String>(8) }).await, 8);
    }
}
