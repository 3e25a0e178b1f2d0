//! Lockout state shared by every instance, in Redis (feature `redis`).
//!
//! The same rules as [`MemoryLockout`](super::MemoryLockout), each decision
//! one Lua script on Redis's clock: a hash per username (failures, locks,
//! last failure, locked-until) and a sorted set of failure times per
//! address. Any error is [`LockoutUnavailable`]: logins fail closed.

use std::{sync::Arc, time::Duration};

use redis::{Script, aio::ConnectionManager};

use super::{FailureOutcome, Gate, LockoutPolicy, LockoutUnavailable, LoginGuard};
use crate::ratelimit::redis::NOW_US;

const GATE: &str = r"
local window = tonumber(ARGV[1])
local ip_threshold = tonumber(ARGV[2])
local locked_until = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if locked_until > now then return {1, locked_until - now} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if redis.call('ZCARD', KEYS[2]) >= ip_threshold then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, math.max(0, tonumber(oldest[2]) + window - now)}
end
return {0, 0}
";

const FAILURE: &str = r"
local window = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local ip_threshold = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local ip_count = redis.call('ZCARD', KEYS[2])
local blocked = 0
if ip_count < ip_threshold then
  redis.call('ZADD', KEYS[2], now, now .. ':' .. ARGV[6])
  redis.call('PEXPIRE', KEYS[2], math.ceil(window / 1000))
  if ip_count + 1 == ip_threshold then blocked = 1 end
end
local h = redis.call('HMGET', KEYS[1], 'failures', 'last', 'locks')
local failures = tonumber(h[1]) or 0
local last = tonumber(h[2]) or now
local locks = tonumber(h[3]) or 0
if now - last >= window then
  failures = 0
  locks = 0
  redis.call('HDEL', KEYS[1], 'until')
end
failures = failures + 1
local lock = 0
if failures >= threshold then
  lock = math.min(base * (2 ^ math.min(locks, 16)), max)
  redis.call('HSET', KEYS[1], 'until', now + lock)
  locks = locks + 1
end
redis.call('HSET', KEYS[1], 'failures', failures, 'last', now, 'locks', locks)
redis.call('PEXPIRE', KEYS[1], math.ceil((window + max) / 1000))
return {lock, blocked}
";

/// The Redis store.
#[derive(Clone)]
pub struct RedisLockout {
    conn: ConnectionManager,
    prefix: Arc<str>,
    policy: LockoutPolicy,
    gate: Arc<Script>,
    failure: Arc<Script>,
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
            gate: Arc::new(Script::new(&format!("{NOW_US}{GATE}"))),
            failure: Arc::new(Script::new(&format!("{NOW_US}{FAILURE}"))),
        }
    }

    fn keys(&self, username: &str, address: &str) -> (String, String) {
        (
            format!("{}user:{}", self.prefix, username.to_lowercase()),
            format!("{}addr:{address}", self.prefix),
        )
    }

    async fn gate_at(&self, username: &str, address: &str) -> Result<Gate, LockoutUnavailable> {
        let (user, addr) = self.keys(username, address);
        let mut conn = self.conn.clone();
        let (kind, wait): (u8, u64) = self
            .gate
            .key(user)
            .key(addr)
            .arg(micros(self.policy.window))
            .arg(self.policy.ip_threshold)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| unavailable(&e))?;
        let retry_after = Duration::from_micros(wait);
        Ok(match kind {
            1 => Gate::UserLocked { retry_after },
            2 => Gate::AddressBlocked { retry_after },
            _ => Gate::Open,
        })
    }

    async fn failure_at(
        &self,
        username: &str,
        address: &str,
    ) -> Result<FailureOutcome, LockoutUnavailable> {
        let (user, addr) = self.keys(username, address);
        let mut conn = self.conn.clone();
        let member: u64 = rand::random();
        let (lock, blocked): (u64, u8) = self
            .failure
            .key(user)
            .key(addr)
            .arg(micros(self.policy.window))
            .arg(self.policy.threshold)
            .arg(micros(self.policy.base))
            .arg(micros(self.policy.max))
            .arg(self.policy.ip_threshold)
            .arg(member)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(FailureOutcome {
            locked_for: (lock > 0).then(|| Duration::from_micros(lock)),
            address_blocked: blocked == 1,
        })
    }

    async fn success_at(&self, username: &str) -> Result<(), LockoutUnavailable> {
        let (user, _) = self.keys(username, "");
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(user)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| unavailable(&e))
    }
}

impl LoginGuard for RedisLockout {
    fn gate(
        &self,
        username: &str,
        address: &str,
    ) -> impl std::future::Future<Output = Result<Gate, LockoutUnavailable>> + Send {
        self.gate_at(username, address)
    }

    fn record_failure(
        &self,
        username: &str,
        address: &str,
    ) -> impl std::future::Future<Output = Result<FailureOutcome, LockoutUnavailable>> + Send {
        self.failure_at(username, address)
    }

    fn record_success(
        &self,
        username: &str,
    ) -> impl std::future::Future<Output = Result<(), LockoutUnavailable>> + Send {
        self.success_at(username)
    }
}
