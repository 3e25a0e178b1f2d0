//! One JSON object per log line, written straight into tracing's buffer.
//!
//! [`JsonLines`] is a `tracing-subscriber` event formatter producing
//! `{"timestamp","level","target","message",<fields…>}` with the event's
//! fields flattened at the top level, the shape log pipelines index best.
//! It exists because the access log writes a line per request, and the
//! generic JSON formatter of `tracing-subscriber` (a serde map per event,
//! span bookkeeping) cost more than the rest of the middleware stack
//! together; this one writes the bytes directly.
//!
//! Span fields are not included: request context travels as event fields.
//!
//! Every string field and message passes through [`crate::redact`], and
//! fields with secret-looking names are replaced whole, so a password,
//! token or card number logged by mistake does not reach the output. The
//! access log (`target: "rampart::access"`) is exempt: it is built only from
//! validated values (method, route template, request id, status) and is the
//! one line written per request.
//!
//! ```
//! use rampart::logging::JsonLines;
//!
//! let subscriber = tracing_subscriber::fmt()
//!     .event_format(JsonLines::new())
//!     .with_writer(std::io::sink)
//!     .finish();
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(request_id = "abc", status = 200u16, "request");
//! });
//! ```

use std::fmt::{self, Write};

use crate::redact::{REDACTED, is_sensitive_key, redact_text};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};

/// The JSON-lines event formatter; see the [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines {
    _priv: (),
}

impl JsonLines {
    /// A new formatter.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
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
        let meta = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut writer, std::time::SystemTime::now())?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(meta.level().as_str())?;
        writer.write_str("\",\"target\":")?;
        write_json_str(&mut writer, meta.target())?;
        let mut visitor = JsonVisitor {
            writer: &mut writer,
            result: Ok(()),
            redact: meta.target() != "rampart::access",
        };
        event.record(&mut visitor);
        visitor.result?;
        writer.write_str("}\n")
    }
}

struct JsonVisitor<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
    redact: bool,
}

impl JsonVisitor<'_, '_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        // Field names are Rust identifiers: nothing in them needs escaping.
        self.writer.write_str(",\"")?;
        self.writer.write_str(field.name())?;
        self.writer.write_str("\":")
    }

    fn with(&mut self, field: &Field, f: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| f(self.writer));
        }
    }
}

impl Visit for JsonVisitor<'_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.with(field, |w| {
            if value.is_finite() {
                write!(w, "{value}")
            } else {
                w.write_str("null")
            }
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.with(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.with(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.with(field, |w| write!(w, "{value}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.redact {
            // The access log's strings are a validated request id, a method
            // label and a route template of the application's own: written
            // as they are. Only its `error` (a 5xx's cause) is free text.
            if field.name() != "error" && value.bytes().all(is_plain) {
                return self.with(field, |w| {
                    w.write_char('"')?;
                    w.write_str(value)?;
                    w.write_char('"')
                });
            }
            return self.with(field, |w| write_json_str(w, value));
        }
        if is_sensitive_key(field.name()) {
            return self.with(field, |w| write_json_str(w, REDACTED));
        }
        let clean = redact_text(value);
        self.with(field, |w| write_json_str(w, &clean));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.redact {
            return self.with(field, |w| {
                w.write_char('"')?;
                // Escape while formatting, without an intermediate String.
                write!(Escaper(w), "{value:?}")?;
                w.write_char('"')
            });
        }
        if is_sensitive_key(field.name()) {
            return self.with(field, |w| write_json_str(w, REDACTED));
        }
        // Messages arrive as `Debug` of their format arguments.
        let text = format!("{value:?}");
        let clean = redact_text(&text);
        self.with(field, |w| write_json_str(w, &clean));
    }
}

/// Writes `at` as RFC 3339 UTC with microseconds. The part up to the
/// second is formatted once per second per thread: calendar arithmetic for
/// every line cost as much as the rest of the access-log line.
fn write_timestamp(w: &mut impl Write, at: std::time::SystemTime) -> fmt::Result {
    use std::{cell::Cell, time::UNIX_EPOCH};
    thread_local! {
        static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
    }
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (cached, mut prefix) = SECOND.get();
    if cached != secs {
        let text =
            humantime::format_rfc3339_seconds(UNIX_EPOCH + std::time::Duration::from_secs(secs))
                .to_string();
        // "YYYY-MM-DDTHH:MM:SSZ"; any other shape (years past 9999) is
        // written whole, uncached.
        let Some(head) = text.as_bytes().get(..19).filter(|_| text.len() == 20) else {
            return write!(w, "{}", humantime::format_rfc3339_micros(at));
        };
        prefix.copy_from_slice(head);
        SECOND.set((secs, prefix));
    }
    let prefix = std::str::from_utf8(&prefix).map_err(|_| fmt::Error)?;
    write!(w, "{prefix}.{:06}Z", since.subsec_micros())
}

/// A byte that a JSON string holds as it is, and that cannot start an
/// escape or end the string.
fn is_plain(b: u8) -> bool {
    b >= 0x20 && b != b'"' && b != b'\\'
}

/// Writes `s` as a JSON string literal.
fn write_json_str(w: &mut impl Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaper(w).write_str(s)?;
    w.write_char('"')
}

/// A `fmt::Write` adapter escaping everything JSON strings cannot hold.
struct Escaper<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Escaper<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let escaped = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&s[start..i])?;
            if escaped.is_empty() {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_str(escaped)?;
            }
            start = i + 1;
        }
        self.0.write_str(&s[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `f` logs through [`JsonLines`].
    fn logged(f: impl FnOnce()) -> String {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLines::new())
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(capture.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn events_become_one_valid_json_object_per_line() {
        let text = logged(|| {
            tracing::info!(
                request_id = "a\"b\nc",
                status = 200u16,
                latency_ms = 1.5,
                ok = true,
                "request"
            );
            tracing::warn!(value = ?Some("x\u{1}"), "second {}", 2);
        });
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["message"], "request");
        assert_eq!(lines[0]["request_id"], "a\"b\nc");
        assert_eq!(lines[0]["status"], 200);
        assert_eq!(lines[0]["latency_ms"], 1.5);
        assert_eq!(lines[0]["ok"], true);
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[1]["message"], "second 2");
        assert_eq!(lines[1]["value"], "Some(\"x\\u{1}\")");
        assert!(lines[1]["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn access_lines_stay_valid_json_whatever_their_strings() {
        let text = logged(|| {
            tracing::info!(target: "rampart::access", route = "/a/{id}", request_id = "q\"u\\o\nte", "request");
        });
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["route"], "/a/{id}");
        assert_eq!(line["request_id"], "q\"u\\o\nte");
    }

    #[test]
    fn timestamps_match_the_uncached_format() {
        use std::time::{Duration, UNIX_EPOCH};
        for secs in [
            0,
            1_700_000_000,
            1_700_000_000,
            1_700_000_001,
            4_102_444_799,
        ] {
            for micros in [0, 7, 999_999] {
                let at = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros);
                let mut ours = String::new();
                write_timestamp(&mut ours, at).unwrap();
                assert_eq!(ours, humantime::format_rfc3339_micros(at).to_string());
            }
        }
    }

    #[test]
    fn secrets_never_reach_the_output() {
        let text = logged(|| {
            tracing::warn!(
                password = "hunter2",
                note = "card 4111 1111 1111 1111",
                "got Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln from {}",
                "bob"
            );
        });
        assert!(
            !text.contains("hunter2") && !text.contains("4111") && !text.contains("c2ln"),
            "{text}"
        );
        assert!(text.contains("bob"));
    }
}
