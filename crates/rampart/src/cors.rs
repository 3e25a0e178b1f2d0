//! CORS for an exact list of origins, with no reflection ever.
//!
//! Rules:
//! - a request without `Origin` passes untouched but for `Vary: Origin`;
//! - an `Origin` on the list gets `Access-Control-Allow-Origin: <origin>`
//!   and `Access-Control-Expose-Headers`; any other origin gets no CORS
//!   header at all, so the browser withholds the response;
//! - a preflight (`OPTIONS` with `Origin` and
//!   `Access-Control-Request-Method`) is answered here with 204 and never
//!   reaches the handler; it carries `Allow-Methods`, `Allow-Headers` and
//!   `Max-Age` only for a listed origin;
//! - [`CorsPolicy::any_origin`] sends a literal `*`, never the caller's
//!   origin;
//! - credentials (cookies) are not supported: Rampart-style APIs
//!   authenticate with bearer tokens, which CORS does not need to allow.
//!
//! tower-http's `CorsLayer` does the same job with more options; it was
//! replaced because hyper clones the service for every request and that
//! layer's configuration (several vectors) cost more per request than any
//! other layer of the stack. Here the whole configuration is one `Arc`.
//!
//! ```
//! use rampart::cors::CorsPolicy;
//!
//! let policy = CorsPolicy::origins(["https://app.example.com"]).unwrap();
//! assert!(policy.allows("https://app.example.com"));
//! assert!(!policy.allows("https://evil.example"));
//! let app: axum::Router = axum::Router::new().layer(policy.layer());
//! # let _ = app;
//! ```

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{body::Body, response::Response};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// An origin that cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CORS origin {origin:?}: expected scheme://host[:port]")]
pub struct InvalidOrigin {
    /// The origin as given.
    pub origin: String,
}

#[derive(Debug, Clone)]
struct Config {
    any: bool,
    origins: Vec<HeaderValue>,
    allow_methods: HeaderValue,
    allow_headers: HeaderValue,
    expose_headers: HeaderValue,
    max_age: HeaderValue,
}

/// Which origins may call the API from a browser; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct CorsPolicy {
    config: Arc<Config>,
}

fn join(items: &[&str]) -> HeaderValue {
    HeaderValue::from_str(&items.join(", ")).unwrap_or(HeaderValue::from_static(""))
}

impl CorsPolicy {
    /// Exact origins (`https://app.example.com`, `http://localhost:3000`).
    pub fn origins<I, O>(origins: I) -> Result<Self, InvalidOrigin>
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        let mut values = Vec::new();
        for origin in origins {
            let origin = origin.as_ref();
            let err = || InvalidOrigin {
                origin: origin.to_owned(),
            };
            let uri: http::Uri = origin.parse().map_err(|_| err())?;
            // `Uri` reports "/" for a URI without a path.
            let bare =
                uri.path_and_query().is_none_or(|p| p.as_str() == "/") && !origin.ends_with('/');
            if !matches!(uri.scheme_str(), Some("http" | "https"))
                || uri.authority().is_none()
                || !bare
            {
                return Err(err());
            }
            values.push(HeaderValue::from_str(origin).map_err(|_| err())?);
        }
        Ok(Self::build(false, values))
    }

    /// Every origin, answered with a literal `*` (never reflected).
    pub fn any_origin() -> Self {
        Self::build(true, Vec::new())
    }

    fn build(any: bool, origins: Vec<HeaderValue>) -> Self {
        Self {
            config: Arc::new(Config {
                any,
                origins,
                allow_methods: join(&["GET", "POST", "PUT", "PATCH", "DELETE"]),
                allow_headers: join(&[
                    "authorization",
                    "content-type",
                    "idempotency-key",
                    "x-request-id",
                ]),
                expose_headers: join(&[
                    "x-request-id",
                    "retry-after",
                    "link",
                    "ratelimit-limit",
                    "ratelimit-remaining",
                    "ratelimit-reset",
                ]),
                max_age: HeaderValue::from(600u64),
            }),
        }
    }

    /// Replaces the methods a preflight allows.
    pub fn allow_methods(mut self, methods: &[Method]) -> Self {
        let list: Vec<&str> = methods.iter().map(Method::as_str).collect();
        self.config_mut().allow_methods = join(&list);
        self
    }

    /// Replaces the request headers a preflight allows.
    pub fn allow_headers(mut self, headers: &[HeaderName]) -> Self {
        let list: Vec<&str> = headers.iter().map(HeaderName::as_str).collect();
        self.config_mut().allow_headers = join(&list);
        self
    }

    /// Replaces the response headers scripts may read.
    pub fn expose_headers(mut self, headers: &[HeaderName]) -> Self {
        let list: Vec<&str> = headers.iter().map(HeaderName::as_str).collect();
        self.config_mut().expose_headers = join(&list);
        self
    }

    /// How long browsers may cache a preflight.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.config_mut().max_age = HeaderValue::from(age.as_secs());
        self
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Whether `origin` may read responses.
    pub fn allows(&self, origin: &str) -> bool {
        self.allowed(origin.as_bytes()).is_some()
    }

    fn allowed(&self, origin: &[u8]) -> Option<HeaderValue> {
        if self.config.any {
            return Some(HeaderValue::from_static("*"));
        }
        self.config
            .origins
            .iter()
            .find(|o| o.as_bytes() == origin)
            .cloned()
    }

    /// The layer applying this policy.
    pub fn layer(&self) -> CorsLayer {
        CorsLayer {
            policy: self.clone(),
        }
    }
}

