//! Structured JSON logs on stderr (stdout is kept for command output).

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the JSON log subscriber; `RUST_LOG` overrides the `info` default.
/// Also routes panics through the log, so a panic is one JSON line at error
/// level instead of free text.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
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
}
