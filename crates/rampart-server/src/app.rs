//! The router and its whole layer stack, top to bottom, in one place.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    response::{IntoResponse, Response},
    routing::get,
};
use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use rampart::{
    headers::SecurityHeadersLayer,
    problem::{ProblemLayer, panic_response},
    request_id::{RequestIdLayer, X_REQUEST_ID},
    version::VersionPolicy,
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    timeout::TimeoutLayer,
};

use crate::{
    config::Settings,
    observe::ObserveLayer,
    routes::{self, docs, health},
    state::AppState,
};

/// When `/api/v1` was removed (2026-06-30), sent as its `Sunset` date.
const V1_SUNSET_UNIX: u64 = 1_782_777_600;

/// The API's version policy: `/api/v1` removed, `/api/v2` active.
pub fn version_policy() -> VersionPolicy {
    VersionPolicy::new()
        .removed(
            "/api/v1/",
            "/api/v2/",
            UNIX_EPOCH + Duration::from_secs(V1_SUNSET_UNIX),
        )
        .active("/api/v2/")
}

/// The API's routes, without layers or state.
pub fn api_routes(settings: &Settings) -> Router<AppState> {
    let mut router = Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready));
    if settings.debug {
        router = router
            .route("/docs", get(docs::page))
            .route("/docs/swagger-init.js", get(docs::init_script))
            .route("/openapi.json", get(docs::openapi_json));
    }
    router
}

/// The public API: [`api_routes`] behind the full stack.
pub fn build_router(state: AppState) -> Router {
    with_stack(api_routes(&state.settings), state)
}

/// Wraps `routes` in the API layer stack. Layers run in the order listed
/// for requests and in reverse for responses; `Router::layer` applies the
/// stack after routing, so the matched route template is known to it.
pub fn with_stack(routes: Router<AppState>, state: AppState) -> Router {
    let settings = &state.settings;
    let stack = ServiceBuilder::new()
        // 1. the id every log line and problem body carries
        .layer(RequestIdLayer::new())
        // 2. one access-log line and metric sample per request
        .layer(ObserveLayer::new(state.metrics.clone()))
        // 3. every 4xx/5xx becomes a complete RFC 9457 body
        .layer(ProblemLayer::new())
        // 4. outside everything that can answer, so errors get the headers too
        .layer(SecurityHeadersLayer::api())
        // 5. a panic is a 500 problem carrying only the request id
        .map_response(IntoResponse::into_response)
        .layer(CatchPanicLayer::custom(panic_response))
        // 6. Host allow-list
        .layer(settings.allowed_hosts.layer())
        // 7. CORS for configured origins only
        .layer(cors(settings))
        // 8. whole-request deadline (slow bodies get 408) and body size
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout,
        ))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        // 9. /api/v1 is gone
        .layer(version_policy().layer());
    routes
        .fallback(routes::not_found)
        .layer(stack)
        .with_state(state)
}

/// The admin listener: health and metrics, never public.
pub fn admin_router(state: AppState) -> Router {
    let stack = ServiceBuilder::new()
        .layer(RequestIdLayer::new())
        .layer(ProblemLayer::new())
        .layer(SecurityHeadersLayer::api())
        .map_response(|r: Response<_>| r.into_response())
        .layer(CatchPanicLayer::custom(panic_response));
    Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .fallback(routes::not_found)
        .layer(stack)
        .with_state(state)
}

fn cors(settings: &Settings) -> CorsLayer {
    let origin = if settings.cors_origins.iter().any(|o| o == "*") {
        // Sends a literal `*`, never the caller's origin; production refuses it.
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            settings
                .cors_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            X_REQUEST_ID.clone(),
        ])
        .expose_headers([
            X_REQUEST_ID.clone(),
            header::RETRY_AFTER,
            header::LINK,
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Seconds since the epoch, for places that need "now" as a number.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
