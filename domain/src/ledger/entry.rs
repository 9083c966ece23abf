//! Journal entries: the only way money moves.

use std::collections::BTreeMap;

use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use lvyue_entity::{account, journal_entry, posting};

use super::account::{AccountKind, AccountStatus, get_account};
use super::{Clearance, Outflow};
use crate::command::Tx;
use crate::enums::string_enum;
use crate::error::DomainError;
use crate::ids::{AccountId, EntryId, OrderId};
use crate::money::{MAX_FEN, Money};

/// Largest absolute balance an account may reach (10^18 fen). Far above any real balance,
/// and with each net change below 10^18 the SQL sum `balance + Δ` cannot overflow an i64.
pub const MAX_BALANCE_FEN: i64 = 1_000_000_000_000_000_000;

/// Most postings in one entry. With each leg ≤ `MAX_FEN` (10^15), the net change of one
/// account within an entry stays below 10^18 < i64::MAX, so no sum can overflow.
pub const MAX_LEGS_PER_ENTRY: usize = 1_000;

string_enum!(
    /// Why money moved.
    EntryKind {
        Collect = "COLLECT",
        Settle = "SETTLE",
        Release = "RELEASE",
        Refund = "REFUND",
        Payout = "PAYOUT",
        Deduct = "DEDUCT",
        Split = "SPLIT",
        Advance = "ADVANCE",
        Repay = "REPAY",
        Transfer = "TRANSFER",
        Subsidy = "SUBSIDY",
        Fee = "FEE",
        Deposit = "DEPOSIT",
        Adjustment = "ADJUSTMENT",
    }
);

/// One posting: a signed amount in fen on one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    pub account: AccountId,
    pub amount_fen: i64,
}

/// The two legs that move `amount` from one account to another.
pub fn transfer(from: AccountId, to: AccountId, amount: Money) -> [Leg; 2] {
    [
        Leg {
            account: from,
            amount_fen: -amount.fen(),
        },
        Leg {
            account: to,
            amount_fen: amount.fen(),
        },
    ]
}

/// A journal entry as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    pub id: EntryId,
    pub log_seq: u64,
    pub kind: EntryKind,
    pub order: Option<OrderId>,
    pub memo: String,
    pub legs: Vec<Leg>,
}

/// Posts an entry that takes nothing from a supervised account (money coming in, settling
/// from clearing, moving between the bank's own accounts): checks that its legs sum to zero,
/// then applies them account by account in ascending id order, each balance check inside its
/// own conditional update.
///
/// # Errors
/// `VALIDATION` for an unbalanced or malformed entry; `NOT_FOUND` for an unknown account;
/// `INVALID_STATE` for a closed account; `INSUFFICIENT_FUNDS` when a debit would take an
/// account below its holds (or below zero); `INTERNAL` (an invariant) when the entry would
/// take money from a supervised account: that is an outflow, posted only with the gate's
/// clearance ([`post_cleared`]).
pub async fn post(
    tx: &Tx<'_>,
    kind: EntryKind,
    order: Option<OrderId>,
    memo: &str,
    legs: &[Leg],
) -> Result<EntryRecord, DomainError> {
    post_entry(tx, kind, order, memo, legs, None).await
}

/// Posts an outflow the gate cleared ([`crate::gate`]): as [`post`], and every supervised
/// account the entry takes money from must be covered by the clearance, for at most what it
/// allows. The entry belongs to the clearance's order.
///
/// # Errors
/// As [`post`]; `INTERNAL` (an invariant) when the entry's kind is not one the outflow posts,
/// or it takes from a supervised account more than the clearance allows.
pub async fn post_cleared(
    tx: &Tx<'_>,
    clearance: Clearance,
    kind: EntryKind,
    memo: &str,
    legs: &[Leg],
) -> Result<EntryRecord, DomainError> {
    if !posts_as(clearance.outflow()).contains(&kind) {
        return Err(DomainError::Invariant(format!(
            "a {} outflow does not post {kind} entries",
            clearance.outflow()
        )));
    }
    post_entry(tx, kind, clearance.order(), memo, legs, Some(&clearance)).await
}

/// Longest memo an entry keeps: a longer one is refused, never cut.
pub const MAX_MEMO_CHARS: usize = 500;

/// The entry kinds each outflow posts.
pub fn posts_as(outflow: Outflow) -> &'static [EntryKind] {
    match outflow {
        Outflow::Release | Outflow::Usage => &[EntryKind::Release],
        Outflow::Refund | Outflow::MedicalRefund => &[EntryKind::Refund],
        Outflow::Payout | Outflow::BatchPayout | Outflow::PurchasePayment => &[EntryKind::Payout],
        Outflow::DepositWithdrawal | Outflow::DepositConversion => &[EntryKind::Deposit],
        Outflow::VoucherTransfer | Outflow::VoucherRedemption => &[EntryKind::Transfer],
        Outflow::VoucherExpiry => &[EntryKind::Transfer, EntryKind::Payout],
        Outflow::CourtDeduction => &[EntryKind::Deduct],
        Outflow::Adjustment => &[EntryKind::Adjustment],
    }
}

