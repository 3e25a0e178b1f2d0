//! The OpenAPI 3.1 document: every route, body, response and error.

use rampart::problem::{FieldError, Problem};
use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rampart API",
        description = "A hardened HTTP API. Every error is an RFC 9457 problem (application/problem+json); \
every response carries the security header set and X-Request-Id. /api/v1 is gone (410); use /api/v2.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(routes::health::live, routes::health::ready),
    components(schemas(Problem, FieldError, routes::health::HealthStatus)),
    tags((name = "health", description = "Liveness and readiness"))
)]
struct ApiDoc;

/// The document `rampart openapi` prints and `/openapi.json` serves.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
