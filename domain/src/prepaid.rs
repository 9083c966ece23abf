//! Prepaid cards (预付卡: gyms, beauty salons, laundries, restaurants).
//!
//! - A **card** is an order in a scheme whose policy says `release_on_usage`: its money is
//!   released to the issuer as the card is used ([`RecordUsage`]), through the same gates as a
//!   milestone release (merchant standing, lists, caps, holds, custody, closing-down). Its
//!   milestones only mark how far the card has been used; the order completes when it is used
//!   up. A card's unused balance is refunded like any order's.
//! - **Custody** (MOFCOM 2012 No. 9, Art. 26): at least 20/30/40% of the previous quarter's
//!   prepaid balance for scale/group/brand issuers — `custody.ratio_by_issuer_bp` in the
//!   policy, and the merchant's `issuer_type`, recorded by the bank with [`SetMerchantProfile`]
//!   (with `last_year_revenue`, which the Shanghai revenue warning line reads). Shanghai's
//!   warning lines are `custody.warning_lines`. Every release is checked by
//!   [`crate::custody`]; a crossed line raises `WARNING_LINE_CROSSED`.
//! - **Closing down** ([`StartClosingDown`]): no release goes out any more and every open card
//!   balance of the merchant in the scheme is refunded in one batch.

mod closing;

pub use crate::scheme::EnrollmentStatus;
pub(crate) use closing::continue_closing_down;
pub use closing::{
    ClosingDownOutcome, DeferralReason, DeferredCard, MAX_CARDS_PER_CLOSING_BATCH,
    StartClosingDown, closing_down_status,
};

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use lvyue_entity::{card_usage, confirmation, escrow_order, milestone, party};

use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{CardUsageId, EntryId, OrderId, PartyId};
use crate::ledger::{EntryKind, post_cleared, transfer};
use crate::money::Money;
use crate::order_record::{MilestoneStatus, OrderRecord, OrderStatus, get_order, milestones_of};
use crate::party::{PartyKind, PartyRecord, get_party, get_party_of};
use crate::principal::{Principal, Role};
use crate::scheduler;
use crate::scheme::{enrollment_of, policy_at};

/// Longest usage reference (the POS or booking record).
pub const MAX_USAGE_REF_LEN: usize = 64;

string_enum!(
    /// Issuer types of the single-purpose card rules (单用途商业预付卡管理办法 Art. 26).
    IssuerType {
        /// 规模发卡企业: custody ≥ 20% of last quarter's prepaid balance.
        Scale = "SCALE",
        /// 集团发卡企业: ≥ 30%.
        Group = "GROUP",
        /// 品牌发卡企业: ≥ 40%.
        Brand = "BRAND",
    }
);

/// The bank records what the custody rules read about a merchant: its issuer type and its
/// last year's main-business revenue. A field left out keeps its value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetMerchantProfile {
    pub merchant: PartyId,
    pub issuer_type: Option<IssuerType>,
    pub last_year_revenue: Option<Money>,
}

impl Command for SetMerchantProfile {
    type Output = PartyRecord;
    const NAME: &'static str = "setMerchantProfile";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<PartyRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        if self.issuer_type.is_none() && self.last_year_revenue.is_none() {
            return Err(DomainError::invalid(
                "issuerType",
                "give an issuer type, a last-year revenue or both",
            ));
        }
        let m = get_party_of(tx.db(), self.merchant, PartyKind::Merchant).await?;
        let mut attributes = match &m.attributes {
            Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        let before = json!({
            "issuer_type": attributes.get("issuer_type"),
            "last_year_revenue": attributes.get("last_year_revenue"),
        });
        if let Some(t) = self.issuer_type {
            attributes.insert("issuer_type".into(), json!(t));
        }
        if let Some(r) = self.last_year_revenue {
            attributes.insert("last_year_revenue".into(), json!(r));
        }
        party::ActiveModel {
            id: Set(m.id.0),
            attributes: Set(Value::Object(attributes.clone()).to_string()),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        tx.emit(
            NewEvent::new(
                "merchant.profile_changed",
                json!({
                    "party_id": m.id,
                    "issuer_type": attributes.get("issuer_type"),
                    "last_year_revenue": attributes.get("last_year_revenue"),
                    "before": before,
                }),
            )
            .merchant(m.id),
        );
        get_party(tx.db(), m.id).await
    }
}

