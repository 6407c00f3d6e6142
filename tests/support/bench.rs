//! What the benchmarks share: timings of one operation, summarised as count, mean, p50, p95 and max.

use std::future::Future;
use std::time::{Duration, Instant};

/// Timings of one operation.
pub struct Stats {
    pub name: &'static str,
    pub samples: Vec<Duration>,
}

impl Stats {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            samples: Vec::new(),
        }
    }

    /// Count, mean, p50, p95 and max, in milliseconds, as a table row.
    pub fn row(&mut self) -> String {
        self.samples.sort();
        let n = self.samples.len();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at = |q: f64| {
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            ms(self.samples[rank - 1])
        };
        let mean = self.samples.iter().map(|d| ms(*d)).sum::<f64>() / n as f64;
        format!(
            "{:<28} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            self.name,
            n,
            mean,
            at(0.50),
            at(0.95),
            ms(self.samples[n - 1])
        )
    }
}

/// Runs `work`, adding its duration to `stats`.
pub async fn timed<T>(stats: &mut Stats, work: impl Future<Output = T>) -> T {
    let start = Instant::now();
    let out = work.await;
    stats.samples.push(start.elapsed());
    out
}

/// The header of [`Stats::row`]'s table.
pub fn header() -> String {
    format!(
        "{:<28} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "operation (ms)", "n", "mean", "p50", "p95", "max"
    )
}
