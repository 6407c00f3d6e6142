//! CloudWatch metrics in the Embedded Metric Format (EMF): JSON lines on stdout that CloudWatch Logs turns into
//! metrics, with no API call and no agent. Per route (method and template, e.g. `GET /v1/users/me`): `Requests`,
//! `Errors` (5xx), `ClientErrors` (4xx) and `Latency` (ms); per function: `ColdStart`, once per process.
//!
//! Requests are counted in memory and written out in batches, so the cost per request is a lock and a few
//! additions, not a formatted line and a write. Latencies are kept as value/count pairs (EMF's histogram form,
//! `{"Values": [...], "Counts": [...]}`, which CloudWatch's statistics and percentiles read like single values),
//! each latency rounded to two significant digits (within 5%), so a route's line stays short however many
//! requests it sums up. On Lambda the batch is written at the end of every invocation, because the process may be
//! frozen right after answering; elsewhere (the dev server) at most once a second per process, or sooner for a
//! route whose latencies reach the 100 distinct values one EMF metric may hold.
//!
//! `LECTERN_METRICS=emf` turns them on, `off` turns them off; the default is on inside a Lambda runtime
//! (`AWS_LAMBDA_FUNCTION_NAME` set) and off elsewhere, so the dev server's stdout stays quiet unless asked.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Lectern";
/// Most distinct values one EMF metric may carry in one line.
const MAX_VALUES: usize = 100;

/// Where a request's figures are added up until they are written.
pub struct Metrics {
    service: String,
    /// `None`: write after every request (Lambda); otherwise at most this often.
    every: Option<Duration>,
    cold: AtomicBool,
    state: Mutex<State>,
    sink: Box<dyn Fn(&str) + Send + Sync>,
}

struct State {
    routes: HashMap<String, RouteFigures>,
    since: Instant,
}

#[derive(Default)]
struct RouteFigures {
    requests: u64,
    errors: u64,
    client_errors: u64,
    /// Latency in microseconds, rounded to two significant digits → how many requests took it.
    latency_us: HashMap<u64, u64>,
}

/// A latency in microseconds rounded to two significant digits (0.44 ms stays 0.44 ms, 1.234 ms becomes 1.2 ms).
fn rounded_us(elapsed: Duration) -> u64 {
    let mut value = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let mut scale = 1;
    while value >= 100 {
        value = (value + 5) / 10;
        scale *= 10;
    }
    value * scale
}

static GLOBAL: OnceLock<Option<Metrics>> = OnceLock::new();

/// The process's metrics, as `LECTERN_METRICS` and the runtime decide (`None`: off).
pub fn global() -> Option<&'static Metrics> {
    GLOBAL
        .get_or_init(|| {
            let lambda = std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok();
            let on = match std::env::var("LECTERN_METRICS").as_deref() {
                Ok("emf") => true,
                Ok("off") => false,
                _ => lambda.is_some(),
            };
            on.then(|| {
                let service = lambda.clone().unwrap_or_else(|| "lectern".into());
                let every = if lambda.is_some() {
                    None
                } else {
                    Some(Duration::from_secs(1))
                };
                Metrics::new(service, every, Box::new(write_stdout))
            })
        })
        .as_ref()
}

fn write_stdout(line: &str) {
    // One write per line, so lines from concurrent flushes never interleave.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

impl Metrics {
    /// Metrics of `service` written through `sink` (one EMF line per call), after every request or at most
    /// `every`.
    pub fn new(
        service: String,
        every: Option<Duration>,
        sink: Box<dyn Fn(&str) + Send + Sync>,
    ) -> Self {
        Self {
            service,
            every,
            cold: AtomicBool::new(true),
            state: Mutex::new(State {
                routes: HashMap::new(),
                since: Instant::now(),
            }),
            sink,
        }
    }

    /// Counts one answered request of `route` (`GET /v1/users/me`).
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        if self.cold.swap(false, Ordering::Relaxed) {
            (self.sink)(&self.cold_start_line());
        }
        let due = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let figures = match state.routes.get_mut(route) {
                Some(figures) => figures,
                None => state.routes.entry(route.to_string()).or_default(),
            };
            figures.requests += 1;
            figures.errors += u64::from(status >= 500);
            figures.client_errors += u64::from((400..500).contains(&status));
            *figures.latency_us.entry(rounded_us(elapsed)).or_default() += 1;
            let full = figures.latency_us.len() >= MAX_VALUES;
            let due = full
                || self
                    .every
                    .is_none_or(|every| state.since.elapsed() >= every);
            if due {
                state.since = Instant::now();
                Some(std::mem::take(&mut state.routes))
            } else {
                None
            }
        };
        // Formatting and writing happen outside the lock.
        if let Some(routes) = due {
            for (route, figures) in routes {
                (self.sink)(&self.route_line(&route, &figures));
            }
        }
    }

    /// Writes what has not been written yet (at shutdown).
    pub fn flush(&self) {
        let routes = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::take(&mut state.routes)
        };
        for (route, figures) in routes {
            (self.sink)(&self.route_line(&route, &figures));
        }
    }

    fn route_line(&self, route: &str, figures: &RouteFigures) -> String {
        let mut pairs: Vec<(u64, u64)> = figures.latency_us.iter().map(|(v, n)| (*v, *n)).collect();
        pairs.sort_unstable();
        let latency = json!({
            "Values": pairs.iter().map(|(us, _)| *us as f64 / 1000.0).collect::<Vec<_>>(),
            "Counts": pairs.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        });
        let line = json!({
            "_aws": metadata(&[("Requests", "Count"), ("Errors", "Count"), ("ClientErrors", "Count"),
                               ("Latency", "Milliseconds")], &["Service", "Route"]),
            "Service": self.service,
            "Route": route,
            "Requests": figures.requests,
            "Errors": figures.errors,
            "ClientErrors": figures.client_errors,
            "Latency": latency,
        });
        format!("{line}\n")
    }

    fn cold_start_line(&self) -> String {
        let line = json!({
            "_aws": metadata(&[("ColdStart", "Count")], &["Service"]),
            "Service": self.service,
            "ColdStart": 1,
        });
        format!("{line}\n")
    }
}

