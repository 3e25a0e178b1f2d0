//! The in-memory sliding-window limiter.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::Mutex,
    time::{Duration, Instant},
};

use super::{Decision, LimiterUnavailable, Quota, RateLimiter};

/// Sub-buckets per period.
const BUCKETS: u64 = 16;
/// Ring slots: the current bucket plus the `BUCKETS` before it, so the
/// partly expired oldest bucket is still counted.
const SLOTS: usize = BUCKETS as usize + 1;
const SHARDS: usize = 64;

#[derive(Debug, Clone)]
struct Window {
    /// Absolute index of the newest bucket written.
    newest: u64,
    counts: [u32; SLOTS],
}

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<String, Window>,
    last_sweep: u64,
}

/// Sharded in-memory limiter; see the [module docs](super). Each key's
/// decision happens under one of 64 shard locks, so unrelated keys rarely
/// contend. Keys whose window has fully expired are swept out as new keys
/// arrive, so memory follows the number of keys active within one period.
#[derive(Debug)]
pub struct MemoryLimiter {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    epoch: Instant,
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
            epoch: Instant::now(),
        }
    }

    /// Checks at the current time.
    pub fn check_now(&self, key: &str, quota: &Quota) -> Decision {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.check_at(key, quota, now)
    }

    /// Checks at `now_nanos` (nanoseconds on any monotonic clock; a value
    /// older than one already seen for the key counts as that one).
    pub fn check_at(&self, key: &str, quota: &Quota, now_nanos: u64) -> Decision {
        let width = bucket_width(quota);
        let current = now_nanos / width;
        let shard_index = (self.hasher.hash_one(key) as usize) % self.shards.len();
        // A poisoned shard only means another thread panicked mid-update;
        // the counts are still usable.
        let mut shard = self.shards[shard_index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(window) = shard.map.get_mut(key) {
            return decide(window, quota, current, width, now_nanos);
        }
        if current > shard.last_sweep {
            // Amortised: at most one sweep per shard per bucket width.
            shard.map.retain(|_, w| w.newest + BUCKETS >= current);
            shard.last_sweep = current;
        }
        let window = shard.map.entry(key.to_owned()).or_insert(Window {
            newest: current,
            counts: [0; SLOTS],
        });
        decide(window, quota, current, width, now_nanos)
    }

    /// What a check would decide now, without counting anything.
    pub fn peek_now(&self, key: &str, quota: &Quota) -> Decision {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let width = bucket_width(quota);
        let shard_index = (self.hasher.hash_one(key) as usize) % self.shards.len();
        let shard = self.shards[shard_index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut window = shard.map.get(key).cloned().unwrap_or(Window {
            newest: now / width,
            counts: [0; SLOTS],
        });
        drop(shard);
        let mut decision = decide(&mut window, quota, now / width, width, now);
        if decision.allowed {
            // `decide` counted into the copy; report the count before it.
            decision.remaining += 1;
        }
        decision
    }

    /// Keys currently held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .map
                    .len()
            })
            .sum()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Rounded up, so `BUCKETS` buckets always cover at least the period.
fn bucket_width(quota: &Quota) -> u64 {
    let period = u64::try_from(quota.period.as_nanos()).unwrap_or(u64::MAX);
    period.div_ceil(BUCKETS).max(1)
}

fn decide(window: &mut Window, quota: &Quota, current: u64, width: u64, now: u64) -> Decision {
    let current = current.max(window.newest);
    // Clear the slots of buckets that passed since the last write.
    let passed = current - window.newest;
    if passed >= SLOTS as u64 {
        window.counts = [0; SLOTS];
    } else {
        for b in window.newest + 1..=current {
            window.counts[slot(b)] = 0;
        }
    }
    window.newest = current;
    let oldest = current.saturating_sub(BUCKETS);
    let total: u64 = window.counts.iter().map(|&c| u64::from(c)).sum();
    let limit = u64::from(quota.limit);
    // When bucket `b` leaves the window: the first bucket index whose window
    // no longer includes it is b + BUCKETS + 1.
    let leaves_at = |b: u64| Duration::from_nanos(((b + BUCKETS + 1) * width).saturating_sub(now));
    let first_nonzero = (oldest..=current).find(|&b| window.counts[slot(b)] > 0);
    if total >= limit {
        // Earliest moment enough old requests have left for one more.
        let mut left = total;
        let mut retry = leaves_at(current);
        for b in oldest..=current {
            left -= u64::from(window.counts[slot(b)]);
            if left < limit {
                retry = leaves_at(b);
                break;
            }
        }
        return Decision {
            allowed: false,
            limit: quota.limit,
            remaining: 0,
            reset: first_nonzero.map_or(Duration::ZERO, leaves_at),
            retry_after: Some(retry.max(Duration::from_nanos(1))),
        };
    }
    let s = slot(current);
    window.counts[s] = window.counts[s].saturating_add(1);
    let reset_from = first_nonzero.unwrap_or(current);
    Decision {
        allowed: true,
        limit: quota.limit,
        remaining: u32::try_from(limit - total - 1).unwrap_or(0),
        reset: leaves_at(reset_from),
        retry_after: None,
    }
}

