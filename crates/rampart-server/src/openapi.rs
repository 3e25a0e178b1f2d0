//! The OpenAPI 3.1 document: every route, body, response and error.

use rampart::problem::{FieldError, Problem};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rampart API",
        description = "A hardened HTTP API. Every error is an RFC 9457 problem (application/problem+json); \
every response carries the security header set and X-Request-Id. /api/v1 is gone (410); use /api/v2.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        routes::health::live,
        routes::health::ready,
        routes::auth::register,
        routes::auth::login,
        routes::auth::refresh,
        routes::auth::logout,
        routes::auth::change_password,
        routes::users::me,
        routes::users::get_user,
        routes::users::find_users,
        routes::users::patch_user,
        routes::users::delete_user,
        routes::users::set_role,
        routes::orders::create_order,
        routes::orders::list_orders,
        routes::orders::get_order,
        routes::orders::search,
        routes::diagnostics::ping,
        routes::files::upload,
        routes::files::list,
        routes::files::download,
        routes::files::delete,
        routes::health_records::put,
        routes::health_records::get,
        routes::payments::create,
        routes::payments::list,
        routes::payments::get,
        routes::gdpr::export,
        routes::gdpr::erase,
        routes::audit::list,
        routes::audit::verify,
    ),
    components(schemas(Problem, FieldError, routes::health::HealthStatus, routes::users::PublicUser)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration, login, token refresh, logout, password change"),
        (name = "users", description = "Accounts and profiles"),
        (name = "admin", description = "Administrative functions"),
        (name = "orders", description = "Orders and search"),
        (name = "files", description = "Uploads and downloads"),
        (name = "payments", description = "Payments by processor token"),
        (name = "gdpr", description = "Export and erasure of personal data"),
        (name = "health", description = "Liveness, readiness and encrypted health records"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document `rampart openapi` prints and `/openapi.json` serves.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
