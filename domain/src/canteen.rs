//! School canteens (阳光食堂).
//!
//! - **Meal fees** (monthly or per term) are ordinary orders: the scheme's policy releases each
//!   month's share automatically (`auto_after_days`), e.g. a four-month term as 4 × 2500 bp,
//!   each released 30 days after the one before.
//! - **Refunds of unused meals** are ordinary refunds with the policy's deadline (15 working
//!   days); [`crate::refund_sla`] is the view of how each was kept.
//! - **Purchase payments** (商城采购模式): in a scheme whose policy has a `purchase` rule the
//!   canteen never gets free cash — the release gate refuses payouts of its payable
//!   ([`crate::gate::payout`]), and money leaves the payable only as a payment to a food
//!   supplier, made by the bank once everyone the rule lists approved it.
//!
//! Who approves: the **school** is a REGULATOR party whose jurisdiction is its district and
//! `CANTEEN`; the bank names it on the canteen's enrollment with [`AssignCanteenSchool`] (a
//! caterer may serve different schools in different schemes). The **education bureau** is the
//! scheme's regulator (for a scheme without one: any regulator whose jurisdiction covers the
//! scheme). Either one's rejection ends the purchase.
//!
//! Pending purchases reserve the payable: a new request must fit in what is available less
//! what earlier requests still wait for, so an approved purchase can always be paid.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::canteen_school;

use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{PartyId, SchemeId};
use crate::party::{PartyKind, get_party_of};
use crate::policy::Policy;
use crate::principal::{Industry, Role};
use crate::scheme::{SchemeRecord, enrollment_of, get_scheme, policy_at};

mod purchase;

pub use purchase::{
    ApprovePurchase, MAX_NOTE_CHARS, MAX_REF_LEN, MAX_SUPPLIER_NAME_CHARS, PurchaseFilter,
    PurchaseRecord, PurchaseStatus, RequestPurchase, purchase_scope, purchase_visible, purchases,
};

/// A scheme's current policy, with the scheme.
async fn current_policy<C: ConnectionTrait>(
    db: &C,
    scheme: SchemeId,
) -> DomainResult<(SchemeRecord, Policy)> {
    let s = get_scheme(db, scheme).await?;
    let p = policy_at(db, s.id, s.current_version).await?;
    Ok((s, p))
}

/// The school assigned to a canteen's enrollment, if any.
///
/// # Errors
/// Database errors.
pub async fn school_of<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
    scheme: SchemeId,
) -> DomainResult<Option<PartyId>> {
    Ok(canteen_school::Entity::find()
        .filter(canteen_school::Column::MerchantId.eq(merchant.0))
        .filter(canteen_school::Column::SchemeId.eq(scheme.0))
        .one(db)
        .await?
        .map(|r| PartyId(r.school_id)))
}

/// A canteen's school in one scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanteenSchool {
    pub merchant: PartyId,
    pub scheme: SchemeId,
    pub school: PartyId,
    pub assigned_at: Timestamp,
}

/// Names the school a canteen serves in a scheme (the bank). The school is a regulator party
/// whose jurisdiction covers the canteen's district and `CANTEEN`; it may not be the scheme's
/// own regulator (the education bureau approves separately). Assigning again replaces the
/// school for purchases requested from then on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssignCanteenSchool {
    pub merchant: PartyId,
    pub scheme: SchemeId,
    pub school: PartyId,
}

impl Command for AssignCanteenSchool {
    type Output = CanteenSchool;
    const NAME: &'static str = "assignCanteenSchool";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<CanteenSchool> {
        tx.principal.require_role(&[Role::Bank])?;
        let m = get_party_of(tx.db(), self.merchant, PartyKind::Merchant).await?;
        let e = enrollment_of(tx.db(), m.id, self.scheme).await?;
        let s = get_scheme(tx.db(), self.scheme).await?;
        let school = get_party_of(tx.db(), self.school, PartyKind::Regulator).await?;
        let region = m.region.as_ref().map(|r| r.as_str()).unwrap_or_default();
        if !school.jurisdiction().covers(region, Industry::Canteen) {
            return Err(DomainError::invalid(
                "school",
                "the school's jurisdiction must cover the canteen's district and CANTEEN",
            ));
        }
        if s.regulator == Some(school.id) {
            return Err(DomainError::invalid(
                "school",
                "the scheme's regulator approves as the education bureau; the school must be another party",
            ));
        }
        let existing = canteen_school::Entity::find()
            .filter(canteen_school::Column::EnrollmentId.eq(e.id))
            .one(tx.db())
            .await?;
        let previous = existing.as_ref().map(|r| PartyId(r.school_id));
        match existing {
            Some(row) => {
                canteen_school::ActiveModel {
                    id: Set(row.id),
                    school_id: Set(school.id.0),
                    assigned_at_us: Set(tx.now.0),
                    ..Default::default()
                }
                .update(tx.db())
                .await?;
            }
            None => {
                canteen_school::ActiveModel {
                    enrollment_id: Set(e.id),
                    merchant_id: Set(m.id.0),
                    scheme_id: Set(s.id.0),
                    school_id: Set(school.id.0),
                    assigned_at_us: Set(tx.now.0),
                    ..Default::default()
                }
                .insert(tx.db())
                .await?;
            }
        }
        tx.emit(
            NewEvent::new(
                "canteen.school_assigned",
                json!({ "school_id": school.id, "school": school.name, "previous_school_id": previous }),
            )
            .merchant(m.id)
            .scheme(s.id),
        );
        Ok(CanteenSchool {
            merchant: m.id,
            scheme: s.id,
            school: school.id,
            assigned_at: tx.now,
        })
    }
}

#[cfg(test)]
mod tests;
