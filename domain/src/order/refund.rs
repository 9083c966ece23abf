//! Refunds (退款): the unreleased money goes back to the payer by the original route (原路退回),
//! less the deductions the policy allows (and, where it says so, the regulator approved), within
//! the policy's deadline in working days.
//!
//! The refundable part of the remainder may depend on how many stages were released
//! (`refundable_bp_by_stage`); what is not refundable, and any approved deduction, goes to the
//! merchant. Money still in clearing (not yet settled T+1) is refunded after settlement.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{escrow_order, milestone, payment, refund};

use super::{
    MilestoneStatus, OrderRecord, OrderStatus, PaymentRecord, get_order, milestones_of, payments_of,
};
use crate::alert::{AlertKind, NewAlert, Severity};
use crate::calendar::Calendar;
use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::gate::{self, Outflow};
use crate::ids::{EntryId, OrderId};
use crate::ledger::{EntryKind, Leg, post_cleared, system};
use crate::money::Money;
use crate::order_record::{RefundStatus, end_of_day};
use crate::principal::Role;
use crate::scheduler::{self, JobKind};
use crate::scheme::{enrollment_of, policy_at};

/// A refund as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRecord {
    pub id: i64,
    pub order: OrderId,
    pub requested_by: String,
    pub reason: String,
    pub status: RefundStatus,
    pub deduction: Money,
    pub deduction_approved: bool,
    /// What went back to the payer (known once executed).
    pub amount: Money,
    pub requested_at: Timestamp,
    pub due_at: Timestamp,
    /// The deadline was counted through a year whose holiday calendar is not loaded yet.
    pub due_provisional: bool,
    pub executed_at: Option<Timestamp>,
    pub entry: Option<EntryId>,
    /// A partial refund's amount (the order stays open); `None`: all the unreleased money.
    pub requested: Option<Money>,
}

impl RefundRecord {
    /// Executed late, or still open past its deadline at `now`.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        match self.executed_at {
            Some(t) => t > self.due_at,
            None => now > self.due_at,
        }
    }
}

impl TryFrom<refund::Model> for RefundRecord {
    type Error = DomainError;
    fn try_from(m: refund::Model) -> DomainResult<RefundRecord> {
        Ok(RefundRecord {
            id: m.id,
            order: OrderId(m.order_id),
            requested_by: m.requested_by,
            reason: m.reason,
            status: m.status.parse()?,
            deduction: Money::from_fen(m.deduction_fen)?,
            deduction_approved: m.deduction_approved,
            amount: Money::from_fen(m.amount_fen)?,
            requested_at: Timestamp(m.requested_at_us),
            due_at: Timestamp(m.due_at_us),
            due_provisional: m.due_provisional,
            executed_at: m.executed_at_us.map(Timestamp),
            entry: m.entry_id.map(EntryId),
            requested: m.requested_fen.map(Money::from_fen).transpose()?,
        })
    }
}

/// An order's refunds, oldest first.
///
/// # Errors
/// Database errors.
pub async fn refunds_of<C: ConnectionTrait>(
    db: &C,
    order: OrderId,
) -> DomainResult<Vec<RefundRecord>> {
    refund::Entity::find()
        .filter(refund::Column::OrderId.eq(order.0))
        .order_by_asc(refund::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(RefundRecord::try_from)
        .collect()
}

async fn get_refund<C: ConnectionTrait>(db: &C, id: i64) -> DomainResult<RefundRecord> {
    refund::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("refund", id))?
        .try_into()
}

/// The split of an order's remaining money at refund time.
struct Split {
    remaining: Money,
    refundable: Money,
}

async fn split(tx: &Tx<'_>, order: &OrderRecord) -> DomainResult<Split> {
    let policy = policy_at(tx.db(), order.scheme, order.policy_version).await?;
    let released = milestones_of(tx.db(), order.id)
        .await?
        .iter()
        .filter(|m| m.status == MilestoneStatus::Released)
        .count();
    let remaining = order.outstanding()?;
    Ok(Split {
        remaining,
        refundable: remaining.share_floor(policy.refundable_bp(released)),
    })
}

