//! Closing-down mode (停业): a merchant stops trading in a scheme. Its enrollment becomes
//! `CLOSING_DOWN` — no release goes out, no order is opened or paid — a `CLOSING_DOWN` alert is
//! raised, and every open card balance of the merchant in the scheme is refunded by the
//! original route, all in one transaction (all or nothing).
//!
//! A transaction writes at most [`crate::event::MAX_EVENTS_PER_TRANSACTION`] events and each
//! refund writes two, so at most [`MAX_CARDS_PER_CLOSING_BATCH`] cards are refunded per
//! transaction: with more, the rest are refunded in further transactions of the same kind,
//! right away, by the scheduler (the `closing_down.refunds` event says `more: true`).
//!
//! A card that cannot be refunded yet — money still in clearing (paid today, settled T+1) or
//! frozen by a court — gets a refund request (with its deadline and overdue alert) and is
//! listed as deferred. Cards waiting for settlement are refunded by a follow-up run after it;
//! a frozen card's refund waits for the court and is executed by the bank.

use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{enrollment, escrow_order, milestone, payment, refund};

use crate::alert::{AlertKind, NewAlert, Severity};
use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{OrderId, PartyId, SchemeId};
use crate::ledger::get_account;
use crate::money::Money;
use crate::order::refund as refunds;
use crate::order_record::RefundStatus;
use crate::order_record::{MilestoneStatus, OrderStatus, PaymentStatus, get_order, milestones_of};
use crate::principal::Role;
use crate::scheduler::{self, JobKind};
use crate::scheme::{EnrollmentStatus, get_scheme};

/// Cards refunded (or closed) in one transaction. Each writes at most two events (a refund
/// request or a dropped deduction, and the refund): 600 with the batch's own few, well inside
/// the per-transaction limit.
pub const MAX_CARDS_PER_CLOSING_BATCH: usize = 300;

string_enum!(
    /// Why a card's refund waits.
    DeferralReason {
        /// Paid through a channel and not yet settled (T+1): refunded after settlement.
        NotYetSettled = "NOT_YET_SETTLED",
        /// Frozen by a court: refunded once the court lifts the freeze.
        Held = "HELD",
    }
);

/// A card whose refund waits, and its refund request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferredCard {
    pub order: OrderId,
    pub reason: DeferralReason,
    pub refund: i64,
}

/// What one closing-down batch did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosingDownOutcome {
    pub merchant: PartyId,
    pub scheme: SchemeId,
    /// Cards refunded in this transaction.
    pub refunded_cards: u32,
    /// What went back to cardholders in this transaction.
    pub refunded_total: Money,
    /// Orders closed with nothing paid on them.
    pub closed_unpaid: u32,
    pub deferred: Vec<DeferredCard>,
    /// More cards than one transaction holds: the rest follow in further transactions.
    pub more: bool,
}

/// The enrollment row of a merchant in a scheme.
async fn enrollment_row<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
    scheme: SchemeId,
) -> DomainResult<enrollment::Model> {
    enrollment::Entity::find()
        .filter(enrollment::Column::MerchantId.eq(merchant.0))
        .filter(enrollment::Column::SchemeId.eq(scheme.0))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("enrollment", format!("{merchant} in {scheme}")))
}

/// The state of a merchant's enrollment in a scheme.
///
/// # Errors
/// `NOT_FOUND` when the merchant is not enrolled.
pub async fn closing_down_status<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
    scheme: SchemeId,
) -> DomainResult<EnrollmentStatus> {
    enrollment_row(db, merchant, scheme).await?.status.parse()
}

/// Puts a merchant into closing-down mode in a scheme and refunds every open card balance (the
/// bank, or a regulator whose jurisdiction covers the merchant).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartClosingDown {
    pub merchant: PartyId,
    pub scheme: SchemeId,
    pub reason: String,
}

impl Command for StartClosingDown {
    type Output = ClosingDownOutcome;
    const NAME: &'static str = "startClosingDown";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<ClosingDownOutcome> {
        start(tx, self, MAX_CARDS_PER_CLOSING_BATCH).await
    }
}

