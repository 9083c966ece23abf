//! Advances (垫资): the bank advances the insurer's share of a claim from its advance account
//! (which goes negative while advances are outstanding) into the institution's register, and
//! the insurer's settlement repays it. At every moment the advance account's balance is minus
//! the sum of outstanding advances.

use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::medical_advance as advance;

use super::{check_ref, medical_scheme};
use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{AccountId, AdvanceId, EntryId, PartyId, SchemeId};
use crate::ledger::{AccountKind, EntryKind, post, system, transfer};
use crate::money::Money;
use crate::page::{Page, Paged, page_of};
use crate::party::{PartyKind, get_party_of};
use crate::principal::{Principal, Role};
use crate::queries::{jurisdiction_condition, nothing};
use crate::scheme::{SchemeRecord, enrollment_of, get_scheme};

string_enum!(
    /// An advance's life.
    AdvanceStatus { Outstanding = "OUTSTANDING", Repaid = "REPAID" }
);

/// The bank's advance account of a scheme (may go negative).
async fn advance_account(tx: &Tx<'_>, s: &SchemeRecord) -> DomainResult<AccountId> {
    system::bank_account(tx, &format!("ADVANCE {}", s.code), AccountKind::Advance).await
}

/// An advance as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvanceRecord {
    pub id: AdvanceId,
    pub claim_ref: String,
    pub institution: PartyId,
    pub scheme: SchemeId,
    pub amount: Money,
    pub repaid: Money,
    pub outstanding: Money,
    pub status: AdvanceStatus,
    pub entry: EntryId,
    pub advanced_at: Timestamp,
    pub repaid_at: Option<Timestamp>,
}

impl TryFrom<advance::Model> for AdvanceRecord {
    type Error = DomainError;
    fn try_from(m: advance::Model) -> DomainResult<AdvanceRecord> {
        Ok(AdvanceRecord {
            id: AdvanceId(m.id),
            claim_ref: m.claim_ref,
            institution: PartyId(m.merchant_id),
            scheme: SchemeId(m.scheme_id),
            amount: Money::from_fen(m.amount_fen)?,
            repaid: Money::from_fen(m.repaid_fen)?,
            outstanding: Money::from_fen(m.amount_fen - m.repaid_fen)?,
            status: m.status.parse()?,
            entry: EntryId(m.entry_id),
            advanced_at: Timestamp(m.advanced_at_us),
            repaid_at: m.repaid_at_us.map(Timestamp),
        })
    }
}

/// What advances a principal may see: the bank all; an institution its own; a regulator those
/// of its regions and industries.
pub fn advance_scope(p: &Principal) -> Condition {
    match (p.role, p.party_id) {
        (Role::Bank, _) => Condition::all(),
        (Role::Merchant, Some(id)) => Condition::all().add(advance::Column::MerchantId.eq(id.0)),
        (Role::Regulator, _) => jurisdiction_condition(
            &p.jurisdiction,
            advance::Column::Region,
            advance::Column::Industry,
        ),
        _ => nothing(),
    }
}

/// Filters of the advance list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvanceFilter {
    pub institution: Option<PartyId>,
    pub scheme: Option<SchemeId>,
    pub outstanding_only: bool,
}

fn filtered(p: &Principal, f: &AdvanceFilter) -> sea_orm::Select<advance::Entity> {
    let mut q = advance::Entity::find().filter(advance_scope(p));
    if let Some(m) = f.institution {
        q = q.filter(advance::Column::MerchantId.eq(m.0));
    }
    if let Some(s) = f.scheme {
        q = q.filter(advance::Column::SchemeId.eq(s.0));
    }
    if f.outstanding_only {
        q = q.filter(advance::Column::Status.eq(AdvanceStatus::Outstanding.as_str()));
    }
    q
}

/// Advances in scope, newest first.
///
/// # Errors
/// Database errors.
pub async fn advances<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    f: &AdvanceFilter,
    page: Page,
) -> DomainResult<Paged<AdvanceRecord>> {
    let mut q = filtered(p, f);
    if let Some(a) = page.after {
        q = q.filter(advance::Column::Id.lt(a));
    }
    let rows = q
        .order_by_desc(advance::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?
        .into_iter()
        .map(AdvanceRecord::try_from)
        .collect::<DomainResult<Vec<_>>>()?;
    Ok(page_of(rows, page))
}

/// The sum still outstanding of the advances in scope that match the filter.
///
/// # Errors
/// Database errors.
pub async fn outstanding_total<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    f: &AdvanceFilter,
) -> DomainResult<Money> {
    let rows: Vec<(i64, i64)> = filtered(p, f)
        .filter(advance::Column::Status.eq(AdvanceStatus::Outstanding.as_str()))
        .select_only()
        .column(advance::Column::AmountFen)
        .column(advance::Column::RepaidFen)
        .into_tuple()
        .all(db)
        .await?;
    Ok(Money::sum(
        rows.into_iter()
            .map(|(a, r)| Money::from_fen(a - r))
            .collect::<Result<Vec<_>, _>>()?,
    )?)
}

/// The bank advances the insurer's share of a claim into an institution's register.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdvanceInsurerShare {
    pub institution: PartyId,
    pub scheme: SchemeId,
    pub amount: Money,
    /// The insurance claim (settlement batch) the advance is for; once per claim.
    pub claim_ref: String,
}

