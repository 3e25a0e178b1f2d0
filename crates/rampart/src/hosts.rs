//! `Host` allow-list: requests for any other host name get 400.
//!
//! A forged `Host` header is how password-reset links get poisoned and caches
//! get split; Django answers it with `ALLOWED_HOSTS`, this is the same rule.
//!
//! Rules:
//! - the host is taken from the request URI's authority (HTTP/2, absolute
//!   form) or else the `Host` header; a request with neither is refused;
//! - the port is ignored, comparison is ASCII case-insensitive, and a
//!   trailing dot is dropped;
//! - a pattern is an exact name (`api.example.com`, `127.0.0.1`, `[::1]`),
//!   a leading-dot suffix (`.example.com` matches `example.com` and every
//!   subdomain), or `*` (anything; production checks flag it).
//!
//! ```
//! use rampart::hosts::AllowedHosts;
//!
//! let hosts = AllowedHosts::new(["localhost", ".example.com"]).unwrap();
//! assert!(hosts.allows("LOCALHOST:8080"));
//! assert!(hosts.allows("api.example.com"));
//! assert!(!hosts.allows("evil.test"));
//! ```
//!
//! # Deployment caveats
//! A reverse proxy that rewrites `Host` to its upstream name hides the
//! client's host: configure it to pass the original `Host` through, and list
//! the public names here.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, Ready, ready};
use http::{Request, StatusCode, header};
use tower::{Layer, Service};

use crate::problem::Problem;

/// A host pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid allowed-host pattern {pattern:?}: {reason}")]
pub struct InvalidHostPattern {
    /// The pattern as given.
    pub pattern: String,
    /// Why it was refused.
    pub reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    Exact(String),
    Suffix(String),
}

/// A validated list of allowed host names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts {
    patterns: Arc<[Pattern]>,
}

impl AllowedHosts {
    /// Parses the patterns (see the module docs for their grammar).
    pub fn new<I, P>(patterns: I) -> Result<Self, InvalidHostPattern>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        let mut parsed = Vec::new();
        for p in patterns {
            let raw = p.as_ref().trim();
            let err = |reason| InvalidHostPattern {
                pattern: raw.to_owned(),
                reason,
            };
            if raw == "*" {
                parsed.push(Pattern::Any);
                continue;
            }
            if raw.is_empty() {
                return Err(err("empty pattern"));
            }
            let lower = raw.to_ascii_lowercase();
            let (suffix, name) = match lower.strip_prefix('.') {
                Some(rest) => (true, rest.to_owned()),
                None => (false, lower),
            };
            let valid = !name.is_empty()
                && name.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':')
                });
            if !valid {
                return Err(err(
                    "only letters, digits, '.', '-' and bracketed IPv6 are allowed",
                ));
            }
            parsed.push(if suffix {
                Pattern::Suffix(name)
            } else {
                Pattern::Exact(name)
            });
        }
        Ok(Self {
            patterns: parsed.into(),
        })
    }

    /// True when no pattern is configured (every request is refused).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// True when a `*` pattern lets every host through.
    pub fn allows_any(&self) -> bool {
        self.patterns.contains(&Pattern::Any)
    }

    /// Whether `host` (with or without a port) is allowed.
    pub fn allows(&self, host: &str) -> bool {
        let name = strip_port(host);
        let name = name.strip_suffix('.').unwrap_or(name);
        self.patterns.iter().any(|p| match p {
            Pattern::Any => true,
            Pattern::Exact(n) => n.eq_ignore_ascii_case(name),
            Pattern::Suffix(n) => {
                name.eq_ignore_ascii_case(n)
                    || (name.len() > n.len()
                        && name.as_bytes()[name.len() - n.len() - 1] == b'.'
                        && name[name.len() - n.len()..].eq_ignore_ascii_case(n))
            }
        })
    }

    /// A layer refusing requests for hosts outside this list.
    pub fn layer(&self) -> AllowedHostsLayer {
        AllowedHostsLayer {
            hosts: self.clone(),
        }
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // [v6]:port → [v6]
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Layer of [`AllowedHosts`].
#[derive(Debug, Clone)]
pub struct AllowedHostsLayer {
    hosts: AllowedHosts,
}

impl<S> Layer<S> for AllowedHostsLayer {
    type Service = AllowedHostsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AllowedHostsService {
            inner,
            hosts: self.hosts.clone(),
        }
    }
}

/// The service of [`AllowedHostsLayer`].
#[derive(Debug, Clone)]
pub struct AllowedHostsService<S> {
    inner: S,
    hosts: AllowedHosts,
}

impl<S, B> Service<Request<B>> for AllowedHostsService<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let host = req
            .uri()
            .authority()
            .map(http::uri::Authority::as_str)
            .or_else(|| {
                req.headers()
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
            });
        let allowed = host.is_some_and(|h| {
            // userinfo@ in an authority is never a legitimate host.
            !h.contains('@') && self.hosts.allows(h)
        });
        if allowed {
            Either::Left(self.inner.call(req))
        } else {
            let problem = Problem::typed(
                StatusCode::BAD_REQUEST,
                "urn:rampart:problem:invalid-host",
                "Invalid Host header",
            )
            .with_detail("The Host header names a host this service does not answer for.");
            Either::Right(ready(Ok(problem.into_response())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_as_documented() {
        let hosts = AllowedHosts::new(["localhost", "127.0.0.1", "[::1]", ".example.com"]).unwrap();
        let cases = [
            ("plain", "localhost", true),
            ("with port", "localhost:8080", true),
            ("upper case", "LocalHost", true),
            ("trailing dot", "localhost.", true),
            ("ipv4 with port", "127.0.0.1:9", true),
            ("ipv6", "[::1]:8080", true),
            ("suffix apex", "example.com", true),
            ("suffix sub", "a.b.example.com", true),
            ("suffix lookalike", "badexample.com", false),
            ("other", "evil.test", false),
            ("prefix trick", "localhost.evil.test", false),
            ("empty", "", false),
        ];
        for (name, host, ok) in cases {
            assert_eq!(hosts.allows(host), ok, "case {name}: {host}");
        }
    }

    #[test]
    fn bad_patterns_are_configuration_errors() {
        assert!(AllowedHosts::new(["exa mple.com"]).is_err());
        assert!(AllowedHosts::new([""]).is_err());
        assert!(AllowedHosts::new(["*"]).unwrap().allows_any());
    }
}
