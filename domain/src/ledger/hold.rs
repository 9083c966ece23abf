//! Holds: money that stays where it is but is not available (court freezes, subscription
//! deposits, loss-reported vouchers). Placing a hold checks the available balance inside the
//! update that raises the account's `held`; releasing or consuming one is explicit.

use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};

use lvyue_entity::{account, hold};

use super::account::{AccountRecord, get_account};
use crate::clock::Timestamp;
use crate::command::Tx;
use crate::enums::string_enum;
use crate::error::DomainError;
use crate::ids::{AccountId, HoldId, OrderId, PartyId};
use crate::money::{MAX_FEN, Money};

string_enum!(
    /// Why money is held.
    HoldKind {
        CourtFreeze = "COURT_FREEZE",
        DepositFreeze = "DEPOSIT_FREEZE",
        LossFreeze = "LOSS_FREEZE",
        RiskFreeze = "RISK_FREEZE",
    }
);

string_enum!(
    /// A hold's life: active until released, expired or fully consumed (deducted).
    HoldStatus { Active = "ACTIVE", Released = "RELEASED", Expired = "EXPIRED", Consumed = "CONSUMED" }
);

/// Longest reason a hold keeps: a longer one is refused, never cut.
pub const MAX_REASON_CHARS: usize = 500;

/// A hold to place.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewHold {
    pub account: AccountId,
    pub kind: HoldKind,
    pub amount: Money,
    pub case_no: Option<String>,
    pub court: Option<PartyId>,
    /// Higher first when holds compete (a later court's freeze ranks after an earlier one's).
    pub priority: i32,
    pub order: Option<OrderId>,
    pub reason: String,
    pub expires_at: Option<Timestamp>,
}

/// A hold as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRecord {
    pub id: HoldId,
    pub account: AccountId,
    pub kind: HoldKind,
    pub amount: Money,
    /// Frozen now (what a deduction may take).
    pub remaining: Money,
    /// Ordered but not frozen yet: queued behind earlier freezes, or for money to arrive.
    pub waiting: Money,
    pub status: HoldStatus,
    pub case_no: Option<String>,
    pub court: Option<PartyId>,
    pub priority: i32,
    pub order: Option<OrderId>,
    pub reason: String,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl TryFrom<hold::Model> for HoldRecord {
    type Error = DomainError;
    fn try_from(m: hold::Model) -> Result<HoldRecord, DomainError> {
        Ok(HoldRecord {
            id: HoldId(m.id),
            account: AccountId(m.account_id),
            kind: m.kind.parse()?,
            amount: Money::from_fen(m.amount_fen)?,
            remaining: Money::from_fen(m.remaining_fen)?,
            waiting: Money::from_fen(m.waiting_fen)?,
            status: m.status.parse()?,
            case_no: m.case_no,
            court: m.court_id.map(PartyId),
            priority: m.priority,
            order: m.order_id.map(OrderId),
            reason: m.reason,
            expires_at: m.expires_at_us.map(Timestamp),
            created_at: Timestamp(m.created_at_us),
        })
    }
}

/// Places a hold of `amount` on an account, refused when the available balance
/// (balance − existing holds) is smaller.
///
/// # Errors
/// `VALIDATION` for a zero amount or a hold on an account that may go negative;
/// `INSUFFICIENT_FUNDS` when not enough is available; `NOT_FOUND`.
pub async fn place_hold(tx: &Tx<'_>, new: NewHold) -> Result<HoldRecord, DomainError> {
    let (amount, _) = checked(tx, &new).await?;
    let held = Expr::col(account::Column::HeldFen);
    let updated = account::Entity::update_many()
        .col_expr(account::Column::HeldFen, held.clone().add(amount.fen()))
        .filter(account::Column::Id.eq(new.account.0))
        .filter(
            Expr::col(account::Column::BalanceFen)
                .sub(held)
                .gte(amount.fen()),
        )
        .exec(tx.db())
        .await?;
    if updated.rows_affected == 0 {
        let acc = get_account(tx.db(), new.account).await?;
        let available = Money::from_fen(acc.available_fen().clamp(0, MAX_FEN))?;
        return Err(DomainError::InsufficientFunds {
            account: acc.number,
            available,
            requested: amount,
        });
    }
    insert(tx, new, amount, Money::ZERO).await
}

/// The amount of a hold to place, and its account: refused for a zero amount, a reason too
/// long, or an account that may go negative.
async fn checked(tx: &Tx<'_>, new: &NewHold) -> Result<(Money, AccountRecord), DomainError> {
    let amount = new.amount.positive()?;
    crate::text::at_most("reason", &new.reason, MAX_REASON_CHARS)?;
    let acc = get_account(tx.db(), new.account).await?;
    if acc.kind.allows_negative() {
        return Err(DomainError::invalid(
            "account",
            "cannot hold money on an account that may go negative",
        ));
    }
    Ok((amount, acc))
}

