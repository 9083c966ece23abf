//! Middleware on every route: the access log and metrics ([`observe`]), the request timeout
//! ([`timeout`], answered `LIMIT_EXCEEDED`), and the panic answer.
//!
//! The access log records method, route pattern, status and latency: never the URI's query
//! string, headers (tokens) or bodies (personal data).

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{self, ErrorCode};
use crate::metrics::{Metrics, RequestLabels, RouteLabels};

/// Method label: the standard ones by name, anything else as `other` (bounded cardinality).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

fn is_probe(route: &str) -> bool {
    matches!(route, "/healthz" | "/readyz" | "/metrics")
}

pub(super) async fn observe(
    State(metrics): State<Arc<Metrics>>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics
        .http_requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            method: method.to_owned(),
            status,
        })
        .inc();
    metrics
        .http_latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(elapsed.as_secs_f64());
    let latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    if is_probe(&route) {
        // Load balancers and Prometheus poll these every few seconds.
        tracing::debug!(target: "lvyue_api::access", method, route, status, latency_ms, "request");
    } else {
        tracing::info!(target: "lvyue_api::access", method, route, status, latency_ms, "request");
    }
    response
}

pub(super) async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        // Dropping the handler rolls back any open transaction; a mutation that did commit is
        // found again by its idempotency key when the client retries.
        Err(_) => error::http_error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::LimitExceeded,
            &format!("request took longer than {} ms", limit.as_millis()),
        ),
    }
}

pub(super) fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    // The panic message may hold internals: it is logged by the panic hook, never sent.
    tracing::error!("a request handler panicked");
    error::http_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
        error::INTERNAL_MESSAGE,
    )
}
