//! The HTTP surface shared by every resource: the layer stack, request
//! observation, the error type, the OpenAPI document and its docs page,
//! liveness and readiness.

pub mod docs;
pub mod error;
pub mod liveness;
pub mod observe;
pub mod openapi;
pub mod routes;
pub mod stack;

use axum::response::IntoResponse;
use http::StatusCode;
use rampart::problem::Problem;

/// The answer for paths no route matches.
pub async fn not_found() -> impl IntoResponse {
    Problem::new(StatusCode::NOT_FOUND)
}