/// Asks for an order's unreleased money back. The payer asks for itself; the merchant (with a
/// proposed deduction) or the bank on its behalf.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestRefund {
    pub order: OrderId,
    pub reason: String,
    /// A deduction the merchant keeps (e.g. lessons already given); may need the regulator.
    pub deduction: Option<Money>,
    /// Part of the unreleased money (a pupil's missed days): the order stays open and its
    /// later milestones shrink by it. `None` asks for all of it and closes the order.
    #[serde(default)]
    pub amount: Option<Money>,
}

impl Command for RequestRefund {
    type Output = RefundRecord;
    const NAME: &'static str = "requestRefund";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<RefundRecord> {
        tx.principal
            .require_role(&[Role::Bank, Role::Merchant, Role::Payer])?;
        let order = crate::queries::order_visible(tx.db(), tx.principal, self.order).await?;
        if self.deduction.is_some_and(|d| !d.is_zero()) && tx.principal.role == Role::Payer {
            return Err(DomainError::Forbidden(
                "a payer cannot propose a deduction".into(),
            ));
        }
        let deduction = self.deduction.unwrap_or(Money::ZERO);
        if let Some(amount) = self.amount {
            if !deduction.is_zero() {
                return Err(DomainError::invalid(
                    "deduction",
                    "a partial refund carries no deduction: refund the part the payer is owed",
                ));
            }
            amount.positive()?;
        }
        request_amount(
            tx,
            &order,
            &self.reason,
            deduction,
            tx.principal.role.as_str().to_owned(),
            Deadline::Policy,
            self.amount,
        )
        .await
    }
}

/// When a requested refund falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// The policy's working days after the request (a payer, a merchant or the bank asked).
    Policy,
    /// At once: the bank executes it in the same transaction (expiry, a regulator's decision,
    /// closing down). It needs no working-day calendar, so money owed to a payer is never held
    /// up by a year whose holidays are not published yet (a 3-year permit opened in 2026
    /// lapses in 2029).
    Immediate,
}

pub(crate) async fn request(
    tx: &mut Tx<'_>,
    order: &OrderRecord,
    reason: &str,
    deduction: Money,
    by: String,
    deadline: Deadline,
) -> DomainResult<RefundRecord> {
    request_amount(tx, order, reason, deduction, by, deadline, None).await
}

