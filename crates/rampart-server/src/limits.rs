//! Where rate limits and login lockouts live: in memory for one instance,
//! or in Redis (`RAMPART_REDIS_URL`) so several instances share them.

use rampart::{
    lockout::{
        Attempt, Gate, LockoutPolicy, LockoutUnavailable, LoginGuard, MemoryLockout,
        redis::RedisLockout,
    },
    ratelimit::{
        Decision, LimiterUnavailable, MemoryLimiter, Quota, RateLimiter, redis::RedisLimiter,
    },
    secrets::ExposeSecret as _,
};

use crate::config::Settings;

/// The rate-limit store.
#[derive(Debug)]
pub enum Limiter {
    /// This process only.
    Memory(MemoryLimiter),
    /// Shared through Redis.
    Redis(RedisLimiter),
}

/// The lockout store.
#[derive(Debug)]
pub enum Lockout {
    /// This process only.
    Memory(MemoryLockout),
    /// Shared through Redis.
    Redis(RedisLockout),
}

/// Both stores for `settings`: Redis when `RAMPART_REDIS_URL` is set (an
/// unreachable Redis is a startup error that never shows the URL), else
/// memory.
pub async fn stores(
    settings: &Settings,
    policy: LockoutPolicy,
) -> Result<(Limiter, Lockout), String> {
    match &settings.limits.redis_url {
        None => Ok((
            Limiter::Memory(MemoryLimiter::new()),
            Lockout::Memory(MemoryLockout::new(policy)),
        )),
        Some(url) => {
            let conn = rampart::ratelimit::redis::connect(url.expose_secret())
                .await
                .map_err(|e| format!("RAMPART_REDIS_URL: {e}"))?;
            Ok((
                Limiter::Redis(RedisLimiter::new(conn.clone(), "rampart:rl:")),
                Lockout::Redis(RedisLockout::new(conn, "rampart:lockout:", policy)),
            ))
        }
    }
}

impl RateLimiter for Limiter {
    async fn check(&self, key: &str, quota: &Quota) -> Result<Decision, LimiterUnavailable> {
        match self {
            Self::Memory(m) => m.check(key, quota).await,
            Self::Redis(r) => r.check(key, quota).await,
        }
    }
}

impl LoginGuard for Lockout {
    async fn reserve(&self, username: &str, address: &str) -> Result<Gate, LockoutUnavailable> {
        match self {
            Self::Memory(m) => m.reserve(username, address).await,
            Self::Redis(r) => r.reserve(username, address).await,
        }
    }

    async fn succeeded(&self, attempt: Attempt) -> Result<(), LockoutUnavailable> {
        match self {
            Self::Memory(m) => m.succeeded(attempt).await,
            Self::Redis(r) => r.succeeded(attempt).await,
        }
    }
}
