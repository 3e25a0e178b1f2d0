//! `/docs` (Swagger UI) and `/openapi.json`, mounted only when
//! `RAMPART_DEBUG=true`.
//!
//! Swagger UI is loaded from jsDelivr, pinned to one version and checked by
//! Subresource Integrity hashes computed from the npm package, so the binary
//! carries no vendored JavaScript and a tampered CDN file does not run. The
//! page's CSP allows exactly that origin and this origin's init script.

use axum::{Json, response::IntoResponse};
use http::{HeaderValue, header};

use crate::state::AppState;

const SWAGGER: &str = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.17.14";
const BUNDLE_SRI: &str = "sha384-wmyclcVGX/WhUkdkATwhaK1X1JtiNrr2EoYJ+diV3vj4v6OC5yCeSu+yW13SYJep";
const CSS_SRI: &str = "sha384-wxLW6kwyHktdDGr6Pv1zgm/VGJh99lfUbzSn6HNHBENZlCN7W602k9VkGdxuFvPn";

/// The docs page's own CSP: the narrowest that Swagger UI runs under.
/// Swagger UI sets inline style attributes, hence `'unsafe-inline'` for
/// styles only; scripts are limited to this origin and the pinned CDN files.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self' https://cdn.jsdelivr.net; \
style-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The Swagger UI page.
pub async fn page() -> impl IntoResponse {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Rampart API</title>
<link rel="stylesheet" href="{SWAGGER}/swagger-ui.css" integrity="{CSS_SRI}" crossorigin="anonymous">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{SWAGGER}/swagger-ui-bundle.js" integrity="{BUNDLE_SRI}" crossorigin="anonymous"></script>
<script src="/docs/swagger-init.js"></script>
</body>
</html>
"#
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(DOCS_CSP),
            ),
        ],
        html,
    )
}

/// Starts Swagger UI on `/openapi.json` (a file, so the CSP needs no inline script).
pub async fn init_script() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        "window.addEventListener('load', function () {\n  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' });\n});\n",
    )
}

/// The OpenAPI document.
pub async fn openapi_json() -> impl IntoResponse {
    Json(crate::http::routes::document())
}

/// The documentation routes, served when `RAMPART_DEBUG` is on: the
/// document's viewer, not operations of the API, so they are the only
/// routes outside the route table.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/docs", get(page))
        .route("/docs/swagger-init.js", get(init_script))
        .route("/openapi.json", get(openapi_json))
}
