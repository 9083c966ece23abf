//! Batch reads by id, for the API's DataLoaders: a page of 100 orders with their merchants,
//! payers, schemes and accounts costs one query per kind, not one per row.
//!
//! These functions do no scoping of their own: the API calls them only for ids taken from rows
//! a scoped query in [`crate::queries`] already returned to the same principal.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use lvyue_entity::{account, escrow_order, milestone, party, payment, risk_score, scheme};

use crate::error::DomainResult;
use crate::ids::{AccountId, OrderId, PartyId, SchemeId};
use crate::ledger::AccountRecord;
use crate::order::PaymentRecord;
use crate::order_record::{MilestoneRecord, OrderRecord};
use crate::party::PartyRecord;
use crate::scheme::SchemeRecord;

/// Most ids one batch asks for.
pub const MAX_BATCH: usize = 1_000;

fn ids<T: Copy>(keys: &[T], f: impl Fn(T) -> i64) -> Vec<i64> {
    keys.iter().take(MAX_BATCH).map(|k| f(*k)).collect()
}

/// # Errors
/// Database errors.
pub async fn parties<C: ConnectionTrait>(
    db: &C,
    keys: &[PartyId],
) -> DomainResult<HashMap<PartyId, PartyRecord>> {
    party::Entity::find()
        .filter(party::Column::Id.is_in(ids(keys, |k| k.0)))
        .all(db)
        .await?
        .into_iter()
        .map(|m| PartyRecord::try_from(m).map(|p| (p.id, p)))
        .collect()
}

/// # Errors
/// Database errors.
pub async fn schemes<C: ConnectionTrait>(
    db: &C,
    keys: &[SchemeId],
) -> DomainResult<HashMap<SchemeId, SchemeRecord>> {
    scheme::Entity::find()
        .filter(scheme::Column::Id.is_in(ids(keys, |k| k.0)))
        .all(db)
        .await?
        .into_iter()
        .map(|m| SchemeRecord::try_from(m).map(|s| (s.id, s)))
        .collect()
}

/// # Errors
/// Database errors.
pub async fn accounts<C: ConnectionTrait>(
    db: &C,
    keys: &[AccountId],
) -> DomainResult<HashMap<AccountId, AccountRecord>> {
    account::Entity::find()
        .filter(account::Column::Id.is_in(ids(keys, |k| k.0)))
        .all(db)
        .await?
        .into_iter()
        .map(|m| AccountRecord::try_from(m).map(|a| (a.id, a)))
        .collect()
}

/// # Errors
/// Database errors.
pub async fn orders<C: ConnectionTrait>(
    db: &C,
    keys: &[OrderId],
) -> DomainResult<HashMap<OrderId, OrderRecord>> {
    escrow_order::Entity::find()
        .filter(escrow_order::Column::Id.is_in(ids(keys, |k| k.0)))
        .all(db)
        .await?
        .into_iter()
        .map(|m| OrderRecord::try_from(m).map(|o| (o.id, o)))
        .collect()
}

/// Milestones of each order, in schedule order.
///
/// # Errors
/// Database errors.
pub async fn milestones<C: ConnectionTrait>(
    db: &C,
    keys: &[OrderId],
) -> DomainResult<HashMap<OrderId, Vec<MilestoneRecord>>> {
    let rows = milestone::Entity::find()
        .filter(milestone::Column::OrderId.is_in(ids(keys, |k| k.0)))
        .order_by_asc(milestone::Column::OrderId)
        .order_by_asc(milestone::Column::Idx)
        .all(db)
        .await?;
    let mut out: HashMap<OrderId, Vec<MilestoneRecord>> = HashMap::new();
    for r in rows {
        let m = MilestoneRecord::try_from(r)?;
        out.entry(m.order).or_default().push(m);
    }
    Ok(out)
}

/// Payments of each order, oldest first.
///
/// # Errors
/// Database errors.
pub async fn payments<C: ConnectionTrait>(
    db: &C,
    keys: &[OrderId],
) -> DomainResult<HashMap<OrderId, Vec<PaymentRecord>>> {
    let rows = payment::Entity::find()
        .filter(payment::Column::OrderId.is_in(ids(keys, |k| k.0)))
        .order_by_asc(payment::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<OrderId, Vec<PaymentRecord>> = HashMap::new();
    for r in rows {
        let p = PaymentRecord::try_from(r)?;
        out.entry(p.order).or_default().push(p);
    }
    Ok(out)
}

/// The latest risk score of each merchant that has one.
///
/// # Errors
/// Database errors.
pub async fn risk_scores<C: ConnectionTrait>(
    db: &C,
    keys: &[PartyId],
) -> DomainResult<HashMap<PartyId, crate::risk::RiskScore>> {
    let rows = risk_score::Entity::find()
        .filter(risk_score::Column::MerchantId.is_in(ids(keys, |k| k.0)))
        .order_by_desc(risk_score::Column::Id)
        .all(db)
        .await?;
    let mut out = HashMap::new();
    for r in rows {
        let merchant = PartyId(r.merchant_id);
        if out.contains_key(&merchant) {
            continue;
        }
        out.insert(
            merchant,
            crate::risk::RiskScore {
                merchant,
                score: r.score,
                grade: r.grade,
                reasons: serde_json::from_str(&r.reasons)
                    .map_err(|e| crate::error::DomainError::Internal(e.to_string()))?,
                computed_at: crate::clock::Timestamp(r.computed_at_us),
            },
        );
    }
    Ok(out)
}
