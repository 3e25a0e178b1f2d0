//! `/api/v2/me/export` (GDPR Art. 20) and `/api/v2/me/erase` (Art. 17).

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use rampart::{audit::EventType, input::StrictJson, problem::Problem};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::{
    audit::events::Ctx,
    auth::caller::Caller,
    domain::PageRequest,
    files::routes::FileView,
    health_records,
    http::error::{ApiError, Result},
    orders::routes::Order,
    payments::routes::Payment,
    state::AppState,
    store::clock::now_rfc3339,
    users::routes::SelfUser,
};

/// Everything Rampart holds about the caller, as one JSON document.
#[utoipa::path(get, operation_id = "exportPersonalData", path = "/api/v2/me/export", tag = "gdpr", security(("bearer" = [])),
    responses(
        (status = 200, description = "personal_data, orders, files, payments, health, audit_events, export_date", body = Object),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn export(State(state): State<AppState>, caller: Caller, ctx: Ctx) -> Result<Response> {
    let id = caller.id;
    let db = &state.db;
    let user = db
        .users()
        .by_id(id)
        .await?
        .ok_or_else(|| ApiError::from(Problem::new(StatusCode::NOT_FOUND)))?;
    let orders = db.orders().page(id, PageRequest::EVERYTHING).await?;
    let files = db.files().page(id, PageRequest::EVERYTHING).await?;
    let payments = db.payments().page(id, PageRequest::EVERYTHING).await?;
    let health = match db.health().get(id).await? {
        None => Value::Null,
        Some(row) => Value::Object(
            health_records::record::open(&state.cipher(), &row, &health_records::record::FIELDS)
                .map_err(ApiError::internal)?,
        ),
    };
    let audit_events = db.audit().for_user(&id.to_string()).await?;
    state
        .audit
        .record(ctx.event(EventType::DataExport).user(id.to_string()))
        .await?;
    let document = json!({
        "personal_data": SelfUser::from(&user),
        "orders": orders.iter().map(Order::from).collect::<Vec<_>>(),
        "files": files.iter().map(FileView::from).collect::<Vec<_>>(),
        "payments": payments.iter().map(Payment::from).collect::<Vec<_>>(),
        "health": health,
        "audit_events": audit_events,
        "export_date": now_rfc3339(),
    });
    let mut response = Json(document).into_response();
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"rampart-export.json\""),
    );
    Ok(response)
}

/// `POST /me/erase`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Erase {
    /// The current password, to confirm.
    pub password: String,
}

/// Erases the caller's personal data (see the README for what remains).
#[utoipa::path(post, operation_id = "erasePersonalData", path = "/api/v2/me/erase", tag = "gdpr", security(("bearer" = [])),
    request_body = Erase,
    responses(
        (status = 204, description = "Erased"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Wrong password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords for this account; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Every password-hashing slot is taken; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    ctx: Ctx,
    StrictJson(body): StrictJson<Erase>,
) -> Result<Response> {
    let id = caller.id;
    let users = state.db.users();
    let user = users
        .by_id(id)
        .await?
        .ok_or_else(|| ApiError::from(Problem::new(StatusCode::NOT_FOUND)))?;
    let slot = state.hasher.slot()?;
    if let Some(refused) =
        crate::auth::routes::verify_current_password(&state, &slot, &ctx, &user, body.password)
            .await?
    {
        return Ok(refused);
    }
    drop(slot);
    let event = ctx.event(EventType::DataErasure).user(id.to_string());
    let files = users.erase(id, &event).await?;
    let dir = state.settings.storage.upload_dir();
    for name in files {
        let _ = tokio::fs::remove_file(dir.join(name)).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
