//! `/api/v2/admin/audit` and `/api/v2/admin/audit/verify` (admins and auditors).

use axum::{Json, extract::State};
use base64::Engine as _;
use rampart::{
    audit::{AuditEntry, EventType, Verification},
    input::Query,
    problem::{FieldError, Problem},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    audit::{events::Ctx, store::AuditFilter},
    auth::caller::Caller,
    domain::Role,
    http::error::{ApiError, Result},
    state::AppState,
};

/// Filters of the audit listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// One of the SPEC §9 event types.
    pub event_type: Option<String>,
    /// A user id.
    pub user_id: Option<String>,
    /// RFC 3339; entries at or after it.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// RFC 3339; entries at or before it.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A page of audit entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The entries.
    pub items: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

fn timestamp(field: &str, value: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let value = value?;
    match humantime::parse_rfc3339_weak(value) {
        // Stored timestamps are whole seconds in UTC, so text order is time order.
        Ok(t) if value.ends_with('Z') || value.ends_with('z') => {
            Some(humantime::format_rfc3339_seconds(t).to_string())
        }
        _ => {
            errors.push(FieldError::new(
                field,
                "must be an RFC 3339 UTC timestamp (…Z)",
            ));
            None
        }
    }
}

fn encode_cursor(seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("a:{seq}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix("a:")?
        .parse()
        .ok()
        .filter(|s: &i64| *s > 0)
}

/// Lists audit entries with filters and cursor pagination.
#[utoipa::path(get, operation_id = "listAuditEntries", path = "/api/v2/admin/audit", tag = "admin", security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ctx: Ctx,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>> {
    caller.require_role(&[Role::Admin, Role::Auditor]).await?;
    let mut errors = Vec::new();
    if let Some(t) = &q.event_type
        && EventType::parse(t).is_none()
    {
        errors.push(FieldError::new("event_type", "is not a known event type"));
    }
    let since = timestamp("since", q.since.as_deref(), &mut errors);
    let until = timestamp("until", q.until.as_deref(), &mut errors);
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        errors.push(FieldError::new("limit", "must be between 1 and 100"));
    }
    let before = q.cursor.as_deref().map(decode_cursor);
    if before == Some(None) {
        errors.push(FieldError::new("cursor", "is not a valid cursor"));
    }
    if !errors.is_empty() {
        return Err(crate::http::error::invalid_query(errors));
    }
    let filter = AuditFilter {
        event_type: q.event_type,
        user_id: q.user_id,
        since,
        until,
    };
    // Reading the trail is itself an access to sensitive data.
    state
        .audit
        .record(
            ctx.event(EventType::DataAccess)
                .user(caller.id)
                .detail("resource", "audit_log"),
        )
        .await?;
    let mut rows = state
        .db
        .audit()
        .list(&filter, before.flatten(), limit)
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok(Json(AuditPage {
        next_cursor: if more {
            rows.last().map(|e| encode_cursor(e.seq))
        } else {
            None
        },
        items: rows,
    }))
}

/// Verifies the whole chain.
#[utoipa::path(get, operation_id = "verifyAuditChain", path = "/api/v2/admin/audit/verify", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, body = Verification),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn verify(State(state): State<AppState>, caller: Caller) -> Result<Json<Verification>> {
    caller.require_role(&[Role::Admin, Role::Auditor]).await?;
    let verification = state
        .audit
        .checkpoints()
        .verify(&state.db)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(verification))
}
