//! What an order is on record: its row, its milestones, the states an order, a milestone, a
//! payment and a refund pass through, and reading them. Below the lifecycle (`order`) so that
//! everything the lifecycle calls — the gate, alerts, the calendar, industries — can read an
//! order without depending on the commands that change it.

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use lvyue_entity::{escrow_order, milestone};

use crate::clock::Timestamp;
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::ids::{AccountId, EntryId, MilestoneId, OrderId, PartyId, SchemeId};
use crate::money::{Bp, Money};
use crate::principal::{Industry, RegionCode};

string_enum!(
    /// An order's life.
    OrderStatus {
        /// Opened; less than the total has been paid.
        AwaitingPayment = "AWAITING_PAYMENT",
        /// Paid in full; milestones are being confirmed and released.
        Active = "ACTIVE",
        /// Every milestone released.
        Completed = "COMPLETED",
        /// The unreleased money went back to the payer.
        Refunded = "REFUNDED",
        /// Validity ended; what is left is released after the inspection window.
        Inspection = "INSPECTION",
        /// Validity ended; the regulator decides.
        Escalated = "ESCALATED",
    }
);

impl OrderStatus {
    /// No more money moves for the order (except court deductions of what is still held).
    pub fn is_closed(self) -> bool {
        matches!(self, OrderStatus::Completed | OrderStatus::Refunded)
    }
}

string_enum!(
    /// A milestone's life.
    MilestoneStatus {
        Pending = "PENDING",
        /// Every confirmation is in (or its time came); waiting to be released.
        Confirmed = "CONFIRMED",
        Released = "RELEASED",
        /// The order was refunded before this milestone was released.
        Cancelled = "CANCELLED",
    }
);

/// An order as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    pub id: OrderId,
    pub order_no: String,
    pub scheme: SchemeId,
    pub policy_version: i32,
    pub merchant: PartyId,
    pub payer: PartyId,
    pub region: RegionCode,
    pub industry: Industry,
    pub total: Money,
    pub collected: Money,
    pub settled: Money,
    pub released: Money,
    pub refunded: Money,
    pub deducted: Money,
    pub status: OrderStatus,
    pub escrow_account: AccountId,
    pub description: String,
    pub opened_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// A platform order's split terms, fixed at opening: each release is divided by them.
    pub split: Option<crate::split::SplitTerms>,
    /// When the payer consented to the order: opened at the bank's counter, accepted with the
    /// payer's own token ([`AcceptOrder`]), or paid. Until then the merchant that opened it
    /// does not see who the payer is.
    pub payer_accepted_at: Option<Timestamp>,
}

impl OrderRecord {
    /// Whether `viewer`, who may see this order, may see who its payer is: everyone who sees
    /// the order, except its merchant before the payer consented (see `payer_accepted_at`;
    /// [`crate::queries::party_visible`] applies the same rule to looking the payer up).
    pub fn payer_shown_to(&self, viewer: &crate::principal::Principal) -> bool {
        viewer.role != crate::principal::Role::Merchant || self.payer_accepted_at.is_some()
    }

    /// An event about this order, filed under its order, merchant, payer and scheme.
    pub fn event(&self, kind: &'static str, data: serde_json::Value) -> crate::event::NewEvent {
        crate::event::NewEvent::new(kind, data)
            .order(self.id)
            .merchant(self.merchant)
            .payer(self.payer)
            .scheme(self.scheme)
    }

    /// Collected but not yet settled (T+1) into escrow.
    pub fn in_clearing(&self) -> Money {
        self.collected.saturating_sub(self.settled)
    }

    /// Paid and not yet released, refunded or deducted, wherever it waits (clearing or escrow).
    ///
    /// # Errors
    /// Out of range only if the order's totals were inconsistent (more out than came in).
    pub fn outstanding(&self) -> Result<Money, crate::money::MoneyError> {
        self.collected
            .checked_sub(self.released)?
            .checked_sub(self.refunded)?
            .checked_sub(self.deducted)
    }

