//! Prometheus metrics served at `/metrics` (OpenMetrics text, `prometheus-client`).
//!
//! The server feeds the request counters, the latency histogram and the GraphQL error counter.
//! The gauges `lvyue_log_size`, `lvyue_checkpoint_size`, `lvyue_notary_halted`,
//! `lvyue_search_index_lag` and
//! `lvyue_holiday_calendar_days_left` are set by whoever owns those numbers (the log watcher in
//! [`crate::server`] sets the log size, the notary follower the checkpoint size and the halt,
//! [`crate::indexer`] the search index lag, the `/metrics` handler the calendar's reach).
//! Labels are bounded: routes are the router's patterns, never raw paths.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub code: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Every metric of the process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `lvyue_http_requests_total{route, method, status}`.
    pub http_requests: Family<RequestLabels, Counter>,
    /// `lvyue_http_request_duration_seconds{route}`.
    pub http_latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// `lvyue_graphql_errors_total{code}`: every error in a GraphQL response, by its code.
    pub graphql_errors: Family<CodeLabels, Counter>,
    /// `lvyue_log_size`: leaves in the transparency log.
    pub log_size: Gauge,
    /// `lvyue_checkpoint_size`: tree size of the latest signed checkpoint.
    pub checkpoint_size: Gauge,
    /// `lvyue_notary_halted`: 1 while this node refuses to sign because its database disagrees
    /// with a checkpoint it published (docs/operations.md, "A log that must not fork").
    pub notary_halted: Gauge,
    /// `lvyue_search_index_lag`: events not yet in the search index.
    pub search_index_lag: Gauge,
    /// `lvyue_holiday_calendar_days_left`: days until the loaded holiday calendar ends
    /// (negative once it has; -1 when the current year is not loaded either).
    pub holiday_calendar_days_left: Gauge,
    /// `lvyue_jobs_overdue`: scheduled jobs already due and not yet run.
    pub jobs_overdue: Gauge,
    /// `lvyue_webhook_deliveries_pending`: webhook deliveries queued or waiting to retry.
    pub webhook_deliveries_pending: Gauge,
    /// `lvyue_db_pool_connections_open`, `…_idle`, `…_max`: this node's database pool.
    pub db_pool_open: Gauge,
    pub db_pool_idle: Gauge,
    pub db_pool_max: Gauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let http_requests = Family::<RequestLabels, Counter>::default();
        let http_latency =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            );
        let graphql_errors = Family::<CodeLabels, Counter>::default();
        let log_size = Gauge::default();
        let checkpoint_size = Gauge::default();
        let notary_halted = Gauge::default();
        let search_index_lag = Gauge::default();
        let holiday_calendar_days_left = Gauge::default();
        let jobs_overdue = Gauge::default();
        let webhook_deliveries_pending = Gauge::default();
        let db_pool_open = Gauge::default();
        let db_pool_idle = Gauge::default();
        let db_pool_max = Gauge::default();
        registry.register(
            "lvyue_http_requests",
            "HTTP requests by route, method and status",
            http_requests.clone(),
        );
        registry.register(
            "lvyue_http_request_duration_seconds",
            "HTTP request latency by route",
            http_latency.clone(),
        );
        registry.register(
            "lvyue_graphql_errors",
            "GraphQL errors by extensions.code",
            graphql_errors.clone(),
        );
        registry.register(
            "lvyue_log_size",
            "Leaves in the transparency log",
            log_size.clone(),
        );
        registry.register(
            "lvyue_checkpoint_size",
            "Tree size of the latest signed checkpoint",
            checkpoint_size.clone(),
        );
        registry.register(
            "lvyue_notary_halted",
            "1 while this node refuses to sign checkpoints (its database disagrees with one it published)",
            notary_halted.clone(),
        );
        registry.register(
            "lvyue_search_index_lag",
            "Events not yet in the search index",
            search_index_lag.clone(),
        );
        registry.register(
            "lvyue_holiday_calendar_days_left",
            "Days until the loaded holiday calendar ends",
            holiday_calendar_days_left.clone(),
        );
        registry.register(
            "lvyue_jobs_overdue",
            "Scheduled jobs already due and not yet run",
            jobs_overdue.clone(),
        );
        registry.register(
            "lvyue_webhook_deliveries_pending",
            "Webhook deliveries queued or waiting to retry",
            webhook_deliveries_pending.clone(),
        );
        registry.register(
            "lvyue_db_pool_connections_open",
            "Database connections this node has open",
            db_pool_open.clone(),
        );
        registry.register(
            "lvyue_db_pool_connections_idle",
            "Open database connections waiting for work",
            db_pool_idle.clone(),
        );
        registry.register(
            "lvyue_db_pool_connections_max",
            "The most database connections this node may open",
            db_pool_max.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_latency,
            graphql_errors,
            log_size,
            checkpoint_size,
            notary_halted,
            search_index_lag,
            holiday_calendar_days_left,
            jobs_overdue,
            webhook_deliveries_pending,
            db_pool_open,
            db_pool_idle,
            db_pool_max,
        }
    }

    /// Counts one GraphQL error.
    pub fn graphql_error(&self, code: &str) {
        self.graphql_errors
            .get_or_create(&CodeLabels {
                code: code.to_owned(),
            })
            .inc();
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// Sets a gauge from an unsigned count (saturating at `i64::MAX`).
pub fn set_gauge(gauge: &Gauge, value: u64) {
    gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every metric the Grafana dashboard in docs/ plots is one this server exports.
    #[test]
    fn the_dashboard_plots_only_exported_metrics() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/grafana/lvyue-dashboard.json"))
                .expect("the dashboard is JSON");
        let mut exprs = Vec::new();
        collect_exprs(&dashboard, &mut exprs);
        assert!(exprs.len() >= 10, "{exprs:?}");
        let exported = with_samples().encode();
        for expr in &exprs {
            for name in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("lvyue_"))
            {
                let base = ["_bucket", "_count", "_sum", "_total"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name);
                assert!(
                    exported.contains(&format!("# TYPE {base} ")),
                    "the dashboard plots {name}, which /metrics does not export"
                );
            }
        }
    }

    fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                        _ => collect_exprs(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| collect_exprs(v, out)),
            _ => {}
        }
    }

    /// Metrics with a sample in each family (a family prints once it has one).
    fn with_samples() -> Metrics {
        let m = Metrics::new();
        m.http_requests
            .get_or_create(&RequestLabels {
                route: "/graphql".into(),
                method: "POST".into(),
                status: 200,
            })
            .inc();
        m.http_latency
            .get_or_create(&RouteLabels {
                route: "/graphql".into(),
            })
            .observe(0.004);
        m.graphql_error("FORBIDDEN");
        m
    }

    #[test]
    fn every_metric_is_exported_by_name() {
        let m = with_samples();
        set_gauge(&m.log_size, 42);
        let text = m.encode();
        for name in [
            "lvyue_http_requests_total",
            "lvyue_http_request_duration_seconds",
            "lvyue_graphql_errors_total{code=\"FORBIDDEN\"} 1",
            "lvyue_log_size 42",
            "lvyue_checkpoint_size",
            "lvyue_notary_halted 0",
            "lvyue_search_index_lag",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
