//! Balances now and as of any past entry or time, derived from postings.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use lvyue_entity::{account, posting};

use super::account::get_account;
use crate::clock::Timestamp;
use crate::error::DomainError;
use crate::ids::{AccountId, EntryId};

/// An account's balance: what it holds, what is held, what is available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub balance_fen: i64,
    pub held_fen: i64,
}

impl Balance {
    pub fn available_fen(self) -> i64 {
        self.balance_fen - self.held_fen
    }
}

/// The current balance of an account.
///
/// # Errors
/// `NOT_FOUND`.
pub async fn balance<C: ConnectionTrait>(db: &C, id: AccountId) -> Result<Balance, DomainError> {
    let a = get_account(db, id).await?;
    Ok(Balance {
        balance_fen: a.balance_fen,
        held_fen: a.held.fen(),
    })
}

/// Account ids bound per query: far below SQLite's (32,766) and PostgreSQL's (65,535) limits
/// on bind parameters, which the audit of 100k orders once ran into.
const IDS_PER_QUERY: usize = 1_000;

/// Current balances of many accounts, a query per thousand.
///
/// # Errors
/// Database errors.
pub async fn balances_of<C: ConnectionTrait>(
    db: &C,
    ids: &[AccountId],
) -> Result<HashMap<AccountId, Balance>, DomainError> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let rows = account::Entity::find()
            .filter(account::Column::Id.is_in(chunk.iter().map(|i| i.0)))
            .all(db)
            .await?;
        out.extend(rows.into_iter().map(|a| {
            (
                AccountId(a.id),
                Balance {
                    balance_fen: a.balance_fen,
                    held_fen: a.held_fen,
                },
            )
        }));
    }
    Ok(out)
}

/// The balance of an account right after journal entry `entry` was committed (entries are
/// numbered in commit order, because writers are serialised by the log head).
///
/// # Errors
/// Database errors.
pub async fn balance_after_entry<C: ConnectionTrait>(
    db: &C,
    id: AccountId,
    entry: EntryId,
) -> Result<i64, DomainError> {
    let last = posting::Entity::find()
        .filter(posting::Column::AccountId.eq(id.0))
        .filter(posting::Column::EntryId.lte(entry.0))
        .order_by_desc(posting::Column::Id)
        .limit(1)
        .one(db)
        .await?;
    Ok(last.map(|p| p.balance_after_fen).unwrap_or(0))
}

/// The balance of an account at the end of instant `at` (postings at or before it).
///
/// # Errors
/// Database errors.
pub async fn balance_at_time<C: ConnectionTrait>(
    db: &C,
    id: AccountId,
    at: Timestamp,
) -> Result<i64, DomainError> {
    let last = posting::Entity::find()
        .filter(posting::Column::AccountId.eq(id.0))
        .filter(posting::Column::CreatedAtUs.lte(at.0))
        .order_by_desc(posting::Column::Id)
        .limit(1)
        .one(db)
        .await?;
    Ok(last.map(|p| p.balance_after_fen).unwrap_or(0))
}
