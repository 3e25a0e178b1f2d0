//! Lockout state shared by every instance, in Redis (feature `redis`).
//!
//! The same rules as [`MemoryLockout`](super::MemoryLockout): a hash per
//! username (failures, locks, last failure, locked-until) and a sorted set
//! of attempt times per address. The decision and its count are one Lua
//! script on Redis's clock, so instances sharing Redis admit at most the
//! threshold between them, whatever arrives at once. Any error is
//! [`LockoutUnavailable`]: logins fail closed.

use std::{sync::Arc, time::Duration};

use redis::{Script, aio::ConnectionManager};

use super::{
    Attempt, FailureOutcome, Gate, LockoutPolicy, LockoutUnavailable, LoginGuard, user_key,
};
use crate::ratelimit::redis::NOW_US;

/// Decides and counts in one step: `{0, 0, lock µs, blocked}` when admitted
/// (the attempt is already a failure of the username and of the address),
/// `{1, wait µs}` for a locked username, `{2, wait µs}` for a blocked
/// address.
const RESERVE: &str = r"
local window = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local ip_threshold = tonumber(ARGV[5])
local h = redis.call('HMGET', KEYS[1], 'failures', 'last', 'locks', 'until')
local failures = tonumber(h[1]) or 0
local last = tonumber(h[2]) or now
local locks = tonumber(h[3]) or 0
local locked_until = tonumber(h[4]) or 0
if now - last >= window then
  failures = 0
  locks = 0
  locked_until = 0
end
if locked_until > now then return {1, locked_until - now, 0, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local ip_count = redis.call('ZCARD', KEYS[2])
if ip_count >= ip_threshold then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, math.max(1, tonumber(oldest[2]) + window - now), 0, 0}
end
redis.call('ZADD', KEYS[2], now, ARGV[6])
redis.call('PEXPIRE', KEYS[2], math.ceil(window / 1000))
local blocked = 0
if ip_count + 1 == ip_threshold then blocked = 1 end
failures = failures + 1
local lock = 0
if failures >= threshold then
  lock = math.min(base * (2 ^ math.min(locks, 16)), max)
  locked_until = now + lock
  locks = locks + 1
end
redis.call('HSET', KEYS[1], 'failures', failures, 'last', now, 'locks', locks, 'until', locked_until)
redis.call('PEXPIRE', KEYS[1], math.ceil((window + max) / 1000))
return {0, 0, lock, blocked}
";

/// The Redis store.
#[derive(Clone)]
pub struct RedisLockout {
    conn: ConnectionManager,
    prefix: Arc<str>,
    policy: LockoutPolicy,
    reserve: Arc<Script>,
}

impl std::fmt::Debug for RedisLockout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLockout")
            .field("prefix", &self.prefix)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn unavailable(e: &redis::RedisError) -> LockoutUnavailable {
    LockoutUnavailable(format!("{:?}", e.kind()))
}

impl RedisLockout {
    /// Keys are `prefix` + `user:<lowercased name>` / `addr:<address>`.
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>, policy: LockoutPolicy) -> Self {
        Self {
            conn,
            prefix: prefix.into().into(),
            policy,
            reserve: Arc::new(Script::new(&format!("{NOW_US}{RESERVE}"))),
        }
    }

    async fn reserve_at(&self, username: &str, address: &str) -> Result<Gate, LockoutUnavailable> {
        let user = user_key(username);
        let mut conn = self.conn.clone();
        let member: u64 = rand::random();
        let (kind, wait, lock, blocked): (u8, u64, u64, u8) = self
            .reserve
            .key(format!("{}user:{user}", self.prefix))
            .key(format!("{}addr:{address}", self.prefix))
            .arg(micros(self.policy.window))
            .arg(self.policy.threshold)
            .arg(micros(self.policy.base))
            .arg(micros(self.policy.max))
            .arg(self.policy.ip_threshold)
            .arg(member)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| unavailable(&e))?;
        let retry_after = Duration::from_micros(wait);
        Ok(match kind {
            1 => Gate::UserLocked { retry_after },
            2 => Gate::AddressBlocked { retry_after },
            _ => Gate::Open(Attempt {
                user,
                address: address.to_owned(),
                member,
                if_failed: FailureOutcome {
                    locked_for: (lock > 0).then(|| Duration::from_micros(lock)),
                    address_blocked: blocked == 1,
                },
            }),
        })
    }

    async fn succeeded_at(&self, attempt: Attempt) -> Result<(), LockoutUnavailable> {
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .del(format!("{}user:{}", self.prefix, attempt.user))
            .zrem(
                format!("{}addr:{}", self.prefix, attempt.address),
                attempt.member,
            )
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| unavailable(&e))
    }
}

impl LoginGuard for RedisLockout {
    fn reserve(
        &self,
        username: &str,
        address: &str,
    ) -> impl std::future::Future<Output = Result<Gate, LockoutUnavailable>> + Send {
        self.reserve_at(username, address)
    }

    fn succeeded(
        &self,
        attempt: Attempt,
    ) -> impl std::future::Future<Output = Result<(), LockoutUnavailable>> + Send {
        self.succeeded_at(attempt)
    }
}
