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

/// Every API route for `settings`: the route table, and the documentation
/// routes when `RAMPART_DEBUG` is on.
pub fn api_routes(settings: &crate::config::Settings) -> axum::Router<crate::state::AppState> {
    let routes = routes::api(settings.storage.max_upload_bytes);
    if settings.debug {
        routes.merge(docs::routes())
    } else {
        routes
    }
}
