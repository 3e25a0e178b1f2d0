//! The server's one error type.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use rampart::problem::Problem;

use crate::store::StoreError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A client error, already shaped as a problem (4xx); boxed so every
    /// `Result` in the handlers stays small.
    #[error(transparent)]
    Problem(Box<Problem>),
    /// 409: a unique value (named) is taken.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// 500: storage failed. Logged with the request id; the client sees
    /// only the generic problem.
    #[error("storage")]
    Store(#[source] StoreError),
    /// An answer the library already shaped (its rejections implement
    /// `IntoResponse`).
    #[error("refused")]
    Response(Box<Response>),
    /// 500: anything else internal, with its cause.
    #[error("internal")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// A 500 caused by `source` (an error, or a message saying what failed).
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(source.into())
    }
}

/// `Result` with [`ApiError`].
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        Self::Problem(Box::new(p))
    }
}

impl From<rampart::authz::Refused> for ApiError {
    fn from(r: rampart::authz::Refused) -> Self {
        Problem::from(r).into()
    }
}

impl From<rampart::password::Busy> for ApiError {
    /// 503 with `Retry-After`: every hashing slot is taken.
    fn from(busy: rampart::password::Busy) -> Self {
        Self::Response(Box::new(busy.into_response()))
    }
}

impl From<rampart::password::PasswordError> for ApiError {
    /// 503 when hashing is at capacity or waited too long; 500 otherwise.
    fn from(e: rampart::password::PasswordError) -> Self {
        match e {
            rampart::password::PasswordError::Busy(busy) => busy.into(),
            other => Self::internal(other),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => Self::Conflict(field),
            other => Self::Store(other),
        }
    }
}

/// The internal error behind a 500, kept in the response extensions so the
/// access log records it beside the request id; never sent to the client.
#[derive(Debug, Clone)]
pub struct InternalError(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Problem(p) => {
                let unauthorized = p.status() == StatusCode::UNAUTHORIZED;
                let mut response = (*p).into_response();
                if unauthorized {
                    // Every 401 names the scheme (RFC 6750).
                    response.headers_mut().insert(
                        http::header::WWW_AUTHENTICATE,
                        http::HeaderValue::from_static("Bearer"),
                    );
                }
                response
            }
            Self::Conflict(field) => Problem::typed(
                StatusCode::CONFLICT,
                "urn:rampart:problem:conflict",
                "Conflict",
            )
            .with_detail(format!("This {field} is already taken."))
            .into_response(),
            Self::Response(r) => *r,
            Self::Store(e) => internal(&e),
            Self::Internal(e) => internal(&*e),
        }
    }
}

/// The generic 500; the whole cause chain goes to the access log.
fn internal(error: &(dyn std::error::Error + 'static)) -> Response {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // Errors that print their cause (`"storage: {0}"`) are not repeated.
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    let mut response = Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response();
    response.extensions_mut().insert(InternalError(message));
    response
}

/// The 422 for invalid `limit`/`cursor` (and other query) parameters.
pub fn invalid_query(errors: Vec<rampart::problem::FieldError>) -> ApiError {
    Problem::validation(errors)
        .with_detail(rampart::input::QUERY_INVALID)
        .into()
}
