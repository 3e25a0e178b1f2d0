//! Brute-force defence for logins: per-username lockout and per-address
//! failure limits.
//!
//! Rules (SPEC §4):
//! - after `threshold` (5) consecutive failed logins for one username —
//!   existing or not, compared case-insensitively — within 15 minutes, the
//!   username is locked for `base` (1 min); while the failures continue,
//!   each further failure after a lockout locks it again for twice as long,
//!   up to 15 minutes. A lock holds even for the right password. A success
//!   clears the username's record; 15 minutes without failures do too;
//! - more than 20 failed logins from one client address in 15 minutes
//!   refuse further logins from it (sliding window) and are reported once as
//!   a possible brute-force attack.
//!
//! Only failed logins count. Lockout state must fail closed: a shared store
//! that cannot be reached refuses logins ([`LockoutUnavailable`]).
//!
//! ```
//! use std::time::Duration;
//! use rampart::lockout::{LockoutPolicy, MemoryLockout, Gate};
//!
//! let lockout = MemoryLockout::new(LockoutPolicy::default());
//! for _ in 0..5 {
//!     lockout.record_failure_now("mallory", "192.0.2.1");
//! }
//! assert!(matches!(lockout.gate_now("Mallory", "192.0.2.9"), Gate::UserLocked { .. }));
//! ```

#[cfg(feature = "redis")]
pub mod redis;

use std::{
    collections::HashMap,
    future::Future,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::ratelimit::{MemoryLimiter, Quota};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Yes.
    Open,
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

/// What a recorded failure changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureOutcome {
    /// The username was locked by this failure, for this long.
    pub locked_for: Option<Duration>,
    /// This failure took the address over its threshold (reported once per
    /// crossing).
    pub address_blocked: bool,
}

/// The lockout store could not be reached: refuse the login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lockout store unavailable: {0}")]
pub struct LockoutUnavailable(pub String);

/// Where lockout state lives (in memory, or shared in Redis).
pub trait LoginGuard: Send + Sync + 'static {
    /// Whether a login for `username` from `address` may be attempted.
    fn gate(
        &self,
        username: &str,
        address: &str,
    ) -> impl Future<Output = Result<Gate, LockoutUnavailable>> + Send;
    /// Records a failed login.
    fn record_failure(
        &self,
        username: &str,
        address: &str,
    ) -> impl Future<Output = Result<FailureOutcome, LockoutUnavailable>> + Send;
    /// Records a successful login (clears the username's failures).
    fn record_success(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<(), LockoutUnavailable>> + Send;
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    locks: u32,
    locked_until: Option<Instant>,
}

/// Single-instance lockout state.
#[derive(Debug)]
pub struct MemoryLockout {
    policy: LockoutPolicy,
    users: Mutex<HashMap<String, Record>>,
    addresses: MemoryLimiter,
}

impl MemoryLockout {
    /// Empty state under `policy`.
    pub fn new(policy: LockoutPolicy) -> Self {
        Self {
            policy,
            users: Mutex::new(HashMap::new()),
            addresses: MemoryLimiter::new(),
        }
    }

