//! Liveness, readiness and metrics.

use std::time::Duration;

use axum::{Json, extract::State, response::IntoResponse};
use http::{HeaderValue, StatusCode, header};
use rampart::problem::Problem;
use serde::Serialize;

use crate::state::AppState;

/// Health status body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthStatus {
    /// Always `ok` when the status is 200.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(
    get, path = "/health/live", operation_id = "getLiveness", tag = "health",
    responses(
        (status = 200, description = "The process is alive", body = HealthStatus),
        (status = 400, description = "Host not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 405, description = "Method not allowed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn live() -> Json<HealthStatus> {
    Json(HealthStatus { status: "ok" })
}

/// The process can serve: the database (and Redis, when configured) answer.
#[utoipa::path(
    get, path = "/health/ready", operation_id = "getReadiness", tag = "health",
    responses(
        (status = 200, description = "Every dependency answers", body = HealthStatus),
        (status = 400, description = "Host not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 405, description = "Method not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A dependency does not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Result<Json<HealthStatus>, Problem> {
    let db_ok = tokio::time::timeout(Duration::from_secs(2), state.db.ping())
        .await
        .unwrap_or(false);
    if db_ok {
        Ok(Json(HealthStatus { status: "ok" }))
    } else {
        Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE).with_detail("A dependency is not ready."))
    }
}

/// Prometheus text exposition; served on the admin listener only.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.audit().counts().await {
        Ok(counts) => state.metrics.set_audit_counts(&counts),
        Err(e) => tracing::warn!(error = %e, "audit counts unavailable for metrics"),
    }
    let accounts = state.db.accounts();
    let (hits, misses) = accounts.counts();
    state
        .metrics
        .set_account_cache(hits, misses, accounts.is_answering());
    state.metrics.set_hashing(&state.hasher.stats());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
}