/// One use of a card as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardUsageRecord {
    pub id: CardUsageId,
    pub order: OrderId,
    pub amount: Money,
    pub reference: String,
    /// PAYER (the cardholder confirmed it) or BANK.
    pub recorded_by: String,
    pub entry: EntryId,
    pub at: Timestamp,
}

impl TryFrom<card_usage::Model> for CardUsageRecord {
    type Error = DomainError;
    fn try_from(m: card_usage::Model) -> DomainResult<CardUsageRecord> {
        Ok(CardUsageRecord {
            id: CardUsageId(m.id),
            order: OrderId(m.order_id),
            amount: Money::from_fen(m.amount_fen)?,
            reference: m.reference,
            recorded_by: m.recorded_by,
            entry: EntryId(m.entry_id),
            at: Timestamp(m.created_at_us),
        })
    }
}

/// A card's uses, oldest first (its holder's transaction history).
///
/// # Errors
/// `NOT_FOUND` when the order is out of scope.
pub async fn usages_of<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    order: OrderId,
) -> DomainResult<Vec<CardUsageRecord>> {
    let o = crate::queries::order_visible(db, p, order).await?;
    card_usage::Entity::find()
        .filter(card_usage::Column::OrderId.eq(o.id.0))
        .order_by_asc(card_usage::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(CardUsageRecord::try_from)
        .collect()
}

/// The cardholder confirms a use of the card (or the bank records it): exactly `amount` of
/// the unused balance is released to the issuer's payable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordUsage {
    pub order: OrderId,
    pub amount: Money,
    /// The issuer's record of the use (POS receipt, booking); once per card.
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageOutcome {
    pub usage: CardUsageRecord,
    pub order: OrderRecord,
    /// What is left on the card.
    pub unused: Money,
}

impl Command for RecordUsage {
    type Output = UsageOutcome;
    const NAME: &'static str = "recordUsage";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<UsageOutcome> {
        tx.principal.require_role(&[Role::Payer, Role::Bank])?;
        let order = crate::queries::order_visible(tx.db(), tx.principal, self.order).await?;
        let amount = self.amount.positive()?;
        let reference = self.reference.trim();
        if !crate::text::printable_ascii(reference, 1..=MAX_USAGE_REF_LEN) {
            return Err(DomainError::invalid(
                "reference",
                format!("must be 1 to {MAX_USAGE_REF_LEN} printable ASCII characters"),
            ));
        }
        let policy = policy_at(tx.db(), order.scheme, order.policy_version).await?;
        if !policy.release_on_usage {
            return Err(DomainError::invalid_state(
                format!("order {}", order.order_no),
                "RELEASED_BY_MILESTONE",
                "record card usage",
            ));
        }
        if order.status != OrderStatus::Active {
            return Err(DomainError::invalid_state(
                format!("order {}", order.order_no),
                order.status.as_str(),
                "record card usage",
            ));
        }
        // Only settled money is used; a top-up still clearing is usable from T+1.
        let unused = order.in_escrow();
        if amount > unused {
            if !order.in_clearing().is_zero() {
                return Err(DomainError::invalid_state(
                    format!("order {} with {unused} settled", order.order_no),
                    "NOT_YET_SETTLED",
                    "record card usage beyond its settled money before the rest settles (T+1)",
                ));
            }
            return Err(DomainError::invalid(
                "amount",
                format!("only {unused} is left on the card"),
            ));
        }
        if card_usage::Entity::find()
            .filter(card_usage::Column::OrderId.eq(order.id.0))
            .filter(card_usage::Column::Reference.eq(reference))
            .one(tx.db())
            .await?
            .is_some()
        {
            return Err(DomainError::Conflict(format!(
                "use {reference} of card {} was already recorded",
                order.order_no
            )));
        }
        let clearance =
            crate::gate::release(tx, crate::gate::Outflow::Usage, &order, &policy, amount).await?;
        let enrollment = enrollment_of(tx.db(), order.merchant, order.scheme).await?;
        let entry = post_cleared(
            tx,
            clearance,
            EntryKind::Release,
            &format!("{} used {reference}", order.order_no),
            &transfer(order.escrow_account, enrollment.payable_account, amount),
        )
        .await?;
        let by = tx.principal.role.as_str().to_owned();
        let usage = card_usage::ActiveModel {
            order_id: Set(order.id.0),
            amount_fen: Set(amount.fen()),
            reference: Set(reference.to_owned()),
            recorded_by: Set(by.clone()),
            entry_id: Set(entry.id.0),
            created_at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        let released = order.released.checked_add(amount)?;
        // Used up only when nothing is left anywhere, a top-up still clearing included.
        let used_up = released
            .checked_add(order.refunded)?
            .checked_add(order.deducted)?
            == order.collected;
        let passed = mark_milestones(tx, &order, released, used_up, entry.id, reference).await?;
        escrow_order::ActiveModel {
            id: Set(order.id.0),
            released_fen: Set(released.fen()),
            status: Set(if used_up {
                OrderStatus::Completed
            } else {
                OrderStatus::Active
            }
            .as_str()
            .to_owned()),
            closed_at_us: Set(used_up.then_some(tx.now.0)),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        if used_up {
            scheduler::cancel_expiry(tx, order.id).await?;
        }
        let left = unused.checked_sub(amount)?;
        tx.emit(order.event(
            "card.used",
            json!({
                "usage_id": CardUsageId(usage.id),
                "amount": amount,
                "reference": reference,
                "by": by,
                "entry_id": entry.id,
                "unused": left,
                "milestones_passed": passed,
                "order_status": if used_up { OrderStatus::Completed } else { OrderStatus::Active },
            }),
        ));
        crate::risk::after_release(tx, &order, amount, &policy).await?;
        Ok(UsageOutcome {
            usage: CardUsageRecord::try_from(usage)?,
            order: get_order(tx.db(), order.id).await?,
            unused: left,
        })
    }
}

/// Keeps the milestones in step with the usage: a milestone is released once the card's
/// total use reaches the end of its share (confirmed in the capacity of whoever recorded the
/// use); when the card is used up, any milestone a court deduction left unreachable is
/// cancelled. Returns the indexes of the milestones passed now.
async fn mark_milestones(
    tx: &Tx<'_>,
    order: &OrderRecord,
    released: Money,
    used_up: bool,
    entry: EntryId,
    reference: &str,
) -> DomainResult<Vec<i32>> {
    let confirmer = if tx.principal.role == Role::Payer {
        "PAYER"
    } else {
        "EVIDENCE"
    };
    let mut end = Money::ZERO;
    let mut passed = Vec::new();
    for m in milestones_of(tx.db(), order.id).await? {
        end = end.checked_add(m.amount)?;
        if !matches!(
            m.status,
            MilestoneStatus::Pending | MilestoneStatus::Confirmed
        ) {
            continue;
        }
        let status = if end <= released {
            confirmation::ActiveModel {
                milestone_id: Set(m.id.0),
                confirmer: Set(confirmer.to_owned()),
                party_id: Set(tx.principal.party_id.map(|p| p.0)),
                evidence: Set(format!("card usage {reference}")),
                approved: Set(true),
                at_us: Set(tx.now.0),
                ..Default::default()
            }
            .insert(tx.db())
            .await?;
            passed.push(m.index);
            MilestoneStatus::Released
        } else if used_up {
            MilestoneStatus::Cancelled
        } else {
            continue;
        };
        let released_now = status == MilestoneStatus::Released;
        milestone::ActiveModel {
            id: Set(m.id.0),
            status: Set(status.as_str().to_owned()),
            confirmed_at_us: Set(released_now.then_some(tx.now.0)),
            released_entry_id: Set(released_now.then_some(entry.0)),
            released_at_us: Set(released_now.then_some(tx.now.0)),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        scheduler::cancel(tx, &scheduler::milestone_key(m.id)).await?;
    }
    Ok(passed)
}

#[cfg(test)]
mod tests;
