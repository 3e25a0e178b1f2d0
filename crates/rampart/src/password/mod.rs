//! Password hashing (argon2id) with a hard memory bound, and strength rules.
//!
//! [`PasswordHasher`] runs every hash on its own threads, one per permit,
//! each owning at most one reusable argon2 working-memory buffer (zeroized
//! after every hash, returned after 2 s without hashing): hashing memory
//! is at most permits × 19 MiB for the life of the process, whatever the
//! load, and the async workers never hash. The threads run at the idle
//! priority (`SCHED_IDLE` on Linux), so a login flood takes the idle CPU,
//! not the latency of other requests.
//!
//! A hash first takes a [`Slot`]: at most `permits + queue` are out at
//! once, and past that [`PasswordHasher::slot`] answers [`Busy`] (a 503
//! with `Retry-After`) at once instead of making the caller wait without
//! end. Take the slot before other work (the lockout, the database), so a
//! refused login has cost nothing and counted nothing.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`), so
//! parameters can be raised later and old hashes still verify. A stored
//! hash that would need more memory than the buffers hold, or more than
//! four times the configured iterations, never verifies: someone with
//! write access to the table cannot make a login take gigabytes or a core
//! for minutes.
//!
//! [`Slot::verify`] takes the stored hash as an `Option`: for an unknown
//! user pass `None`, and it does the same work (a hash with the configured
//! parameters), so "no such user" and "wrong password" take the same time
//! and cannot be told apart.
//!
//! [`check_strength`] enforces 12–128 characters and a zxcvbn score of at
//! least 3, taking the user's other inputs (name, email) into account.
//!
//! ```
//! # tokio_test_block_on(async {
//! use rampart::password::PasswordHasher;
//!
//! let hasher = PasswordHasher::new(2);
//! let slot = hasher.slot()?; // or a 503 with Retry-After: `Busy` is a response
//! let hash = slot.hash("correct horse battery staple".into()).await?;
//! assert!(slot.verify("correct horse battery staple".into(), Some(&hash)).await?);
//! assert!(!slot.verify("wrong".into(), None).await?);
//! # Ok::<(), rampart::password::PasswordError>(())
//! # }).unwrap();
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

mod pool;
mod strength;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use argon2::{
    Algorithm, Params, Version,
    password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng},
};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use secrecy::SecretString;
use tokio::sync::oneshot;

use crate::problem::Problem;
use pool::{Job, Pool, Shared, Threads, WaitObserver};
pub use strength::{MAX_LENGTH, MIN_LENGTH, WeakPassword, check_strength};

/// OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
pub const OWASP_MEMORY_KIB: u32 = 19_456;
/// Iterations for [`OWASP_MEMORY_KIB`].
pub const OWASP_ITERATIONS: u32 = 2;
/// Lanes.
pub const OWASP_PARALLELISM: u32 = 1;
/// Slots that may wait for a thread, per permit, unless configured: with
/// hashes of about 25 ms, a full queue is under a second of waiting.
pub const QUEUE_PER_PERMIT: usize = 32;
/// A stored hash with more iterations than this many times the configured
/// ones is refused.
const MAX_ITERATIONS_FACTOR: u32 = 4;
/// How long a hashing thread keeps its buffer without hashing, unless
/// configured: long enough that a flood or a busy minute reuses it, short
/// enough that a flood's memory is gone seconds after it.
pub const KEEP_BUFFER_FOR: Duration = Duration::from_secs(2);
/// How long a hash may wait for a thread before its caller gets [`Busy`],
/// unless configured.
pub const MAX_WAIT: Duration = Duration::from_secs(10);
/// The longest `Retry-After` a [`Busy`] suggests.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why hashing failed (never because of the password's content).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The parameters are invalid.
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// Every slot is taken: retry later.
    #[error(transparent)]
    Busy(#[from] Busy),
    /// The hasher failed or its threads are gone.
    #[error("password hashing failed")]
    Hashing,
}

/// Every hashing slot is taken (permits busy, queue full). As a response,
/// a 503 problem with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is at capacity")]
pub struct Busy {
    /// About when a slot should be free again.
    pub retry_after: Duration,
}

impl Busy {
    /// Seconds for `Retry-After`, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        crate::problem::retry_after_secs(self.retry_after)
    }
}

impl IntoResponse for Busy {
    fn into_response(self) -> Response {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_detail("Too many password checks are waiting; retry shortly.")
            .retry_after(self.retry_after)
    }
}