async fn request_amount(
    tx: &mut Tx<'_>,
    order: &OrderRecord,
    reason: &str,
    deduction: Money,
    by: String,
    deadline: Deadline,
    amount: Option<Money>,
) -> DomainResult<RefundRecord> {
    if order.status.is_closed() {
        return Err(DomainError::invalid_state(
            format!("order {}", order.order_no),
            order.status.as_str(),
            "refund",
        ));
    }
    crate::text::optional("reason", reason, 500)?;
    let open = refunds_of(tx.db(), order.id)
        .await?
        .into_iter()
        .any(|r| r.status != RefundStatus::Executed);
    if open {
        return Err(DomainError::Conflict(format!(
            "order {} already has a refund in progress",
            order.order_no
        )));
    }
    let policy = policy_at(tx.db(), order.scheme, order.policy_version).await?;
    let s = split(tx, order).await?;
    if s.remaining.is_zero() {
        return Err(DomainError::invalid_state(
            format!("order {}", order.order_no),
            "NOTHING_UNRELEASED",
            "refund",
        ));
    }
    if amount.is_some() && s.refundable != s.remaining {
        return Err(DomainError::invalid(
            "amount",
            format!(
                "this scheme refunds only {} of the {} unreleased at this stage (refundable_bp_by_stage): a partial refund is for schemes that refund unreleased money in full; ask without an amount",
                s.refundable, s.remaining
            ),
        ));
    }
    if let Some(a) = amount
        && a >= s.remaining
    {
        return Err(DomainError::invalid(
            "amount",
            format!(
                "{a} is not less than the {} unreleased: to refund all of it, ask without an amount",
                s.remaining
            ),
        ));
    }
    if !deduction.is_zero() {
        let max = policy
            .refund
            .max_deduction_bp
            .map(|bp| s.refundable.share_floor(bp))
            .unwrap_or(Money::ZERO);
        if deduction > max {
            return Err(DomainError::invalid(
                "deduction",
                format!("at most {max} may be deducted under this scheme's policy"),
            ));
        }
    }
    let needs_approval = !deduction.is_zero() && policy.refund.deduction_needs_regulator;
    let (due_at, due_provisional) = match deadline {
        Deadline::Policy => {
            let today = tx.now.china_date();
            let due = Calendar::read_from(tx.db(), today)
                .await?
                .add_working_days(today, policy.refund.deadline_working_days)?;
            (end_of_day(due.date)?, due.provisional)
        }
        Deadline::Immediate => (tx.now, false),
    };
    let status = if needs_approval {
        RefundStatus::AwaitingApproval
    } else {
        RefundStatus::Requested
    };
    let row = refund::ActiveModel {
        order_id: Set(order.id.0),
        requested_by: Set(by.clone()),
        reason: Set(reason.trim().to_owned()),
        status: Set(status.as_str().to_owned()),
        deduction_fen: Set(deduction.fen()),
        deduction_approved: Set(!needs_approval && !deduction.is_zero()),
        amount_fen: Set(0),
        requested_at_us: Set(tx.now.0),
        due_at_us: Set(due_at.0),
        due_provisional: Set(due_provisional),
        executed_at_us: Set(None),
        entry_id: Set(None),
        requested_fen: Set(amount.map(Money::fen)),
        ..Default::default()
    }
    .insert(tx.db())
    .await?;
    if deadline == Deadline::Policy {
        scheduler::schedule(
            tx,
            JobKind::RefundDeadline,
            row.id,
            due_at,
            format!("refund:{}", row.id),
        )
        .await?;
    }
    tx.emit(
        order.event(
            "refund.requested",
            json!({ "refund_id": row.id, "by": by, "reason": reason.trim(), "deduction": deduction, "amount": amount, "needs_approval": needs_approval, "due_at": due_at.rfc3339(), "due_provisional": due_provisional }),
        ),
    );
    RefundRecord::try_from(row)
}

/// The regulator approves or rejects a proposed deduction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApproveDeduction {
    pub refund: i64,
    pub approve: bool,
}

impl Command for ApproveDeduction {
    type Output = RefundRecord;
    const NAME: &'static str = "approveDeduction";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<RefundRecord> {
        tx.principal.require_role(&[Role::Regulator, Role::Bank])?;
        let r = get_refund(tx.db(), self.refund).await?;
        let order = crate::queries::order_visible(tx.db(), tx.principal, r.order)
            .await
            .map_err(|e| e.not_found_as("refund", self.refund))?;
        if r.status != RefundStatus::AwaitingApproval {
            return Err(DomainError::invalid_state(
                format!("refund {}", r.id),
                r.status.as_str(),
                "approve a deduction",
            ));
        }
        refund::ActiveModel {
            id: Set(r.id),
            status: Set(RefundStatus::Requested.as_str().to_owned()),
            deduction_fen: Set(if self.approve { r.deduction.fen() } else { 0 }),
            deduction_approved: Set(self.approve),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        tx.emit(
            NewEvent::new(
                if self.approve {
                    "refund.deduction_approved"
                } else {
                    "refund.deduction_rejected"
                },
                json!({ "refund_id": r.id, "deduction": r.deduction, "by": tx.principal.party_id }),
            )
            .order(order.id)
            .merchant(order.merchant)
            .scheme(order.scheme),
        );
        get_refund(tx.db(), r.id).await
    }
}

