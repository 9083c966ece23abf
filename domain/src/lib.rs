//! The escrow core of Lvyue: money, the double-entry ledger, the lifecycle of prepaid funds,
//! scheme policies, roles and scopes, and every query a principal may run.
//!
//! `domain` owns every rule. The API translates each GraphQL mutation into one
//! [`Command`](command::Command) run by [`Escrow::execute`], and each query into a domain query
//! that applies the principal's scope in SQL. It never sees axum or GraphQL; it sees the
//! database only through `lvyue-entity` and sea-orm.

pub mod audit;
pub mod clock;
pub mod command;
pub mod db;
pub mod error;
pub mod event;
pub mod idempotency;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod principal;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::sync::Arc;

use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::watch;

pub use error::{DomainError, DomainResult, ErrorCode};
pub use money::{Bp, Money};

use crate::clock::Clock;

/// The escrow system: a database, a clock, and the signal that the log has grown.
pub struct Escrow {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    log_size: watch::Sender<u64>,
}

impl Escrow {
    /// # Errors
    /// Database errors while reading the log head.
    pub async fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> DomainResult<Escrow> {
        let size = lvyue_entity::log_head::Entity::find_by_id(1).one(&db).await?.map(|h| h.size).unwrap_or(0);
        let (log_size, _) = watch::channel(event::to_u64(size)?);
        Ok(Escrow { db, clock, log_size })
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
