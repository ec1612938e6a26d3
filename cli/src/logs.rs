//! Where log lines go and how they look: stderr, filtered by `MUNJIGI_LOG`
//! (default `info`), as text (the default) or, with `MUNJIGI_LOG_FORMAT=json`,
//! one JSON object per line for a log collector.
//!
//! A JSON line is flat: `time` (RFC 3339, UTC, microseconds), `level`,
//! `message`, then the fields of every span the event is in (outermost first:
//! the `request` span's `request_id`, `trace_id`, `method`, `path`, `txn`),
//! then the event's own fields (which win over a span's of the same name),
//! and `span`, the innermost span's name. Nothing is added that the event
//! and its spans did not carry, so the rule "no personal data in logs" holds
//! for both formats alike.

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The two formats; anything else in `MUNJIGI_LOG_FORMAT` is refused at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    /// From `MUNJIGI_LOG_FORMAT` (unset or empty: text).
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("MUNJIGI_LOG_FORMAT") {
            Err(std::env::VarError::NotPresent) => Ok(Self::Text),
            Ok(v) => Self::parse(&v),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err("MUNJIGI_LOG_FORMAT must be `text` or `json`".into())
            }
        }
    }

    fn parse(v: &str) -> Result<Self, String> {
        match v.trim() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "MUNJIGI_LOG_FORMAT must be `text` or `json`, not `{}`",
                other.escape_debug()
            )),
        }
    }
}

/// Installs the process's subscriber.
pub fn init(format: Format) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MUNJIGI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match format {
        Format::Text => {
            // Colours only on a terminal: log files and collectors get plain text.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_target(false)
                .with_ansi(ansi)
                .with_writer(std::io::stderr)
                .init();
        }
        Format::Json => {
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::io::stderr)
                // Span fields are kept as JSON objects, merged flat per line.
                .fmt_fields(JsonFields::new())
                .event_format(FlatJson)
                .init();
        }
    }
}

/// One flat JSON object per event (see the module docs).
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = Map::new();
        line.insert(
            "time".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert(
            "level".into(),
            Value::String(event.metadata().level().to_string()),
        );
        let mut innermost = None;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>() {
                    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(fields.as_str()) {
                        line.extend(m);
                    }
                }
                innermost = Some(span.name());
            }
        }
        if let Some(name) = innermost {
            line.insert("span".into(), Value::String(name.to_owned()));
        }
        let mut visitor = Fields(&mut line);
        event.record(&mut visitor);
        // `message` first after time and level would be nicer to read, but
        // a collector reads keys, not positions.
        let text = serde_json::to_string(&line).map_err(|_| std::fmt::Error)?;
        writer.write_str(&text)?;
        writer.write_char('\n')
    }
}

/// An event's fields as JSON values (numbers and booleans kept as such).
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_text_and_json_are_formats() {
        assert_eq!(Format::parse("").unwrap(), Format::Text);
        assert_eq!(Format::parse("text").unwrap(), Format::Text);
        assert_eq!(Format::parse("json").unwrap(), Format::Json);
        for bad in ["JSON", "logfmt", "jsonl", "yes"] {
            let e = Format::parse(bad).unwrap_err();
            assert!(e.contains("`text` or `json`") && e.contains(bad), "{e}");
        }
    }
}
