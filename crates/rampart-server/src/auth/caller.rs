//! The authenticated caller of a handler, with its id and role parsed.

use axum::extract::FromRequestParts;
use http::request::Parts;
use rampart::authz::{AuthRejection, Authenticated, Refused};

use crate::{
    domain::{Role, UserId},
    state::AppState,
};

/// The caller: extracting it authenticates the request (401 otherwise).
/// The authorization checks take ids, not strings, and report refusals to
/// the audit trail.
#[derive(Debug)]
pub struct Caller {
    /// The caller's user id.
    pub id: UserId,
    /// The caller's role, as stored now (not as the token was issued).
    pub role: Role,
    auth: Authenticated<AppState>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = Authenticated::<AppState>::from_request_parts(parts, state).await?;
        // The authenticator only admits numeric subjects.
        let id = auth
            .principal
            .subject
            .parse()
            .map_err(|_| AuthRejection::InvalidToken)?;
        Ok(Self {
            id,
            role: auth.principal.role,
            auth,
        })
    }
}

impl Caller {
    /// The session the token belongs to.
    pub fn session(&self) -> Option<&str> {
        self.auth.principal.session.as_deref()
    }

    /// True when the caller is `user`.
    pub fn is(&self, user: UserId) -> bool {
        self.id == user
    }

    /// 403 unless the caller has one of `roles`.
    pub async fn require_role(&self, roles: &[Role]) -> Result<(), Refused> {
        self.auth.require_role(roles).await
    }

    /// 403 unless the caller is `user` or has one of `roles` (user-scoped
    /// paths such as `/users/{id}/…`).
    pub async fn require_self_or_role(&self, user: UserId, roles: &[Role]) -> Result<(), Refused> {
        self.auth
            .require_self_or_role(&user.to_string(), roles)
            .await
    }

    /// 404 unless the caller owns the object or has one of `roles`; an
    /// object whose owner is gone (`None`) is nobody's.
    pub async fn require_owner_or_role(
        &self,
        owner: Option<UserId>,
        roles: &[Role],
    ) -> Result<(), Refused> {
        let owner = owner.map(|o| o.to_string()).unwrap_or_default();
        self.auth.require_owner_or_role(&owner, roles).await
    }
}
