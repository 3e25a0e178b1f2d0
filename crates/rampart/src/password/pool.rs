//! The hashing threads: a fixed number of OS threads, each owning one
//! argon2 working-memory buffer for the life of the process.
//!
//! Why own threads and not tokio's blocking pool: the blocking pool grows
//! to hundreds of threads and runs each job on whichever is free, and
//! glibc keeps freed memory per thread arena, so 19 MiB allocated afresh
//! per hash on many threads stays resident after a flood. Here the number
//! of threads is the number of permits, each thread allocates its buffer
//! once (on its first hash) and keeps it, so hashing memory is at most
//! permits × the buffer, whatever the load.

use std::{
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::oneshot;
use zeroize::Zeroize;

use super::PasswordError;

/// Called with the time each hash waited for a thread.
pub(super) type WaitObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// The niceness of the hashing threads on Linux: a request worker (nice 0,
/// weight 1024) that wakes up preempts a hashing thread (nice 10, weight
/// 110) and gets about 90 % of a contended core, so a login flood cannot
/// take the latency of other routes; with nothing else to run, hashing
/// still gets whole cores.
pub(super) const HASHING_NICE: i32 = 10;

/// One argon2 computation, sent to a hashing thread.
pub(super) struct Job {
    pub(super) algorithm: Algorithm,
    pub(super) version: Version,
    pub(super) params: Params,
    pub(super) password: SecretString,
    pub(super) salt: Vec<u8>,
    pub(super) out_len: usize,
    pub(super) queued_at: Instant,
    pub(super) reply: oneshot::Sender<Result<Vec<u8>, argon2::Error>>,
}

/// Figures shared between the threads and the hasher.
#[derive(Default)]
pub(super) struct Shared {
    /// Jobs sent and not yet taken by a thread.
    pub(super) queued: AtomicUsize,
    /// Moving average of one hash's duration, in microseconds.
    pub(super) service_us: AtomicU64,
    pub(super) on_wait: Option<WaitObserver>,
}

impl Shared {
    fn record_service(&self, took: Duration) {
        let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        // An exponential moving average with weight 1/8; the race between
        // two threads updating at once loses one sample, which is harmless.
        let old = self.service_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            old - old / 8 + sample / 8
        };
        self.service_us.store(new, Ordering::Relaxed);
    }
}

/// The threads and the queue to them.
pub(super) struct Pool {
    jobs: mpsc::Sender<Job>,
    /// Taken by the first submission, which starts the threads (so a
    /// hasher that never hashes costs no thread and no memory).
    idle: Mutex<Option<mpsc::Receiver<Job>>>,
    threads: usize,
    max_blocks: usize,
    lower_priority: bool,
    pub(super) shared: Arc<Shared>,
}

impl Pool {
    pub(super) fn new(
        threads: usize,
        max_blocks: usize,
        lower_priority: bool,
        shared: Shared,
    ) -> Self {
        let (jobs, receiver) = mpsc::channel();
        Self {
            jobs,
            idle: Mutex::new(Some(receiver)),
            threads,
            max_blocks,
            lower_priority,
            shared: Arc::new(shared),
        }
    }

    /// Queues `job`; fails when no thread is left to run it.
    pub(super) fn submit(&self, job: Job) -> Result<(), PasswordError> {
        self.start_threads();
        self.shared.queued.fetch_add(1, Ordering::Relaxed);
        self.jobs.send(job).map_err(|_| {
            self.shared.queued.fetch_sub(1, Ordering::Relaxed);
            PasswordError::Hashing
        })
    }

    fn start_threads(&self) {
        let Some(receiver) = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..self.threads {
            let (receiver, shared) = (receiver.clone(), self.shared.clone());
            let (max_blocks, lower) = (self.max_blocks, self.lower_priority);
            let spawned = std::thread::Builder::new()
                .name(format!("rampart-hash-{i}"))
                .spawn(move || {
                    if lower {
                        lower_priority();
                    }
                    work(&receiver, &shared, &mut Workspace::new(max_blocks));
                });
            // With no thread at all the receiver is dropped and every
            // submission fails (a hashing error, never a hang).
            if let Err(e) = spawned {
                tracing::error!(error = %e, "a password hashing thread could not be started");
            }
        }
    }
}

/// A hashing thread: takes jobs until the hasher is dropped.
fn work(receiver: &Mutex<mpsc::Receiver<Job>>, shared: &Shared, space: &mut Workspace) {
    loop {
        // The lock is held only while waiting for the next job.
        let next = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(job) = next else { return };
        shared.queued.fetch_sub(1, Ordering::Relaxed);
        if let Some(observe) = &shared.on_wait {
            observe(job.queued_at.elapsed());
        }
        if job.reply.is_closed() {
            // The caller is gone (its client hung up): no work for nobody.
            continue;
        }
        let started = Instant::now();
        let argon2 = Argon2::new(job.algorithm, job.version, job.params.clone());
        let mut out = vec![0u8; job.out_len];
        // A panic inside argon2 costs neither the thread nor its buffer.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            space.hash(
                &argon2,
                &job.params,
                job.password.expose_secret().as_bytes(),
                &job.salt,
                &mut out,
            )
        }))
        .unwrap_or(Err(argon2::Error::MemoryTooLittle));
        shared.record_service(started.elapsed());
        let _ = job.reply.send(result.map(|()| out));
    }
}

/// Lowers the calling thread's priority to [`HASHING_NICE`] (Linux keeps
/// a nice value per thread; elsewhere this does nothing).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) =
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), HASHING_NICE)
    {
        tracing::debug!(error = %e, "the hashing thread's priority could not be lowered");
    }
}

/// One thread's argon2 working memory: allocated at the first hash, kept
/// for the thread's life, zeroized after every hash.
pub(super) struct Workspace {
    blocks: Vec<Block>,
    max_blocks: usize,
}

impl Workspace {
    /// Room for hashes of up to `max_blocks` 1 KiB blocks.
    pub(super) fn new(max_blocks: usize) -> Self {
        Self {
            blocks: Vec::new(),
            max_blocks,
        }
    }

    /// Runs `argon2` (made with `params`: argon2 0.5 does not give them
    /// back) in this memory. A hash that needs more blocks than the
    /// workspace holds is refused (`MemoryTooMuch`), never given more.
    pub(super) fn hash(
        &mut self,
        argon2: &Argon2<'_>,
        params: &Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let needed = params.block_count();
        if needed > self.max_blocks {
            return Err(argon2::Error::MemoryTooMuch);
        }
        if self.blocks.is_empty() {
            self.blocks = vec![Block::new(); self.max_blocks];
        }
        let memory = &mut self.blocks[..needed];
        let result = argon2.hash_password_into_with_memory(password, salt, out, &mut *memory);
        // What argon2 leaves in memory derives from the password.
        memory.iter_mut().for_each(Zeroize::zeroize);
        result
    }

    #[cfg(test)]
    pub(super) fn blocks(&self) -> &[Block] {
        &self.blocks
    }
}
