//! Limits shared by every instance, in Redis (feature `redis`).
//!
//! Each key's admitted requests are a sorted set of timestamps (a sliding
//! log) that one Lua script trims, counts and extends atomically, with
//! Redis's own clock, so instances with skewed clocks still share one
//! window and no window of the period ever admits more than N. Memory is
//! O(N) per active key; keys expire one period after their last admission.

use std::{sync::Arc, time::Duration};

use redis::{Script, aio::ConnectionManager};

use super::{Decision, LimiterUnavailable, Quota, RateLimiter};

/// Lua: `now`, Redis's clock in microseconds (exact in a Lua double until
/// 2255). Every script starts with it, so all instances share one clock.
pub(crate) const NOW_US: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
";

/// Trims the log to the window, admits when under the limit, and returns
/// `{allowed, count after, oldest µs left, newest µs left}`.
const CHECK: &str = r"
local period = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(period / 1000))
  count = count + 1
  allowed = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local left = function(entry)
  if entry[2] == nil then return 0 end
  return math.max(0, tonumber(entry[2]) + period - now)
end
return {allowed, count, left(oldest), left(newest)}
";

/// The Redis store.
#[derive(Clone)]
pub struct RedisLimiter {
    conn: ConnectionManager,
    prefix: Arc<str>,
    script: Arc<Script>,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Connects to `url` with short timeouts (a limit that waits on an absent
/// store is worse than a refusal) and automatic reconnection. The error
/// never contains the URL, which may hold a password.
pub async fn connect(url: &str) -> Result<ConnectionManager, String> {
    let client =
        redis::Client::open(url).map_err(|e| format!("invalid Redis URL ({})", e.kind_name()))?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(1)))
        .set_number_of_retries(1);
    ConnectionManager::new_with_config(client, config)
        .await
        .map_err(|e| format!("cannot connect to Redis: {}", e.kind_name()))
}

trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for redis::RedisError {
    fn kind_name(&self) -> String {
        // The detail can echo the URL; the category and code cannot.
        match self.code() {
            Some(code) => format!("{:?} {code}", self.kind()),
            None => format!("{:?}", self.kind()),
        }
    }
}

impl RedisLimiter {
    /// Keys are `prefix` + the caller's key (e.g. `rampart:rl:`).
    pub fn new(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            conn,
            prefix: prefix.into().into(),
            script: Arc::new(Script::new(&format!("{NOW_US}{CHECK}"))),
        }
    }

    async fn run(&self, key: &str, quota: &Quota) -> Result<Decision, LimiterUnavailable> {
        let period_us = u64::try_from(quota.period.as_micros()).unwrap_or(u64::MAX);
        let member: u64 = rand::random();
        let mut conn = self.conn.clone();
        let (allowed, count, oldest_us, newest_us): (u8, u32, u64, u64) = self
            .script
            .key(format!("{}{key}", self.prefix))
            .arg(period_us)
            .arg(quota.limit)
            .arg(member)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| LimiterUnavailable(e.kind_name()))?;
        let allowed = allowed == 1;
        Ok(Decision {
            allowed,
            limit: quota.limit,
            remaining: quota.limit.saturating_sub(count),
            reset: Duration::from_micros(newest_us),
            retry_after: (!allowed).then(|| Duration::from_micros(oldest_us)),
        })
    }
}

impl RateLimiter for RedisLimiter {
    fn check(
        &self,
        key: &str,
        quota: &Quota,
    ) -> impl std::future::Future<Output = Result<Decision, LimiterUnavailable>> + Send {
        self.run(key, quota)
    }
}
