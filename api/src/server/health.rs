//! `/healthz` (the process answers), `/readyz` (every named [`Readiness`] check passes) and
//! `/metrics`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::metrics::CONTENT_TYPE;

pub(super) async fn healthz() -> Response {
    axum::Json(serde_json::json!({ "status": "ok" })).into_response()
}

pub(super) async fn readyz(State(state): State<AppState>) -> Response {
    let report = state.readiness.run().await;
    let status = if state.shutdown.is_shutting_down() || !report.ready {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        status,
        axum::Json(serde_json::json!({
            "status": if status == StatusCode::OK { "ready" } else { "not ready" },
            "checks": report.checks,
            "reasons": report.reasons,
        })),
    )
        .into_response()
}

pub(super) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Compared by their hashes: equal-length digests, so the time taken says nothing
        // about how much of the token was right.
        let digest = |s: &str| <sha2::Sha256 as sha2::Digest>::digest(s.as_bytes());
        if digest(given) != digest(token.expose()) {
            return super::graphql::refuse(
                &state,
                StatusCode::UNAUTHORIZED,
                crate::error::ErrorCode::Unauthenticated,
                "/metrics needs the metrics token (LVYUE_METRICS_TOKEN) as a bearer token",
            );
        }
    }
    read_at_scrape(&state).await;
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.encode(),
    )
        .into_response()
}

/// Gauges read when scraped rather than kept up to date: they change with the date and with
/// other nodes' work, and each is one small query or a look at the pool. A gauge that cannot be
/// read keeps its last value (and the failure is logged).
async fn read_at_scrape(state: &AppState) {
    let db = state.escrow.db();
    let m = &state.metrics;
    let now = state.escrow.clock().now();
    match lvyue_domain::calendar::store::coverage(db, now.china_date()).await {
        // -1: neither this year nor last year is loaded (docs/calendar.md).
        Ok(c) => {
            m.holiday_calendar_days_left.set(c.days_left.unwrap_or(-1));
        }
        Err(e) => tracing::warn!(error = %e, "reading the holiday calendar's reach failed"),
    }
    match lvyue_domain::scheduler::overdue(db, now).await {
        Ok(n) => crate::metrics::set_gauge(&m.jobs_overdue, n),
        Err(e) => tracing::warn!(error = %e, "counting overdue jobs failed"),
    }
    match lvyue_domain::outbox::pending(db).await {
        Ok(n) => crate::metrics::set_gauge(&m.webhook_deliveries_pending, n),
        Err(e) => tracing::warn!(error = %e, "counting pending webhook deliveries failed"),
    }
    let pool = lvyue_domain::db::pool_use(db);
    crate::metrics::set_gauge(&m.db_pool_open, u64::from(pool.open));
    crate::metrics::set_gauge(&m.db_pool_idle, u64::from(pool.idle));
    crate::metrics::set_gauge(&m.db_pool_max, u64::from(pool.max));
}
