//! Authentication and authorization for handlers.
//!
//! The application implements [`Authenticator`] (how a bearer token becomes a
//! [`Principal`], and what to do when a request is refused); handlers take
//! [`Authenticated<A>`] (required) or [`MaybeAuthenticated<A>`] (optional)
//! and call its guards:
//!
//! - [`Authenticated::require_role`]: function-level checks, 403;
//! - [`Authenticated::require_self_or_role`]: user-scoped paths
//!   (`/users/{id}/…`), 403 for anyone else;
//! - [`Authenticated::require_owner_or_role`]: single objects, 404 for
//!   anyone else so their existence does not leak.
//!
//! Every refusal is reported to [`Authenticator::on_refusal`] (the audit hook)
//! with the request id. A missing, malformed or refused token is a 401 with
//! `WWW-Authenticate: Bearer` and one generic body; a malformed
//! `Authorization` header is refused even where authentication is optional.
//!
//! ```
//! use axum::{Router, routing::get, extract::FromRef};
//! use rampart::authz::{Authenticated, Authenticator, AuthRejection, Principal};
//!
//! #[derive(Clone)]
//! struct Auth;
//! #[derive(Clone, Copy, PartialEq, Eq, Debug)]
//! enum Role { User, Admin }
//!
//! impl Authenticator for Auth {
//!     type Role = Role;
//!     async fn authenticate(&self, token: &str) -> Result<Principal<Role>, AuthRejection> {
//!         if token == "let-me-in" {
//!             Ok(Principal { subject: "1".into(), role: Role::Admin, session: None })
//!         } else {
//!             Err(AuthRejection::InvalidToken)
//!         }
//!     }
//! }
//!
//! async fn admin_only(auth: Authenticated<Auth>) -> Result<&'static str, rampart::authz::Refused> {
//!     auth.require_role(&[Role::Admin]).await?;
//!     Ok("hello, admin")
//! }
//! let app: Router = Router::new().route("/admin", get(admin_only)).with_state(Auth);
//! # let _ = app;
//! ```

use std::future::Future;

use axum::{
    extract::{FromRef, FromRequestParts},
    response::{IntoResponse, Response},
};
use http::{HeaderValue, StatusCode, header, request::Parts};

use crate::{client_ip::ClientIp, problem::Problem, request_id::RequestId};

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal<R> {
    /// The subject (user id).
    pub subject: String,
    /// The role, as the application currently records it.
    pub role: R,
    /// The session the token belongs to, if any.
    pub session: Option<String>,
}

/// Why a request is not authenticated: always 401 to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthRejection {
    /// No `Authorization` header.
    #[error("missing bearer token")]
    Missing,
    /// The header is not `Bearer <token>`.
    #[error("malformed authorization header")]
    Malformed,
    /// The token failed verification or was revoked.
    #[error("invalid token")]
    InvalidToken,
    /// The authentication backend is unavailable: 503, not 401.
    #[error("authentication unavailable")]
    Unavailable,
}

impl AuthRejection {
    /// A stable name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::InvalidToken => "invalid_token",
            Self::Unavailable => "unavailable",
        }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if self == Self::Unavailable {
            return Problem::new(StatusCode::SERVICE_UNAVAILABLE).into_response();
        }
        let mut response = Problem::new(StatusCode::UNAUTHORIZED)
            .with_detail("A valid bearer token is required.")
            .into_response();
        let challenge = match self {
            Self::Missing => HeaderValue::from_static("Bearer"),
            _ => HeaderValue::from_static("Bearer error=\"invalid_token\""),
        };
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
        response.extensions_mut().insert(self);
        response
    }
}

/// What kind of check refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalKind {
    /// The role may not use this function (403).
    Role,
    /// Another user's user-scoped path (403).
    OtherUser,
    /// Another user's object (404).
    NotOwner,
}

impl RefusalKind {
    /// A stable name for audit records.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Role => "role",
            Self::OtherUser => "other_user",
            Self::NotOwner => "not_owner",
        }
    }
}

/// A refused request as returned by the guards: 403, or 404 for another
/// user's object. Converts into a [`Problem`]; small, so `?` stays cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("refused ({})", kind.as_str())]
pub struct Refused {
    kind: RefusalKind,
}

impl Refused {
    /// The check that refused.
    pub fn kind(&self) -> RefusalKind {
        self.kind
    }

    /// 404 for [`RefusalKind::NotOwner`], else 403.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            RefusalKind::NotOwner => StatusCode::NOT_FOUND,
            RefusalKind::Role | RefusalKind::OtherUser => StatusCode::FORBIDDEN,
        }
    }
}

impl From<Refused> for Problem {
    fn from(r: Refused) -> Self {
        Problem::new(r.status())
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut response = Problem::from(self).into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// A refused request, as reported to [`Authenticator::on_refusal`].
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The check that refused.
    pub kind: RefusalKind,
    /// The caller.
    pub subject: String,
    /// The request id, when `RequestIdLayer` runs.
    pub request_id: Option<String>,
    /// The client address, when `ClientIpLayer` runs.
    pub ip: Option<String>,
    /// The request method and path.
    pub method: String,
    /// The request path.
    pub path: String,
}

/// How tokens become principals; implemented by the application.
pub trait Authenticator: Clone + Send + Sync + 'static {
    /// The application's role type.
    type Role: Copy + PartialEq + Send + Sync + std::fmt::Debug + 'static;

