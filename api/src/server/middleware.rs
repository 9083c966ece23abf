//! Middleware on every route: the request's id and the span every log line of the request is
//! written in ([`request_span`]), the access log and metrics ([`observe`]), the request timeout
//! ([`timeout`], answered `LIMIT_EXCEEDED`), and the panic answer.
//!
//! The access log records method, route pattern, status and latency: never the URI's query
//! string, headers (tokens) or bodies (personal data).

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Instrument as _;

use crate::error::{self, ErrorCode};
use crate::metrics::{Metrics, RequestLabels, RouteLabels};

/// Longest request id written into the logs; a longer one from a client is cut there.
const MAX_LOGGED_ID: usize = 64;

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

/// `routes` with request ids: each request gets its `x-request-id` (kept when the client or a
/// proxy sent one, else a fresh UUID), is served inside [`request_span`], and its response
/// carries the id — a panic's or a timeout's answer too.
pub(super) fn with_request_ids<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    // The last layer added runs first.
    routes
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(axum::middleware::from_fn(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Runs the request inside a `request` span carrying its `x-request-id` (set before this runs:
/// the client's or a proxy's when sent, else a fresh UUID; echoed on the response), so every
/// log line written while serving it names it.
pub(super) async fn request_span(req: Request, next: Next) -> Response {
    let id: String = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .chars()
        .take(MAX_LOGGED_ID)
        .collect();
    next.run(req)
        .instrument(tracing::info_span!("request", id = %id))
        .await
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    /// Log output, kept for the test to read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl tracing_subscriber::fmt::MakeWriter<'_> for Captured {
        type Writer = Captured;
        fn make_writer(&self) -> Captured {
            self.clone()
        }
    }

    #[tokio::test]
    async fn the_log_lines_of_a_request_name_its_id() {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let app = with_request_ids(Router::new().route(
            "/",
            get(|| async {
                tracing::info!("inside the handler");
                "ok"
            }),
        ));
        let ask = |id: Option<&str>| {
            let mut req = axum::http::Request::builder().uri("/");
            if let Some(id) = id {
                req = req.header("x-request-id", id);
            }
            app.clone().oneshot(req.body(Body::empty()).unwrap())
        };
        let sent = ask(Some("proxy-7f3a-0001")).await.unwrap();
        assert_eq!(sent.headers()["x-request-id"], "proxy-7f3a-0001");
        let fresh = ask(None).await.unwrap();
        let fresh_id = fresh.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(fresh_id.len(), 36, "a UUID: {fresh_id}");

        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("inside the handler"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].contains("request{id=proxy-7f3a-0001}"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains(&format!("request{{id={fresh_id}}}")),
            "{}",
            lines[1]
        );
    }
}
