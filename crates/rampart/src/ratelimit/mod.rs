//! Exact rate limits: at most N requests in any window of the period.
//!
//! A [`RateLimiter`] decides per key against a [`Quota`] (N per period).
//! [`MemoryLimiter`] is the single-instance store: a sliding window kept as
//! 16 sub-buckets per key, counted conservatively (the oldest, partly
//! expired sub-bucket counts in full), so no window of the period ever holds
//! more than N admitted requests — never N+1, also under concurrency, since
//! each key's decision is made under its shard's lock. The price of that
//! guarantee is that a client who used its whole quota in one burst waits up
//! to one sub-bucket (period/16) longer than the period.
//!
//! [`RateLimitLayer`] limits every request under a path prefix per client
//! address (see [`crate::client_ip`]); [`check`] is the extractor-style form
//! for limits a handler applies itself (per user, per route). Both answer a
//! refused request with a 429 problem carrying `Retry-After`, and every
//! limited response with `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset` (when two limits apply, the headers describe the one
//! with the least remaining).
//!
//! The trait is asynchronous so a shared store ([`redis`], feature `redis`)
//! implements it too; an
//! unreachable store is [`LimiterUnavailable`], and the layer then fails
//! closed (503) unless configured to fail open.
//!
//! ```
//! use std::time::Duration;
//! use rampart::ratelimit::{MemoryLimiter, Quota};
//!
//! let limiter = MemoryLimiter::new();
//! let quota = Quota::per_minute(2);
//! assert!(limiter.check_now("ip:192.0.2.1", &quota).allowed);
//! assert!(limiter.check_now("ip:192.0.2.1", &quota).allowed);
//! let third = limiter.check_now("ip:192.0.2.1", &quota);
//! assert!(!third.allowed);
//! assert!(third.retry_after.unwrap() <= Duration::from_secs(64));
//! ```

mod layer;
mod memory;
#[cfg(feature = "redis")]
pub mod redis;

use std::{future::Future, time::Duration};

use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

pub use layer::{RateLimitLayer, RateLimitService};
pub use memory::MemoryLimiter;

use crate::problem::Problem;

/// `RateLimit-Limit`.
pub static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`.
pub static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset` (seconds).
pub static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// N requests per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// N (at least 1).
    pub limit: u32,
    /// The window.
    pub period: Duration,
}

impl Quota {
    /// `limit` per `period` (limit at least 1, period at least 1 ms).
    pub fn new(limit: u32, period: Duration) -> Self {
        Self {
            limit: limit.max(1),
            period: period.max(Duration::from_millis(1)),
        }
    }

    /// `limit` per minute.
    pub fn per_minute(limit: u32) -> Self {
        Self::new(limit, Duration::from_secs(60))
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed (and was counted).
    pub allowed: bool,
    /// The quota's N.
    pub limit: u32,
    /// How many more requests the window admits now.
    pub remaining: u32,
    /// Until the window has room again for a full quota's worth.
    pub reset: Duration,
    /// For a refusal: until the next request would be admitted.
    pub retry_after: Option<Duration>,
}

/// The shared store could not be reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate-limit store unavailable: {0}")]
pub struct LimiterUnavailable(pub String);

/// Decides whether a keyed request fits its quota.
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts the request under `key` if it fits `quota`. A key must always
    /// be checked against the same quota; namespace keys per policy.
    fn check(
        &self,
        key: &str,
        quota: &Quota,
    ) -> impl Future<Output = Result<Decision, LimiterUnavailable>> + Send;
}

fn secs_ceil(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Decision {
    /// Writes the `RateLimit-*` headers, unless `headers` already describe
    /// a limit with fewer requests remaining.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let existing = headers
            .get(&RATELIMIT_REMAINING)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok());
        if existing.is_some_and(|r| r <= self.remaining) {
            return;
        }
        headers.insert(RATELIMIT_LIMIT.clone(), HeaderValue::from(self.limit));
        headers.insert(
            RATELIMIT_REMAINING.clone(),
            HeaderValue::from(self.remaining),
        );
        headers.insert(
            RATELIMIT_RESET.clone(),
            HeaderValue::from(secs_ceil(self.reset)),
        );
    }
}

impl IntoResponseParts for Decision {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        self.write_headers(res.headers_mut());
        Ok(res)
    }
}

/// A refused request: 429 with `Retry-After` and the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate limited")]
pub struct RateLimited(pub Decision);

impl IntoResponse for RateLimited {
    fn into_response(self) -> Response {
        let retry = self.0.retry_after.map_or(1, |d| secs_ceil(d).max(1));
        let mut response = Problem::new(StatusCode::TOO_MANY_REQUESTS)
            .with_detail(format!("Too many requests; retry in {retry} s."))
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(retry));
        self.0.write_headers(headers);
        response.extensions_mut().insert(self);
        response
    }
}

/// The extractor-style form: check `key` and turn a refusal into
/// [`RateLimited`]. Return the decision with the response to add the
/// `RateLimit-*` headers.
pub async fn check<L: RateLimiter>(
    limiter: &L,
    key: &str,
    quota: &Quota,
) -> Result<Result<Decision, RateLimited>, LimiterUnavailable> {
    let decision = limiter.check(key, quota).await?;
    Ok(if decision.allowed {
        Ok(decision)
    } else {
        Err(RateLimited(decision))
    })
}
