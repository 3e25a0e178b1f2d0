//! Structured JSON logs on stderr (stdout is kept for command output).

use std::io::{BufWriter, Write};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{EnvFilter, fmt};

/// Installs the JSON log subscriber writing to `writer`; `RUST_LOG`
/// overrides the `info` default. Lines go through a background thread that
/// writes them in batches: one `write` per burst instead of one per request
/// kept the per-request log line from costing a system call on the request
/// path. The queue never drops lines (it applies back-pressure instead), and
/// the returned guard flushes what is queued when dropped, so keep it alive
/// until the process ends.
///
/// Also routes panics through the log, so a panic is one JSON line at error
/// level instead of free text.
pub fn init_with_writer<W: Write + Send + 'static>(writer: W) -> WorkerGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("rampart-log")
        .finish(BufWriter::with_capacity(64 * 1024, writer));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .event_format(rampart::logging::JsonLines::new())
        .with_env_filter(filter)
        .with_writer(writer)
        .try_init();
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(target: "rampart::panic", location, message, "panic");
    }));
    guard
}

/// [`init_with_writer`] on stderr.
pub fn init() -> WorkerGuard {
    init_with_writer(std::io::stderr())
}