    /// Settled into escrow and still there.
    pub fn in_escrow(&self) -> Money {
        self.settled
            .saturating_sub(self.released)
            .saturating_sub(self.refunded)
            .saturating_sub(self.deducted)
    }
}

impl TryFrom<escrow_order::Model> for OrderRecord {
    type Error = DomainError;
    fn try_from(m: escrow_order::Model) -> Result<OrderRecord, DomainError> {
        Ok(OrderRecord {
            id: OrderId(m.id),
            order_no: m.order_no,
            scheme: SchemeId(m.scheme_id),
            policy_version: m.policy_version,
            merchant: PartyId(m.merchant_id),
            payer: PartyId(m.payer_id),
            region: m.region.parse()?,
            industry: m.industry.parse()?,
            total: Money::from_fen(m.total_fen)?,
            collected: Money::from_fen(m.collected_fen)?,
            settled: Money::from_fen(m.settled_fen)?,
            released: Money::from_fen(m.released_fen)?,
            refunded: Money::from_fen(m.refunded_fen)?,
            deducted: Money::from_fen(m.deducted_fen)?,
            status: m.status.parse()?,
            escrow_account: AccountId(m.escrow_account_id),
            description: m.description,
            opened_at: Timestamp(m.opened_at_us),
            expires_at: m.expires_at_us.map(Timestamp),
            closed_at: m.closed_at_us.map(Timestamp),
            split: m
                .split_terms
                .as_deref()
                .map(crate::split::SplitTerms::from_stored)
                .transpose()?,
            payer_accepted_at: m.payer_accepted_at_us.map(Timestamp),
        })
    }
}

/// A milestone as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneRecord {
    pub id: MilestoneId,
    pub order: OrderId,
    /// 0-based position in the schedule.
    pub index: i32,
    pub name: String,
    pub share: Bp,
    pub amount: Money,
    pub status: MilestoneStatus,
    /// When time alone confirms it (policy `auto_after_days`), once it is current.
    pub due_at: Option<Timestamp>,
    pub confirmed_at: Option<Timestamp>,
    pub released_entry: Option<EntryId>,
    pub released_at: Option<Timestamp>,
}

impl TryFrom<milestone::Model> for MilestoneRecord {
    type Error = DomainError;
    fn try_from(m: milestone::Model) -> Result<MilestoneRecord, DomainError> {
        Ok(MilestoneRecord {
            id: MilestoneId(m.id),
            order: OrderId(m.order_id),
            index: m.idx,
            name: m.name,
            share: Bp::new(
                u32::try_from(m.share_bp)
                    .map_err(|_| DomainError::Invariant("negative share".into()))?,
            )?,
            amount: Money::from_fen(m.amount_fen)?,
            status: m.status.parse()?,
            due_at: m.due_at_us.map(Timestamp),
            confirmed_at: m.confirmed_at_us.map(Timestamp),
            released_entry: m.released_entry_id.map(EntryId),
            released_at: m.released_at_us.map(Timestamp),
        })
    }
}

/// # Errors
/// `NOT_FOUND`.
pub async fn get_order<C: ConnectionTrait>(db: &C, id: OrderId) -> DomainResult<OrderRecord> {
    escrow_order::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("order", id))?
        .try_into()
}

/// An order's milestones in schedule order.
///
/// # Errors
/// Database errors.
pub async fn milestones_of<C: ConnectionTrait>(
    db: &C,
    order: OrderId,
) -> DomainResult<Vec<MilestoneRecord>> {
    milestone::Entity::find()
        .filter(milestone::Column::OrderId.eq(order.0))
        .order_by_asc(milestone::Column::Idx)
        .all(db)
        .await?
        .into_iter()
        .map(MilestoneRecord::try_from)
        .collect()
}

