//! Brute-force defence for logins: per-username lockout and per-address
//! failure limits that hold against concurrent guesses.
//!
//! Threat: an attacker guessing passwords, one account at a time or one
//! password across many accounts, and sending the guesses all at once so
//! that a check made before the password hash and a failure recorded after
//! it let the whole burst through.
//!
//! Rules:
//! - after `threshold` (5) consecutive failed logins for one username —
//!   existing or not, compared case-insensitively — within 15 minutes, the
//!   username is locked for `base` (1 min); while the failures continue,
//!   each further failure after a lockout locks it again for twice as long,
//!   up to 15 minutes. A lock holds even for the right password. A success
//!   clears the username's record; 15 minutes without failures do too;
//! - more than `ip_threshold` (20) failed logins from one client address in
//!   15 minutes refuse further logins from it (an exact sliding window),
//!   and are reported once as a possible brute-force attack;
//! - **an attempt is counted before the password is checked.**
//!   [`LoginGuard::reserve`] decides and records in one atomic step: an
//!   admitted attempt is a pending failure, both for its username and for
//!   its address, and only [`LoginGuard::succeeded`] takes it back. So at
//!   most `threshold` guesses per username and `ip_threshold` per address
//!   are ever checked against a password, however many arrive at once, and
//!   an attempt abandoned mid-check (a dropped connection) stays counted.
//!
//! Usernames longer than 64 bytes are keyed by their SHA-256, so a huge
//! username cannot grow the state. Lockout state must fail closed: a shared
//! store that cannot be reached refuses logins ([`LockoutUnavailable`]).
//!
//! ```
//! use rampart::lockout::{Gate, LockoutPolicy, MemoryLockout};
//!
//! let lockout = MemoryLockout::new(LockoutPolicy::default());
//! for _ in 0..5 {
//!     let Gate::Open(attempt) = lockout.reserve_now("mallory", "192.0.2.1") else {
//!         unreachable!("the first five are admitted");
//!     };
//!     // … the password was wrong:
//!     let _outcome = attempt.failed();
//! }
//! assert!(matches!(lockout.reserve_now("Mallory", "192.0.2.9"), Gate::UserLocked { .. }));
//! ```
//!
//! Caveat: a success clears the username's whole record, including other
//! attempts still being checked; "consecutive" failures start over, as in
//! every lockout that counts consecutive failures.

#[cfg(feature = "redis")]
pub mod redis;

use std::{
    collections::{HashMap, VecDeque},
    future::Future,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use sha2::{Digest as _, Sha256};

use crate::problem::Problem;

/// The numbers of the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Consecutive failures before the first lock (5).
    pub threshold: u32,
    /// How long failures are remembered (15 min).
    pub window: Duration,
    /// The first lock (1 min); doubles per further lock.
    pub base: Duration,
    /// The longest lock (15 min).
    pub max: Duration,
    /// Failures per address within `window` before it is refused (20).
    pub ip_threshold: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            threshold: 5,
            window: Duration::from_secs(15 * 60),
            base: Duration::from_secs(60),
            max: Duration::from_secs(15 * 60),
            ip_threshold: 20,
        }
    }
}

/// May a login be attempted?
#[derive(Debug)]
#[must_use = "an admitted attempt must be reported as failed or succeeded"]
#[non_exhaustive]
pub enum Gate {
    /// Yes, and the attempt is already counted as a pending failure.
    Open(Attempt),
    /// The username is locked.
    UserLocked {
        /// Until the lock ends.
        retry_after: Duration,
    },
    /// The client address has failed too often.
    AddressBlocked {
        /// Until an old failure leaves the window.
        retry_after: Duration,
    },
}

