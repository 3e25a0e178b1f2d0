//! Request context for audit events, and how the server records them.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use http::request::Parts;
use rampart::{
    audit::{AuditEvent, EventType},
    client_ip::ClientIp,
    request_id::RequestId,
};

use crate::state::AppState;

/// Who is asking from where: the client address and request id every
/// audit event carries.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    /// The client address (IPv4 dotted quad, never IPv4-mapped).
    pub ip: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
}

impl Ctx {
    /// An event of `event_type` carrying this context.
    pub fn event(&self, event_type: EventType) -> AuditEvent {
        let mut e = AuditEvent::new(event_type);
        e.ip = self.ip.clone();
        e.request_id = self.request_id.clone();
        e
    }
}

impl Ctx {
    /// The context of a request's parts.
    pub fn of(parts: &Parts) -> Self {
        Self {
            ip: parts
                .extensions
                .get::<ClientIp>()
                .map(std::string::ToString::to_string),
            request_id: parts
                .extensions
                .get::<RequestId>()
                .map(|id| id.as_str().to_owned()),
        }
    }
}

/// The card-data guard's audit hook: every refused request is a security
/// violation (the value itself is never recorded).
#[derive(Debug, Clone)]
pub struct CardAudit(pub std::sync::Arc<AppState>);

impl Ctx {
    /// The security violation of a request refused for carrying card data
    /// (never the value), attributed to `caller` when known.
    pub fn card_data_violation(
        &self,
        method: &str,
        path: &str,
        caller: Option<String>,
    ) -> AuditEvent {
        let mut event = self
            .event(EventType::SecurityViolation)
            .detail("reason", "card_data")
            .detail("method", method)
            .detail("path", path);
        event.user_id = caller;
        event
    }
}

impl rampart::pci::guard::CardDataHook for CardAudit {
    async fn refused(&self, parts: &Parts) {
        let event = Ctx::of(parts).card_data_violation(
            parts.method.as_str(),
            parts.uri.path(),
            self.0.bearer_subject(parts),
        );
        self.0.audit.record_or_log(event).await;
    }
}

impl AppState {
    /// The subject of a validly signed bearer token on the request, if any:
    /// the caller a refusal is attributed to (forensics needs the who even
    /// when the refusal comes before authentication).
    pub fn bearer_subject(&self, parts: &Parts) -> Option<String> {
        let value = parts
            .headers
            .get(http::header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.jwt.verify(token.trim()).ok().map(|claims| claims.sub)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}
