//! The per-client-address layer.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use http::{Request, StatusCode};
use tower::{Layer, Service};

use super::{Quota, RateLimited, RateLimiter};
use crate::{client_ip::ClientIp, problem::Problem};

/// Limits every request whose path starts with a prefix, keyed by the
/// client address ([`ClientIp::rate_key`]; run [`crate::client_ip::ClientIpLayer`]
/// outside it). Failed and unauthenticated requests count too.
#[derive(Debug)]
pub struct RateLimitLayer<L> {
    limiter: Arc<L>,
    quota: Quota,
    prefix: Arc<str>,
    fail_open: bool,
}

impl<L> Clone for RateLimitLayer<L> {
    fn clone(&self) -> Self {
        Self {
            limiter: self.limiter.clone(),
            quota: self.quota,
            prefix: self.prefix.clone(),
            fail_open: self.fail_open,
        }
    }
}

impl<L: RateLimiter> RateLimitLayer<L> {
    /// `quota` per client address for paths under `prefix`; when the store
    /// is unreachable, requests are refused with 503.
    pub fn per_client_ip(limiter: Arc<L>, quota: Quota, prefix: &str) -> Self {
        Self {
            limiter,
            quota,
            prefix: prefix.into(),
            fail_open: false,
        }
    }

    /// Lets requests through unlimited while the store is unreachable.
    pub fn fail_open(mut self, open: bool) -> Self {
        self.fail_open = open;
        self
    }
}

impl<L, S> Layer<S> for RateLimitLayer<L> {
    type Service = RateLimitService<L, S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`RateLimitLayer`].
#[derive(Debug)]
pub struct RateLimitService<L, S> {
    inner: S,
    layer: RateLimitLayer<L>,
}

impl<L, S: Clone> Clone for RateLimitService<L, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<L, S, B> Service<Request<B>> for RateLimitService<L, S>
where
    L: RateLimiter,
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if !req.uri().path().starts_with(&*self.layer.prefix) {
            // Unlimited paths pay nothing: no box, no clone.
            return Either::Left(self.inner.call(req));
        }
        // The ready service goes into the future; a clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let key = req
            .extensions()
            .get::<ClientIp>()
            .map(|ip| format!("ip:{}", ip.rate_key()));
        let layer = self.layer.clone();
        Either::Right(Box::pin(async move {
            let Some(key) = key else {
                // No client address resolved: a wiring error, never a free pass.
                return Ok(Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response());
            };
            match layer.limiter.check(&key, &layer.quota).await {
                Ok(decision) if decision.allowed => {
                    let mut response = inner.call(req).await?;
                    decision.write_headers(response.headers_mut());
                    Ok(response)
                }
                Ok(decision) => Ok(RateLimited(decision).into_response()),
                Err(e) if layer.fail_open => {
                    tracing::warn!(error = %e, "rate limiting skipped: store unavailable");
                    inner.call(req).await
                }
                Err(e) => {
                    tracing::error!(error = %e, "request refused: rate-limit store unavailable");
                    Ok(Problem::new(StatusCode::SERVICE_UNAVAILABLE).into_response())
                }
            }
        }))
    }
}
