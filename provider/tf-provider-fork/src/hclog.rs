//! Logs for `TF_LOG`: go-hclog JSON lines on stderr. Terraform's plugin client reads a
//! provider's stderr and logs each JSON line at its own `@level` (hashicorp/go-plugin,
//! `logStderr`); a line that is not JSON would land at debug level only. Written only when
//! `TF_LOG_PROVIDER` or `TF_LOG` asks for logs, and only for the provider's own targets.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The level `TF_LOG_PROVIDER` (or else `TF_LOG`) asks for, as Terraform reads them: `JSON` and
/// any unknown value mean `TRACE`; unset, empty or `OFF` mean no logs.
pub fn level_from_env() -> Option<Level> {
    let value = std::env::var("TF_LOG_PROVIDER")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| std::env::var("TF_LOG").ok())?;
    match value.to_ascii_uppercase().as_str() {
        "" | "OFF" => None,
        "ERROR" => Some(Level::ERROR),
        "WARN" => Some(Level::WARN),
        "INFO" => Some(Level::INFO),
        "DEBUG" => Some(Level::DEBUG),
        _ => Some(Level::TRACE),
    }
}

/// Crates whose own logs would drown the provider's at debug and trace: warnings only.
const QUIET: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "tower_http",
    "rustls",
    "reqwest",
];

/// Installs the stderr logger at `level`.
pub fn init(level: Level) {
    let filter = QUIET
        .iter()
        .fold(Targets::new().with_default(level), |filter, target| {
            filter.with_target(*target, Level::WARN)
        });
    let layer = tracing_subscriber::fmt::layer()
        .event_format(HcLog)
        .with_writer(std::io::stderr)
        .with_filter(filter);
    // Another subscriber already installed (a test) keeps its place.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// Formats an event as one go-hclog JSON line.
struct HcLog;

impl<S, N> FormatEvent<S, N> for HcLog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        event.record(&mut Fields(&mut fields));
        let message = match fields.remove("message") {
            Some(Value::String(message)) => message,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let mut line = Map::new();
        line.insert(
            "@level".into(),
            level_name(*event.metadata().level()).into(),
        );
        line.insert("@message".into(), message.into());
        line.insert("@module".into(), event.metadata().target().into());
        line.insert(
            "@timestamp".into(),
            timestamp(time::OffsetDateTime::now_utc()).into(),
        );
        line.extend(fields);
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// go-plugin parses `@timestamp` with exactly hclog's layout `2006-01-02T15:04:05.000000Z07:00`
/// (microseconds); any other form makes it log the whole line as unparsed text.
fn timestamp(at: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.into());
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_becomes_one_hclog_json_line() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .event_format(HcLog)
                .with_writer(move || writer.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                path = "/v1/api-keys",
                attempt = 2u32,
                "request will be retried"
            );
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["@level"], "info");
        assert_eq!(line["@message"], "request will be retried");
        assert_eq!(line["path"], "/v1/api-keys");
        assert_eq!(line["attempt"], 2);
        let at = line["@timestamp"].as_str().unwrap();
        assert_eq!(at.len(), "2006-01-02T15:04:05.000000Z".len(), "{at}");
    }
}
