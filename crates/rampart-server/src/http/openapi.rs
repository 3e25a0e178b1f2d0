//! The OpenAPI 3.1 document's frame and what is added to every operation;
//! the operations themselves come from the route table (`http::routes`).

use rampart::problem::{FieldError, Problem};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{http::liveness, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rampart API",
        description = "A hardened HTTP API. Every error is an RFC 9457 problem (application/problem+json); \
every response carries the security header set and X-Request-Id. /api/v1 is gone (410); use /api/v2.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(Problem, FieldError, liveness::HealthStatus, users::routes::PublicUser)),
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

/// The answers the layer stack can give on any operation, added to every
/// operation so the document lists every status it can answer: a client
/// generated from it, or a schema-driven fuzzer, then agrees with the
/// server.
struct CommonResponses;

/// `(status, description)` for every operation.
const EVERYWHERE: &[(&str, &str)] = &[
    (
        "400",
        "Bad request: a Host outside the allow-list, or a malformed request",
    ),
    (
        "405",
        "Method not allowed; `Allow` lists the methods of the path",
    ),
];

/// For every `/api/` operation: the request deadline, the card guard (path,
/// query string, `Idempotency-Key`), the per-client limit and its store.
const API: &[(&str, &str)] = &[
    (
        "408",
        "The request did not complete within the request timeout",
    ),
    (
        "422",
        "Card data in the path, query string or a stored header, or invalid parameters",
    ),
    ("429", "Rate limited; see `Retry-After` and `RateLimit-*`"),
    (
        "503",
        "A shared store (rate limits, lockout) is unavailable",
    ),
];

/// For operations that take a JSON body (the card guard and the extractor).
const JSON_BODY: &[(&str, &str)] = &[
    ("400", "Malformed JSON, or trailing bytes after the value"),
    ("408", "The body did not arrive within the request timeout"),
    ("413", "The body is larger than the limit"),
    ("415", "The body is not application/json"),
    (
        "422",
        "Not a JSON object, an unknown, missing, mistyped or invalid field, control characters, or card data",
    ),
];

/// For operations that need a bearer token.
const AUTHENTICATED: &[(&str, &str)] = &[(
    "401",
    "Missing, invalid, expired or revoked token (`WWW-Authenticate: Bearer`)",
)];

fn problem_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with("/api/");
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let json_body = op
                    .request_body
                    .as_ref()
                    .is_some_and(|b| b.content.keys().any(|c| c.contains("json")));
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut add = |list: &[(&str, &str)]| {
                    for (status, description) in list {
                        op.responses
                            .responses
                            .entry((*status).to_owned())
                            .or_insert_with(|| problem_response(description));
                    }
                };
                add(EVERYWHERE);
                if api {
                    add(API);
                }
                if json_body {
                    add(JSON_BODY);
                }
                if secured {
                    add(AUTHENTICATED);
                }
            }
        }
    }
}

/// The document's frame: information, tags and shared schemas, without
/// operations (the route table adds those).
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Completes a document of operations: the bearer scheme, and the answers
/// the layer stack can give added to each operation.
pub fn finish(doc: &mut utoipa::openapi::OpenApi) {
    BearerAuth.modify(doc);
    CommonResponses.modify(doc);
}
