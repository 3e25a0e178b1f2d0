//! How a bearer token becomes a principal: the signature and claims, then
//! a check that the account still exists, the session is live and the
//! token version is current (from the account cache, else the database:
//! see `store::accounts`); and the audit of every refusal.

use rampart::{
    audit::{AuditEvent, EventType},
    authz::{AuthRejection, Authenticator, Principal, Refusal},
};

use crate::{
    domain::{Role, UserId},
    state::AppState,
};

impl Authenticator for AppState {
    type Role = Role;

    async fn authenticate(&self, token: &str) -> Result<Principal<Role>, AuthRejection> {
        let claims = self.jwt.verify(token).map_err(|e| {
            tracing::debug!(reason = %e, "token refused");
            self.metrics.auth_failure("invalid_token");
            AuthRejection::InvalidToken
        })?;
        let user_id: UserId = claims
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
        let account = &state.account;
        if account.erased_at.is_some() || !state.live || claims.ver != Some(account.token_version) {
            self.metrics.auth_failure("revoked_token");
            return Err(AuthRejection::InvalidToken);
        }
        Ok(Principal {
            subject: claims.sub,
            role: account.role,
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
        self.audit.record_or_log(event).await;
    }
}
