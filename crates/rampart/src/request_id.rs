//! `X-Request-Id`: one id per request, on the request, the response, every
//! log line and every problem body.
//!
//! An incoming id is kept only when it matches `[A-Za-z0-9-]{1,64}`; anything
//! else (too long, spaces, control characters, log-injection attempts) is
//! replaced by a fresh UUID v4. The id is stored in the request extensions as
//! [`RequestId`], written back into the request header so inner services see
//! the same value, and set on the response.
//!
//! ```
//! use axum::{Router, routing::get};
//! use rampart::request_id::{RequestId, RequestIdLayer};
//!
//! let app: Router = Router::new()
//!     .route("/", get(|id: axum::Extension<RequestId>| async move { id.as_str().to_owned() }))
//!     .layer(RequestIdLayer::new());
//! # let _ = app;
//! ```
//!
//! # Deployment caveats
//! Behind a proxy that assigns ids, the proxy's id is kept when it matches the
//! grammar, so one id follows the request through both logs.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::{HeaderName, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// The `x-request-id` header name.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, in the request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// Keeps `value` if it is a valid id.
    pub fn parse(value: &HeaderValue) -> Option<Self> {
        is_valid(value.as_bytes()).then(|| Self(value.clone()))
    }

    /// A fresh random (UUID v4) id.
    pub fn generate() -> Self {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
        // A hyphenated UUID is always a valid header value.
        Self(HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("invalid")))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics and '-' ever get in.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_valid(bytes: &[u8]) -> bool {
    (1..=64).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        // The id reaches every log line, audit entry and alert: a card
        // number (`4111-1111-1111-1111` fits the grammar) is replaced.
        && !std::str::from_utf8(bytes).is_ok_and(crate::pci::contains_card_number)
}

/// Layer that assigns request ids; see the [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer {
    _priv: (),
}

impl RequestIdLayer {
    /// A new layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

/// The service of [`RequestIdLayer`].
#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for RequestIdService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let id = req
            .headers()
            .get(&X_REQUEST_ID)
            .and_then(RequestId::parse)
            .unwrap_or_else(RequestId::generate);
        req.headers_mut().insert(X_REQUEST_ID.clone(), id.0.clone());
        let header = id.0.clone();
        req.extensions_mut().insert(id);
        RequestIdFuture {
            inner: self.inner.call(req),
            header: Some(header),
        }
    }
}

pin_project! {
    /// Response future of [`RequestIdService`].
    pub struct RequestIdFuture<F> {
        #[pin]
        inner: F,
        header: Option<HeaderValue>,
    }
}

impl<F, B, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Some(header) = this.header.take() {
            response.headers_mut().insert(X_REQUEST_ID.clone(), header);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_grammar() {
        let cases = [
            ("uuid", "0b6f3e4c-1f7a-4b0e-9a4e-3c1f0e2d4a5b", true),
            ("short", "a", true),
            ("sixty-four", &"a".repeat(64), true),
            ("sixty-five", &"a".repeat(65), false),
            ("space", "a b", false),
            ("underscore", "a_b", false),
            ("injection", "a\",\"admin\":true", false),
        ];
        for (name, value, ok) in cases {
            let v = HeaderValue::from_str(value).unwrap();
            assert_eq!(RequestId::parse(&v).is_some(), ok, "case {name}");
        }
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert!(is_valid(a.as_str().as_bytes()));
        assert_ne!(a, b);
    }
}
