//! Structured logs: JSON lines with the request span's fields (so every line carries its `request_id`, and the
//! `route` and `user_id` once known). `LECTERN_LOG` sets the filter (default `info`; `target=level` directives
//! separated by commas, e.g. `lectern_shared=debug,info`); `LECTERN_LOG_FORMAT=pretty` gives human-readable
//! lines. Logs go to stderr: Lambda collects both streams, and stdout stays free for what a command prints
//! (`lectern event`, `lectern openapi`) and for the metrics ([`crate::metrics`]).
//!
//! The filter is a plain target filter rather than `EnvFilter`: it is cheaper per event and spares every binary a
//! regular-expression engine (span-field directives were never used).
//!
//! What a request costs here is priced by `bench/run` (observability must stay within a few percent of
//! throughput). Two choices keep it there:
//! - A request's `served` line is written at info level only when it is worth reading — an error answer (4xx,
//!   5xx) or a slow one — and at debug level otherwise; `LECTERN_LOG=info,lectern_shared::http::request_id=debug`
//!   logs every request. On AWS the HTTP API's access log already has a line per request (request id, route,
//!   status, latency; see the template), so a line per success from the function would only say it twice.
//! - Span fields recorded after the span opened (`user_id`) are appended to its JSON ([`AppendingJsonFields`])
//!   instead of parsed and written again, which is what tracing-subscriber's own `JsonFields` does on every record.

use tracing::Level;
use tracing::Subscriber;
use tracing::span::Record;
use tracing_subscriber::Layer;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{FmtSpan, JsonFields, Writer};
use tracing_subscriber::fmt::{FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Span fields as one JSON object, like tracing-subscriber's [`JsonFields`], except that fields recorded later are
/// spliced onto the end of the object rather than merged by parsing it and serializing it again. A field recorded
/// twice then appears twice; JSON readers (and serde_json) keep the last, which is the value recorded last.
#[derive(Debug, Default)]
pub struct AppendingJsonFields;

impl<'writer> FormatFields<'writer> for AppendingJsonFields {
    fn format_fields<R: RecordFields>(
        &self,
        writer: Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        JsonFields::new().format_fields(writer, fields)
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> std::fmt::Result {
        let mut more = String::new();
        JsonFields::new().format_fields(Writer::new(&mut more), fields)?;
        let Some(inner) = more.strip_prefix('{').and_then(|m| m.strip_suffix('}')) else {
            return Err(std::fmt::Error);
        };
        if inner.is_empty() {
            return Ok(());
        }
        let existing = current.fields.trim_end();
        if existing.is_empty() || existing == "{}" {
            current.fields = more;
        } else if existing.ends_with('}') {
            current.fields.truncate(existing.len() - 1);
            current.fields.push(',');
            current.fields.push_str(inner);
            current.fields.push('}');
        } else {
            return Err(std::fmt::Error);
        }
        Ok(())
    }
}

/// The JSON log layer every function and the dev server install (and the observability tests, with their own
/// writer): one object per line, the event's fields flattened beside its message and the current span's fields
/// under `span`.
pub fn json_layer<S, W>(writer: W) -> impl Layer<S> + Send + Sync
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .fmt_fields(AppendingJsonFields)
        .with_writer(writer)
        .with_target(true)
        // CloudWatch shows raw text; colour codes would only be noise.
        .with_ansi(false)
}

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
            .with(json_layer(std::io::stderr))
            .try_init()
    };
    let _ = result;
}

#[cfg(test)]
mod tests {
    use tracing::level_filters::LevelFilter;

    use super::*;

    /// Collects what the layer writes.
    #[derive(Clone, Default)]
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn fields_recorded_later_are_appended_and_the_last_value_wins() {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::registry().with(json_layer(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                route = "/v1/x",
                user_id = tracing::field::Empty,
                tier = tracing::field::Empty
            );
            span.record("user_id", "u1");
            span.record("tier", "free");
            span.record("tier", "pro");
            span.in_scope(|| tracing::info!(n = 1, "done"));
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["span"]["route"], "/v1/x");
        assert_eq!(line["span"]["user_id"], "u1");
        assert_eq!(line["span"]["tier"], "pro");
        assert_eq!(line["n"], 1);
        assert_eq!(line["message"], "done");
    }

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