impl Command for AdvanceInsurerShare {
    type Output = AdvanceRecord;
    const NAME: &'static str = "advanceInsurerShare";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<AdvanceRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let amount = self.amount.positive()?;
        let claim_ref = check_ref("claimRef", &self.claim_ref)?;
        let (s, rule) = medical_scheme(tx.db(), self.scheme).await?;
        let m = get_party_of(tx.db(), self.institution, PartyKind::Merchant).await?;
        let e = enrollment_of(tx.db(), m.id, s.id).await?;
        if advance::Entity::find()
            .filter(advance::Column::ClaimRef.eq(claim_ref.as_str()))
            .one(tx.db())
            .await?
            .is_some()
        {
            return Err(DomainError::Conflict(format!(
                "claim {claim_ref} already has an advance"
            )));
        }
        if let Some(cap) = rule.advance_cap {
            let outstanding = outstanding_total(
                tx.db(),
                tx.principal,
                &AdvanceFilter {
                    institution: Some(m.id),
                    scheme: Some(s.id),
                    outstanding_only: true,
                },
            )
            .await?;
            let after = outstanding.checked_add(amount)?;
            if after > cap {
                return Err(DomainError::LimitExceeded(format!(
                    "advances outstanding to {} would reach {after}, over the cap of {cap}",
                    m.name
                )));
            }
        }
        let from = advance_account(tx, &s).await?;
        let entry = post(
            tx,
            EntryKind::Advance,
            None,
            &format!("advance of claim {claim_ref} to {}", m.name),
            &transfer(from, e.payable_account, amount),
        )
        .await?;
        let row = advance::ActiveModel {
            claim_ref: Set(claim_ref.clone()),
            merchant_id: Set(m.id.0),
            scheme_id: Set(s.id.0),
            region: Set(m
                .region
                .as_ref()
                .map(|x| x.as_str().to_owned())
                .unwrap_or_else(|| s.region.as_str().to_owned())),
            industry: Set(s.industry.as_str().to_owned()),
            amount_fen: Set(amount.fen()),
            repaid_fen: Set(0),
            status: Set(AdvanceStatus::Outstanding.as_str().to_owned()),
            entry_id: Set(entry.id.0),
            advanced_at_us: Set(tx.now.0),
            repaid_at_us: Set(None),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        let a = AdvanceRecord::try_from(row)?;
        tx.emit(
            NewEvent::new(
                "medical.advance_made",
                json!({ "advance_id": a.id, "claim_ref": a.claim_ref, "amount": amount, "entry_id": entry.id }),
            )
            .merchant(m.id)
            .scheme(s.id),
        );
        Ok(a)
    }
}

/// The insurer settles a claim: its money repays the bank's advance (the bank records it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepayAdvance {
    pub claim_ref: String,
    pub amount: Money,
}

impl Command for RepayAdvance {
    type Output = AdvanceRecord;
    const NAME: &'static str = "repayAdvance";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<AdvanceRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let amount = self.amount.positive()?;
        let claim_ref = check_ref("claimRef", &self.claim_ref)?;
        let a: AdvanceRecord = advance::Entity::find()
            .filter(advance::Column::ClaimRef.eq(claim_ref.as_str()))
            .one(tx.db())
            .await?
            .ok_or_else(|| DomainError::not_found("advance", &claim_ref))?
            .try_into()?;
        if a.status != AdvanceStatus::Outstanding {
            return Err(DomainError::invalid_state(
                format!("advance of claim {claim_ref}"),
                a.status.as_str(),
                "take repayments",
            ));
        }
        if amount > a.outstanding {
            return Err(DomainError::invalid(
                "amount",
                format!(
                    "{amount} is more than the {} outstanding on claim {claim_ref}",
                    a.outstanding
                ),
            ));
        }
        let s = get_scheme(tx.db(), a.scheme).await?;
        let to = advance_account(tx, &s).await?;
        let insurer = system::external(tx, "INSURER").await?;
        let entry = post(
            tx,
            EntryKind::Repay,
            None,
            &format!("insurer settlement of claim {claim_ref}"),
            &transfer(insurer, to, amount),
        )
        .await?;
        let repaid = a.repaid.checked_add(amount)?;
        let done = repaid == a.amount;
        advance::ActiveModel {
            id: Set(a.id.0),
            repaid_fen: Set(repaid.fen()),
            status: Set(if done {
                AdvanceStatus::Repaid
            } else {
                AdvanceStatus::Outstanding
            }
            .as_str()
            .to_owned()),
            repaid_at_us: Set(done.then_some(tx.now.0)),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        tx.emit(
            NewEvent::new(
                "medical.advance_repaid",
                json!({ "advance_id": a.id, "claim_ref": claim_ref, "amount": amount, "outstanding": a.outstanding.checked_sub(amount)?, "entry_id": entry.id }),
            )
            .merchant(a.institution)
            .scheme(a.scheme),
        );
        advance::Entity::find_by_id(a.id.0)
            .one(tx.db())
            .await?
            .ok_or_else(|| DomainError::not_found("advance", a.id))?
            .try_into()
    }
}