/// Writes a new active hold of `amount`, `waiting` of it not frozen yet (the account's cached
/// sums are the caller's).
async fn insert(
    tx: &Tx<'_>,
    new: NewHold,
    amount: Money,
    waiting: Money,
) -> Result<HoldRecord, DomainError> {
    let model = hold::ActiveModel {
        account_id: Set(new.account.0),
        kind: Set(new.kind.as_str().to_owned()),
        amount_fen: Set(amount.fen()),
        remaining_fen: Set(amount.checked_sub(waiting)?.fen()),
        waiting_fen: Set(waiting.fen()),
        status: Set(HoldStatus::Active.as_str().to_owned()),
        case_no: Set(new.case_no),
        court_id: Set(new.court.map(|c| c.0)),
        priority: Set(new.priority),
        order_id: Set(new.order.map(|o| o.0)),
        reason: Set(new.reason),
        expires_at_us: Set(new.expires_at.map(|t| t.0)),
        created_at_us: Set(tx.now.0),
        ..Default::default()
    }
    .insert(tx.db())
    .await?;
    HoldRecord::try_from(model)
}

/// Places a court freeze that may exceed what the account has available (轮候冻结): what is
/// available is frozen now, the rest waits and is frozen, in order of rank (priority, then
/// age), as money arrives ([`top_up`]).
///
/// # Errors
/// As [`place_hold`], but never `INSUFFICIENT_FUNDS`.
pub async fn place_queued_hold(tx: &Tx<'_>, new: NewHold) -> Result<HoldRecord, DomainError> {
    let (amount, acc) = checked(tx, &new).await?;
    // Earlier freezes still waiting come first: nothing is frozen now past them.
    let free = if acc.waiting.is_zero() {
        acc.available_fen().clamp(0, amount.fen())
    } else {
        0
    };
    let now = Money::from_fen(free)?;
    let waiting = amount.checked_sub(now)?;
    // Every write transaction holds the log head's lock, so the row read above is current.
    account::Entity::update_many()
        .col_expr(
            account::Column::HeldFen,
            Expr::col(account::Column::HeldFen).add(now.fen()),
        )
        .col_expr(
            account::Column::WaitingFen,
            Expr::col(account::Column::WaitingFen).add(waiting.fen()),
        )
        .filter(account::Column::Id.eq(new.account.0))
        .exec(tx.db())
        .await?;
    insert(tx, new, amount, waiting).await
}

/// Money arrived in an account with queued freezes: freezes what is now available, for the
/// waiting holds in rank order (higher priority first, then older first). Called by the ledger
/// after every credit to such an account, in the same transaction, so the money is frozen
/// before anything else can take it.
///
/// # Errors
/// Database errors.
pub(super) async fn top_up(tx: &Tx<'_>, account_id: AccountId) -> Result<(), DomainError> {
    let acc = get_account(tx.db(), account_id).await?;
    let mut free = Ord::max(acc.available_fen(), 0);
    if free == 0 || acc.waiting.is_zero() {
        return Ok(());
    }
    let mut frozen = 0;
    for h in active_holds(tx.db(), account_id).await? {
        if free == 0 {
            break;
        }
        let take = Ord::min(h.waiting.fen(), free);
        if take == 0 {
            continue;
        }
        hold::Entity::update_many()
            .col_expr(
                hold::Column::RemainingFen,
                Expr::value(h.remaining.fen() + take),
            )
            .col_expr(
                hold::Column::WaitingFen,
                Expr::value(h.waiting.fen() - take),
            )
            .filter(hold::Column::Id.eq(h.id.0))
            .exec(tx.db())
            .await?;
        free -= take;
        frozen += take;
    }
    account::Entity::update_many()
        .col_expr(
            account::Column::HeldFen,
            Expr::col(account::Column::HeldFen).add(frozen),
        )
        .col_expr(
            account::Column::WaitingFen,
            Expr::col(account::Column::WaitingFen).sub(frozen),
        )
        .filter(account::Column::Id.eq(account_id.0))
        .exec(tx.db())
        .await?;
    Ok(())
}

/// The active holds on an account in rank order — higher priority first, then older first —
/// the order in which queued freezes are filled and deductions paid.
///
/// # Errors
/// Database errors.
pub async fn active_holds<C: ConnectionTrait>(
    db: &C,
    account: AccountId,
) -> Result<Vec<HoldRecord>, DomainError> {
    in_rank_order(
        db,
        hold::Entity::find()
            .filter(hold::Column::AccountId.eq(account.0))
            .filter(hold::Column::Status.eq(HoldStatus::Active.as_str())),
    )
    .await
}