impl Gate {
    /// The admitted attempt, or why none is: the refusal answers as a 429
    /// problem with `Retry-After`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum::response::IntoResponse;
    /// use rampart::lockout::Gate;
    ///
    /// let gate = Gate::UserLocked { retry_after: Duration::from_millis(1500) };
    /// let refused = gate.admit().unwrap_err();
    /// assert_eq!(refused.reason(), "account_locked");
    /// let response = refused.into_response();
    /// assert_eq!(response.status(), 429);
    /// assert_eq!(response.headers()["retry-after"], "2");
    /// ```
    pub fn admit(self) -> Result<Attempt, LockedOut> {
        match self {
            Gate::Open(attempt) => Ok(attempt),
            Gate::UserLocked { retry_after } => Err(LockedOut {
                retry_after,
                address: false,
            }),
            Gate::AddressBlocked { retry_after } => Err(LockedOut {
                retry_after,
                address: true,
            }),
        }
    }
}

/// A login the gate refused: the account is locked or the address blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockedOut {
    /// Until the refusal ends.
    pub retry_after: Duration,
    /// Whether the client address (not the account) is refused.
    pub address: bool,
}

impl LockedOut {
    /// `account_locked` or `address_blocked`, for metrics and audit details.
    pub fn reason(&self) -> &'static str {
        if self.address {
            "address_blocked"
        } else {
            "account_locked"
        }
    }

    /// Seconds for `Retry-After`, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        crate::problem::retry_after_secs(self.retry_after)
    }

    /// The 429 with `detail` instead of the default sentence.
    pub fn response_with(&self, detail: &'static str) -> Response {
        Problem::new(StatusCode::TOO_MANY_REQUESTS)
            .with_detail(detail)
            .retry_after(self.retry_after)
    }
}

impl IntoResponse for LockedOut {
    fn into_response(self) -> Response {
        self.response_with(if self.address {
            "Too many failed logins from this address; retry later."
        } else {
            "Too many failed logins for this account; retry later."
        })
    }
}

/// What a failed attempt changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureOutcome {
    /// The username was locked by this failure, for this long.
    pub locked_for: Option<Duration>,
    /// This failure took the address to its threshold (reported once per
    /// crossing).
    pub address_blocked: bool,
}

/// An admitted login attempt, counted as a failure until
/// [`LoginGuard::succeeded`] takes it back.
#[derive(Debug)]
#[must_use = "report the attempt with `failed()` or `LoginGuard::succeeded`"]
pub struct Attempt {
    user: String,
    address: String,
    member: u64,
    if_failed: FailureOutcome,
}

impl Attempt {
    /// The password was wrong: the attempt stays counted. Returns what the
    /// failure changed, for the audit trail.
    pub fn failed(self) -> FailureOutcome {
        self.if_failed
    }

    /// The key the username is counted under (lowercased, or a digest when
    /// long).
    pub fn user_key(&self) -> &str {
        &self.user
    }
}

/// The lockout store could not be reached: refuse the login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lockout store unavailable: {0}")]
pub struct LockoutUnavailable(pub String);

impl IntoResponse for LockoutUnavailable {
    /// 503: logins are refused while the store is away (never a 500, never
    /// a login without the lockout).
    fn into_response(self) -> Response {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_detail("Logins are unavailable for a moment; retry later.")
            .into_response()
    }
}

/// Where lockout state lives (in memory, or shared in Redis).
pub trait LoginGuard: Send + Sync + 'static {
    /// Checks whether a login for `username` from `address` may be
    /// attempted and, when it may, counts it as a pending failure — in one
    /// atomic step.
    fn reserve(
        &self,
        username: &str,
        address: &str,
    ) -> impl Future<Output = Result<Gate, LockoutUnavailable>> + Send;
    /// The attempt's password was right: clears the username's failures
    /// and takes the attempt back from its address's count.
    fn succeeded(
        &self,
        attempt: Attempt,
    ) -> impl Future<Output = Result<(), LockoutUnavailable>> + Send;
}

