//! Structured logs: JSON lines with the request span's fields (so every line carries its `request_id`, and the
//! `route` and `user_id` once known). `LECTERN_LOG` sets the filter (default `info`; `target=level` directives
//! separated by commas, e.g. `lectern_shared=debug,info`); `LECTERN_LOG_FORMAT=pretty` gives human-readable
//! lines. Logs go to stderr: Lambda collects both streams, and stdout stays free for what a command prints
//! (`lectern event`, `lectern openapi`) and for the metrics ([`crate::metrics`]).
//!
//! The filter is a plain target filter rather than `EnvFilter`: it is cheaper per event and spares every binary a
//! regular-expression engine (span-field directives were never used).

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter `LECTERN_LOG` asks for; `info` when it is unset, empty or not understood.
fn filter(spec: Option<&str>) -> Targets {
    spec.map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO))
}

/// Installs the global subscriber once; later calls do nothing (tests call it freely).
pub fn init() {
    let filter = filter(std::env::var("LECTERN_LOG").ok().as_deref());
    let pretty = std::env::var("LECTERN_LOG_FORMAT").is_ok_and(|v| v == "pretty");
    let result = if pretty {
        tracing_subscriber::registry()
            .with(filter)
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_span_events(FmtSpan::NONE),
            )
            .try_init()
    } else {
        tracing_subscriber::registry()
            .with(filter)
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_current_span(true)
                    .with_span_list(false)
                    .flatten_event(true)
                    .with_target(true)
                    // CloudWatch shows raw text; colour codes would only be noise.
                    .with_ansi(false),
            )
            .try_init()
    };
    let _ = result;
}

#[cfg(test)]
mod tests {
    use tracing::level_filters::LevelFilter;

    use super::*;

    #[test]
    fn the_filter_reads_directives_and_falls_back_to_info() {
        assert_eq!(filter(None).default_level(), Some(LevelFilter::INFO));
        assert_eq!(filter(Some("  ")).default_level(), Some(LevelFilter::INFO));
        assert_eq!(
            filter(Some("=nonsense=")).default_level(),
            Some(LevelFilter::INFO)
        );
        let parsed = filter(Some("lectern_shared=debug,warn"));
        assert!(parsed.would_enable("lectern_shared::table", &Level::DEBUG));
        assert!(!parsed.would_enable("hyper", &Level::INFO));
        assert!(parsed.would_enable("hyper", &Level::WARN));
    }
}