/// Milestones of many orders, for list pages.
///
/// # Errors
/// Database errors.
pub async fn milestones_of_orders<C: ConnectionTrait>(
    db: &C,
    orders: &[OrderId],
) -> DomainResult<Vec<MilestoneRecord>> {
    milestone::Entity::find()
        .filter(milestone::Column::OrderId.is_in(orders.iter().map(|o| o.0)))
        .order_by_asc(milestone::Column::OrderId)
        .order_by_asc(milestone::Column::Idx)
        .all(db)
        .await?
        .into_iter()
        .map(MilestoneRecord::try_from)
        .collect()
}

/// The order a milestone belongs to.
///
/// # Errors
/// `NOT_FOUND`.
pub async fn milestone_order<C: ConnectionTrait>(db: &C, m: MilestoneId) -> DomainResult<OrderId> {
    milestone::Entity::find_by_id(m.0)
        .one(db)
        .await?
        .map(|row| OrderId(row.order_id))
        .ok_or_else(|| DomainError::not_found("milestone", m))
}

string_enum!(
    PaymentStatus { Clearing = "CLEARING", Settled = "SETTLED" }
);

string_enum!(
    RefundStatus {
        /// Waiting to be executed.
        Requested = "REQUESTED",
        /// A deduction was proposed and waits for the regulator.
        AwaitingApproval = "AWAITING_APPROVAL",
        Executed = "EXECUTED",
    }
);

/// The target of the settle job for `date`: the date as `yyyymmdd`.
///
/// # Errors
/// Never for a real date; `INVARIANT` otherwise.
pub fn settle_job_target(date: NaiveDate) -> DomainResult<i64> {
    date.format("%Y%m%d")
        .to_string()
        .parse()
        .map_err(|_| DomainError::Invariant(format!("settle date {date}")))
}

/// The date a settle job's target names (the inverse of [`settle_job_target`]).
///
/// # Errors
/// `INVARIANT` for a target that is no `yyyymmdd` date: the stored job is broken.
pub fn settle_job_date(target: i64) -> DomainResult<NaiveDate> {
    let broken = || DomainError::Invariant(format!("settle job target {target} is no date"));
    let date = NaiveDate::parse_from_str(&target.to_string(), "%Y%m%d").map_err(|_| broken())?;
    // chrono reads `2026123` as 3 December: only a target that prints back is a date.
    if settle_job_target(date)? != target {
        return Err(broken());
    }
    Ok(date)
}

/// The last microsecond of `date` in China: a deadline day is kept until it ends.
///
/// # Errors
/// `VALIDATION` for the last representable date.
pub fn end_of_day(date: NaiveDate) -> DomainResult<Timestamp> {
    let next = date
        .succ_opt()
        .ok_or_else(|| DomainError::invalid("date", format!("{date} is out of range")))?;
    Ok(Timestamp(Timestamp::china_midnight(next).0 - 1))
}

/// True when each required confirmer's latest word on the milestone is an approval.
///
/// # Errors
/// Database errors.
pub async fn confirmations_complete<C: ConnectionTrait>(
    db: &C,
    m: MilestoneId,
    needed: &[crate::policy::Confirmer],
) -> DomainResult<bool> {
    let rows = lvyue_entity::confirmation::Entity::find()
        .filter(lvyue_entity::confirmation::Column::MilestoneId.eq(m.0))
        .order_by_asc(lvyue_entity::confirmation::Column::Id)
        .all(db)
        .await?;
    Ok(needed.iter().all(|c| {
        let key = c.key();
        rows.iter()
            .rev()
            .find(|r| r.confirmer == key)
            .is_some_and(|r| r.approved)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settle_job_target_names_its_date_and_nothing_else() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap_or_default();
        let target = settle_job_target(date).unwrap_or_default();
        assert_eq!(target, 20_261_231);
        assert_eq!(settle_job_date(target).ok(), Some(date));
        for broken in [0, 20_261_332, -20_261_231, 2_026_123] {
            assert!(settle_job_date(broken).is_err(), "{broken}");
        }
    }
}
