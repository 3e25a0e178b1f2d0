//! State shared by every handler, and how it authenticates requests.

use std::sync::Arc;

use rampart::{
    audit::{AuditEvent, EventType},
    authz::{AuthRejection, Authenticated, Authenticator, Principal, Refusal},
    jwt::JwtService,
    password::PasswordHasher,
};

use crate::{
    audit::{alerts::Alerter, checkpoints::Checkpoints, writer::AuditWriter},
    config::Settings,
    domain::Role,
    metrics::Metrics,
    store::Database,
};

/// Cheap to clone: everything is behind `Arc`s or pools.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The database.
    pub db: Database,
    /// Metrics registry.
    pub metrics: Metrics,
    /// Access tokens.
    pub jwt: JwtService,
    /// Password hashing with bounded concurrency.
    pub hasher: PasswordHasher,
    /// Rate-limit counters (single instance).
    pub limiter: Arc<crate::limits::Limiter>,
    /// Login lockout state (in memory, or shared in Redis).
    pub lockout: Arc<crate::limits::Lockout>,
    /// Signed audit checkpoints.
    pub checkpoints: Checkpoints,
    /// Security-violation alerts.
    pub alerts: Alerter,
    /// Group-commit writer for stand-alone audit events.
    pub audit_writer: AuditWriter,
    /// The payment processor.
    pub processor: crate::payments::processor::Processor,
    /// Field encryption for PHI; replaced when the data keys change.
    pub cipher: Arc<std::sync::RwLock<Arc<rampart::crypto::FieldCipher>>>,
}

impl AppState {
    /// The current PHI cipher.
    pub fn cipher(&self) -> Arc<rampart::crypto::FieldCipher> {
        match self.cipher.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The authenticated caller of a handler.
pub type Auth = Authenticated<AppState>;

/// The caller's user id; a token whose subject is not one is a 401.
pub fn caller_id(auth: &Auth) -> crate::http::error::Result<i64> {
    auth.principal
        .subject
        .parse()
        .map_err(|_| rampart::problem::Problem::new(http::StatusCode::UNAUTHORIZED).into())
}

impl Authenticator for AppState {
    type Role = Role;

    async fn authenticate(&self, token: &str) -> Result<Principal<Role>, AuthRejection> {
        let claims = self.jwt.verify(token).map_err(|e| {
            tracing::debug!(reason = %e, "token refused");
            self.metrics.auth_failure("invalid_token");
            AuthRejection::InvalidToken
        })?;
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| AuthRejection::InvalidToken)?;
        let session = claims.sid.ok_or(AuthRejection::InvalidToken)?;
        let state = self
            .db
            .users()
            .auth_state(user_id, &session)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "authentication lookup failed");
                AuthRejection::Unavailable
            })?
            .ok_or(AuthRejection::InvalidToken)?;
        // A deleted or erased user, a revoked session (logout, refresh reuse)
        // and a bumped token version (password change) all end the token.
        if state.erased != 0 || state.session_live == 0 || claims.ver != Some(state.token_version) {
            self.metrics.auth_failure("revoked_token");
            return Err(AuthRejection::InvalidToken);
        }
        Ok(Principal {
            subject: claims.sub,
            role: Role::parse(&state.role).unwrap_or(Role::User),
            session: Some(session),
        })
    }

    async fn on_refusal(&self, principal: &Principal<Role>, refusal: Refusal) {
        let mut event = AuditEvent::new(EventType::SecurityViolation)
            .user(refusal.subject)
            .detail("reason", "access_refused")
            .detail("check", refusal.kind.as_str())
            .detail("role", principal.role.as_str())
            .detail("method", refusal.method)
            .detail("path", refusal.path);
        event.ip = refusal.ip;
        event.request_id = refusal.request_id;
        self.audit_or_log(event).await;
    }
}