/// Executes a requested refund: the remainder leaves escrow; the refundable part less the
/// deduction goes back by the payer's original channels, the rest to the merchant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecuteRefund {
    pub refund: i64,
}

impl Command for ExecuteRefund {
    type Output = RefundRecord;
    const NAME: &'static str = "executeRefund";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<RefundRecord> {
        tx.principal.require_role(&[Role::Bank, Role::Merchant])?;
        let r = get_refund(tx.db(), self.refund).await?;
        crate::queries::order_visible(tx.db(), tx.principal, r.order)
            .await
            .map_err(|e| e.not_found_as("refund", self.refund))?;
        execute(tx, r.id).await
    }
}

pub(crate) async fn execute(tx: &mut Tx<'_>, refund_id: i64) -> DomainResult<RefundRecord> {
    let r = get_refund(tx.db(), refund_id).await?;
    if r.status != RefundStatus::Requested {
        return Err(DomainError::invalid_state(
            format!("refund {}", r.id),
            r.status.as_str(),
            "execute",
        ));
    }
    let order = get_order(tx.db(), r.order).await?;
    if order.status.is_closed() {
        return Err(DomainError::invalid_state(
            format!("order {}", order.order_no),
            order.status.as_str(),
            "refund",
        ));
    }
    if !order.in_clearing().is_zero() {
        return Err(DomainError::invalid_state(
            format!("order {}", order.order_no),
            "NOT_YET_SETTLED",
            "refund before its payments settle (T+1)",
        ));
    }
    if let Some(amount) = r.requested {
        return execute_part(tx, &r, &order, amount).await;
    }
    let s = split(tx, &order).await?;
    let deduction = r.deduction.min(s.refundable);
    let to_payer = s.refundable.checked_sub(deduction)?;
    let to_merchant = s.remaining.checked_sub(to_payer)?;
    let mut legs = vec![Leg {
        account: order.escrow_account,
        amount_fen: -s.remaining.fen(),
    }];
    if !to_merchant.is_zero() {
        let enrollment = enrollment_of(tx.db(), order.merchant, order.scheme).await?;
        legs.push(Leg {
            account: enrollment.payable_account,
            amount_fen: to_merchant.fen(),
        });
    }
    let per_payment = route_to_payer(tx, &order, to_payer, &mut legs).await?;
    if legs.len() < 2 {
        return Err(DomainError::Invariant(format!(
            "refund {} moves nothing",
            r.id
        )));
    }
    let memo = format!("refund {} of {}", r.id, order.order_no);
    let entry = post_refund(tx, &order, s.remaining, &memo, &legs, &per_payment).await?;
    escrow_order::ActiveModel {
        id: Set(order.id.0),
        refunded_fen: Set(order.refunded.checked_add(to_payer)?.fen()),
        released_fen: Set(order.released.checked_add(to_merchant)?.fen()),
        status: Set(OrderStatus::Refunded.as_str().to_owned()),
        closed_at_us: Set(Some(tx.now.0)),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    for m in milestones_of(tx.db(), order.id).await? {
        if matches!(
            m.status,
            MilestoneStatus::Pending | MilestoneStatus::Confirmed
        ) {
            milestone::ActiveModel {
                id: Set(m.id.0),
                status: Set(MilestoneStatus::Cancelled.as_str().to_owned()),
                ..Default::default()
            }
            .update(tx.db())
            .await?;
            scheduler::cancel(tx, &scheduler::milestone_key(m.id)).await?;
        }
    }
    scheduler::cancel_expiry(tx, order.id).await?;
    mark_executed(tx, r.id, deduction, to_payer, entry.id).await?;
    tx.emit(
        order.event(
            "order.refunded",
            json!({
                "refund_id": r.id,
                "remaining": s.remaining,
                "refundable": s.refundable,
                "deduction": deduction,
                "to_payer": to_payer,
                "to_merchant": to_merchant,
                "entry_id": entry.id,
                "routes": per_payment.iter().map(|(p, part)| json!({"payment_id": p.id, "channel": p.channel, "amount": part})).collect::<Vec<_>>(),
                "late": tx.now > r.due_at,
            }),
        ),
    );
    get_refund(tx.db(), r.id).await
}

/// 原路退回: adds the legs that send `to_payer` back the way the payer paid — through each
/// channel in proportion to what it carried and has not yet refunded (largest remainder), or
/// where the lifecycle's hooks route it (a purchase paid from a housing voucher goes back to
/// the voucher, and its reward to the subsidy pool). Returns each channel payment's part.
async fn route_to_payer(
    tx: &mut Tx<'_>,
    order: &OrderRecord,
    to_payer: Money,
    legs: &mut Vec<Leg>,
) -> DomainResult<Vec<(PaymentRecord, Money)>> {
    let payments: Vec<_> = payments_of(tx.db(), order.id)
        .await?
        .into_iter()
        .filter(|p| p.amount > p.refunded)
        .collect();
    let mut per_payment = Vec::new();
    let hooks = tx.escrow.hooks();
    if let Some(route) = hooks.refund_route(tx, order, to_payer).await? {
        legs.extend(route);
    } else if !to_payer.is_zero() {
        let weights: Vec<u64> = payments
            .iter()
            .map(|p| {
                p.amount
                    .fen()
                    .saturating_sub(p.refunded.fen())
                    .unsigned_abs()
            })
            .collect();
        let parts = to_payer.split_by_ratio(&weights)?;
        for (p, part) in payments.into_iter().zip(parts) {
            if part.is_zero() {
                continue;
            }
            let outside = system::channel_external(tx, p.channel.as_str()).await?;
            legs.push(Leg {
                account: outside,
                amount_fen: part.fen(),
            });
            per_payment.push((p, part));
        }
    }
    Ok(per_payment)
}

/// Posts a refund's entry, taking `from_escrow` from the order's escrow, and records what each
/// channel payment gave back.
async fn post_refund(
    tx: &mut Tx<'_>,
    order: &OrderRecord,
    from_escrow: Money,
    memo: &str,
    legs: &[Leg],
    per_payment: &[(PaymentRecord, Money)],
) -> DomainResult<crate::ledger::EntryRecord> {
    let clearance = gate::clear(
        Outflow::Refund,
        Some(order.id),
        order.escrow_account,
        from_escrow,
    )?;
    let entry = post_cleared(tx, clearance, EntryKind::Refund, memo, legs).await?;
    mark_refunded(tx, per_payment).await?;
    Ok(entry)
}

/// Marks a refund executed: what went back to the payer, the deduction kept, its entry.
async fn mark_executed(
    tx: &Tx<'_>,
    id: i64,
    deduction: Money,
    to_payer: Money,
    entry: EntryId,
) -> DomainResult<()> {
    refund::ActiveModel {
        id: Set(id),
        status: Set(RefundStatus::Executed.as_str().to_owned()),
        deduction_fen: Set(deduction.fen()),
        amount_fen: Set(to_payer.fen()),
        executed_at_us: Set(Some(tx.now.0)),
        entry_id: Set(Some(entry.0)),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    Ok(())
}

async fn mark_refunded(tx: &Tx<'_>, per_payment: &[(PaymentRecord, Money)]) -> DomainResult<()> {
    for (p, part) in per_payment {
        payment::ActiveModel {
            id: Set(p.id.0),
            refunded_fen: Set(p.refunded.checked_add(*part)?.fen()),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
    }
    Ok(())
}

/// Executes a partial refund: `amount` goes back to the payer by the original route, the order
/// stays open, and its unreleased milestones shrink by it from the last one back (a milestone
/// left with nothing is cancelled).
async fn execute_part(
    tx: &mut Tx<'_>,
    r: &RefundRecord,
    order: &OrderRecord,
    amount: Money,
) -> DomainResult<RefundRecord> {
    let s = split(tx, order).await?;
    let remaining = s.remaining;
    if s.refundable != remaining {
        return Err(DomainError::invalid_state(
            format!("order {}", order.order_no),
            "PARTLY_REFUNDABLE",
            "refund part of it (the scheme now keeps part of the unreleased money)",
        ));
    }
    if amount >= remaining {
        return Err(DomainError::invalid_state(
            format!("order {} with {remaining} unreleased", order.order_no),
            "SHORT_OF_THE_AMOUNT",
            "refund that part (ask again without an amount for all that is left)",
        ));
    }
    let mut legs = vec![Leg {
        account: order.escrow_account,
        amount_fen: -amount.fen(),
    }];
    let per_payment = route_to_payer(tx, order, amount, &mut legs).await?;
    let memo = format!("partial refund {} of {}", r.id, order.order_no);
    let entry = post_refund(tx, order, amount, &memo, &legs, &per_payment).await?;
    escrow_order::ActiveModel {
        id: Set(order.id.0),
        refunded_fen: Set(order.refunded.checked_add(amount)?.fen()),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    let mut left = amount;
    let mut shrunk = Vec::new();
    let mut milestones = milestones_of(tx.db(), order.id).await?;
    milestones.reverse();
    for m in milestones {
        if left.is_zero() {
            break;
        }
        if !matches!(
            m.status,
            MilestoneStatus::Pending | MilestoneStatus::Confirmed
        ) {
            continue;
        }
        let cut = m.amount.min(left);
        left = left.checked_sub(cut)?;
        let now = m.amount.checked_sub(cut)?;
        let cancelled = now.is_zero();
        milestone::ActiveModel {
            id: Set(m.id.0),
            amount_fen: Set(now.fen()),
            status: Set(if cancelled {
                MilestoneStatus::Cancelled.as_str().to_owned()
            } else {
                m.status.as_str().to_owned()
            }),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        if cancelled {
            scheduler::cancel(tx, &scheduler::milestone_key(m.id)).await?;
        }
        shrunk.push(json!({"index": m.index, "from": m.amount, "to": now}));
    }
    if !left.is_zero() {
        return Err(DomainError::Invariant(format!(
            "order {}: {left} of a partial refund found no unreleased milestone",
            order.order_no
        )));
    }
    mark_executed(tx, r.id, Money::ZERO, amount, entry.id).await?;
    scheduler::cancel(tx, &format!("refund:{}", r.id)).await?;
    tx.emit(
        order.event(
            "order.partially_refunded",
            json!({
                "refund_id": r.id,
                "amount": amount,
                "entry_id": entry.id,
                "milestones": shrunk,
                "routes": per_payment.iter().map(|(p, part)| json!({"payment_id": p.id, "channel": p.channel, "amount": part})).collect::<Vec<_>>(),
                "late": tx.now > r.due_at,
            }),
        ),
    );
    // What the refund leaves may now be releasable as it stands.
    super::release_ready(tx, order.id).await?;
    get_refund(tx.db(), r.id).await
}

/// A refund's deadline passed: if it is still open, the regulator and the bank hear of it.
pub(crate) async fn deadline_passed(tx: &mut Tx<'_>, refund_id: i64) -> DomainResult<()> {
    let r = get_refund(tx.db(), refund_id).await?;
    if r.status == RefundStatus::Executed {
        return Ok(());
    }
    let order = get_order(tx.db(), r.order).await?;
    let merchant = crate::party::get_party(tx.db(), order.merchant).await?;
    let alert = NewAlert::new(
        AlertKind::RefundOverdue,
        Severity::Warning,
        format!(
            "refund {} of order {} is past its deadline of {}",
            r.id,
            order.order_no,
            r.due_at.china_date()
        ),
    )
    .about_merchant(&merchant)
    .about_order(&order)
    .dedupe(format!("refund-overdue:{}", r.id));
    crate::alert::raise(tx, alert).await?;
    Ok(())
}