/// What the hasher is doing, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HasherStats {
    /// Hashing threads (hashes at once).
    pub permits: usize,
    /// Slots beyond the permits.
    pub queue_limit: usize,
    /// Slots taken now.
    pub slots_taken: usize,
    /// Hashes waiting for a thread now.
    pub queued: usize,
    /// Slots refused since the start.
    pub rejected: u64,
    /// Working-memory buffers allocated now (each one the configured
    /// memory cost).
    pub buffers: usize,
}

/// Builds a [`PasswordHasher`]; see [`PasswordHasher::builder`].
#[derive(Clone)]
#[must_use]
pub struct Builder {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    permits: usize,
    queue: Option<usize>,
    on_wait: Option<WaitObserver>,
    idle_priority: bool,
    keep_buffer_for: Duration,
    max_wait: Duration,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("memory_kib", &self.memory_kib)
            .field("iterations", &self.iterations)
            .field("parallelism", &self.parallelism)
            .field("permits", &self.permits)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// argon2id cost: memory in KiB, iterations, lanes (defaults: the
    /// OWASP minimum, 19 456 KiB, 2, 1).
    pub fn cost(mut self, memory_kib: u32, iterations: u32, parallelism: u32) -> Self {
        self.memory_kib = memory_kib;
        self.iterations = iterations;
        self.parallelism = parallelism;
        self
    }

    /// Hashes at once, each with its own thread and buffer (at least 1;
    /// default: the available cores).
    pub fn permits(mut self, permits: usize) -> Self {
        self.permits = permits.max(1);
        self
    }

    /// Hashes that may wait for a thread before [`Busy`] (default
    /// [`QUEUE_PER_PERMIT`] × permits; 0 refuses as soon as every thread
    /// is busy).
    pub fn queue(mut self, queue: usize) -> Self {
        self.queue = Some(queue);
        self
    }

    /// Called on a hashing thread with each hash's time in the queue
    /// (keep it cheap: a histogram observation).
    pub fn on_wait(mut self, observe: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        self.on_wait = Some(Arc::new(observe));
        self
    }

    /// Whether the hashing threads run at the idle priority (default
    /// `true`; `SCHED_IDLE`, Linux only).
    pub fn idle_priority(mut self, idle: bool) -> Self {
        self.idle_priority = idle;
        self
    }

    /// How long a thread keeps its buffer without hashing (default
    /// [`KEEP_BUFFER_FOR`]; `Duration::MAX` keeps it for good). The first
    /// hash after it allocates and faults in the memory again.
    pub fn keep_buffer_for(mut self, keep: Duration) -> Self {
        self.keep_buffer_for = keep;
        self
    }

    /// How long a hash may wait for a thread to start it (default
    /// [`MAX_WAIT`]); past it the caller gets [`Busy`] and the job is
    /// dropped unstarted. Keep it below the request timeout less a hash,
    /// so a starved queue answers 503, not a timeout.
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// The hasher. Its threads start at the first hash.
    pub fn build(self) -> Result<PasswordHasher, PasswordError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        let shared = Shared {
            on_wait: self.on_wait,
            ..Shared::default()
        };
        let threads = Threads {
            count: self.permits,
            max_blocks: params.block_count(),
            idle_priority: self.idle_priority,
            keep_buffer_for: self.keep_buffer_for,
        };
        let pool = Pool::new(threads, shared);
        Ok(PasswordHasher(Arc::new(Inner {
            params,
            permits: self.permits,
            queue: self
                .queue
                .unwrap_or(QUEUE_PER_PERMIT.saturating_mul(self.permits)),
            slots: AtomicUsize::new(0),
            rejected: AtomicU64::new(0),
            max_wait: self.max_wait,
            pool,
        })))
    }
}

/// Hashes and verifies passwords with bounded memory and concurrency; see
/// the [module docs](self). Cheap to clone; its threads end when the last
/// clone is dropped.
#[derive(Clone)]
pub struct PasswordHasher(Arc<Inner>);

struct Inner {
    params: Params,
    permits: usize,
    queue: usize,
    slots: AtomicUsize,
    rejected: AtomicU64,
    max_wait: Duration,
    pool: Pool,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.0.params)
            .field("stats", &self.stats())
            .finish()
    }
}