fn slot(bucket: u64) -> usize {
    (bucket % SLOTS as u64) as usize
}

impl RateLimiter for MemoryLimiter {
    fn check(
        &self,
        key: &str,
        quota: &Quota,
    ) -> impl Future<Output = Result<Decision, LimiterUnavailable>> + Send {
        std::future::ready(Ok(self.check_now(key, quota)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn exactly_n_then_refused_then_admitted_after_the_window() {
        let limiter = MemoryLimiter::new();
        let quota = Quota::new(5, Duration::from_secs(60));
        for i in 0..5 {
            let d = limiter.check_at("k", &quota, 10 * SEC);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 4 - i);
        }
        let refused = limiter.check_at("k", &quota, 11 * SEC);
        assert!(!refused.allowed);
        let retry = refused.retry_after.unwrap();
        assert!(
            retry >= Duration::from_secs(59) && retry <= Duration::from_secs(64),
            "{retry:?}"
        );
        assert!(
            !limiter
                .check_at("k", &quota, 11 * SEC + retry.as_nanos() as u64 - 1)
                .allowed
        );
        assert!(
            limiter
                .check_at("k", &quota, 11 * SEC + retry.as_nanos() as u64)
                .allowed
        );
        assert!(
            limiter.check_at("other", &quota, 11 * SEC).allowed,
            "keys are independent"
        );
    }

    #[test]
    fn expired_keys_are_swept() {
        let limiter = MemoryLimiter::new();
        let quota = Quota::new(1, Duration::from_secs(1));
        for i in 0..10_000 {
            limiter.check_at(&format!("k{i}"), &quota, 0);
        }
        assert_eq!(limiter.len(), 10_000);
        for i in 0..1_000 {
            limiter.check_at(&format!("n{i}"), &quota, 5 * SEC);
        }
        assert_eq!(limiter.len(), 1_000, "old keys were evicted");
    }

    #[test]
    fn concurrent_checks_admit_exactly_the_limit() {
        let limiter = std::sync::Arc::new(MemoryLimiter::new());
        let quota = Quota::new(5, Duration::from_secs(60));
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let l = limiter.clone();
                std::thread::spawn(move || l.check_now("hot", &quota).allowed)
            })
            .collect();
        let admitted = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|a| *a)
            .count();
        assert_eq!(admitted, 5);
    }

    proptest::proptest! {
        /// For any interleaving of keys and (monotonic) times, no window of
        /// the period ever holds more than N admitted requests of one key.
        #[test]
        fn never_more_than_n_in_any_window(
            limit in 1u32..8,
            period_ms in 1u64..5_000,
            steps in proptest::collection::vec((0usize..3, 0u64..400_000_000), 1..400),
        ) {
            let limiter = MemoryLimiter::new();
            let quota = Quota::new(limit, Duration::from_millis(period_ms));
            let period = period_ms * 1_000_000;
            let mut now = 0u64;
            let mut admitted: [Vec<u64>; 3] = Default::default();
            for (key, advance) in steps {
                now += advance % (2 * period);
                let d = limiter.check_at(&format!("k{key}"), &quota, now);
                if d.allowed {
                    admitted[key].push(now);
                    let in_window = admitted[key].iter().filter(|&&t| t + period >= now).count();
                    proptest::prop_assert!(in_window <= limit as usize, "{in_window} > {limit} at {now}");
                } else {
                    proptest::prop_assert!(d.retry_after.is_some());
                }
            }
        }
    }
}