    /// Verifies `token` (signature, expiry, revocation, user state).
    fn authenticate(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Principal<Self::Role>, AuthRejection>> + Send;

    /// Called for every refused request before the refusal is answered;
    /// the audit hook, so it may write durably. Default: nothing.
    fn on_refusal(
        &self,
        _principal: &Principal<Self::Role>,
        _refusal: Refusal,
    ) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
}

/// Reads `Authorization: Bearer <token>`: `Ok(None)` when absent, an error
/// when present but not a well-formed bearer credential.
pub fn bearer_token(headers: &http::HeaderMap) -> Result<Option<&str>, AuthRejection> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AuthRejection::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthRejection::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(AuthRejection::Malformed);
    }
    Ok(Some(token))
}

/// An authenticated request; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Authenticated<A: Authenticator> {
    /// The caller.
    pub principal: Principal<A::Role>,
    authenticator: A,
    request_id: Option<RequestId>,
    ip: Option<ClientIp>,
    method: http::Method,
    path: String,
}

impl<A: Authenticator> Authenticated<A> {
    async fn refuse(&self, kind: RefusalKind) -> Refused {
        let refusal = Refusal {
            kind,
            subject: self.principal.subject.clone(),
            request_id: self.request_id.as_ref().map(|r| r.as_str().to_owned()),
            ip: self.ip.map(|ip| ip.to_string()),
            method: self.method.to_string(),
            path: self.path.clone(),
        };
        self.authenticator
            .on_refusal(&self.principal, refusal)
            .await;
        Refused { kind }
    }

    /// The request id, when known.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_ref().map(RequestId::as_str)
    }

    /// The client address, when known.
    pub fn client_ip(&self) -> Option<ClientIp> {
        self.ip
    }

    /// 403 unless the caller has one of `roles`.
    pub async fn require_role(&self, roles: &[A::Role]) -> Result<(), Refused> {
        if roles.contains(&self.principal.role) {
            return Ok(());
        }
        Err(self.refuse(RefusalKind::Role).await)
    }

    /// 403 unless the caller is `subject` or has one of `roles`.
    pub async fn require_self_or_role(
        &self,
        subject: &str,
        roles: &[A::Role],
    ) -> Result<(), Refused> {
        if self.principal.subject == subject || roles.contains(&self.principal.role) {
            return Ok(());
        }
        Err(self.refuse(RefusalKind::OtherUser).await)
    }

    /// 404 unless the caller owns the object or has one of `roles`.
    pub async fn require_owner_or_role(
        &self,
        owner: &str,
        roles: &[A::Role],
    ) -> Result<(), Refused> {
        if self.principal.subject == owner || roles.contains(&self.principal.role) {
            return Ok(());
        }
        Err(self.refuse(RefusalKind::NotOwner).await)
    }

    /// True when the caller is `subject`.
    pub fn is(&self, subject: &str) -> bool {
        self.principal.subject == subject
    }
}

impl<A, S> FromRequestParts<S> for Authenticated<A>
where
    A: Authenticator + FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)?.ok_or(AuthRejection::Missing)?;
        let authenticator = A::from_ref(state);
        let principal = authenticator.authenticate(token).await?;
        Ok(Self {
            principal,
            authenticator,
            request_id: parts.extensions.get::<RequestId>().cloned(),
            ip: parts.extensions.get::<ClientIp>().copied(),
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
        })
    }
}

/// Optional authentication: `None` without an `Authorization` header, but a
/// malformed or invalid token is still refused.
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated<A: Authenticator>(pub Option<Authenticated<A>>);

impl<A, S> FromRequestParts<S> for MaybeAuthenticated<A>
where
    A: Authenticator + FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if bearer_token(&parts.headers)?.is_none() {
            return Ok(Self(None));
        }
        Authenticated::from_request_parts(parts, state)
            .await
            .map(|a| Self(Some(a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_credentials_are_parsed_strictly() {
        let cases = [
            ("absent", None, Ok(None)),
            (
                "bearer",
                Some("Bearer abc.def.ghi"),
                Ok(Some("abc.def.ghi")),
            ),
            ("case", Some("bearer abc"), Ok(Some("abc"))),
            (
                "basic",
                Some("Basic dXNlcjpwYXNz"),
                Err(AuthRejection::Malformed),
            ),
            ("empty", Some("Bearer "), Err(AuthRejection::Malformed)),
            ("no scheme", Some("abc.def"), Err(AuthRejection::Malformed)),
            (
                "two tokens",
                Some("Bearer a b"),
                Err(AuthRejection::Malformed),
            ),
        ];
        for (name, header, expected) in cases {
            let mut h = http::HeaderMap::new();
            if let Some(v) = header {
                h.insert(header::AUTHORIZATION, v.parse().unwrap());
            }
            assert_eq!(bearer_token(&h), expected, "case {name}");
        }
    }
}