/// The default permit count: the cores this process may run on (at least
/// 1). argon2 with one lane uses one core, so fewer permits leave cores
/// idle in a flood and more only add memory.
pub fn default_permits() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl PasswordHasher {
    /// A builder: argon2id with the OWASP parameters, a permit per core.
    ///
    /// ```
    /// use rampart::password::PasswordHasher;
    ///
    /// let hasher = PasswordHasher::builder()
    ///     .permits(2)
    ///     .queue(16)
    ///     .on_wait(|waited| tracing::trace!(?waited, "hash waited"))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(hasher.stats().queue_limit, 16);
    /// ```
    pub fn builder() -> Builder {
        Builder {
            memory_kib: OWASP_MEMORY_KIB,
            iterations: OWASP_ITERATIONS,
            parallelism: OWASP_PARALLELISM,
            permits: default_permits(),
            queue: None,
            on_wait: None,
            idle_priority: true,
            keep_buffer_for: KEEP_BUFFER_FOR,
            max_wait: MAX_WAIT,
        }
    }

    /// argon2id with the OWASP parameters, `permits` hashes at once (at
    /// least 1) and the default queue.
    pub fn new(permits: usize) -> Self {
        match Self::builder().permits(permits).build() {
            Ok(h) => h,
            // The OWASP constants are valid parameters; never taken.
            Err(_) => unreachable!("the OWASP argon2 parameters are valid"),
        }
    }

    /// argon2id with explicit parameters.
    pub fn with_params(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        permits: usize,
    ) -> Result<Self, PasswordError> {
        Self::builder()
            .cost(memory_kib, iterations, parallelism)
            .permits(permits)
            .build()
    }

    /// A slot for hashing, or [`Busy`] at once when `permits + queue` are
    /// taken. Hold it for the request's password work.
    pub fn slot(&self) -> Result<Slot, Busy> {
        let limit = self.0.permits.saturating_add(self.0.queue);
        let taken = self
            .0
            .slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(Slot(Arc::new(Held(self.clone())))),
            Err(n) => {
                self.0.rejected.fetch_add(1, Ordering::Relaxed);
                Err(Busy {
                    retry_after: self.drain_time(n),
                })
            }
        }
    }

    /// About how long `slots` take to drain at the recent hashing speed.
    fn drain_time(&self, slots: usize) -> Duration {
        let per_hash = self.0.pool.shared.service_us.load(Ordering::Relaxed);
        let rounds = u64::try_from(slots.div_ceil(self.0.permits)).unwrap_or(u64::MAX);
        Duration::from_micros(per_hash.saturating_mul(rounds))
            .clamp(Duration::from_secs(1), MAX_RETRY_AFTER)
    }

    /// A PHC string for `password` (takes a slot for it).
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        self.slot()?.hash(password).await
    }

    /// Whether `password` matches `stored` (takes a slot for it); see
    /// [`Slot::verify`].
    pub async fn verify(&self, password: SecretString, stored: Option<&str>) -> Result<bool, Busy> {
        self.slot()?.verify(password, stored).await
    }

    /// Whether `stored` was made with weaker parameters than this hasher's
    /// (re-hash it at the next successful login).
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let params = &self.0.params;
        PasswordHash::new(stored)
            .ok()
            .and_then(|h| Params::try_from(&h).ok())
            .is_none_or(|p| p.m_cost() < params.m_cost() || p.t_cost() < params.t_cost())
    }

    /// What the hasher is doing now.
    pub fn stats(&self) -> HasherStats {
        HasherStats {
            permits: self.0.permits,
            queue_limit: self.0.queue,
            slots_taken: self.0.slots.load(Ordering::Relaxed),
            queued: self.0.pool.shared.queued.load(Ordering::Relaxed),
            rejected: self.0.rejected.load(Ordering::Relaxed),
            buffers: self.0.pool.shared.buffers.load(Ordering::Relaxed),
        }
    }

    /// Runs one argon2 computation on a hashing thread; [`Busy`] when it
    /// waited longer than the hasher's maximum.
    async fn run(
        &self,
        held: &Arc<Held>,
        work: Work,
        password: SecretString,
    ) -> Result<Output, PasswordError> {
        let out_len = work
            .params
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let (reply, answer) = oneshot::channel();
        let (started, start) = oneshot::channel();
        let queued_at = Instant::now();
        let job = Job {
            algorithm: work.algorithm,
            version: work.version,
            params: work.params,
            password,
            salt: work.salt,
            out_len,
            queued_at,
            deadline: queued_at + self.0.max_wait,
            started,
            reply,
            _held: held.clone(),
        };
        self.0.pool.submit(job)?;
        // The threads may be starved (they run at the idle priority): the
        // caller waits for a thread to start the job until the deadline,
        // whether or not a thread has looked at the job; a thread that
        // finds it past the deadline drops it unstarted.
        match tokio::time::timeout(self.0.max_wait, start).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return Err(self.busy().into()),
        }
        // Started: the hash itself is bounded by the parameters' limits.
        let out = answer
            .await
            .map_err(|_| PasswordError::Hashing)?
            .map_err(|_| PasswordError::Hashing)?;
        Output::new(&out).map_err(|_| PasswordError::Hashing)
    }

    /// The answer for a caller that waited too long.
    fn busy(&self) -> Busy {
        Busy {
            retry_after: self.drain_time(self.0.slots.load(Ordering::Relaxed)),
        }
    }

    /// A hash of `password` with this hasher's parameters and a fresh
    /// salt: (salt, output).
    async fn fresh(
        &self,
        held: &Arc<Held>,
        password: SecretString,
    ) -> Result<(SaltString, Output), PasswordError> {
        let salt = SaltString::generate(&mut OsRng);
        let mut raw = [0u8; 64];
        let bytes = salt
            .decode_b64(&mut raw)
            .map_err(|_| PasswordError::Hashing)?
            .to_vec();
        let work = Work {
            algorithm: Algorithm::Argon2id,
            version: Version::V0x13,
            params: self.0.params.clone(),
            salt: bytes,
        };
        let out = self.run(held, work, password).await?;
        Ok((salt, out))
    }

    /// The computation `stored` asks for, when this hasher may run it.
    fn stored_hash(&self, stored: &str) -> Option<StoredHash> {
        let hash = PasswordHash::new(stored).ok()?;
        let algorithm = Algorithm::try_from(hash.algorithm).ok()?;
        let version = hash
            .version
            .map_or(Some(Version::default()), |v| Version::try_from(v).ok())?;
        let params = Params::try_from(&hash).ok()?;
        let limits = &self.0.params;
        if params.block_count() > limits.block_count()
            || params.t_cost() > limits.t_cost().saturating_mul(MAX_ITERATIONS_FACTOR)
        {
            tracing::warn!(
                m_cost = params.m_cost(),
                t_cost = params.t_cost(),
                "a stored password hash costs more than this hasher allows; it is refused"
            );
            return None;
        }
        let mut raw = [0u8; 64];
        let salt = hash.salt?.decode_b64(&mut raw).ok()?.to_vec();
        Some(StoredHash {
            work: Work {
                algorithm,
                version,
                params,
                salt,
            },
            expected: hash.hash?,
        })
    }
}

