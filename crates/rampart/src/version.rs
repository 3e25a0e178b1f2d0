//! API version policy: each path prefix is active, deprecated or removed.
//!
//! - **active**: requests pass untouched;
//! - **deprecated**: requests pass, responses gain `Deprecation` (RFC 9745,
//!   `@<unix seconds>`), `Sunset` (RFC 8594, an HTTP-date) when known, and
//!   `Link: <successor>; rel="successor-version"` when a successor exists;
//! - **removed**: 410 Gone with a problem body naming the successor, the
//!   `Sunset` date and the successor `Link`; the handler is never called.
//!
//! A prefix matches the path equal to it or any path below it (`/api/v1`
//! matches `/api/v1` and `/api/v1/users`, not `/api/v10`). The successor link
//! keeps the rest of the path: `/api/v1/users` → `/api/v2/users`.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use rampart::version::VersionPolicy;
//!
//! let sunset = UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01
//! let policy = VersionPolicy::new()
//!     .removed("/api/v1/", "/api/v2/", sunset)
//!     .active("/api/v2/");
//! let app: axum::Router = axum::Router::new().layer(policy.layer());
//! # let _ = app;
//! ```

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, Request, StatusCode, header};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::problem::Problem;

/// The `Deprecation` header (RFC 9745).
pub static DEPRECATION: HeaderName = HeaderName::from_static("deprecation");
/// The `Sunset` header (RFC 8594).
pub static SUNSET: HeaderName = HeaderName::from_static("sunset");

#[derive(Debug, Clone)]
enum State {
    Active,
    Deprecated {
        since: SystemTime,
        sunset: Option<SystemTime>,
        successor: Option<String>,
    },
    Removed {
        sunset: SystemTime,
        successor: String,
    },
}

#[derive(Debug, Clone)]
struct Rule {
    prefix: String,
    state: State,
}

/// The state of every versioned prefix; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct VersionPolicy {
    rules: Vec<Rule>,
}

fn normalize(prefix: &str) -> String {
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

impl VersionPolicy {
    /// A policy with no prefixes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares `prefix` active.
    pub fn active(mut self, prefix: &str) -> Self {
        self.rules.push(Rule {
            prefix: normalize(prefix),
            state: State::Active,
        });
        self
    }

    /// Declares `prefix` deprecated since `since`, optionally with a sunset
    /// date and a successor prefix.
    pub fn deprecated(
        mut self,
        prefix: &str,
        since: SystemTime,
        sunset: Option<SystemTime>,
        successor: Option<&str>,
    ) -> Self {
        self.rules.push(Rule {
            prefix: normalize(prefix),
            state: State::Deprecated {
                since,
                sunset,
                successor: successor.map(normalize),
            },
        });
        self
    }

    /// Declares `prefix` removed on `sunset`, replaced by `successor`.
    pub fn removed(mut self, prefix: &str, successor: &str, sunset: SystemTime) -> Self {
        self.rules.push(Rule {
            prefix: normalize(prefix),
            state: State::Removed {
                sunset,
                successor: normalize(successor),
            },
        });
        self
    }

    /// The layer enforcing this policy.
    pub fn layer(&self) -> VersionPolicyLayer {
        VersionPolicyLayer {
            rules: self.rules.clone().into(),
        }
    }
}

fn find<'a>(rules: &'a [Rule], path: &str) -> Option<&'a Rule> {
    rules.iter().find(|r| {
        path.strip_prefix(r.prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

fn successor_link(rule: &Rule, successor: &str, path: &str) -> Option<HeaderValue> {
    let rest = path.get(rule.prefix.len()..).unwrap_or_default();
    HeaderValue::from_str(&format!("<{successor}{rest}>; rel=\"successor-version\"")).ok()
}

fn http_date(t: SystemTime) -> HeaderValue {
    HeaderValue::from_str(&httpdate::fmt_http_date(t))
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}

fn structured_date(t: SystemTime) -> HeaderValue {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Digits and '@' are always a valid header value.
    HeaderValue::from_str(&format!("@{secs}")).unwrap_or(HeaderValue::from_static("@0"))
}

/// Layer of [`VersionPolicy`].
#[derive(Debug, Clone)]
pub struct VersionPolicyLayer {
    rules: Arc<[Rule]>,
}

impl<S> Layer<S> for VersionPolicyLayer {
    type Service = VersionPolicyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VersionPolicyService {
            inner,
            rules: self.rules.clone(),
        }
    }
}

/// The service of [`VersionPolicyLayer`].
#[derive(Debug, Clone)]
pub struct VersionPolicyService<S> {
    inner: S,
    rules: Arc<[Rule]>,
}

impl<S, B> Service<Request<B>> for VersionPolicyService<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = VersionFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let path = req.uri().path();
        let Some(rule) = find(&self.rules, path) else {
            return VersionFuture::Pass {
                inner: self.inner.call(req),
            };
        };
        match &rule.state {
            State::Active => VersionFuture::Pass {
                inner: self.inner.call(req),
            },
            State::Removed { sunset, successor } => {
                let mut response = Problem::typed(
                    StatusCode::GONE,
                    "urn:rampart:problem:version-removed",
                    "API version removed",
                )
                .with_detail(format!(
                    "{} has been removed; use its successor {successor}/.",
                    rule.prefix
                ))
                .into_response();
                let headers = response.headers_mut();
                headers.insert(SUNSET.clone(), http_date(*sunset));
                if let Some(link) = successor_link(rule, successor, path) {
                    headers.insert(header::LINK, link);
                }
                VersionFuture::Done {
                    response: Some(response),
                }
            }
            State::Deprecated {
                since,
                sunset,
                successor,
            } => {
                let mut extra = vec![(DEPRECATION.clone(), structured_date(*since))];
                if let Some(sunset) = sunset {
                    extra.push((SUNSET.clone(), http_date(*sunset)));
                }
                if let Some(link) = successor
                    .as_deref()
                    .and_then(|s| successor_link(rule, s, path))
                {
                    extra.push((header::LINK, link));
                }
                VersionFuture::Deprecated {
                    inner: self.inner.call(req),
                    extra,
                }
            }
        }
    }
}