/// Every hold on an order's escrow, active or not, in rank order (as [`active_holds`]).
///
/// # Errors
/// Database errors.
pub async fn holds_of_order<C: ConnectionTrait>(
    db: &C,
    order: OrderId,
) -> Result<Vec<HoldRecord>, DomainError> {
    in_rank_order(
        db,
        hold::Entity::find().filter(hold::Column::OrderId.eq(order.0)),
    )
    .await
}

/// The holds `query` selects, higher priority first, then older first.
async fn in_rank_order<C: ConnectionTrait>(
    db: &C,
    query: sea_orm::Select<hold::Entity>,
) -> Result<Vec<HoldRecord>, DomainError> {
    query
        .order_by_desc(hold::Column::Priority)
        .order_by_asc(hold::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(HoldRecord::try_from)
        .collect()
}

/// # Errors
/// `NOT_FOUND` when there is no such hold.
pub async fn get_hold<C: ConnectionTrait>(db: &C, id: HoldId) -> Result<HoldRecord, DomainError> {
    hold::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("hold", id))?
        .try_into()
}

/// Releases what remains of an active hold (`status` says why: released or expired).
///
/// # Errors
/// `INVALID_STATE` when the hold is no longer active.
pub async fn release_hold(
    tx: &Tx<'_>,
    id: HoldId,
    status: HoldStatus,
) -> Result<HoldRecord, DomainError> {
    let h = reduce(tx, id, None, status).await?;
    // What it held is available again: freezes queued on the account take it first.
    top_up(tx, h.account).await?;
    Ok(h)
}

/// Consumes `amount` of an active hold so that the held money can be moved (a court
/// deduction): lowers the hold and the account's `held` by `amount`, in the caller's
/// transaction, before the caller posts the transfer.
///
/// # Errors
/// `INVALID_STATE` when the hold is not active; `VALIDATION` when `amount` exceeds what remains.
pub async fn consume_hold(
    tx: &Tx<'_>,
    id: HoldId,
    amount: Money,
) -> Result<HoldRecord, DomainError> {
    reduce(tx, id, Some(amount.positive()?), HoldStatus::Consumed).await
}

async fn reduce(
    tx: &Tx<'_>,
    id: HoldId,
    amount: Option<Money>,
    final_status: HoldStatus,
) -> Result<HoldRecord, DomainError> {
    let h = get_hold(tx.db(), id).await?;
    if h.status != HoldStatus::Active {
        return Err(DomainError::invalid_state(
            format!("hold {id}"),
            h.status.as_str(),
            "release or deduct",
        ));
    }
    let take = amount.unwrap_or(h.remaining);
    if take > h.remaining {
        return Err(DomainError::invalid(
            "amount",
            format!("only {} remains held", h.remaining),
        ));
    }
    let remaining = h.remaining.checked_sub(take)?;
    // Releasing (unfreeze, expiry) also drops what was still queued; a deduction leaves it
    // queued, and the hold open while it is.
    let dropped = if amount.is_none() {
        h.waiting
    } else {
        Money::ZERO
    };
    let waiting = h.waiting.checked_sub(dropped)?;
    let closed = remaining.is_zero() && waiting.is_zero();
    // Conditional on the remaining amount we read, so a concurrent change cannot be lost.
    let updated = hold::Entity::update_many()
        .col_expr(hold::Column::RemainingFen, Expr::value(remaining.fen()))
        .col_expr(hold::Column::WaitingFen, Expr::value(waiting.fen()))
        .col_expr(
            hold::Column::Status,
            Expr::value(if closed {
                final_status.as_str()
            } else {
                HoldStatus::Active.as_str()
            }),
        )
        .col_expr(
            hold::Column::ClosedAtUs,
            Expr::value(if closed { Some(tx.now.0) } else { None }),
        )
        .filter(hold::Column::Id.eq(id.0))
        .filter(hold::Column::RemainingFen.eq(h.remaining.fen()))
        .filter(hold::Column::Status.eq(HoldStatus::Active.as_str()))
        .exec(tx.db())
        .await?;
    if updated.rows_affected != 1 {
        return Err(DomainError::invalid_state(
            format!("hold {id}"),
            "CHANGED",
            "release or deduct",
        ));
    }
    if !take.is_zero() || !dropped.is_zero() {
        let held = Expr::col(account::Column::HeldFen);
        let acc = account::Entity::update_many()
            .col_expr(account::Column::HeldFen, held.clone().sub(take.fen()))
            .col_expr(
                account::Column::WaitingFen,
                Expr::col(account::Column::WaitingFen).sub(dropped.fen()),
            )
            .filter(account::Column::Id.eq(h.account.0))
            .filter(held.gte(take.fen()))
            .exec(tx.db())
            .await?;
        if acc.rows_affected != 1 {
            return Err(DomainError::Invariant(format!(
                "account {} holds less than hold {id}",
                h.account
            )));
        }
    }
    get_hold(tx.db(), id).await
}
