//! Whether the node is ready: a list of named checks that `/readyz` runs (the handlers are in
//! the server).
//!
//! Readiness is a list of named checks run concurrently, each within
//! [`READINESS_CHECK_TIMEOUT`]. The server registers `database`; the notary adds "caught up"
//! with `Readiness::with("notary", || async { … })` in `AppState::build`. A failing check's
//! detail is logged; the response names only the check, since `/readyz` is public.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sea_orm::DatabaseConnection;
use serde::Serialize;

/// How long one readiness check may take before it counts as failed.
pub const READINESS_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One named condition for serving traffic. Any `Fn() -> impl Future<Output = Result<(),
/// String>>` is one.
pub trait ReadinessCheck: Send + Sync + 'static {
    /// `Err` explains, for the log, why the node is not ready.
    fn check(&self) -> BoxFuture<'static, Result<(), String>>;
}

impl<F, Fut> ReadinessCheck for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    fn check(&self) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(self())
    }
}

/// The named checks behind `/readyz`.
#[derive(Default)]
pub struct Readiness {
    checks: Vec<(&'static str, Arc<dyn ReadinessCheck>)>,
}

/// The outcome of every check: `"ok"` or `"failed"` by name, and why each failed one did.
#[derive(Debug, Clone, Serialize)]
pub struct ReadinessReport {
    pub ready: bool,
    pub checks: BTreeMap<&'static str, &'static str>,
    pub reasons: BTreeMap<&'static str, String>,
}

impl Readiness {
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// Adds a check under `name`.
    #[must_use]
    pub fn with(mut self, name: &'static str, check: impl ReadinessCheck) -> Readiness {
        self.checks.push((name, Arc::new(check)));
        self
    }

    /// Runs every check concurrently.
    pub async fn run(&self) -> ReadinessReport {
        let runs = self.checks.iter().map(|(name, check)| {
            let fut = check.check();
            async move {
                let outcome = match tokio::time::timeout(READINESS_CHECK_TIMEOUT, fut).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("no answer within {READINESS_CHECK_TIMEOUT:?}")),
                };
                if let Err(reason) = &outcome {
                    tracing::warn!(check = name, reason = %reason, "readiness check failed");
                }
                (*name, outcome.err())
            }
        });
        let results = futures_util::future::join_all(runs).await;
        ReadinessReport {
            ready: results.iter().all(|(_, failure)| failure.is_none()),
            checks: results
                .iter()
                .map(|(n, failure)| (*n, if failure.is_none() { "ok" } else { "failed" }))
                .collect(),
            reasons: results
                .into_iter()
                .filter_map(|(n, failure)| Some((n, failure?)))
                .collect(),
        }
    }
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.checks.iter().map(|(n, _)| n))
            .finish()
    }
}

/// The database answers a ping.
pub fn database_check(db: DatabaseConnection) -> impl ReadinessCheck {
    move || {
        let db = db.clone();
        async move { db.ping().await.map_err(|e| e.to_string()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_failing_check_makes_the_node_not_ready() {
        let r = Readiness::new()
            .with("a", || async { Ok(()) })
            .with("b", || async { Err("behind by 12 leaves".to_owned()) });
        let report = r.run().await;
        assert!(!report.ready);
        assert_eq!(report.checks.get("a"), Some(&"ok"));
        assert_eq!(report.checks.get("b"), Some(&"failed"));
        assert_eq!(
            report.reasons.get("b").map(String::as_str),
            Some("behind by 12 leaves")
        );
        assert!(!report.reasons.contains_key("a"));
        assert!(
            Readiness::new()
                .with("a", || async { Ok(()) })
                .run()
                .await
                .ready
        );
    }
}
