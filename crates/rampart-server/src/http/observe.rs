//! The access log and request metrics: one log line and one metric sample
//! per request, carrying the request id, method, route template, status and
//! latency (`latency_us`, microseconds). Headers, query strings and raw paths are never logged, so tokens
//! and personal data in them cannot reach the log.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use axum::{extract::MatchedPath, response::Response};
use http::{Method, Request};
use pin_project_lite::pin_project;
use rampart::request_id::RequestId;
use tower::{Layer, Service};

use crate::{http::error::InternalError, metrics::Metrics};

/// Label for requests that matched no route: raw paths would let any client
/// create unbounded metric series.
const UNMATCHED: &str = "unmatched";

/// Layer adding the access log line and request metrics.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: Metrics,
}

impl ObserveLayer {
    /// Records into `metrics`.
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service of [`ObserveLayer`].
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Metrics,
}

impl<S, B> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let request_id = req.extensions().get::<RequestId>().cloned();
        let method = req.method().clone();
        ObserveFuture {
            inner: self.inner.call(req),
            start: Instant::now(),
            metrics: self.metrics.clone(),
            request_id,
            method,
        }
    }
}

pin_project! {
    /// Response future of [`Observe`].
    pub struct ObserveFuture<F> {
        #[pin]
        inner: F,
        start: Instant,
        metrics: Metrics,
        request_id: Option<RequestId>,
        method: Method,
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        // Extension methods are client-chosen strings: one bucket for all.
        _ => "OTHER",
    }
}

impl<F, E> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            let elapsed = this.start.elapsed();
            let route = response
                .extensions()
                .get::<MatchedPath>()
                .map_or(UNMATCHED, MatchedPath::as_str);
            let method = method_label(this.method);
            let status = response.status();
            this.metrics
                .observe_request(method, route, status.as_str(), elapsed.as_secs_f64());
            if status == http::StatusCode::TOO_MANY_REQUESTS {
                this.metrics.rate_limited(route);
            }
            let request_id = this.request_id.as_ref().map_or("", RequestId::as_str);
            // An integer: formatting a float cost more than the rest of the line.
            let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            if status.is_server_error() {
                let error = response
                    .extensions()
                    .get::<InternalError>()
                    .map(|e| e.0.as_str());
                tracing::error!(target: "rampart::access", request_id, method, route, status = status.as_u16(), latency_us, error, "request");
            } else {
                tracing::info!(target: "rampart::access", request_id, method, route, status = status.as_u16(), latency_us, "request");
            }
        }
        Poll::Ready(result)
    }
}

/// Route layer that hands the matched route template to [`Observe`], which
/// runs outside the router and so never sees the routed request.
#[derive(Debug, Clone, Copy)]
pub struct RouteTemplateLayer;

impl<S> Layer<S> for RouteTemplateLayer {
    type Service = RouteTemplate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteTemplate { inner }
    }
}

/// The service of [`RouteTemplateLayer`].
#[derive(Debug, Clone)]
pub struct RouteTemplate<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for RouteTemplate<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RouteTemplateFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        RouteTemplateFuture {
            template: req.extensions().get::<MatchedPath>().cloned(),
            inner: self.inner.call(req),
        }
    }
}

pin_project! {
    /// Response future of [`RouteTemplate`].
    pub struct RouteTemplateFuture<F> {
        #[pin]
        inner: F,
        template: Option<MatchedPath>,
    }
}

impl<F, E> Future for RouteTemplateFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Some(template) = this.template.take() {
            response.extensions_mut().insert(template);
        }
        Poll::Ready(Ok(response))
    }
}