pin_project! {
    /// Response future of [`VersionPolicyService`].
    #[project = VersionFutureProj]
    #[allow(missing_docs)]
    pub enum VersionFuture<F> {
        /// Active or unversioned: the inner response as it is.
        Pass {
            #[pin]
            inner: F,
        },
        /// Deprecated: the inner response plus headers.
        Deprecated {
            #[pin]
            inner: F,
            extra: Vec<(HeaderName, HeaderValue)>,
        },
        /// Removed: answered without calling the inner service.
        Done {
            response: Option<Response>,
        },
    }
}

impl<F, E> Future for VersionFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            VersionFutureProj::Pass { inner } => inner.poll(cx),
            VersionFutureProj::Deprecated { inner, extra } => {
                let mut response = std::task::ready!(inner.poll(cx))?;
                for (name, value) in extra.drain(..) {
                    response.headers_mut().append(name, value);
                }
                Poll::Ready(Ok(response))
            }
            VersionFutureProj::Done { response } => {
                Poll::Ready(Ok(response.take().unwrap_or_else(|| {
                    Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response()
                })))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Router, body::Body, routing::get};
    use std::time::Duration;
    use tower::ServiceExt;

    fn app() -> Router {
        let t = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let policy = VersionPolicy::new()
            .removed("/api/v1/", "/api/v2/", t)
            .deprecated("/api/v2", t, Some(t), Some("/api/v3"))
            .active("/api/v3");
        Router::new()
            .route("/api/v2/users", get(|| async { "v2" }))
            .route("/api/v3/users", get(|| async { "v3" }))
            .route("/api/v10/users", get(|| async { "v10" }))
            .layer(policy.layer())
    }

    async fn get_path(path: &str) -> Response {
        app()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn removed_prefixes_are_gone_with_a_successor_link() {
        let r = get_path("/api/v1/users").await;
        assert_eq!(r.status(), StatusCode::GONE);
        assert_eq!(
            r.headers()[header::LINK],
            "</api/v2/users>; rel=\"successor-version\""
        );
        assert_eq!(r.headers()[&SUNSET], "Thu, 01 Jan 2026 00:00:00 GMT");
    }

    #[tokio::test]
    async fn deprecated_prefixes_still_answer_with_deprecation_headers() {
        let r = get_path("/api/v2/users").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[&DEPRECATION], "@1767225600");
        assert!(r.headers().contains_key(&SUNSET));
    }

    #[tokio::test]
    async fn prefixes_match_whole_segments() {
        let r = get_path("/api/v10/users").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(!r.headers().contains_key(&DEPRECATION));
    }
}