/// The `_aws` block: which members are metrics (with units) and which are dimensions.
fn metadata(metrics: &[(&str, &str)], dimensions: &[&str]) -> Value {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    json!({
        "Timestamp": timestamp,
        "CloudWatchMetrics": [{
            "Namespace": NAMESPACE,
            "Dimensions": [dimensions],
            "Metrics": metrics.iter().map(|(name, unit)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
        }],
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn collecting(every: Option<Duration>) -> (Metrics, Arc<Mutex<Vec<Value>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let metrics = Metrics::new(
            "users".into(),
            every,
            Box::new(move |line| {
                assert!(line.ends_with('\n'), "one line each");
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str(line).unwrap());
            }),
        );
        (metrics, lines)
    }

    #[test]
    fn latencies_keep_two_significant_digits() {
        let us = |n| rounded_us(Duration::from_micros(n));
        assert_eq!(us(7), 7);
        assert_eq!(us(99), 99);
        assert_eq!(us(440), 440);
        assert_eq!(us(1234), 1200);
        assert_eq!(us(1250), 1300);
        assert_eq!(us(98_765), 99_000);
        assert_eq!(us(99_999), 100_000);
    }

    #[test]
    fn lambda_writes_a_cold_start_then_one_line_per_invocation() {
        let (metrics, lines) = collecting(None);
        metrics.record("GET /v1/users/me", 200, Duration::from_micros(1500));
        metrics.record("GET /v1/users/me", 503, Duration::from_millis(3));
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["ColdStart"], 1);
        assert_eq!(
            lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Service"]])
        );
        let first = &lines[1];
        assert_eq!(first["Service"], "users");
        assert_eq!(first["Route"], "GET /v1/users/me");
        assert_eq!(first["Requests"], 1);
        assert_eq!(first["Latency"], json!({"Values": [1.5], "Counts": [1]}));
        let emf = &first["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(emf["Namespace"], "Lectern");
        assert_eq!(emf["Dimensions"], json!([["Service", "Route"]]));
        assert!(first["_aws"]["Timestamp"].as_u64().unwrap() > 1_600_000_000_000);
        // Every metric the block names is a member of the line.
        for metric in emf["Metrics"].as_array().unwrap() {
            assert!(
                first.get(metric["Name"].as_str().unwrap()).is_some(),
                "{metric}"
            );
        }
        assert_eq!(lines[2]["Errors"], 1);
        assert_eq!(lines[2]["ClientErrors"], 0);
    }

    #[test]
    fn elsewhere_requests_are_summed_per_route_as_value_count_pairs() {
        let (metrics, lines) = collecting(Some(Duration::from_secs(3600)));
        for i in 0..150 {
            let status = if i % 10 == 0 { 404 } else { 200 };
            let took = if i % 3 == 0 { 2 } else { 1 };
            metrics.record("GET /v1/health", status, Duration::from_millis(took));
        }
        metrics.record("GET /v1/users/me", 200, Duration::from_millis(2));
        assert_eq!(lines.lock().unwrap().len(), 1, "only the cold start so far");
        metrics.flush();
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 3);
        let health = lines[1..]
            .iter()
            .find(|l| l["Route"] == "GET /v1/health")
            .unwrap();
        assert_eq!(health["Requests"], 150);
        assert_eq!(health["ClientErrors"], 15);
        assert_eq!(
            health["Latency"],
            json!({"Values": [1.0, 2.0], "Counts": [100, 50]})
        );
    }

    #[test]
    fn a_route_with_a_full_value_array_is_written_at_once() {
        let (metrics, lines) = collecting(Some(Duration::from_secs(3600)));
        for i in 0..MAX_VALUES as u64 {
            metrics.record("GET /v1/health", 200, Duration::from_micros(i));
        }
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["Requests"], MAX_VALUES as u64);
        assert_eq!(
            lines[1]["Latency"]["Values"].as_array().unwrap().len(),
            MAX_VALUES
        );
    }
}
