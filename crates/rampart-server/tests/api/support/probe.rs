//! Routes that exist only in tests, to drive the stack into every status it
//! must shape (bodies, validation, panics, slow bodies). They sit behind the
//! real stack, exactly as the API's own routes do.

use axum::{
    Json, Router,
    body::Bytes,
    routing::{get, post},
};
use rampart::{
    input::{Path, Query, ValidJson, Validate},
    problem::FieldError,
};
use rampart_server::state::AppState;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Echo {
    pub name: String,
    pub quantity: u32,
}

impl Validate for Echo {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.name.is_empty() {
            errors.push(FieldError::new("name", "must not be empty"));
        }
        if self.quantity == 0 || self.quantity > 1000 {
            errors.push(FieldError::new("quantity", "must be between 1 and 1000"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    pub limit: Option<u8>,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/_probe/echo",
            post(|ValidJson(e): ValidJson<Echo>| async move { Json(e) }),
        )
        .route("/api/v2/_probe/panic", get(panics))
        .route(
            "/api/v2/_probe/items/{id}",
            get(|Path(id): Path<u64>| async move { id.to_string() }),
        )
        .route(
            "/api/v2/_probe/page",
            get(|Query(p): Query<Page>| async move { format!("{:?}", p.limit) }),
        )
        .route(
            "/api/v2/_probe/body",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
}

async fn panics() -> &'static str {
    let detail = std::hint::black_box("probe panic with secret detail hunter2");
    panic!("{detail}");
}
