//! The node's background workers, started with the server and stopped with it: the notary
//! follower (tree in step with the event table, checkpoints signed), the search indexer (index
//! in step with the event table, see [`crate::indexer`]) and the scheduler (due jobs:
//! settlement, expiry, deadlines), the webhook delivery worker (due alert deliveries POSTed by
//! [`HttpWebhookSender`], every `LVYUE_DELIVERY_INTERVAL_MS`) and the on-call pager (texts and
//! calls for open alerts through a [`Notifier`], on the same interval, when `LVYUE_ONCALL_SMS`
//! or `LVYUE_ONCALL_CALL` names someone). Each survives a failed pass and tries again on the
//! next. Deliveries are claimed in the database, so every node may run that worker; a page is
//! not (the domain finds what was already paged in the notification log, with no claim before
//! sending), so the on-call numbers belong in one node's configuration only.

use std::time::Duration;

use lvyue_domain::DomainResult;
use lvyue_domain::delivery::{
    DeliveryRunReport, LocalNotifier, Notifier, OnCall, PageReport, WebhookSender,
};

use crate::state::AppState;
use crate::webhook::HttpWebhookSender;

/// Delivery passes run back to back while each finds due deliveries (a backlog after an
/// outage), before the worker sleeps again.
const MAX_DELIVERY_PASSES_PER_WAKE: u32 = 10;

/// Starts every worker for `state`.
pub fn spawn(state: &AppState) {
    let config = &state.config;
    tokio::spawn(crate::notary::follow(
        state.escrow.clone(),
        state.log.clone(),
        state.metrics.clone(),
        state.witnesses.clone(),
        Duration::from_millis(config.notary.checkpoint_interval_ms.max(10)),
        state.shutdown.clone(),
    ));
    tokio::spawn(crate::indexer::follow(
        state.indexer.clone(),
        state.escrow.clone(),
        state.metrics.clone(),
        Duration::from_millis(config.workers.indexer_interval_ms.max(10)),
        state.shutdown.clone(),
    ));
    tokio::spawn(scheduler(
        state.clone(),
        Duration::from_millis(config.workers.scheduler_interval_ms.max(10)),
    ));
    let delivery_interval = Duration::from_millis(config.workers.delivery_interval_ms.max(10));
    tokio::spawn(deliveries(state.clone(), delivery_interval));
    match config.workers.on_call() {
        Some(on_call) => {
            tokio::spawn(pager(state.clone(), on_call, delivery_interval));
        }
        None => tracing::info!("no on-call numbers configured: alerts are not paged"),
    }
}

async fn scheduler(state: AppState, interval: Duration) {
    loop {
        match lvyue_domain::jobs::tick(&state.escrow).await {
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

/// One delivery pass: sends every webhook delivery due now through `sender`.
///
/// # Errors
/// Database errors.
pub async fn deliver_pass(
    state: &AppState,
    sender: &dyn WebhookSender,
) -> DomainResult<DeliveryRunReport> {
    lvyue_domain::delivery::deliver_due(&state.escrow, sender, state.escrow.clock().now()).await
}

async fn deliveries(state: AppState, interval: Duration) {
    let sender = match HttpWebhookSender::new() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = ?e, "webhook deliveries are off");
            return;
        }
    };
    loop {
        for _ in 0..MAX_DELIVERY_PASSES_PER_WAKE {
            match deliver_pass(&state, &sender).await {
                Ok(r) if r.delivered + r.retrying + r.failed > 0 => {
                    tracing::info!(
                        delivered = r.delivered,
                        retrying = r.retrying,
                        failed = r.failed,
                        "webhook delivery pass"
                    );
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook delivery pass failed; retrying");
                    break;
                }
            }
            if state.shutdown.is_shutting_down() {
                return;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = state.shutdown.stopped() => return,
        }
    }
}

/// The notifier that texts and calls on-call people. SMS and voice providers are interfaces
/// ([`Notifier`]); the one built in writes the `notification` log (`notifications` in GraphQL),
/// which a gateway to a real provider would read from or replace.
pub fn notifier(state: &AppState) -> Box<dyn Notifier> {
    Box::new(LocalNotifier::new(&state.escrow))
}

/// One paging pass: texts and calls `on_call` about the open alerts not yet paged.
///
/// # Errors
/// `VALIDATION` for a bad rota; database errors.
pub async fn page_pass(
    state: &AppState,
    notifier: &dyn Notifier,
    on_call: &OnCall,
) -> DomainResult<PageReport> {
    lvyue_domain::delivery::page_on_call(
        &state.escrow,
        notifier,
        on_call,
        state.escrow.clock().now(),
    )
    .await
}

async fn pager(state: AppState, on_call: OnCall, interval: Duration) {
    let notifier = notifier(&state);
    loop {
        match page_pass(&state, notifier.as_ref(), &on_call).await {
            Ok(r) if r.texts + r.calls + r.failed > 0 => {
                tracing::info!(
                    texts = r.texts,
                    calls = r.calls,
                    failed = r.failed,
                    "on-call paging pass"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "on-call paging pass failed; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = state.shutdown.stopped() => return,
        }
    }
}