/// Layer of [`CorsPolicy`].
#[derive(Debug, Clone)]
pub struct CorsLayer {
    policy: CorsPolicy,
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cors {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service of [`CorsLayer`].
#[derive(Debug, Clone)]
pub struct Cors<S> {
    inner: S,
    policy: CorsPolicy,
}

impl<S, B> Service<Request<B>> for Cors<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = CorsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let headers = req.headers();
        let Some(origin) = headers.get(header::ORIGIN) else {
            return CorsFuture::Inner {
                inner: self.inner.call(req),
                allow_origin: None,
                expose: None,
            };
        };
        let allow_origin = self.policy.allowed(origin.as_bytes());
        let config = &self.policy.config;
        let preflight = req.method() == Method::OPTIONS
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if preflight {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            let h = response.headers_mut();
            h.insert(
                header::VARY,
                HeaderValue::from_static(
                    "origin, access-control-request-method, access-control-request-headers",
                ),
            );
            if let Some(origin) = allow_origin {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    config.allow_methods.clone(),
                );
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    config.allow_headers.clone(),
                );
                h.insert(header::ACCESS_CONTROL_MAX_AGE, config.max_age.clone());
            }
            return CorsFuture::Preflight {
                response: Some(response),
            };
        }
        let expose = allow_origin.as_ref().map(|_| config.expose_headers.clone());
        CorsFuture::Inner {
            inner: self.inner.call(req),
            allow_origin,
            expose,
        }
    }
}

pin_project! {
    /// Response future of [`Cors`].
    #[project = CorsFutureProj]
    #[allow(missing_docs)]
    pub enum CorsFuture<F> {
        Inner { #[pin] inner: F, allow_origin: Option<HeaderValue>, expose: Option<HeaderValue> },
        Preflight { response: Option<Response> },
    }
}

impl<F, E> Future for CorsFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CorsFutureProj::Inner {
                inner,
                allow_origin,
                expose,
            } => {
                let mut response = std::task::ready!(inner.poll(cx))?;
                let h = response.headers_mut();
                // The answer depends on Origin even when it carries no CORS
                // header, so shared caches must key on it.
                h.append(header::VARY, HeaderValue::from_static("origin"));
                if let Some(origin) = allow_origin.take() {
                    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                }
                if let Some(expose) = expose.take() {
                    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose);
                }
                Poll::Ready(Ok(response))
            }
            CorsFutureProj::Preflight { response } => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| Response::new(Body::empty())))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Router, routing::post};
    use tower::ServiceExt;

    fn app(policy: CorsPolicy) -> Router {
        Router::new()
            .route("/x", post(|| async { "handler" }))
            .layer(policy.layer())
    }

    async fn send(app: Router, method: Method, origin: Option<&str>, preflight: bool) -> Response {
        let mut req = Request::builder().method(method).uri("/x");
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        if preflight {
            req = req.header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST");
        }
        app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn origins_are_allowed_exactly_and_never_reflected() {
        let policy = CorsPolicy::origins(["https://app.example.com"]).unwrap();
        let cases = [
            (
                "listed",
                Some("https://app.example.com"),
                Some("https://app.example.com"),
            ),
            ("other", Some("https://evil.example"), None),
            (
                "prefix trick",
                Some("https://app.example.com.evil.example"),
                None,
            ),
            ("null origin", Some("null"), None),
            ("no origin", None, None),
        ];
        for (name, origin, expected) in cases {
            let r = send(app(policy.clone()), Method::POST, origin, false).await;
            assert_eq!(r.status(), StatusCode::OK, "{name}");
            let acao = r
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .map(|v| v.to_str().unwrap());
            assert_eq!(acao, expected, "{name}");
            assert!(
                r.headers()
                    .get_all(header::VARY)
                    .iter()
                    .any(|v| v == "origin"),
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn preflights_are_answered_without_calling_the_handler() {
        let policy = CorsPolicy::origins(["https://app.example.com"]).unwrap();
        let ok = send(
            app(policy.clone()),
            Method::OPTIONS,
            Some("https://app.example.com"),
            true,
        )
        .await;
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);
        assert!(
            ok.headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_METHODS)
        );
        let evil = send(
            app(policy),
            Method::OPTIONS,
            Some("https://evil.example"),
            true,
        )
        .await;
        assert_eq!(evil.status(), StatusCode::NO_CONTENT);
        assert!(
            !evil
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
        assert!(
            !evil
                .headers()
                .contains_key(header::ACCESS_CONTROL_ALLOW_METHODS)
        );
    }

    #[tokio::test]
    async fn any_origin_sends_a_literal_star() {
        let r = send(
            app(CorsPolicy::any_origin()),
            Method::POST,
            Some("https://x.example"),
            false,
        )
        .await;
        assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }

    #[test]
    fn only_bare_origins_are_accepted() {
        for bad in [
            "app.example.com",
            "https://a.example/",
            "https://a.example/path",
            "ftp://a.example",
            "*",
        ] {
            assert!(CorsPolicy::origins([bad]).is_err(), "{bad}");
        }
        assert!(CorsPolicy::origins(["http://localhost:3000"]).is_ok());
    }
}
