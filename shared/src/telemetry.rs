//! Structured logs: JSON lines with the request span's fields (so every line carries its `request_id`).
//! `LECTERN_LOG` sets the filter (default `info`); `LECTERN_LOG_FORMAT=pretty` gives human-readable lines. Logs go
//! to stderr: Lambda collects both streams, and stdout stays free for what a command prints (`lectern event`,
//! `lectern openapi`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the global subscriber once; later calls do nothing (tests call it freely).
pub fn init() {
    let filter = EnvFilter::try_from_env("LECTERN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let pretty = std::env::var("LECTERN_LOG_FORMAT").is_ok_and(|v| v == "pretty");
    let result = if pretty {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_span_events(FmtSpan::NONE)
            .try_init()
    } else {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .with_target(true)
            // CloudWatch shows raw text; colour codes would only be noise.
            .with_ansi(false)
            .try_init()
    };
    let _ = result;
}
