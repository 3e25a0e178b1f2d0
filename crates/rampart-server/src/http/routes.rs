//! The route table: every operation declared once, its route and its
//! OpenAPI entry from the same `#[utoipa::path]`, so a route cannot exist
//! undocumented (and the document cannot list a route that does not exist).

use axum::{Router, extract::DefaultBodyLimit};
use utoipa_axum::{router::OpenApiRouter, router::UtoipaMethodRouterExt as _, routes};

use crate::{
    audit, auth, diagnostics, files, gdpr, health_records,
    http::{liveness, openapi},
    orders, payments,
    state::AppState,
    users,
};

/// Every documented operation. `upload_limit` bounds the multipart
/// envelope of an upload (the file's own bytes are counted by the upload
/// validator); it does not change the document.
pub fn table(upload_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(liveness::live))
        .routes(routes!(liveness::ready))
        .routes(routes!(auth::routes::register))
        .routes(routes!(auth::routes::login))
        .routes(routes!(auth::routes::refresh))
        .routes(routes!(auth::routes::logout))
        .routes(routes!(auth::routes::change_password))
        .routes(routes!(users::routes::find_users))
        .routes(routes!(users::routes::me))
        .routes(routes!(
            users::routes::get_user,
            users::routes::patch_user,
            users::routes::delete_user
        ))
        .routes(routes!(users::routes::set_role))
        .routes(routes!(
            orders::routes::create_order,
            orders::routes::list_orders
        ))
        .routes(routes!(orders::routes::get_order))
        .routes(routes!(orders::routes::search))
        .routes(routes!(diagnostics::ping))
        .routes(routes!(files::routes::upload).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(files::routes::list))
        .routes(routes!(files::routes::download, files::routes::delete))
        .routes(routes!(
            health_records::routes::get,
            health_records::routes::put
        ))
        .routes(routes!(payments::routes::create, payments::routes::list))
        .routes(routes!(payments::routes::get))
        .routes(routes!(gdpr::routes::export))
        .routes(routes!(gdpr::routes::erase))
        .routes(routes!(audit::routes::list))
        .routes(routes!(audit::routes::verify))
}

/// The API's router for `max_upload_bytes`.
pub fn api(max_upload_bytes: u64) -> Router<AppState> {
    let upload_limit = usize::try_from(max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    table(upload_limit).split_for_parts().0
}

/// The document `rampart openapi` prints and `/openapi.json` serves.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = table(0).split_for_parts();
    openapi::finish(&mut doc);
    doc
}