/// One computation to run: algorithm, version, parameters and raw salt.
struct Work {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
}

/// A parsed stored hash, ready to recompute.
struct StoredHash {
    work: Work,
    expected: Output,
}

/// A hashing slot from [`PasswordHasher::slot`]; released when it is
/// dropped and no job of it is waiting for a thread. One slot may run
/// several hashes in turn (a password change checks the old password,
/// then hashes the new one).
#[derive(Debug)]
#[must_use = "a slot is for hashing; drop it to release it"]
pub struct Slot(Arc<Held>);

/// The count a slot holds, shared by the slot and its queued jobs: a
/// cancelled request's job still counts until a thread skips it.
#[derive(Debug)]
struct Held(PasswordHasher);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.0.slots.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Slot {
    /// A PHC string for `password`.
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        let hasher = &self.0.0;
        let (salt, output) = hasher.fresh(&self.0, password).await?;
        let params =
            ParamsString::try_from(&hasher.0.params).map_err(|_| PasswordError::Hashing)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches `stored`, recomputed with the stored
    /// hash's own algorithm, parameters and salt and compared in constant
    /// time. With `None` (unknown user), or a stored hash this hasher
    /// refuses, it does the work of a fresh hash and returns false.
    /// [`Busy`] when the hash waited longer than the hasher allows (then
    /// whether the password is right is unknown).
    pub async fn verify(&self, password: SecretString, stored: Option<&str>) -> Result<bool, Busy> {
        let hasher = &self.0.0;
        let Some(stored) = stored.and_then(|s| hasher.stored_hash(s)) else {
            return match hasher.fresh(&self.0, password).await {
                Err(PasswordError::Busy(busy)) => Err(busy),
                _ => Ok(false),
            };
        };
        match hasher.run(&self.0, stored.work, password).await {
            // `Output`'s equality is constant-time.
            Ok(computed) => Ok(computed == stored.expected),
            Err(PasswordError::Busy(busy)) => Err(busy),
            Err(_) => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests;
