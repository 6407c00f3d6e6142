//! Timing helpers of the benchmarks (`tests/benches`): samples of one operation and the table row they make.

use std::time::{Duration, Instant};

/// Count, mean, p50, p95 and max of a set of timings, in milliseconds.
pub struct Stats {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Stats {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            samples: Vec::new(),
        }
    }

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

/// Runs `work`, adding how long it took to `stats`.
pub async fn timed<T>(stats: &mut Stats, work: impl Future<Output = T>) -> T {
    let start = Instant::now();
    let out = work.await;
    stats.samples.push(start.elapsed());
    out
}

/// The header of the rows [`Stats::row`] prints.
pub fn header() -> String {
    format!(
        "{:<28} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "operation (ms)", "n", "mean", "p50", "p95", "max"
    )
}