/// The key a username is counted under: lowercased, or for names longer
/// than 64 bytes the SHA-256 of the lowercased name.
pub fn user_key(username: &str) -> String {
    let lower = username.to_lowercase();
    if lower.len() <= 64 {
        return lower;
    }
    let digest = Sha256::digest(lower.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    locks: u32,
    locked_until: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    users: HashMap<String, Record>,
    /// Per address: admission time and id of each counted attempt.
    addresses: HashMap<String, VecDeque<(Instant, u64)>>,
}

/// Single-instance lockout state: one lock over both maps, so a decision
/// and its count are one step. Logins are bounded by password hashing, so
/// the lock is never contended for long.
#[derive(Debug)]
pub struct MemoryLockout {
    policy: LockoutPolicy,
    state: Mutex<State>,
}

/// Entries kept before idle ones are swept out.
const SWEEP_AT: usize = 10_000;

impl MemoryLockout {
    /// Empty state under `policy`.
    pub fn new(policy: LockoutPolicy) -> Self {
        Self {
            policy,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-update;
        // the counts are still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// [`LoginGuard::reserve`], synchronously.
    pub fn reserve_now(&self, username: &str, address: &str) -> Gate {
        let now = Instant::now();
        let window = self.policy.window;
        let user = user_key(username);
        let mut state = self.state();
        let state = &mut *state;
        if state.users.len() > SWEEP_AT {
            state.users.retain(|_, r| {
                now.duration_since(r.last_failure) < window
                    || r.locked_until.is_some_and(|u| u > now)
            });
        }
        if state.addresses.len() > SWEEP_AT {
            state.addresses.retain(|_, log| {
                log.back()
                    .is_some_and(|(t, _)| now.duration_since(*t) < window)
            });
        }
        if let Some(record) = state.users.get_mut(&user) {
            if now.duration_since(record.last_failure) >= window {
                state.users.remove(&user);
            } else if let Some(until) = record.locked_until
                && until > now
            {
                return Gate::UserLocked {
                    retry_after: until - now,
                };
            }
        }
        let log = state.addresses.entry(address.to_owned()).or_default();
        while log
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= window)
        {
            log.pop_front();
        }
        let ip_threshold = usize::try_from(self.policy.ip_threshold).unwrap_or(usize::MAX);
        if log.len() >= ip_threshold {
            let oldest = log.front().map_or(now, |(t, _)| *t);
            return Gate::AddressBlocked {
                retry_after: (oldest + window)
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
            };
        }
        let member: u64 = rand::random();
        log.push_back((now, member));
        let mut if_failed = FailureOutcome {
            address_blocked: log.len() == ip_threshold,
            ..FailureOutcome::default()
        };
        let record = state.users.entry(user.clone()).or_insert(Record {
            failures: 0,
            last_failure: now,
            locks: 0,
            locked_until: None,
        });
        record.failures += 1;
        record.last_failure = now;
        if record.failures >= self.policy.threshold {
            let factor = 1u32.checked_shl(record.locks.min(16)).unwrap_or(u32::MAX);
            let lock = self.policy.base.saturating_mul(factor).min(self.policy.max);
            record.locked_until = Some(now + lock);
            record.locks = record.locks.saturating_add(1);
            if_failed.locked_for = Some(lock);
        }
        Gate::Open(Attempt {
            user,
            address: address.to_owned(),
            member,
            if_failed,
        })
    }

    /// [`LoginGuard::succeeded`], synchronously.
    pub fn succeeded_now(&self, attempt: Attempt) {
        let mut state = self.state();
        state.users.remove(&attempt.user);
        if let Some(log) = state.addresses.get_mut(&attempt.address) {
            log.retain(|(_, m)| *m != attempt.member);
        }
    }

    /// Usernames and addresses currently held (for tests and metrics).
    pub fn len(&self) -> usize {
        let state = self.state();
        state.users.len() + state.addresses.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl LoginGuard for MemoryLockout {
    fn reserve(
        &self,
        username: &str,
        address: &str,
    ) -> impl Future<Output = Result<Gate, LockoutUnavailable>> + Send {
        std::future::ready(Ok(self.reserve_now(username, address)))
    }

    fn succeeded(
        &self,
        attempt: Attempt,
    ) -> impl Future<Output = Result<(), LockoutUnavailable>> + Send {
        self.succeeded_now(attempt);
        std::future::ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> LockoutPolicy {
        LockoutPolicy {
            base: Duration::from_millis(40),
            ..LockoutPolicy::default()
        }
    }

    fn fail(l: &MemoryLockout, user: &str, address: &str) -> Option<FailureOutcome> {
        match l.reserve_now(user, address) {
            Gate::Open(attempt) => Some(attempt.failed()),
            _ => None,
        }
    }

    fn is_open(l: &MemoryLockout, user: &str, address: &str) -> bool {
        match l.reserve_now(user, address) {
            Gate::Open(attempt) => {
                l.succeeded_now(attempt);
                true
            }
            _ => false,
        }
    }

    #[test]
    fn five_failures_lock_and_locks_double() {
        let l = MemoryLockout::new(quick());
        for i in 0..4 {
            assert_eq!(
                fail(&l, "eve", "a").unwrap().locked_for,
                None,
                "failure {i}"
            );
        }
        assert_eq!(
            fail(&l, "EVE", "a").unwrap().locked_for,
            Some(Duration::from_millis(40))
        );
        assert!(matches!(l.reserve_now("eve", "b"), Gate::UserLocked { .. }));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            fail(&l, "eve", "a").unwrap().locked_for,
            Some(Duration::from_millis(80)),
            "after a lock, each failure locks again for twice as long"
        );
        std::thread::sleep(Duration::from_millis(90));
        assert_eq!(
            fail(&l, "eve", "a").unwrap().locked_for,
            Some(Duration::from_millis(160))
        );
        std::thread::sleep(Duration::from_millis(170));
        assert!(is_open(&l, "Eve", "a"), "a success clears the record");
        assert_eq!(
            fail(&l, "eve", "a").unwrap().locked_for,
            None,
            "a success starts over"
        );
    }

    #[test]
    fn admitted_attempts_count_before_their_outcome_is_known() {
        // Five attempts in flight at once: the sixth is refused although
        // none has failed yet.
        let l = MemoryLockout::new(LockoutPolicy::default());
        let pending: Vec<Attempt> = (0..5)
            .map(|_| match l.reserve_now("target", "a") {
                Gate::Open(a) => a,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(matches!(
            l.reserve_now("target", "b"),
            Gate::UserLocked { .. }
        ));
        // One of them was the owner with the right password.
        let mut pending = pending.into_iter();
        l.succeeded_now(pending.next().unwrap());
        assert!(is_open(&l, "target", "a"));
        for a in pending {
            let _ = a.failed();
        }
    }

    #[test]
    fn locks_stop_growing_at_the_maximum() {
        let l = MemoryLockout::new(LockoutPolicy {
            base: Duration::from_millis(1),
            max: Duration::from_millis(4),
            ..LockoutPolicy::default()
        });
        let mut last = None;
        for _ in 0..15 {
            if let Some(outcome) = fail(&l, "x", "a") {
                last = outcome.locked_for.or(last);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(last, Some(Duration::from_millis(4)));
    }

    #[test]
    fn an_address_is_refused_after_twenty_failures_and_reported_once() {
        let l = MemoryLockout::new(LockoutPolicy::default());
        let mut reported = 0;
        for i in 0..20 {
            let outcome = fail(&l, &format!("user{i}"), "198.51.100.1")
                .unwrap_or_else(|| panic!("failure {i} admitted"));
            reported += u32::from(outcome.address_blocked);
        }
        assert_eq!(reported, 1);
        assert!(matches!(
            l.reserve_now("fresh_name", "198.51.100.1"),
            Gate::AddressBlocked { .. }
        ));
        assert!(is_open(&l, "fresh_name", "198.51.100.2"));
    }

    #[test]
    fn successes_do_not_count_against_the_address() {
        let l = MemoryLockout::new(LockoutPolicy::default());
        for _ in 0..50 {
            assert!(is_open(&l, "regular", "198.51.100.7"));
        }
    }

    #[test]
    fn long_usernames_are_keyed_by_a_digest() {
        let long = "A".repeat(60_000);
        let key = user_key(&long);
        assert_eq!(key.len(), "sha256:".len() + 64);
        assert_eq!(key, user_key(&long.to_lowercase()));
        assert_eq!(user_key("Alice"), "alice");
        let l = MemoryLockout::new(LockoutPolicy::default());
        for _ in 0..5 {
            let _ = fail(&l, &long, "a");
        }
        assert!(matches!(l.reserve_now(&long, "b"), Gate::UserLocked { .. }));
    }
}
