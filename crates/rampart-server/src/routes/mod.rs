//! HTTP handlers, one file per resource.

pub mod audit;
pub mod auth;
pub mod diagnostics;
pub mod docs;
pub mod files;
pub mod gdpr;
pub mod health;
pub mod health_records;
pub mod orders;
pub mod payments;
pub mod users;

use axum::response::IntoResponse;
use http::StatusCode;
use rampart::problem::Problem;

/// The answer for paths no route matches.
pub async fn not_found() -> impl IntoResponse {
    Problem::new(StatusCode::NOT_FOUND)
}