/// Starts closing down, refunding at most `limit` cards in this transaction.
pub(super) async fn start(
    tx: &mut Tx<'_>,
    cmd: &StartClosingDown,
    limit: usize,
) -> DomainResult<ClosingDownOutcome> {
    tx.principal.require_role(&[Role::Bank, Role::Regulator])?;
    let m = crate::queries::merchant_visible(tx.db(), tx.principal, cmd.merchant).await?;
    let reason = crate::text::required("reason", &cmd.reason, 500)?;
    let reason = reason.as_str();
    let s = get_scheme(tx.db(), cmd.scheme).await?;
    let e = enrollment_row(tx.db(), m.id, s.id).await?;
    if e.status != EnrollmentStatus::Active.as_str() {
        return Err(DomainError::invalid_state(
            format!("merchant {} in scheme {}", m.name, s.code),
            e.status,
            "start closing down",
        ));
    }
    enrollment::ActiveModel {
        id: Set(e.id),
        status: Set(EnrollmentStatus::ClosingDown.as_str().to_owned()),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    tx.emit(
        NewEvent::new(
            "merchant.closing_down",
            json!({ "reason": reason, "by": tx.principal.role, "by_party": tx.principal.party_id }),
        )
        .merchant(m.id)
        .scheme(s.id),
    );
    let mut alert = NewAlert::new(
        AlertKind::ClosingDown,
        Severity::Critical,
        format!("{} is closing down in {}: {}", m.name, s.code, reason),
    )
    .about_merchant(&m)
    .details(json!({ "reason": reason }))
    .dedupe(format!("closing-down:{}", e.id));
    alert.scheme = Some(s.id);
    crate::alert::raise(tx, alert).await?;
    refund_batch(tx, m.id, s.id, e.id, limit).await
}

/// The scheduler's follow-up run (target: the enrollment id): refunds what the last batch left.
pub(crate) async fn continue_closing_down(tx: &mut Tx<'_>, enrollment_id: i64) -> DomainResult<()> {
    let e = enrollment::Entity::find_by_id(enrollment_id)
        .one(tx.db())
        .await?
        .ok_or_else(|| DomainError::not_found("enrollment", enrollment_id))?;
    if e.status != EnrollmentStatus::ClosingDown.as_str() {
        return Ok(());
    }
    refund_batch(
        tx,
        PartyId(e.merchant_id),
        SchemeId(e.scheme_id),
        e.id,
        MAX_CARDS_PER_CLOSING_BATCH,
    )
    .await?;
    Ok(())
}

/// Refunds (or closes) up to `limit` open orders of the merchant in the scheme, defers those
/// that cannot be refunded yet, and schedules what is left.
pub(crate) async fn refund_batch(
    tx: &mut Tx<'_>,
    merchant: PartyId,
    scheme: SchemeId,
    enrollment_id: i64,
    limit: usize,
) -> DomainResult<ClosingDownOutcome> {
    let open: Vec<i64> = escrow_order::Entity::find()
        .select_only()
        .column(escrow_order::Column::Id)
        .filter(escrow_order::Column::MerchantId.eq(merchant.0))
        .filter(escrow_order::Column::SchemeId.eq(scheme.0))
        .filter(escrow_order::Column::Status.is_in([
            OrderStatus::AwaitingPayment.as_str(),
            OrderStatus::Active.as_str(),
            OrderStatus::Inspection.as_str(),
            OrderStatus::Escalated.as_str(),
        ]))
        .order_by_asc(escrow_order::Column::Id)
        .into_tuple()
        .all(tx.db())
        .await?;
    let mut out = ClosingDownOutcome {
        merchant,
        scheme,
        refunded_cards: 0,
        refunded_total: Money::ZERO,
        closed_unpaid: 0,
        deferred: Vec::new(),
        more: false,
    };
    let mut refunded = Vec::new();
    let mut done = 0usize;
    let mut settle_by: Option<NaiveDate> = None;
    for id in open {
        if done == limit {
            out.more = true;
            break;
        }
        let o = get_order(tx.db(), OrderId(id)).await?;
        let remaining = o.outstanding()?;
        if remaining.is_zero() {
            // Opened, never paid: nothing to return, and it can no longer be paid.
            escrow_order::ActiveModel {
                id: Set(o.id.0),
                status: Set(OrderStatus::Refunded.as_str().to_owned()),
                closed_at_us: Set(Some(tx.now.0)),
                ..Default::default()
            }
            .update(tx.db())
            .await?;
            scheduler::cancel_expiry(tx, o.id).await?;
            for ms in milestones_of(tx.db(), o.id).await? {
                if matches!(
                    ms.status,
                    MilestoneStatus::Pending | MilestoneStatus::Confirmed
                ) {
                    milestone::ActiveModel {
                        id: Set(ms.id.0),
                        status: Set(MilestoneStatus::Cancelled.as_str().to_owned()),
                        ..Default::default()
                    }
                    .update(tx.db())
                    .await?;
                    scheduler::cancel(tx, &scheduler::milestone_key(ms.id)).await?;
                }
            }
            tx.emit(
                NewEvent::new(
                    "order.closed",
                    json!({ "reason": "merchant closing down", "collected": o.collected }),
                )
                .order(o.id)
                .merchant(o.merchant)
                .payer(o.payer)
                .scheme(o.scheme),
            );
            out.closed_unpaid += 1;
            done += 1;
            continue;
        }
        let open_refund = refund::Entity::find()
            .filter(refund::Column::OrderId.eq(o.id.0))
            .filter(refund::Column::Status.ne(RefundStatus::Executed.as_str()))
            .one(tx.db())
            .await?;
        let held = !get_account(tx.db(), o.escrow_account).await?.held.is_zero();
        let waiting = !o.in_clearing().is_zero();
        if waiting || held {
            let refund_id = match &open_refund {
                Some(r) => r.id,
                None => {
                    done += 1;
                    // It waits (for settlement or the court): the policy's deadline runs.
                    refunds::request(
                        tx,
                        &o,
                        "merchant closing down",
                        Money::ZERO,
                        "CLOSING_DOWN".into(),
                        refunds::Deadline::Policy,
                    )
                    .await?
                    .id
                }
            };
            if waiting {
                let date = latest_settle_date(tx, o.id).await?;
                settle_by = Some(settle_by.map_or(date, |d| d.max(date)));
            }
            out.deferred.push(DeferredCard {
                order: o.id,
                reason: if waiting {
                    DeferralReason::NotYetSettled
                } else {
                    DeferralReason::Held
                },
                refund: refund_id,
            });
            continue;
        }
        let refund_id = match open_refund {
            Some(r) if r.status == RefundStatus::AwaitingApproval.as_str() => {
                // Closing down: the cardholder gets the whole balance the policy refunds; the
                // merchant's proposed deduction is dropped.
                refund::ActiveModel {
                    id: Set(r.id),
                    status: Set(RefundStatus::Requested.as_str().to_owned()),
                    deduction_fen: Set(0),
                    deduction_approved: Set(false),
                    ..Default::default()
                }
                .update(tx.db())
                .await?;
                tx.emit(
                    NewEvent::new("refund.deduction_dropped", json!({ "refund_id": r.id, "deduction": Money::from_fen(r.deduction_fen)?, "reason": "merchant closing down" }))
                        .order(o.id)
                        .merchant(o.merchant)
                        .scheme(o.scheme),
                );
                r.id
            }
            Some(r) => r.id,
            None => {
                refunds::request(
                    tx,
                    &o,
                    "merchant closing down",
                    Money::ZERO,
                    "CLOSING_DOWN".into(),
                    refunds::Deadline::Immediate,
                )
                .await?
                .id
            }
        };
        let r = refunds::execute(tx, refund_id).await?;
        out.refunded_cards += 1;
        out.refunded_total = out.refunded_total.checked_add(r.amount)?;
        refunded.push(json!({ "order_id": o.id, "refund_id": r.id, "amount": r.amount }));
        done += 1;
    }
    tx.emit(
        NewEvent::new(
            "closing_down.refunds",
            json!({
                "refunded_cards": out.refunded_cards,
                "refunded_total": out.refunded_total,
                "closed_unpaid": out.closed_unpaid,
                "refunds": refunded,
                "deferred": out.deferred,
                "more": out.more,
                "batch_limit": limit,
            }),
        )
        .merchant(merchant)
        .scheme(scheme),
    );
    if out.more {
        scheduler::schedule(
            tx,
            JobKind::ClosingDownRefunds,
            enrollment_id,
            tx.now,
            format!("closing-down:{enrollment_id}:{}", tx.log_seq),
        )
        .await?;
    }
    if let Some(date) = settle_by {
        // An hour after the T+1 settlement of that day (settlement runs at its midnight); if
        // that has passed and the money still waits, an hour from now.
        let after_settlement = Timestamp::china_midnight(date).plus_seconds(3600);
        let (due, key) = if after_settlement > tx.now {
            (
                after_settlement,
                format!("closing-down:{enrollment_id}:settled:{date}"),
            )
        } else {
            (
                tx.now.plus_seconds(3600),
                format!("closing-down:{enrollment_id}:retry:{}", tx.log_seq),
            )
        };
        scheduler::schedule(tx, JobKind::ClosingDownRefunds, enrollment_id, due, key).await?;
    }
    Ok(out)
}

/// The last day any of an order's payments still in clearing settles.
async fn latest_settle_date(tx: &Tx<'_>, order: OrderId) -> DomainResult<NaiveDate> {
    let dates: Vec<String> = payment::Entity::find()
        .select_only()
        .column(payment::Column::SettleDate)
        .filter(payment::Column::OrderId.eq(order.0))
        .filter(payment::Column::Status.eq(PaymentStatus::Clearing.as_str()))
        .into_tuple()
        .all(tx.db())
        .await?;
    dates
        .iter()
        .filter_map(|d| d.parse::<NaiveDate>().ok())
        .max()
        .ok_or_else(|| {
            DomainError::Invariant(format!("order {order} in clearing without a payment"))
        })
}
