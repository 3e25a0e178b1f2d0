//! The hashing threads: a fixed number of OS threads, each owning one
//! argon2 working-memory buffer.
//!
//! Why own threads and not tokio's blocking pool: the blocking pool grows
//! to hundreds of threads and runs each job on whichever is free, and
//! glibc keeps freed memory per thread arena, so 19 MiB allocated afresh
//! per hash on many threads stays resident after a flood. Here the number
//! of threads is the number of permits and each thread holds at most one
//! buffer, so hashing memory is at most permits × the buffer, whatever the
//! load. A thread allocates its buffer at its first hash, reuses it for
//! every hash after, and returns it after an idle spell (so a flood's
//! memory does not stay after it).

use std::{
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use flume::RecvTimeoutError;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::oneshot;
use zeroize::Zeroize;

use super::PasswordError;

/// Called with the time each hash waited for a thread.
pub(super) type WaitObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// One argon2 computation, sent to a hashing thread.
pub(super) struct Job {
    pub(super) algorithm: Algorithm,
    pub(super) version: Version,
    pub(super) params: Params,
    pub(super) password: SecretString,
    pub(super) salt: Vec<u8>,
    pub(super) out_len: usize,
    pub(super) queued_at: Instant,
    /// Past this the job is not started (its caller has answered 503).
    pub(super) deadline: Instant,
    /// Told when a thread starts the job (the caller's wait ends there).
    pub(super) started: oneshot::Sender<()>,
    pub(super) reply: oneshot::Sender<Result<Vec<u8>, argon2::Error>>,
    /// The caller's slot, held until a thread has finished or skipped the
    /// job: a cancelled request's job still counts against the bound.
    pub(super) _held: Arc<dyn Send + Sync>,
}

/// Figures shared between the threads and the hasher.
#[derive(Default)]
pub(super) struct Shared {
    /// Jobs sent and not yet taken by a thread.
    pub(super) queued: AtomicUsize,
    /// Working-memory buffers allocated now.
    pub(super) buffers: AtomicUsize,
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

/// How the threads behave.
#[derive(Clone, Copy, Debug)]
pub(super) struct Threads {
    pub(super) count: usize,
    pub(super) max_blocks: usize,
    pub(super) idle_priority: bool,
    /// A thread that has not hashed for this long returns its buffer.
    pub(super) keep_buffer_for: Duration,
}

/// The threads and the queue to them.
pub(super) struct Pool {
    jobs: flume::Sender<Job>,
    /// Taken by the first submission, which starts the threads (so a
    /// hasher that never hashes costs no thread and no memory).
    idle: Mutex<Option<flume::Receiver<Job>>>,
    threads: Threads,
    pub(super) shared: Arc<Shared>,
}

impl Pool {
    pub(super) fn new(threads: Threads, shared: Shared) -> Self {
        let (jobs, receiver) = flume::unbounded();
        Self {
            jobs,
            idle: Mutex::new(Some(receiver)),
            threads,
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
        let threads = self.threads;
        for i in 0..threads.count {
            let (receiver, shared) = (receiver.clone(), self.shared.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("rampart-hash-{i}"))
                .spawn(move || {
                    if threads.idle_priority {
                        idle_priority();
                    }
                    let mut space = Workspace::new(threads.max_blocks);
                    work(&receiver, &shared, &mut space, threads.keep_buffer_for);
                    space.release(&shared);
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
fn work(receiver: &flume::Receiver<Job>, shared: &Shared, space: &mut Workspace, keep: Duration) {
    loop {
        // flume adds the timeout to now and panics on overflow: a keep
        // time too long to add is "keep for good".
        let waited = if Instant::now().checked_add(keep).is_some() {
            receiver.recv_timeout(keep)
        } else {
            receiver.recv().map_err(|_| RecvTimeoutError::Disconnected)
        };
        let job = match waited {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                space.release(shared);
                match receiver.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        shared.queued.fetch_sub(1, Ordering::Relaxed);
        if let Some(observe) = &shared.on_wait {
            // The observer is the application's code: its panic must not
            // take the thread.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| observe(job.queued_at.elapsed())));
        }
        // A caller that is gone (its client hung up, or it answered 503
        // after waiting too long) gets no work done.
        if Instant::now() > job.deadline || job.started.send(()).is_err() {
            continue;
        }
        let started = Instant::now();
        let argon2 = Argon2::new(job.algorithm, job.version, job.params.clone());
        let mut out = vec![0u8; job.out_len];
        let result = space.hash(
            shared,
            &argon2,
            &job.params,
            job.password.expose_secret().as_bytes(),
            &job.salt,
            &mut out,
        );
        shared.record_service(started.elapsed());
        // The slot's count goes before the answer, so a caller that has
        // its answer sees its slot released.
        drop(job._held);
        let _ = job.reply.send(result.map(|()| out));
    }
}

/// Moves the calling thread to `SCHED_IDLE` on Linux (elsewhere this does
/// nothing). A request worker that wakes preempts an idle-policy thread at
/// once, and the kernel counts a core running only idle-policy threads as
/// free when it places a waking worker; nice 10 was measured first and
/// left `/users/me` p99 at 5.6x during a flood (under EEVDF a niced thread
/// still keeps the core for its slice), `SCHED_IDLE` at 1.1–1.4x. The price:
/// under a load of other requests that saturates every core, hashing gets
/// little CPU, logins wait, and past the queue they get 503.
fn idle_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = thread_priority::set_thread_priority_and_policy(
        thread_priority::thread_native_id(),
        thread_priority::ThreadPriority::Min,
        thread_priority::ThreadSchedulePolicy::Normal(
            thread_priority::NormalThreadSchedulePolicy::Idle,
        ),
    ) {
        tracing::warn!(error = ?e, "a password hashing thread could not move to SCHED_IDLE; it hashes at normal priority");
    }
}

/// The capacity of a buffer, in blocks: just over 32 MiB. glibc serves an
/// allocation below its mmap threshold from an arena, which keeps freed
/// memory resident, and raises that threshold (up to 32 MiB) each time a
/// mapped block is freed — measured here: the second 19 MiB buffer came
/// from an arena and stayed resident after it was freed. An allocation
/// above 32 MiB is always a mapping of its own, unmapped when freed; the
/// pages past the blocks in use are never touched, so never resident.
const OWN_MAPPING_BLOCKS: usize = 32 * 1024 + 1;

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
        shared: &Shared,
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
            let mut blocks = Vec::with_capacity(self.max_blocks.max(OWN_MAPPING_BLOCKS));
            blocks.resize(self.max_blocks, Block::new());
            self.blocks = blocks;
            shared.buffers.fetch_add(1, Ordering::Relaxed);
        }
        let memory = &mut self.blocks[..needed];
        // A panic inside argon2 costs neither the thread nor its buffer,
        // and the memory is zeroized either way.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            argon2.hash_password_into_with_memory(password, salt, out, &mut *memory)
        }))
        .unwrap_or(Err(argon2::Error::MemoryTooLittle));
        // What argon2 leaves in memory derives from the password.
        memory.iter_mut().for_each(Zeroize::zeroize);
        result
    }

    /// Frees the buffer (already zeroized by the last hash).
    pub(super) fn release(&mut self, shared: &Shared) {
        if !self.blocks.is_empty() {
            self.blocks = Vec::new();
            shared.buffers.fetch_sub(1, Ordering::Relaxed);
        }
    }

    #[cfg(test)]
    pub(super) fn blocks(&self) -> &[Block] {
        &self.blocks
    }
}
