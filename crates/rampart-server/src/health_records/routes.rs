//! `/api/v2/users/{id}/health`: encrypted, minimum-necessary health records.

use axum::{Json, extract::State, http::StatusCode};
use rampart::{
    audit::EventType,
    input::{Path, ValidJson, Validate},
    problem::{FieldError, Problem},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::{
    audit::events::Ctx,
    auth::caller::Caller,
    domain::UserId,
    health_records::{
        record::{self, FIELDS, READABLE_BY_ROLE, WRITERS, context},
        store::HealthRow,
    },
    http::error::{ApiError, Result},
    state::AppState,
};

/// `PUT /users/{id}/health`: the whole record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthRecord {
    /// ≤ 2000 characters.
    #[schema(max_length = 2000)]
    pub diagnosis: String,
    /// ≤ 50 items of ≤ 200 characters.
    #[schema(max_items = 50)]
    pub medications: Vec<String>,
    /// ≤ 64 characters.
    #[schema(max_length = 64)]
    pub insurance_id: String,
    /// ≤ 5000 characters.
    #[schema(max_length = 5000)]
    pub notes: String,
}

impl Validate for HealthRecord {
    fn validate(&self) -> std::result::Result<(), Vec<FieldError>> {
        let mut e = Vec::new();
        if self.diagnosis.chars().count() > 2000 {
            e.push(FieldError::new(
                "diagnosis",
                "must be at most 2000 characters",
            ));
        }
        if self.medications.len() > 50 || self.medications.iter().any(|m| m.chars().count() > 200) {
            e.push(FieldError::new(
                "medications",
                "at most 50 items of at most 200 characters",
            ));
        }
        if self.insurance_id.chars().count() > 64 {
            e.push(FieldError::new(
                "insurance_id",
                "must be at most 64 characters",
            ));
        }
        // Only the notes are multi-line.
        let not_one_line = |s: &str| crate::domain::single_line(s).is_err();
        if not_one_line(&self.diagnosis) {
            e.push(FieldError::new("diagnosis", "must be one line"));
        }
        if self.medications.iter().any(|m| not_one_line(m)) {
            e.push(FieldError::new("medications", "each must be one line"));
        }
        if not_one_line(&self.insurance_id) {
            e.push(FieldError::new("insurance_id", "must be one line"));
        }
        if self.notes.chars().count() > 5000 {
            e.push(FieldError::new("notes", "must be at most 5000 characters"));
        }
        if e.is_empty() { Ok(()) } else { Err(e) }
    }
}

/// The fields the caller may see (possibly a subset).
#[derive(Debug, Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct HealthView(Map<String, Value>);

/// Stores a record, every field encrypted (the owner or a clinician).
#[utoipa::path(put, operation_id = "putHealthRecord", path = "/api/v2/users/{id}/health", tag = "health", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = HealthRecord,
    responses(
        (status = 204, description = "Stored"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    ctx: Ctx,
    Path(user_id): Path<UserId>,
    ValidJson(body): ValidJson<HealthRecord>,
) -> Result<StatusCode> {
    caller.require_self_or_role(user_id, WRITERS).await?;
    if state.db.users().by_id(user_id).await?.is_none() {
        return Err(Problem::new(StatusCode::NOT_FOUND).into());
    }
    let c = state.cipher();
    let enc = |field: &str, plain: &[u8]| {
        c.encrypt(plain, &context(user_id, field))
            .map_err(ApiError::internal)
    };
    let medications = serde_json::to_vec(&body.medications).map_err(ApiError::internal)?;
    let row = HealthRow {
        user_id,
        diagnosis: enc("diagnosis", body.diagnosis.as_bytes())?,
        medications: enc("medications", &medications)?,
        insurance_id: enc("insurance_id", body.insurance_id.as_bytes())?,
        notes: enc("notes", body.notes.as_bytes())?,
        updated_at: String::new(),
    };
    let event = ctx
        .event(EventType::DataModification)
        .user(caller.id)
        .detail("resource", "health_record")
        .detail("target_user", user_id)
        .detail("fields", FIELDS.to_vec());
    state.db.health().put(&row, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads a record: the owner sees every field, a clinician the clinical
/// ones, billing the insurance id; everyone else 403.
#[utoipa::path(get, operation_id = "getHealthRecord", path = "/api/v2/users/{id}/health", tag = "health", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "The fields the caller's role needs", body = HealthView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ctx: Ctx,
    Path(user_id): Path<UserId>,
) -> Result<Json<HealthView>> {
    let fields: &[&'static str] = if caller.is(user_id) {
        &FIELDS
    } else {
        let readable = READABLE_BY_ROLE
            .iter()
            .find(|(r, _)| *r == caller.role)
            .map(|(_, f)| *f);
        match readable {
            Some(fields) => fields,
            None => {
                // Refused (and audited) like any other user-scoped path.
                caller.require_self_or_role(user_id, &[]).await?;
                return Err(Problem::new(StatusCode::FORBIDDEN).into());
            }
        }
    };
    let row = state
        .db
        .health()
        .get(user_id)
        .await?
        .ok_or_else(|| ApiError::from(Problem::new(StatusCode::NOT_FOUND)))?;
    let out = record::open(&state.cipher(), &row, fields).map_err(ApiError::internal)?;
    state
        .audit
        .record(
            ctx.event(EventType::DataAccess)
                .user(caller.id)
                .detail("resource", "health_record")
                .detail("target_user", user_id)
                .detail("fields", fields.to_vec()),
        )
        .await?;
    Ok(Json(HealthView(out)))
}

/// Re-encrypts every record whose fields are under an older key version;
/// returns (records rotated, records seen). Each record is replaced in one
/// statement that only applies if it did not change meanwhile, so the job
/// can run beside the server and be interrupted and re-run at any point.
pub async fn rotate(
    db: &crate::store::Database,
    cipher: &rampart::crypto::FieldCipher,
) -> std::result::Result<(usize, usize), String> {
    let health = db.health();
    let ids = health.user_ids().await.map_err(|e| e.to_string())?;
    let mut rotated = 0;
    for &user_id in &ids {
        let Some(row) = health.get(user_id).await.map_err(|e| e.to_string())? else {
            continue;
        };
        let stale = [
            &row.diagnosis,
            &row.medications,
            &row.insurance_id,
            &row.notes,
        ]
        .iter()
        .any(|v| cipher.needs_rotation(v));
        if !stale {
            continue;
        }
        let re = |field: &str, value: &str| {
            if cipher.needs_rotation(value) {
                cipher
                    .reencrypt(value, &context(user_id, field))
                    .map_err(|e| format!("record {user_id} field {field}: {e}"))
            } else {
                Ok(value.to_owned())
            }
        };
        let new = HealthRow {
            user_id,
            diagnosis: re("diagnosis", &row.diagnosis)?,
            medications: re("medications", &row.medications)?,
            insurance_id: re("insurance_id", &row.insurance_id)?,
            notes: re("notes", &row.notes)?,
            updated_at: row.updated_at.clone(),
        };
        if health
            .replace_ciphertexts(&row, &new)
            .await
            .map_err(|e| e.to_string())?
        {
            rotated += 1;
        }
    }
    let event = rampart::audit::AuditEvent::new(EventType::DataModification)
        .detail("action", "data_key_rotation")
        .detail("records", rotated)
        .detail("key_version", cipher.current_version());
    db.audit().record(&event).await.map_err(|e| e.to_string())?;
    Ok((rotated, ids.len()))
}
