//! Security headers: one layer writes the whole set on every response.
//!
//! One layer rather than one `SetResponseHeaderLayer` per header: each layer
//! costs a service, a future and a poll per request, and ten of them measured
//! several times the instructions of the headers themselves.
//!
//! The [`api`](SecurityHeadersLayer::api) preset writes, overriding whatever
//! the handler set:
//!
//! | header | value |
//! | --- | --- |
//! | `X-Content-Type-Options` | `nosniff` |
//! | `X-Frame-Options` | `DENY` |
//! | `Referrer-Policy` | `no-referrer` |
//! | `Permissions-Policy` | `geolocation=(), microphone=(), camera=()` |
//! | `Strict-Transport-Security` | `max-age=31536000; includeSubDomains` |
//! | `Cross-Origin-Opener-Policy` | `same-origin` |
//! | `Cross-Origin-Resource-Policy` | `same-origin` |
//! | `X-XSS-Protection` | `0` (the legacy auditor is disabled, as OWASP advises) |
//!
//! and, only when the handler did not set its own (so a documentation page
//! can relax them for itself): `Content-Security-Policy: default-src 'none';
//! frame-ancestors 'none'` and `Cache-Control: no-store`. It removes `Server`
//! and `X-Powered-By`.
//!
//! ```
//! use axum::{Router, routing::get};
//! use rampart::headers::SecurityHeadersLayer;
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "ok" }))
//!     .layer(SecurityHeadersLayer::api().overriding(
//!         http::header::HeaderName::from_static("x-extra"),
//!         http::HeaderValue::from_static("1"),
//!     ));
//! # let _ = app;
//! ```
//!
//! # Deployment caveats
//! `Strict-Transport-Security` only has effect over HTTPS: terminate TLS in
//! front of the service and never serve it over plain HTTP to browsers.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{HeaderName, HeaderValue, Request, Response, header};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

#[derive(Debug, Clone)]
struct HeaderSet {
    overriding: Vec<(HeaderName, HeaderValue)>,
    if_not_present: Vec<(HeaderName, HeaderValue)>,
    removed: Vec<HeaderName>,
    /// Every written header in one map, cloned per response: one clone
    /// costs half as much as inserting the headers one by one.
    prototype: http::HeaderMap,
}

impl HeaderSet {
    fn rebuild(&mut self) {
        // Room for the handler's and the outer layers' headers (request
        // id, content type and length, `vary`, rate-limit fields), so the
        // map a response gets is not grown and rehashed on the way out.
        let mut prototype =
            http::HeaderMap::with_capacity(self.overriding.len() + self.if_not_present.len() + 8);
        for (name, value) in self.overriding.iter().chain(&self.if_not_present) {
            prototype.insert(name.clone(), value.clone());
        }
        self.prototype = prototype;
    }
}

/// Layer writing a fixed set of security headers; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct SecurityHeadersLayer {
    set: Arc<HeaderSet>,
}

const fn hv(s: &'static str) -> HeaderValue {
    HeaderValue::from_static(s)
}

impl SecurityHeadersLayer {
    /// The preset for JSON APIs (see the module docs for the exact set).
    pub fn api() -> Self {
        Self::common(
            "default-src 'none'; frame-ancestors 'none'",
            Some(hv("no-store")),
        )
    }

    /// The preset for HTML pages served by the same origin: the same set,
    /// with a CSP allowing the page's own scripts, styles and images, and no
    /// `Cache-Control`.
    pub fn html() -> Self {
        Self::common(
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
            None,
        )
    }

