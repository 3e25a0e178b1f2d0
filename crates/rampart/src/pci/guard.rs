//! The card guard: a layer refusing (422) any request whose path, query
//! string, listed headers or JSON body holds a card number, before any
//! handler or log sees it. The scanner itself is [`super`]; this module is
//! apart so the scanner stays free of HTTP types (the request-id layer uses
//! it too).

use super::{contains_card_number, json_contains_card_number, query_contains_card_number};

/// Told about every request refused for carrying card data (the audit
/// hook); never given the value.
pub trait CardDataHook: Clone + Send + Sync + 'static {
    /// A request to `path` was refused; `parts` has its extensions
    /// (request id, client address).
    fn refused(&self, parts: &http::request::Parts)
    -> impl std::future::Future<Output = ()> + Send;
}

/// Layer refusing (422) any request whose path, query string, listed headers
/// ([`CardGuardLayer::with_headers`]) or JSON body contains a card number
/// anywhere: before any handler or log sees it. JSON bodies are read up to
/// `max_bytes` (larger is 413); other bodies pass untouched (a multipart
/// file name is the handler's to check, with [`contains_card_number`]).
#[derive(Debug, Clone)]
pub struct CardGuardLayer<H> {
    hook: H,
    max_bytes: usize,
    headers: std::sync::Arc<[http::HeaderName]>,
}

impl<H> CardGuardLayer<H> {
    /// Refusals are reported to `hook`.
    pub fn new(hook: H, max_bytes: usize) -> Self {
        Self {
            hook,
            max_bytes,
            headers: std::sync::Arc::new([]),
        }
    }

    /// Also scans these request headers (those the application stores or
    /// logs, such as `Idempotency-Key`).
    pub fn with_headers(mut self, headers: impl IntoIterator<Item = http::HeaderName>) -> Self {
        self.headers = headers.into_iter().collect();
        self
    }
}

impl<H: Clone, S> tower::Layer<S> for CardGuardLayer<H> {
    type Service = CardGuard<H, S>;

    fn layer(&self, inner: S) -> Self::Service {
        CardGuard {
            inner,
            hook: self.hook.clone(),
            max_bytes: self.max_bytes,
            headers: self.headers.clone(),
        }
    }
}

/// The service of [`CardGuardLayer`].
#[derive(Debug, Clone)]
pub struct CardGuard<H, S> {
    inner: S,
    hook: H,
    max_bytes: usize,
    headers: std::sync::Arc<[http::HeaderName]>,
}

/// The 422 a request carrying card data gets, from this layer or from a
/// handler that finds one where the layer cannot look (a multipart file
/// name).
pub fn card_data_problem() -> crate::problem::Problem {
    crate::problem::Problem::typed(
        http::StatusCode::UNPROCESSABLE_ENTITY,
        "urn:rampart:problem:card-data",
        "Card data is not accepted",
    )
    .with_detail("Card numbers may not be sent to this API; use a payment token.")
}

fn refusal() -> axum::response::Response {
    use axum::response::IntoResponse;
    card_data_problem().into_response()
}

impl<H, S> tower::Service<axum::extract::Request> for CardGuard<H, S>
where
    H: CardDataHook,
    S: tower::Service<axum::extract::Request, Response = axum::response::Response>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = axum::response::Response;
    type Error = S::Error;
    type Future = futures_util::future::Either<
        S::Future,
        futures_util::future::BoxFuture<'static, Result<Self::Response, S::Error>>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        use axum::response::IntoResponse;
        use futures_util::future::Either;
        use http_body_util::BodyExt;

        // The path too: `/users/4111111111111111/health` parses as an id
        // and its 403 would record the path.
        let in_path = contains_card_number(
            &percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy(),
        );
        let in_query = in_path || req.uri().query().is_some_and(query_contains_card_number);
        let in_headers = self.headers.iter().any(|name| {
            req.headers()
                .get_all(name)
                .iter()
                .any(|v| contains_card_number(&String::from_utf8_lossy(v.as_bytes())))
        });
        if in_query || in_headers {
            let hook = self.hook.clone();
            let (parts, _body) = req.into_parts();
            return Either::Right(Box::pin(async move {
                hook.refused(&parts).await;
                Ok(refusal())
            }));
        }
        if !crate::input::is_json_content_type(req.headers()) {
            return Either::Left(self.inner.call(req));
        }
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let hook = self.hook.clone();
        let max = self.max_bytes;
        Either::Right(Box::pin(async move {
            let (parts, body) = req.into_parts();
            let bytes = match http_body_util::Limited::new(body, max).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) => {
                    let status = if e
                        .downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        http::StatusCode::PAYLOAD_TOO_LARGE
                    } else {
                        http::StatusCode::BAD_REQUEST
                    };
                    return Ok(crate::problem::Problem::new(status).into_response());
                }
            };
            // Malformed JSON is the handler's to refuse (400); the guard
            // only needs to see what parses.
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes)
                && json_contains_card_number(&value)
            {
                hook.refused(&parts).await;
                return Ok(refusal());
            }
            inner
                .call(axum::extract::Request::from_parts(
                    parts,
                    axum::body::Body::from(bytes),
                ))
                .await
        }))
    }
}
