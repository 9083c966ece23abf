//! The escrow core of Lvyue: money, the double-entry ledger, the lifecycle of prepaid funds,
//! scheme policies, roles and scopes, and every query a principal may run.
//!
//! `domain` owns every rule. The API translates each GraphQL mutation into one
//! [`Command`](command::Command) run by [`Escrow::execute`], and each query into a domain query
//! that applies the principal's scope in SQL. It never sees axum or GraphQL; it sees the
//! database only through `lvyue-entity` and sea-orm.

pub mod access;
pub mod alert;
pub mod audit;
pub mod batch;
pub mod calendar;
pub mod canteen;
pub mod clock;
pub mod command;
pub mod confirmer;
pub mod court;
pub mod custody;
pub mod db;
pub mod delivery;
pub mod deposit;
pub mod enforcement;
mod enums;
pub mod error;
pub mod event;
pub mod evidence;
pub mod gate;
pub mod idempotency;
pub mod identity;
pub mod ids;
mod industries;
pub mod jobs;
#[cfg(test)]
mod layering;
pub mod ledger;
pub mod list_import;
pub mod log;
pub mod medical;
pub mod merchant;
pub mod money;
pub mod onboarding;
pub mod order;
pub mod order_record;
pub mod outbox;
pub mod page;
pub mod party;
pub mod payout;
pub mod pii;
pub mod policy;
pub mod prepaid;
pub mod principal;
pub mod published;
pub mod queries;
pub mod reconcile;
pub mod refund_sla;
pub mod registration;
pub mod report;
pub mod risk;
pub mod scheduler;
pub mod scheme;
pub mod screening;
pub mod split;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod text;
pub mod voucher;

use std::sync::Arc;

use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::{broadcast, watch};

pub use error::{DomainError, DomainResult, ErrorCode};
pub use money::{Bp, Money};
/// Flexible-employment payroll is part of payouts; its old path stays for callers.
pub use payout::payroll;

use crate::clock::Clock;

/// How many alerts a slow subscriber may fall behind before it misses some.
const ALERT_CHANNEL_CAPACITY: usize = 1024;

/// The escrow system: a database, a clock, the keys for personal data, and the signals that
/// the log has grown and alerts were raised.
pub struct Escrow {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    vault: pii::PiiVault,
    log_size: watch::Sender<u64>,
    alerts: broadcast::Sender<alert::AlertRecord>,
    /// On SQLite, this process's writers queue here, first come first served, for the
    /// database's one write lock; SQLite's own busy handler polls with growing sleeps, which
    /// starved unlucky writers for seconds under load. Other processes still meet the busy
    /// timeout.
    sqlite_writers: tokio::sync::Mutex<()>,
    /// The industries' and oversight's part in the order lifecycle ([`order::LifecycleHooks`]).
    hooks: &'static dyn order::LifecycleHooks,
}

impl Escrow {
    /// # Errors
    /// Database errors while reading the log head.
    pub async fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        vault: pii::PiiVault,
    ) -> DomainResult<Escrow> {
        let size = lvyue_entity::log_head::Entity::find_by_id(1)
            .one(&db)
            .await?
            .map(|h| h.size)
            .unwrap_or(0);
        let (log_size, _) = watch::channel(event::to_u64(size)?);
        let (alerts, _) = broadcast::channel(ALERT_CHANNEL_CAPACITY);
        Ok(Escrow {
            db,
            clock,
            vault,
            log_size,
            alerts,
            sqlite_writers: tokio::sync::Mutex::new(()),
            hooks: &industries::Industries,
        })
    }

    pub fn vault(&self) -> &pii::PiiVault {
        &self.vault
    }

    /// Alerts raised by this process, as they are raised. A subscriber must not assume the
    /// transaction committed: check the alert in the database before acting on it.
    pub fn subscribe_alerts(&self) -> broadcast::Receiver<alert::AlertRecord> {
        self.alerts.subscribe()
    }

    pub(crate) fn notify_alert(&self, a: alert::AlertRecord) {
        // No subscribers is fine.
        let _ = self.alerts.send(a);
    }

    /// The lifecycle's seam, for the order commands.
    pub(crate) fn hooks(&self) -> &'static dyn order::LifecycleHooks {
        self.hooks
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Wakes when this process commits events (other nodes' events are found by polling).
    pub fn subscribe_log_size(&self) -> watch::Receiver<u64> {
        self.log_size.subscribe()
    }
}
