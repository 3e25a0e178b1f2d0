//! RFC 9457 problem details: the one error body every response uses.
//!
//! [`Problem`] is the body; it renders as `application/problem+json` with the
//! keys `type, title, status, detail, instance, request_id` (and `errors` for
//! validation failures). [`ProblemLayer`] sits near the edge of a service and
//! makes the rule hold for every error, whoever produced it:
//!
//! - a response carrying a [`Problem`] gets its `request_id` and `instance`
//!   filled in from the request;
//! - any other 4xx/5xx response (axum's 404/405, tower-http's 408/413, a
//!   rejection rendered as plain text) is replaced by the generic problem for
//!   its status, keeping its headers (so `Allow` on a 405 survives). The
//!   original body is dropped: it may name internal types.
//!
//! ```
//! use axum::{Router, routing::get};
//! use rampart::problem::{Problem, ProblemLayer};
//! use http::StatusCode;
//!
//! async fn handler() -> Result<&'static str, Problem> {
//!     Err(Problem::new(StatusCode::CONFLICT).with_detail("username is taken"))
//! }
//! let app: Router = Router::new().route("/", get(handler)).layer(ProblemLayer::new());
//! # let _ = app;
//! ```

use std::{
    borrow::Cow,
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use axum::{
    body::Body,
    response::{IntoResponse, Response},
};
use http::{HeaderValue, Request, StatusCode, Uri, header};
use pin_project_lite::pin_project;
use serde::Serialize;
use tower::{Layer, Service};

use crate::request_id::RequestId;

/// The media type of problem bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request, reported in a 422 problem's `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// Dotted path of the field in the request (`address.city`, `items[2]`).
    pub field: String,
    /// What is wrong with it, safe to show to the client.
    pub message: String,
}

impl FieldError {
    /// A field error for `field` with `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem details body.
///
/// Build one from a status and add detail; it becomes a response through
/// [`IntoResponse`]. Never put internal error text (SQL, paths, type names)
/// in `detail`: it is shown to the client as it is.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` for plain HTTP statuses.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(example = "about:blank"))]
    kind: Cow<'static, str>,
    /// Short, human-readable summary of the problem type.
    title: Cow<'static, str>,
    /// The HTTP status code.
    #[serde(serialize_with = "serialize_status")]
    #[cfg_attr(feature = "openapi", schema(value_type = u16, example = 404))]
    status: StatusCode,
    /// Explanation specific to this occurrence.
    detail: Cow<'static, str>,
    /// The request path this occurrence happened on.
    instance: Option<String>,
    /// The request id, as in the `X-Request-Id` response header.
    request_id: Option<String>,
    /// Every invalid field, for validation failures (422).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
}

fn serialize_status<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Problem {
    /// The generic problem for `status`: type `about:blank`, the status's
    /// reason phrase as title, and a fixed, safe detail.
    pub fn new(status: StatusCode) -> Self {
        Self {
            kind: Cow::Borrowed("about:blank"),
            title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            status,
            detail: Cow::Borrowed(default_detail(status)),
            instance: None,
            request_id: None,
            errors: Vec::new(),
        }
    }

    /// A problem of a named type (`urn:rampart:problem:<slug>` style URI)
    /// with its own title.
    pub fn typed(
        status: StatusCode,
        kind: impl Into<Cow<'static, str>>,
        title: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            kind: kind.into(),
            title: title.into(),
            ..Self::new(status)
        }
    }

    /// 422 with every invalid field listed.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "urn:rampart:problem:validation",
                "Validation failed",
            )
        }
    }

    /// Replaces the detail. It is shown to clients: keep it free of secrets
    /// and internals.
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = detail.into();
        self
    }

    /// Sets the request id (normally left to [`ProblemLayer`]).
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Sets the instance (normally left to [`ProblemLayer`]).
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The problem type URI.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The detail text.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The field errors of a validation problem.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    fn body(&self) -> Vec<u8> {
        // Serialising plain strings and numbers cannot fail; the fallback
        // keeps this path free of panics all the same.
        serde_json::to_vec(self).unwrap_or_else(|_| {
            format!(
                r#"{{"type":"about:blank","status":{}}}"#,
                self.status.as_u16()
            )
            .into_bytes()
        })
    }
}

