//! # rampart
//!
//! Security building blocks for [axum] services: the pieces a security review
//! asks for, each usable on its own.
//!
//! | module | what it gives you |
//! | --- | --- |
//! | [`problem`] | the RFC 9457 [`Problem`](problem::Problem) body and the [`ProblemLayer`](problem::ProblemLayer) that makes every error response one |
//! | [`request_id`] | a validated `X-Request-Id` on every request and response |
//! | [`headers`] | one layer that writes the whole security-header set |
//! | [`hosts`] | a `Host` allow-list |
//! | [`client_ip`] | the client address behind trusted proxies; IPv6 /64 rate keys |
//! | [`cors`] | CORS for exact origins, never reflecting others |
//! | [`version`] | active, deprecated and removed API prefixes (RFC 9745, RFC 8594) |
//! | [`input`] | strict JSON, query and path extractors whose rejections are problems; HTML sanitising (feature `html`) |
//! | [`logging`] | a fast JSON-lines formatter for `tracing` |
//! | [`ratelimit`] | exact sliding-window limits: the limiter trait, the in-memory and Redis (feature `redis`) stores, the per-IP layer |
//! | [`lockout`] | per-username lockout and per-address failure limits for logins |
//! | `crypto` (feature `crypto`) | field encryption at rest: XChaCha20-Poly1305, versioned keys, context-bound |
//! | [`pci`] | card-number (PAN) detection: Luhn-valid 13–19 digit runs |
//! | [`redact`] | one redaction for logs and audit details: tokens, passwords, card numbers |
//! | `password` (feature `password`) | argon2id hashing off the async threads, strength rules |
//! | `jwt` (feature `jwt`) | HS256 access tokens with required claims and a `kid` key ring |
//! | [`authz`] | `Authenticated` extractor, role and ownership guards with a refusal hook |
//! | [`audit`] | audit event types, the hash chain and its verifier |
//! | `upload` (feature `upload`) | streaming upload validation: size, extension, magic bytes, SHA-256, atomic storage |
//! | [`secrets`] | a never-printing secret type; env, file, Vault (feature `vault`) and AWS Secrets Manager (feature `aws`) providers |
//! | [`checks`] | typed production-configuration findings, like Django's `check --deploy` |
//!
//! Features: `password`, `jwt`, `crypto`, `upload`, `html` (ammonia) and
//! `openapi` (utoipa schemas), or `full` for all of them; `redis`, `vault`
//! and `aws` for the shared stores and the network secrets providers. None
//! is on by default.
//!
//! Outside the [`secrets`] providers, whose job it is, the library never
//! reads environment variables or files; it knows nothing
//! about users, orders or SQL: the application passes configuration in and
//! implements the hooks.
//!
//! ```
//! use axum::{Router, routing::get};
//! use rampart::{headers::SecurityHeadersLayer, problem::ProblemLayer, request_id::RequestIdLayer};
//! use tower::ServiceBuilder;
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(
//!         ServiceBuilder::new()
//!             .layer(RequestIdLayer::new())
//!             .layer(ProblemLayer::new())
//!             .layer(SecurityHeadersLayer::api()),
//!     );
//! # let _ = app;
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod audit;
pub mod authz;
pub mod checks;
pub mod client_ip;
pub mod cors;
#[cfg(feature = "crypto")]
pub mod crypto;
pub mod headers;
pub mod hosts;
pub mod input;
#[cfg(feature = "jwt")]
pub mod jwt;
pub mod lockout;
pub mod logging;
#[cfg(feature = "password")]
pub mod password;
pub mod pci;
pub mod problem;
pub mod ratelimit;
pub mod redact;
pub mod request_id;
pub mod secrets;
#[cfg(feature = "upload")]
pub mod upload;
pub mod version;