async fn post_entry(
    tx: &Tx<'_>,
    kind: EntryKind,
    order: Option<OrderId>,
    memo: &str,
    legs: &[Leg],
    clearance: Option<&Clearance>,
) -> Result<EntryRecord, DomainError> {
    validate(legs)?;
    crate::text::at_most("memo", memo, MAX_MEMO_CHARS)?;
    let mut net: BTreeMap<AccountId, i64> = BTreeMap::new();
    for leg in legs {
        *net.entry(leg.account).or_default() += leg.amount_fen;
    }
    let entry = journal_entry::ActiveModel {
        log_seq: Set(crate::event::to_i64(tx.log_seq)?),
        kind: Set(kind.as_str().to_owned()),
        order_id: Set(order.map(|o| o.0)),
        memo: Set(memo.to_owned()),
        created_at_us: Set(tx.now.0),
        ..Default::default()
    }
    .insert(tx.db())
    .await?;

    // Ascending id order (BTreeMap) is the fixed lock order that keeps writers from deadlocking.
    let mut after: BTreeMap<AccountId, i64> = BTreeMap::new();
    for (&account_id, &delta) in &net {
        let (balance, account_kind) = apply(tx, account_id, delta).await?;
        if delta < 0 && account_kind.is_supervised() {
            let allowed = clearance.map_or(0, |c| c.allowance(account_id));
            if -delta > allowed {
                // Only a bug can get here: every outflow path asks the gate first.
                return Err(DomainError::Invariant(format!(
                    "{kind} entry takes {} fen from {account_kind} account {account_id}, {}",
                    -delta,
                    match clearance {
                        None => "which only a cleared outflow may do".to_owned(),
                        Some(c) => format!(
                            "more than its {} clearance allows ({allowed} fen)",
                            c.outflow()
                        ),
                    }
                )));
            }
        }
        // Balance before this entry; the postings below replay the legs from it.
        after.insert(account_id, balance - delta);
    }
    let mut rows = Vec::with_capacity(legs.len());
    for leg in legs {
        let running = after
            .get_mut(&leg.account)
            .ok_or_else(|| DomainError::Invariant("leg without account".into()))?;
        *running += leg.amount_fen;
        rows.push(posting::ActiveModel {
            entry_id: Set(entry.id),
            account_id: Set(leg.account.0),
            amount_fen: Set(leg.amount_fen),
            balance_after_fen: Set(*running),
            created_at_us: Set(tx.now.0),
            ..Default::default()
        });
    }
    posting::Entity::insert_many(rows).exec(tx.db()).await?;
    Ok(EntryRecord {
        id: EntryId(entry.id),
        log_seq: tx.log_seq,
        kind,
        order,
        memo: entry.memo,
        legs: legs.to_vec(),
    })
}

fn validate(legs: &[Leg]) -> Result<(), DomainError> {
    if legs.len() < 2 {
        return Err(DomainError::invalid(
            "postings",
            "an entry needs at least two postings",
        ));
    }
    if legs.len() > MAX_LEGS_PER_ENTRY {
        return Err(DomainError::LimitExceeded(format!(
            "an entry has at most {MAX_LEGS_PER_ENTRY} postings"
        )));
    }
    let mut sum: i64 = 0;
    for leg in legs {
        if leg.amount_fen == 0 || leg.amount_fen.unsigned_abs() > MAX_FEN as u64 {
            return Err(DomainError::invalid(
                "postings",
                "every posting must be non-zero and within range",
            ));
        }
        sum += leg.amount_fen; // |sum| ≤ 1000 × 10^15 < i64::MAX
    }
    if sum != 0 {
        return Err(DomainError::invalid(
            "postings",
            format!("postings sum to {sum} fen, not zero"),
        ));
    }
    Ok(())
}

/// Adds `delta` to one account's balance, refusing — inside the same UPDATE — to take an
/// account that may not go negative below its holds. Returns the new balance and the account's
/// kind.
async fn apply(tx: &Tx<'_>, id: AccountId, delta: i64) -> Result<(i64, AccountKind), DomainError> {
    let balance = Expr::col(account::Column::BalanceFen);
    let updated = account::Entity::update_many()
        .col_expr(account::Column::BalanceFen, balance.clone().add(delta))
        .filter(account::Column::Id.eq(id.0))
        .filter(account::Column::Status.eq(AccountStatus::Open.as_str()))
        .filter(
            Expr::col(account::Column::AllowNegative)
                .eq(true)
                .or(balance
                    .clone()
                    .add(delta)
                    .gte(Expr::col(account::Column::HeldFen))),
        )
        .filter(balance.clone().add(delta).lte(MAX_BALANCE_FEN))
        .filter(balance.add(delta).gte(-MAX_BALANCE_FEN))
        .exec_with_returning(tx.db())
        .await?;
    if let Some(row) = updated.first() {
        let kind: AccountKind = row.kind.parse().map_err(|_| {
            DomainError::Invariant(format!("account {id} has an unknown kind {:?}", row.kind))
        })?;
        // Money arriving where court freezes wait is frozen before anything can take it.
        if delta > 0 && row.waiting_fen > 0 {
            super::hold::top_up(tx, id).await?;
        }
        return Ok((row.balance_fen, kind));
    }
    // Refused: say why, from the row as it is now (still inside our transaction).
    let acc = get_account(tx.db(), id).await?;
    if acc.status != AccountStatus::Open {
        return Err(DomainError::invalid_state(
            format!("account {id}"),
            acc.status.as_str(),
            "take postings",
        ));
    }
    if delta > 0 || acc.kind.allows_negative() {
        return Err(DomainError::LimitExceeded(format!(
            "account {id} would exceed the largest balance Lvyue holds"
        )));
    }
    let available = Money::from_fen(acc.available_fen().clamp(0, MAX_FEN))?;
    Err(DomainError::InsufficientFunds {
        account: acc.number,
        available,
        requested: Money::from_fen(Ord::min(-delta, MAX_FEN))?,
    })
}
