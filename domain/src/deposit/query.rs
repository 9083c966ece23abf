//! Reads of supervised deposits, scoped to who asks: the bank everything; a regulator the
//! deposits of its regions and industries (the agriculture department sees its markets'
//! 保证金); a depositor its own; a beneficiary the freezes that name it.

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use lvyue_entity::{deposit_account, deposit_freeze, deposit_inflow};

use super::{DepositAccountRecord, DepositFreezeRecord, FreezeStatus, account_record};
use crate::error::{DomainError, DomainResult};
use crate::ids::{AccountId, HoldId, PartyId, SchemeId};
use crate::ledger::balances_of;
use crate::money::Money;
use crate::page::{Page, Paged};
use crate::principal::Principal;
use crate::queries::{deposit_account_scope, deposit_freeze_scope};

/// What a depositor paid in from sources other than their bound cards on a China calendar
/// day, across all their deposit accounts.
///
/// # Errors
/// Database errors.
pub async fn unbound_inflow_on<C: ConnectionTrait>(
    db: &C,
    owner: PartyId,
    day: NaiveDate,
) -> DomainResult<Money> {
    let amounts: Vec<i64> = deposit_inflow::Entity::find()
        .select_only()
        .column(deposit_inflow::Column::AmountFen)
        .filter(deposit_inflow::Column::OwnerId.eq(owner.0))
        .filter(deposit_inflow::Column::Day.eq(day.to_string()))
        .filter(deposit_inflow::Column::Bound.eq(false))
        .into_tuple()
        .all(db)
        .await?;
    Ok(Money::sum(
        amounts
            .into_iter()
            .map(Money::from_fen)
            .collect::<Result<Vec<_>, _>>()?,
    )?)
}

async fn with_balances<C: ConnectionTrait>(
    db: &C,
    rows: Vec<deposit_account::Model>,
) -> DomainResult<Vec<DepositAccountRecord>> {
    let ids: Vec<AccountId> = rows.iter().map(|r| AccountId(r.account_id)).collect();
    let balances = balances_of(db, &ids).await?;
    rows.into_iter()
        .map(|r| {
            let b = balances
                .get(&AccountId(r.account_id))
                .copied()
                .ok_or_else(|| {
                    DomainError::Invariant(format!("deposit account {} is gone", r.account_id))
                })?;
            account_record(r, b.balance_fen, b.held_fen)
        })
        .collect()
}

/// Deposit accounts in scope, newest first (keyset on the account id).
///
/// # Errors
/// Database errors.
pub async fn deposit_accounts<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    scheme: Option<SchemeId>,
    page: Page,
) -> DomainResult<Paged<DepositAccountRecord>> {
    let mut q = deposit_account::Entity::find().filter(deposit_account_scope(p));
    if let Some(s) = scheme {
        q = q.filter(deposit_account::Column::SchemeId.eq(s.0));
    }
    if let Some(a) = page.after {
        q = q.filter(deposit_account::Column::AccountId.lt(a));
    }
    let mut rows = q
        .order_by_desc(deposit_account::Column::AccountId)
        .limit(page.first + 1)
        .all(db)
        .await?;
    let has_next = rows.len() as u64 > page.first;
    rows.truncate(page.first as usize);
    Ok(Paged {
        items: with_balances(db, rows).await?,
        has_next,
    })
}

/// # Errors
/// `NOT_FOUND` when it does not exist or is out of scope.
pub async fn deposit_account_visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    account: AccountId,
) -> DomainResult<DepositAccountRecord> {
    let row = deposit_account::Entity::find()
        .filter(deposit_account::Column::AccountId.eq(account.0))
        .filter(deposit_account_scope(p))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("deposit account", account))?;
    with_balances(db, vec![row])
        .await?
        .pop()
        .ok_or_else(|| DomainError::not_found("deposit account", account))
}

/// Filters of the freeze list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositFreezeFilter {
    pub scheme: Option<SchemeId>,
    pub account: Option<AccountId>,
    pub beneficiary: Option<PartyId>,
    pub status: Option<FreezeStatus>,
}

/// Freezes in scope, newest first (keyset on the hold id).
///
/// # Errors
/// Database errors.
pub async fn deposit_freezes<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    f: &DepositFreezeFilter,
    page: Page,
) -> DomainResult<Paged<DepositFreezeRecord>> {
    let mut q = deposit_freeze::Entity::find().filter(deposit_freeze_scope(p));
    if let Some(s) = f.scheme {
        q = q.filter(deposit_freeze::Column::SchemeId.eq(s.0));
    }
    if let Some(a) = f.account {
        q = q.filter(deposit_freeze::Column::AccountId.eq(a.0));
    }
    if let Some(b) = f.beneficiary {
        q = q.filter(deposit_freeze::Column::BeneficiaryId.eq(b.0));
    }
    if let Some(s) = f.status {
        q = q.filter(deposit_freeze::Column::Status.eq(s.as_str()));
    }
    if let Some(a) = page.after {
        q = q.filter(deposit_freeze::Column::HoldId.lt(a));
    }
    let mut rows = q
        .order_by_desc(deposit_freeze::Column::HoldId)
        .limit(page.first + 1)
        .all(db)
        .await?;
    let has_next = rows.len() as u64 > page.first;
    rows.truncate(page.first as usize);
    Ok(Paged {
        items: rows
            .into_iter()
            .map(DepositFreezeRecord::try_from)
            .collect::<DomainResult<Vec<_>>>()?,
        has_next,
    })
}

/// # Errors
/// `NOT_FOUND` when it does not exist or is out of scope.
pub async fn deposit_freeze_visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    hold: HoldId,
) -> DomainResult<DepositFreezeRecord> {
    deposit_freeze::Entity::find()
        .filter(deposit_freeze::Column::HoldId.eq(hold.0))
        .filter(deposit_freeze_scope(p))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("deposit freeze", hold))?
        .try_into()
}
