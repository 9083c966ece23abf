//! Commands and their transactions. Every state change is a [`Command`] run by
//! [`Escrow::execute`](crate::Escrow::execute) inside one database transaction that holds the
//! new state, its ledger postings and its events — nothing is committed without its event,
//! no event without its change.
//!
//! The transaction first locks the log head, so write transactions are totally ordered: seq
//! order is commit order, event times never go backwards, and ledger rows carry the log
//! position of the transaction that wrote them. Transient failures (a busy SQLite, a
//! PostgreSQL serialization failure) retry the whole command; they are never reported as a
//! business error.

use std::future::Future;
use std::time::Duration;

use sea_orm::{
    AccessMode, DatabaseConnection, DatabaseTransaction, IsolationLevel, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use serde::{Serialize, de::DeserializeOwned};

use crate::Escrow;
use crate::clock::Timestamp;
use crate::error::{DomainError, DomainResult};
use crate::event::{self, NewEvent};
use crate::idempotency::{self, Claim, IdempotencyKey};
use crate::principal::Principal;

/// How often a command is retried after a transient database failure.
pub const MAX_ATTEMPTS: u32 = 8;
const BACKOFF_BASE: Duration = Duration::from_millis(5);

/// A state change. The input is the struct itself (serialised for the idempotency hash); the
/// output is returned again, unchanged, when the command is replayed under the same key.
pub trait Command: Serialize + Send + Sync {
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// A stable name, part of the idempotency hash.
    const NAME: &'static str;
    /// Runs the command inside `tx`. Must emit at least one event. May be run more than once
    /// (after a transient failure), so it must not have effects outside the transaction.
    fn run(&self, tx: &mut Tx<'_>) -> impl Future<Output = DomainResult<Self::Output>> + Send;
}

/// The open transaction of one command.
pub struct Tx<'a> {
    db: &'a DatabaseTransaction,
    /// Now, for everything this command writes: not before the last event's time.
    pub now: Timestamp,
    pub principal: &'a Principal,
    /// The seq the first event of this transaction will get.
    pub log_seq: u64,
    pub escrow: &'a Escrow,
    events: Vec<NewEvent>,
}

impl<'a> Tx<'a> {
    pub fn db(&self) -> &'a DatabaseTransaction {
        self.db
    }

    pub fn emit(&mut self, event: NewEvent) {
        self.events.push(event);
    }

    /// The seq the next emitted event will get.
    pub fn next_seq(&self) -> u64 {
        self.log_seq + self.events.len() as u64
    }
}

impl Escrow {
    /// Runs `cmd` for `principal` in one transaction, with an optional idempotency key.
    ///
    /// # Errors
    /// Whatever the command refuses; `CONFLICT` for a key reused with a different request.
    pub async fn execute<C: Command>(
        &self,
        principal: &Principal,
        key: Option<&IdempotencyKey>,
        cmd: &C,
    ) -> DomainResult<C::Output> {
        let hash = match key {
            Some(_) => {
                let input =
                    serde_json::to_value(cmd).map_err(|e| DomainError::Internal(e.to_string()))?;
                Some(idempotency::request_hash(C::NAME, &input)?)
            }
            None => None,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .execute_once(principal, key.zip(hash.as_deref()), cmd)
                .await
            {
                Err(e) if e.is_transient() && attempt < MAX_ATTEMPTS => {
                    tracing::debug!(
                        command = C::NAME,
                        attempt,
                        "transient database failure, retrying"
                    );
                    tokio::time::sleep(BACKOFF_BASE * 2u32.pow(attempt.min(6))).await;
                }
                Err(DomainError::Invariant(msg)) => {
                    tracing::error!(command = C::NAME, %msg, "ledger invariant would break; rolled back");
                    return Err(DomainError::Invariant(msg));
                }
                other => return other,
            }
        }
    }

    async fn execute_once<C: Command>(
        &self,
        principal: &Principal,
        key: Option<(&IdempotencyKey, &str)>,
        cmd: &C,
    ) -> DomainResult<C::Output> {
        let _queued = if crate::db::is_sqlite(&self.db) {
            Some(self.sqlite_writers.lock().await)
        } else {
            None
        };
        let txn = begin_write(&self.db).await?;
        let pos = event::lock_head(&txn).await?;
        let now = self.clock.now().max(pos.last_at);
        let claimed = match key {
            Some((key, hash)) => {
                match idempotency::claim(&txn, principal, key, C::NAME, hash, now).await? {
                    Claim::Fresh(id) => Some(id),
                    Claim::Replay(response) => {
                        txn.rollback().await?;
                        return serde_json::from_str(&response).map_err(|e| {
                            DomainError::Internal(format!("stored idempotent result: {e}"))
                        });
                    }
                }
            }
            None => None,
        };
        let mut tx = Tx {
            db: &txn,
            now,
            principal,
            log_seq: pos.next_seq,
            escrow: self,
            events: Vec::new(),
        };
        let output = match cmd.run(&mut tx).await {
            Ok(o) => o,
            Err(e) => {
                txn.rollback().await?;
                return Err(e);
            }
        };
        let events = std::mem::take(&mut tx.events);
        if events.is_empty() {
            return Err(DomainError::Invariant(format!(
                "command {} wrote no event",
                C::NAME
            )));
        }
        let size = event::append(&txn, pos, now, events).await?;
        if let Some(id) = claimed {
            let response =
                serde_json::to_string(&output).map_err(|e| DomainError::Internal(e.to_string()))?;
            idempotency::complete(&txn, id, response).await?;
        }
        txn.commit().await?;
        self.log_size.send_if_modified(|s| {
            let grew = size > *s;
            *s = (*s).max(size);
            grew
        });
        Ok(output)
    }
}

/// Begins a write transaction: `BEGIN IMMEDIATE` on SQLite (take the write lock now rather
/// than fail to upgrade a read lock later), READ COMMITTED on PostgreSQL (the log-head lock
/// serialises writers; conditional updates re-check balances after any wait).
async fn begin_write(db: &DatabaseConnection) -> DomainResult<DatabaseTransaction> {
    let opts = if crate::db::is_sqlite(db) {
        TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        }
    } else {
        TransactionOptions {
            isolation_level: Some(IsolationLevel::ReadCommitted),
            access_mode: Some(AccessMode::ReadWrite),
            ..Default::default()
        }
    };
    Ok(db.begin_with_options(opts).await?)
}