    fn common(csp: &'static str, cache_control: Option<HeaderValue>) -> Self {
        let overriding = vec![
            (header::X_CONTENT_TYPE_OPTIONS, hv("nosniff")),
            (header::X_FRAME_OPTIONS, hv("DENY")),
            (header::REFERRER_POLICY, hv("no-referrer")),
            (
                HeaderName::from_static("permissions-policy"),
                hv("geolocation=(), microphone=(), camera=()"),
            ),
            (
                header::STRICT_TRANSPORT_SECURITY,
                hv("max-age=31536000; includeSubDomains"),
            ),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                hv("same-origin"),
            ),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                hv("same-origin"),
            ),
            (header::X_XSS_PROTECTION, hv("0")),
        ];
        let mut if_not_present = vec![(header::CONTENT_SECURITY_POLICY, hv(csp))];
        if let Some(cc) = cache_control {
            if_not_present.push((header::CACHE_CONTROL, cc));
        }
        let mut set = HeaderSet {
            overriding,
            if_not_present,
            removed: vec![header::SERVER, HeaderName::from_static("x-powered-by")],
            prototype: http::HeaderMap::new(),
        };
        set.rebuild();
        Self { set: Arc::new(set) }
    }

    /// Adds (or replaces in the set) a header written over whatever the
    /// inner service set.
    pub fn overriding(mut self, name: HeaderName, value: HeaderValue) -> Self {
        let set = Arc::make_mut(&mut self.set);
        set.if_not_present.retain(|(n, _)| *n != name);
        set.overriding.retain(|(n, _)| *n != name);
        set.overriding.push((name, value));
        set.rebuild();
        self
    }

    /// Adds (or replaces in the set) a header written only when the inner
    /// service did not set it.
    pub fn if_not_present(mut self, name: HeaderName, value: HeaderValue) -> Self {
        let set = Arc::make_mut(&mut self.set);
        set.overriding.retain(|(n, _)| *n != name);
        set.if_not_present.retain(|(n, _)| *n != name);
        set.if_not_present.push((name, value));
        set.rebuild();
        self
    }

    /// Drops a header from the set (it is then neither written nor removed).
    pub fn without(mut self, name: &HeaderName) -> Self {
        let set = Arc::make_mut(&mut self.set);
        set.overriding.retain(|(n, _)| n != name);
        set.if_not_present.retain(|(n, _)| n != name);
        set.removed.retain(|n| n != name);
        set.rebuild();
        self
    }

    /// Writes the set onto `headers`; what the service does to each response.
    pub fn apply(&self, headers: &mut http::HeaderMap) {
        apply(&self.set, headers);
    }
}

fn apply(set: &HeaderSet, headers: &mut http::HeaderMap) {
    let mut out = set.prototype.clone();
    let mut current: Option<HeaderName> = None;
    let mut first = false;
    for (name, value) in headers.drain() {
        // `drain` names a header once, then yields its further values
        // with `None`.
        if let Some(name) = name {
            current = Some(name);
            first = true;
        }
        let Some(name) = &current else { continue };
        let skip = set.removed.contains(name) || set.overriding.iter().any(|(n, _)| n == name);
        if !skip {
            if first && set.if_not_present.iter().any(|(n, _)| n == name) {
                // The handler's own value replaces the default.
                out.insert(name.clone(), value);
            } else {
                out.append(name.clone(), value);
            }
        }
        first = false;
    }
    *headers = out;
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders {
            inner,
            set: self.set.clone(),
        }
    }
}

/// The service of [`SecurityHeadersLayer`].
#[derive(Debug, Clone)]
pub struct SecurityHeaders<S> {
    inner: S,
    set: Arc<HeaderSet>,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for SecurityHeaders<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = SecurityHeadersFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        SecurityHeadersFuture {
            inner: self.inner.call(req),
            set: self.set.clone(),
        }
    }
}

pin_project! {
    /// Response future of [`SecurityHeaders`].
    pub struct SecurityHeadersFuture<F> {
        #[pin]
        inner: F,
        set: Arc<HeaderSet>,
    }
}

impl<F, B, E> Future for SecurityHeadersFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        apply(this.set, response.headers_mut());
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_preset_overrides_frame_options_but_keeps_a_handler_csp() {
        let mut h = http::HeaderMap::new();
        h.insert(header::X_FRAME_OPTIONS, hv("ALLOWALL"));
        h.insert(header::CONTENT_SECURITY_POLICY, hv("default-src 'self'"));
        h.insert(header::SERVER, hv("leaky/1.0"));
        SecurityHeadersLayer::api().apply(&mut h);
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], "default-src 'self'");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert!(!h.contains_key(header::SERVER));
    }

    #[test]
    fn multi_valued_headers_survive() {
        let mut h = http::HeaderMap::new();
        h.append(header::SET_COOKIE, hv("a=1"));
        h.append(header::SET_COOKIE, hv("b=2"));
        h.append(header::VARY, hv("origin"));
        SecurityHeadersLayer::api().apply(&mut h);
        assert_eq!(h.get_all(header::SET_COOKIE).iter().count(), 2);
        assert_eq!(h[header::VARY], "origin");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[test]
    fn builder_methods_move_a_header_between_modes() {
        let layer = SecurityHeadersLayer::api()
            .overriding(header::CONTENT_SECURITY_POLICY, hv("default-src 'none'"))
            .without(&header::CACHE_CONTROL);
        let mut h = http::HeaderMap::new();
        h.insert(header::CONTENT_SECURITY_POLICY, hv("default-src *"));
        layer.apply(&mut h);
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], "default-src 'none'");
        assert!(!h.contains_key(header::CACHE_CONTROL));
    }
}
