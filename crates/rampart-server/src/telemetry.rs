//! Structured JSON logs on stderr (stdout is kept for command output).

use std::{
    io::Write,
    sync::{Arc, Condvar, Mutex, PoisonError},
    thread::JoinHandle,
    time::Duration,
};

use tracing_subscriber::{EnvFilter, fmt, fmt::MakeWriter};

/// How long a line may wait in memory before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Lines waiting beyond this are written at once by the thread logging,
/// so a burst never grows memory without bound and never drops a line.
const MAX_WAITING: usize = 1 << 20;

/// Installs the JSON log subscriber writing to `writer`; `RUST_LOG`
/// overrides the `info` default. The threads that log append their lines
/// to one buffer in memory and a background thread writes it out every
/// 50 ms: a line costs a lock and a copy on the request path, never a
/// system call or the wake-up of another thread (handing each line to a
/// writer thread cost a futex wake and a context switch per request). No
/// line is dropped; the returned guard writes what is waiting when dropped,
/// so keep it alive until the process ends.
///
/// Also routes panics through the log, so a panic is one JSON line at error
/// level instead of free text, written before the panic goes on.
pub fn init_with_writer<W: Write + Send + 'static>(writer: W) -> LogGuard {
    let shared = Arc::new(Shared {
        waiting: Mutex::new(Vec::with_capacity(64 * 1024)),
        out: Mutex::new(Box::new(writer)),
        stop: Mutex::new(false),
        wake: Condvar::new(),
    });
    let flusher = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("rampart-log".into())
            .spawn(move || shared.run())
            .ok()
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .event_format(rampart::logging::JsonLines::new())
        .with_env_filter(filter)
        .with_writer(Batched(shared.clone()))
        .try_init();
    let on_panic = shared.clone();
    std::panic::set_hook(Box::new(move |info| {
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
        on_panic.write_out();
    }));
    LogGuard { shared, flusher }
}

/// [`init_with_writer`] on stderr.
pub fn init() -> LogGuard {
    init_with_writer(std::io::stderr())
}

/// Writes what is waiting and stops the background writer when dropped.
pub struct LogGuard {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard").finish_non_exhaustive()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        *self
            .shared
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.shared.wake.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        self.shared.write_out();
    }
}

struct Shared {
    waiting: Mutex<Vec<u8>>,
    out: Mutex<Box<dyn Write + Send>>,
    stop: Mutex<bool>,
    wake: Condvar,
}

impl Shared {
    /// Writes every waiting line, in order: `out` is locked before the
    /// buffer is taken, so two writers cannot swap their batches.
    fn write_out(&self) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let batch = {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            if waiting.is_empty() {
                return;
            }
            std::mem::replace(&mut *waiting, Vec::with_capacity(64 * 1024))
        };
        // A log that cannot be written has nowhere to report it.
        let _ = out.write_all(&batch);
        let _ = out.flush();
    }

    fn run(&self) {
        let mut stop = self.stop.lock().unwrap_or_else(PoisonError::into_inner);
        while !*stop {
            stop = self
                .wake
                .wait_timeout(stop, FLUSH_EVERY)
                .map_or_else(|e| e.into_inner().0, |(guard, _)| guard);
            drop(stop);
            self.write_out();
            stop = self.stop.lock().unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The subscriber's writer: appends to the shared buffer.
struct Batched(Arc<Shared>);

impl<'a> MakeWriter<'a> for Batched {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line(&self.0)
    }
}

/// One event's bytes (tracing-subscriber writes each line in one call).
struct Line<'a>(&'a Shared);

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let full = {
            let mut waiting = self
                .0
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            waiting.extend_from_slice(buf);
            waiting.len() >= MAX_WAITING
        };
        if full {
            self.0.write_out();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn shared(capture: &Capture) -> Shared {
        Shared {
            waiting: Mutex::new(Vec::new()),
            out: Mutex::new(Box::new(capture.clone())),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        }
    }

    #[test]
    fn lines_wait_in_memory_and_come_out_in_order() {
        let capture = Capture::default();
        let shared = shared(&capture);
        for i in 0..100 {
            Line(&shared)
                .write_all(format!("{i}\n").as_bytes())
                .unwrap();
        }
        assert!(capture.0.lock().unwrap().is_empty(), "not yet written");
        shared.write_out();
        let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let expected: String = (0..100).map(|i| format!("{i}\n")).collect();
        assert_eq!(text, expected);
    }

    #[test]
    fn a_burst_is_written_by_the_logging_thread_past_the_bound() {
        let capture = Capture::default();
        let shared = shared(&capture);
        let line = vec![b'x'; 1024];
        for _ in 0..(MAX_WAITING / line.len() + 1) {
            Line(&shared).write_all(&line).unwrap();
        }
        assert!(capture.0.lock().unwrap().len() >= MAX_WAITING);
        assert!(shared.waiting.lock().unwrap().len() < MAX_WAITING);
    }
}
