//! The node's background workers, started with the server and stopped with it: the notary
//! follower (tree in step with the event table, checkpoints signed) and the scheduler (due jobs:
//! settlement, expiry, deadlines). Each survives a failed pass and tries again on the next.

use std::time::Duration;

use crate::server::AppState;

/// Starts every worker for `state`.
pub fn spawn(state: &AppState) {
    let config = &state.config;
    tokio::spawn(crate::notary::follow(
        state.escrow.clone(),
        state.log.clone(),
        state.metrics.clone(),
        Duration::from_millis(config.notary.checkpoint_interval_ms.max(10)),
        state.shutdown.clone(),
    ));
    tokio::spawn(scheduler(
        state.clone(),
        Duration::from_millis(config.workers.scheduler_interval_ms.max(10)),
    ));
}

async fn scheduler(state: AppState, interval: Duration) {
    loop {
        match lvyue_domain::scheduler::tick(&state.escrow).await {
            Ok(r) if r.fired > 0 || r.failed > 0 => {
                tracing::info!(fired = r.fired, failed = r.failed, "scheduler pass")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduler pass failed; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = state.shutdown.stopped() => return,
        }
    }
}