    fn ip_quota(&self) -> Quota {
        Quota::new(self.policy.ip_threshold, self.policy.window)
    }

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`LoginGuard::gate`], synchronously.
    pub fn gate_now(&self, username: &str, address: &str) -> Gate {
        let now = Instant::now();
        if let Some(until) = self
            .users()
            .get(&username.to_lowercase())
            .and_then(|r| r.locked_until)
            && until > now
        {
            return Gate::UserLocked {
                retry_after: until - now,
            };
        }
        let ip = self
            .addresses
            .peek_now(&format!("login-fail:{address}"), &self.ip_quota());
        if ip.remaining == 0 {
            return Gate::AddressBlocked {
                retry_after: ip.retry_after.unwrap_or(self.policy.window),
            };
        }
        Gate::Open
    }

    /// [`LoginGuard::record_failure`], synchronously.
    pub fn record_failure_now(&self, username: &str, address: &str) -> FailureOutcome {
        let now = Instant::now();
        let ip = self
            .addresses
            .check_now(&format!("login-fail:{address}"), &self.ip_quota());
        let mut outcome = FailureOutcome {
            address_blocked: ip.allowed && ip.remaining == 0,
            ..FailureOutcome::default()
        };
        let mut users = self.users();
        // Keep the map bounded: forget usernames idle for a whole window.
        if users.len() > 10_000 {
            let window = self.policy.window;
            users.retain(|_, r| {
                now.duration_since(r.last_failure) < window
                    || r.locked_until.is_some_and(|u| u > now)
            });
        }
        let record = users.entry(username.to_lowercase()).or_insert(Record {
            failures: 0,
            last_failure: now,
            locks: 0,
            locked_until: None,
        });
        if now.duration_since(record.last_failure) >= self.policy.window {
            *record = Record {
                failures: 0,
                last_failure: now,
                locks: 0,
                locked_until: None,
            };
        }
        record.failures += 1;
        record.last_failure = now;
        if record.failures >= self.policy.threshold {
            let factor = 1u32.checked_shl(record.locks.min(16)).unwrap_or(u32::MAX);
            let lock = self.policy.base.saturating_mul(factor).min(self.policy.max);
            record.locked_until = Some(now + lock);
            record.locks = record.locks.saturating_add(1);
            outcome.locked_for = Some(lock);
        }
        outcome
    }

    /// [`LoginGuard::record_success`], synchronously.
    pub fn record_success_now(&self, username: &str) {
        self.users().remove(&username.to_lowercase());
    }
}

impl LoginGuard for MemoryLockout {
    fn gate(
        &self,
        username: &str,
        address: &str,
    ) -> impl Future<Output = Result<Gate, LockoutUnavailable>> + Send {
        std::future::ready(Ok(self.gate_now(username, address)))
    }

    fn record_failure(
        &self,
        username: &str,
        address: &str,
    ) -> impl Future<Output = Result<FailureOutcome, LockoutUnavailable>> + Send {
        std::future::ready(Ok(self.record_failure_now(username, address)))
    }

    fn record_success(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<(), LockoutUnavailable>> + Send {
        self.record_success_now(username);
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

    #[test]
    fn five_failures_lock_and_locks_double() {
        let l = MemoryLockout::new(quick());
        for i in 0..4 {
            assert_eq!(
                l.record_failure_now("eve", "a").locked_for,
                None,
                "failure {i}"
            );
            assert_eq!(l.gate_now("eve", "a"), Gate::Open);
        }
        assert_eq!(
            l.record_failure_now("EVE", "a").locked_for,
            Some(Duration::from_millis(40))
        );
        assert!(matches!(l.gate_now("eve", "b"), Gate::UserLocked { .. }));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(l.gate_now("eve", "a"), Gate::Open);
        assert_eq!(
            l.record_failure_now("eve", "a").locked_for,
            Some(Duration::from_millis(80))
        );
        assert_eq!(
            l.record_failure_now("eve", "a").locked_for,
            Some(Duration::from_millis(160))
        );
        l.record_success_now("Eve");
        assert_eq!(l.gate_now("eve", "a"), Gate::Open);
        assert_eq!(
            l.record_failure_now("eve", "a").locked_for,
            None,
            "a success starts over"
        );
    }

    #[test]
    fn locks_stop_growing_at_the_maximum() {
        let l = MemoryLockout::new(LockoutPolicy::default());
        let mut last = None;
        for _ in 0..30 {
            last = l.record_failure_now("x", "a").locked_for.or(last);
        }
        assert_eq!(last, Some(Duration::from_secs(900)));
    }

    #[test]
    fn an_address_is_refused_after_twenty_failures_and_reported_once() {
        let l = MemoryLockout::new(LockoutPolicy::default());
        let mut reported = 0;
        for i in 0..20 {
            assert_eq!(
                l.gate_now(&format!("user{i}"), "198.51.100.1"),
                Gate::Open,
                "failure {i}"
            );
            reported += u32::from(
                l.record_failure_now(&format!("user{i}"), "198.51.100.1")
                    .address_blocked,
            );
        }
        assert_eq!(reported, 1);
        assert!(matches!(
            l.gate_now("fresh_name", "198.51.100.1"),
            Gate::AddressBlocked { .. }
        ));
        assert_eq!(l.gate_now("fresh_name", "198.51.100.2"), Gate::Open);
    }
}