fn default_detail(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request could not be understood.",
        401 => "Authentication is required.",
        403 => "You are not allowed to do this.",
        404 => "No resource exists at this address.",
        405 => "This resource does not support the request method; see the Allow header.",
        406 => "No acceptable representation is available.",
        408 => "The request was not received in time.",
        409 => "The request conflicts with the current state of the resource.",
        410 => "This resource is gone.",
        413 => "The request body is too large.",
        415 => "The request body has an unsupported media type.",
        422 => "The request body is well-formed but invalid.",
        429 => "Too many requests; retry later.",
        500 => "An internal error occurred; quote the request id when reporting it.",
        502..=504 => "The service is temporarily unavailable.",
        _ => "The request failed.",
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.title,
            self.detail
        )
    }
}

impl std::error::Error for Problem {}

/// Whole seconds for a `Retry-After` of `wait`: rounded up, at least 1.
///
/// ```
/// use std::time::Duration;
/// use rampart::problem::retry_after_secs;
///
/// assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
/// assert_eq!(retry_after_secs(Duration::ZERO), 1);
/// ```
pub fn retry_after_secs(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl Problem {
    /// This problem as a response with `Retry-After` (whole seconds, see
    /// [`retry_after_secs`]), for a 429 or 503.
    pub fn retry_after(self, wait: std::time::Duration) -> Response {
        let mut response = self.into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs(wait)),
        );
        response
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body()));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        // Kept so ProblemLayer can add the request id and outer layers
        // (audit, metrics) can see the exact problem.
        response.extensions_mut().insert(self);
        response
    }
}

/// Layer that turns every error response into a complete [`Problem`]; see the
/// [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemLayer {
    _priv: (),
}

impl ProblemLayer {
    /// A new layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for ProblemLayer {
    type Service = ProblemService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProblemService { inner }
    }
}

/// The service of [`ProblemLayer`].
#[derive(Debug, Clone)]
pub struct ProblemService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for ProblemService<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ProblemFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let request_id = req.extensions().get::<RequestId>().cloned();
        let uri = req.uri().clone();
        ProblemFuture {
            inner: self.inner.call(req),
            request_id,
            uri,
        }
    }
}

pin_project! {
    /// Response future of [`ProblemService`].
    pub struct ProblemFuture<F> {
        #[pin]
        inner: F,
        request_id: Option<RequestId>,
        uri: Uri,
    }
}

impl<F, E> Future for ProblemFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx))?;
        if !(response.status().is_client_error() || response.status().is_server_error()) {
            return Poll::Ready(Ok(response));
        }
        Poll::Ready(Ok(complete(response, this.request_id.as_ref(), this.uri)))
    }
}

fn complete(response: Response, request_id: Option<&RequestId>, uri: &Uri) -> Response {
    let (mut parts, body) = response.into_parts();
    let problem = match parts.extensions.remove::<Problem>() {
        Some(problem) => problem,
        None if is_problem_json(&parts.headers) => {
            // Written by hand as a problem already: trust it.
            return Response::from_parts(parts, body);
        }
        None => Problem::new(parts.status),
    };
    let mut problem = problem;
    if problem.request_id.is_none() {
        problem.request_id = request_id.map(|id| id.as_str().to_owned());
    }
    if problem.instance.is_none() {
        problem.instance = Some(uri.path().to_owned());
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    let body = Body::from(problem.body());
    parts.extensions.insert(problem);
    Response::from_parts(parts, body)
}

fn is_problem_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON))
}

/// The response tower-http's `CatchPanicLayer` should give: a bare 500 whose
/// body [`ProblemLayer`] completes with the request id. The panic payload is
/// deliberately ignored; the panic hook logs it.
pub fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Router, routing::get};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn json(response: Response) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_plain_error_response_becomes_a_problem_with_its_headers_kept() {
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(ProblemLayer::new());
        let response = app
            .oneshot(Request::post("/x?secret=1").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = json(response).await;
        assert_eq!(body["status"], 404);
        assert_eq!(body["instance"], "/x", "the query is not echoed");
        assert_eq!(body["type"], "about:blank");
    }

    #[tokio::test]
    async fn a_handler_problem_keeps_its_detail_and_gains_the_instance() {
        let app = Router::new()
            .route(
                "/",
                get(|| async { Problem::new(StatusCode::CONFLICT).with_detail("taken") }),
            )
            .layer(ProblemLayer::new());
        let response = app
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let body = json(response).await;
        assert_eq!(body["status"], 409);
        assert_eq!(body["detail"], "taken");
        assert_eq!(body["instance"], "/");
    }

    #[test]
    fn validation_problems_list_their_fields() {
        let p = Problem::validation(vec![FieldError::new("email", "is not an email")]);
        let v: serde_json::Value = serde_json::from_slice(&p.body()).unwrap();
        assert_eq!(v["status"], 422);
        assert_eq!(v["errors"][0]["field"], "email");
    }
}
