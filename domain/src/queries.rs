//! Reads, scoped to who asks. Every query takes the principal and filters in SQL what it may
//! not see (docs/design.md: "Authorization scoping is applied inside domain queries, in one
//! place"): a merchant sees its own rows, a payer its own orders, a regulator the rows of its
//! regions and industries, the bank everything. A row out of scope is reported as not found,
//! never as forbidden, so ids reveal nothing.

use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use lvyue_entity::{account, escrow_order, event, party, scheme};

use crate::error::{DomainError, DomainResult};
use crate::event::{EventRecord, to_i64};
use crate::ids::{OrderId, PartyId, SchemeId, Seq};
use crate::ledger::AccountRecord;
use crate::order_record::{OrderRecord, OrderStatus};
use crate::party::{PartyKind, PartyRecord};
use crate::principal::{Industry, Jurisdiction, Principal, Role};
use crate::scheme::SchemeRecord;

pub use crate::page::{MAX_PAGE, Page, Paged};
pub(crate) use crate::page::{newest_first, page_of};

/// Rows whose region starts with one of the prefixes and whose industry is listed.
pub(crate) fn jurisdiction_condition<R, I>(j: &Jurisdiction, region: R, industry: I) -> Condition
where
    R: ColumnTrait,
    I: ColumnTrait,
{
    if j.regions.is_empty() || j.industries.is_empty() {
        // An empty jurisdiction sees nothing.
        return Condition::all().add(Expr::val(1).eq(0));
    }
    let mut regions = Condition::any();
    for p in &j.regions {
        regions = regions.add(region.starts_with(p.as_str()));
    }
    Condition::all()
        .add(regions)
        .add(industry.is_in(j.industries.iter().map(|i| i.as_str())))
}

pub(crate) fn nothing() -> Condition {
    Condition::all().add(Expr::val(1).eq(0))
}

/// What orders a principal may see.
pub fn order_scope(p: &Principal) -> Condition {
    match p.role {
        Role::Bank => Condition::all(),
        Role::Merchant => p.party_id.map_or_else(nothing, |id| {
            Condition::all().add(escrow_order::Column::MerchantId.eq(id.0))
        }),
        Role::Payer => p.party_id.map_or_else(nothing, |id| {
            Condition::all().add(escrow_order::Column::PayerId.eq(id.0))
        }),
        Role::Regulator => jurisdiction_condition(
            &p.jurisdiction,
            escrow_order::Column::Region,
            escrow_order::Column::Industry,
        ),
        // A court reaches orders through evidence requests under a case number, not by listing.
        Role::Court => nothing(),
        // A confirmer sees the orders of the schemes it is registered to confirm for.
        Role::Confirmer => p.party_id.map_or_else(nothing, |id| {
            Condition::all().add(
                escrow_order::Column::SchemeId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(lvyue_entity::confirmer_scheme::Column::SchemeId)
                        .from(lvyue_entity::confirmer_scheme::Entity)
                        .and_where(lvyue_entity::confirmer_scheme::Column::PartyId.eq(id.0))
                        .to_owned(),
                ),
            )
        }),
    }
}

/// What merchants a principal may see.
pub fn merchant_scope(p: &Principal) -> Condition {
    let merchants = Condition::all().add(party::Column::Kind.eq(PartyKind::Merchant.as_str()));
    match p.role {
        Role::Bank | Role::Court => merchants,
        Role::Merchant => p
            .party_id
            .map_or_else(nothing, |id| merchants.add(party::Column::Id.eq(id.0))),
        Role::Payer | Role::Confirmer => nothing(),
        Role::Regulator => merchants.add(jurisdiction_condition(
            &p.jurisdiction,
            party::Column::Region,
            party::Column::Industry,
        )),
    }
}

/// What schemes a principal may see.
pub fn scheme_scope(p: &Principal) -> Condition {
    match p.role {
        Role::Bank => Condition::all(),
        Role::Regulator => jurisdiction_condition(
            &p.jurisdiction,
            scheme::Column::Region,
            scheme::Column::Industry,
        ),
        // Merchants and payers see the schemes they take part in through their orders.
        _ => nothing(),
    }
}

/// What housing vouchers a principal may see: the bank all; a regulator those of the schemes
/// in its jurisdiction; a holder its own.
pub fn voucher_scope(p: &Principal) -> Condition {
    use lvyue_entity::voucher;
    match p.role {
        Role::Bank => Condition::all(),
        Role::Payer => p.party_id.map_or_else(nothing, |id| {
            Condition::all().add(voucher::Column::HolderId.eq(id.0))
        }),
        Role::Regulator => Condition::all().add(
            Expr::col((voucher::Entity, voucher::Column::SchemeId)).in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(scheme::Column::Id)
                    .from(scheme::Entity)
                    .cond_where(scheme_scope(p))
                    .to_owned(),
            ),
        ),
        _ => nothing(),
    }
}

/// What supervised deposit accounts a principal may see: the bank all; a regulator those of
/// its regions and industries; a depositor its own.
pub fn deposit_account_scope(p: &Principal) -> Condition {
    use lvyue_entity::deposit_account as d;
    match p.role {
        Role::Bank => Condition::all(),
        Role::Payer => p.party_id.map_or_else(nothing, |id| {
            Condition::all().add(d::Column::OwnerId.eq(id.0))
        }),
        Role::Regulator => {
            jurisdiction_condition(&p.jurisdiction, d::Column::Region, d::Column::Industry)
        }
        _ => nothing(),
    }
}

/// What deposit freezes a principal may see: as deposit accounts, and a merchant those that
/// name it as beneficiary.
pub fn deposit_freeze_scope(p: &Principal) -> Condition {
    use lvyue_entity::deposit_freeze as f;
    match p.role {
        Role::Bank => Condition::all(),
        Role::Payer => p.party_id.map_or_else(nothing, |id| {
            Condition::all().add(f::Column::OwnerId.eq(id.0))
        }),
        Role::Merchant => p.party_id.map_or_else(nothing, |id| {
            Condition::all().add(f::Column::BeneficiaryId.eq(id.0))
        }),
        Role::Regulator => {
            jurisdiction_condition(&p.jurisdiction, f::Column::Region, f::Column::Industry)
        }
        Role::Court | Role::Confirmer => nothing(),
    }
}

/// # Errors
/// `NOT_FOUND` when it does not exist or is out of scope.
pub async fn order_visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: OrderId,
) -> DomainResult<OrderRecord> {
    escrow_order::Entity::find_by_id(id.0)
        .filter(order_scope(p))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("order", id))?
        .try_into()
}

/// By order number.
///
/// # Errors
/// `NOT_FOUND` when it does not exist or is out of scope.
pub async fn order_by_no<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    order_no: &str,
) -> DomainResult<OrderRecord> {
    escrow_order::Entity::find()
        .filter(escrow_order::Column::OrderNo.eq(order_no))
        .filter(order_scope(p))
        .one(db)
        .await?
        .ok_or_else(|| {
            DomainError::not_found("order", order_no.chars().take(40).collect::<String>())
        })?
        .try_into()
}

/// # Errors
/// `NOT_FOUND` when it does not exist or is out of scope.
pub async fn merchant_visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: PartyId,
) -> DomainResult<PartyRecord> {
    party::Entity::find_by_id(id.0)
        .filter(merchant_scope(p))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("merchant", id))?
        .try_into()
}

/// # Errors
/// `NOT_FOUND` when it does not exist or is out of scope.
pub async fn scheme_visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: SchemeId,
) -> DomainResult<SchemeRecord> {
    let mut cond = scheme_scope(p);
    if matches!(p.role, Role::Merchant | Role::Payer | Role::Confirmer) {
        // Schemes of the principal's own orders or enrollments, or that it confirms for.
        let own = match (p.role, p.party_id) {
            (Role::Merchant, Some(m)) => Expr::col((scheme::Entity, scheme::Column::Id))
                .in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(lvyue_entity::enrollment::Column::SchemeId)
                        .from(lvyue_entity::enrollment::Entity)
                        .and_where(lvyue_entity::enrollment::Column::MerchantId.eq(m.0))
                        .to_owned(),
                ),
            (Role::Payer, Some(payer)) => Expr::col((scheme::Entity, scheme::Column::Id))
                .in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(escrow_order::Column::SchemeId)
                        .from(escrow_order::Entity)
                        .and_where(escrow_order::Column::PayerId.eq(payer.0))
                        .to_owned(),
                ),
            (Role::Confirmer, Some(c)) => Expr::col((scheme::Entity, scheme::Column::Id))
                .in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(lvyue_entity::confirmer_scheme::Column::SchemeId)
                        .from(lvyue_entity::confirmer_scheme::Entity)
                        .and_where(lvyue_entity::confirmer_scheme::Column::PartyId.eq(c.0))
                        .to_owned(),
                ),
            _ => Expr::val(1).eq(0),
        };
        cond = Condition::all().add(own);
    }
    scheme::Entity::find_by_id(id.0)
        .filter(cond)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("scheme", id))?
        .try_into()
}

/// Filters of the order list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFilter {
    pub merchant: Option<PartyId>,
    pub payer: Option<PartyId>,
    pub scheme: Option<SchemeId>,
    pub status: Option<OrderStatus>,
    pub industry: Option<Industry>,
    pub region_prefix: Option<String>,
}

/// Orders in scope, newest first.
///
/// # Errors
/// `VALIDATION` for a bad page; database errors.
pub async fn orders<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    f: &OrderFilter,
    page: Page,
) -> DomainResult<Paged<OrderRecord>> {
    let mut q = escrow_order::Entity::find().filter(order_scope(p));
    if let Some(m) = f.merchant {
        q = q.filter(escrow_order::Column::MerchantId.eq(m.0));
    }
    if let Some(x) = f.payer {
        q = q.filter(escrow_order::Column::PayerId.eq(x.0));
    }
    if let Some(s) = f.scheme {
        q = q.filter(escrow_order::Column::SchemeId.eq(s.0));
    }
    if let Some(s) = f.status {
        q = q.filter(escrow_order::Column::Status.eq(s.as_str()));
    }
    if let Some(i) = f.industry {
        q = q.filter(escrow_order::Column::Industry.eq(i.as_str()));
    }
    if let Some(r) = &f.region_prefix {
        q = q.filter(escrow_order::Column::Region.starts_with(r.as_str()));
    }
    newest_first(db, q, escrow_order::Column::Id, page).await
}

/// Merchants in scope, newest first.
///
/// # Errors
/// Database errors.
pub async fn merchants<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    industry: Option<Industry>,
    page: Page,
) -> DomainResult<Paged<PartyRecord>> {
    let mut q = party::Entity::find().filter(merchant_scope(p));
    if let Some(i) = industry {
        q = q.filter(party::Column::Industry.eq(i.as_str()));
    }
    newest_first(db, q, party::Column::Id, page).await
}

/// Parties of a kind (the bank's view), newest first.
///
/// # Errors
/// `FORBIDDEN` for anyone but the bank.
pub async fn parties<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    kind: Option<PartyKind>,
    page: Page,
) -> DomainResult<Paged<PartyRecord>> {
    p.require_role(&[Role::Bank])?;
    let mut q = party::Entity::find();
    if let Some(k) = kind {
        q = q.filter(party::Column::Kind.eq(k.as_str()));
    }
    newest_first(db, q, party::Column::Id, page).await
}

/// A party by id as the principal may see it: the bank any, others themselves, merchants in
/// scope, and the payers of their own orders (merchants: only orders the payer accepted) or
/// jurisdiction (regulators).
///
/// # Errors
/// `NOT_FOUND` when out of scope.
pub async fn party_visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: PartyId,
) -> DomainResult<PartyRecord> {
    if p.role == Role::Bank || p.party_id == Some(id) {
        return crate::party::get_party(db, id).await;
    }
    let target = crate::party::get_party(db, id)
        .await
        .map_err(|_| DomainError::not_found("party", id))?;
    let visible = match target.kind {
        PartyKind::Merchant => merchant_visible(db, p, id).await.is_ok(),
        PartyKind::Payer => {
            let mut q = escrow_order::Entity::find()
                .filter(order_scope(p))
                .filter(escrow_order::Column::PayerId.eq(id.0));
            if p.role == Role::Merchant {
                // Naming someone on an order is not a way to see them: only their consent is.
                q = q.filter(escrow_order::Column::PayerAcceptedAtUs.is_not_null());
            }
            q.one(db).await?.is_some()
        }
        _ => false,
    };
    if visible {
        Ok(target)
    } else {
        Err(DomainError::not_found("party", id))
    }
}

/// Schemes in scope, newest first.
///
/// # Errors
/// Database errors.
pub async fn schemes<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    page: Page,
) -> DomainResult<Paged<SchemeRecord>> {
    let q = scheme::Entity::find().filter(scheme_scope(p));
    newest_first(db, q, scheme::Column::Id, page).await
}

/// Accounts a principal may see: the bank any; a merchant those it owns.
///
/// # Errors
/// Database errors.
pub async fn accounts<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    owner: Option<PartyId>,
    page: Page,
) -> DomainResult<Paged<AccountRecord>> {
    let mut q = account::Entity::find();
    match p.role {
        Role::Bank => {
            if let Some(o) = owner {
                q = q.filter(account::Column::OwnerId.eq(o.0));
            }
        }
        Role::Merchant => q = q.filter(account::Column::OwnerId.eq(p.own_party()?.0)),
        _ => {
            return Err(DomainError::Forbidden(format!(
                "role {} does not see accounts",
                p.role
            )));
        }
    }
    newest_first(db, q, account::Column::Id, page).await
}

/// An account the principal may see.
///
/// # Errors
/// `NOT_FOUND` when out of scope.
pub async fn account_visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: crate::ids::AccountId,
) -> DomainResult<AccountRecord> {
    let a = crate::ledger::get_account(db, id).await?;
    let ok = match p.role {
        Role::Bank => true,
        Role::Merchant => a.owner.is_some() && a.owner == p.party_id,
        _ => false,
    };
    if ok {
        Ok(a)
    } else {
        Err(DomainError::not_found("account", id))
    }
}

/// Which events of the log a principal may read in full (contents, not just hashes): the bank
/// all; others those about orders in their scope, or about themselves.
pub fn event_scope(p: &Principal) -> Condition {
    match p.role {
        Role::Bank => Condition::all(),
        Role::Merchant => p.party_id.map_or_else(nothing, |id| {
            Condition::all().add(event::Column::MerchantId.eq(id.0))
        }),
        Role::Payer => p.party_id.map_or_else(nothing, |id| {
            Condition::all().add(event::Column::PayerId.eq(id.0))
        }),
        // The access log (who read what, a court's case numbers) is the bank's, not a
        // regulator's, even for orders in its scope.
        Role::Regulator => Condition::all()
            .add(Expr::col((event::Entity, event::Column::EventType)).not_like("access.%"))
            .add(regulator_events(p)),
        Role::Court | Role::Confirmer => nothing(),
    }
}

/// The events of a regulator's orders and merchants.
fn regulator_events(p: &Principal) -> Condition {
    Condition::any()
        .add(
            Expr::col((event::Entity, event::Column::OrderId)).in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(escrow_order::Column::Id)
                    .from(escrow_order::Entity)
                    .cond_where(order_scope(p))
                    .to_owned(),
            ),
        )
        .add(
            Expr::col((event::Entity, event::Column::MerchantId)).in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(party::Column::Id)
                    .from(party::Entity)
                    .cond_where(merchant_scope(p))
                    .to_owned(),
            ),
        )
}

/// Events in scope, oldest first from seq `after` (exclusive), optionally of one order.
///
/// # Errors
/// Database errors.
pub async fn events<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    order: Option<OrderId>,
    after: Option<Seq>,
    first: u64,
) -> DomainResult<Paged<EventRecord>> {
    if first == 0 || first > MAX_PAGE {
        return Err(DomainError::invalid(
            "first",
            format!("must be 1 to {MAX_PAGE}"),
        ));
    }
    let mut q = event::Entity::find().filter(event_scope(p));
    if let Some(o) = order {
        q = q.filter(event::Column::OrderId.eq(o.0));
    }
    if let Some(a) = after {
        q = q.filter(event::Column::Seq.gt(to_i64(a.0)?));
    }
    let rows = q
        .order_by_asc(event::Column::Seq)
        .limit(first + 1)
        .all(db)
        .await?;
    let page = Page { after: None, first };
    Ok(page_of(
        rows.into_iter()
            .map(EventRecord::try_from)
            .collect::<DomainResult<Vec<_>>>()?,
        page,
    ))
}

/// One event, if the principal may read it.
///
/// # Errors
/// `NOT_FOUND` when out of scope.
pub async fn event_visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    seq: Seq,
) -> DomainResult<EventRecord> {
    event::Entity::find_by_id(to_i64(seq.0)?)
        .filter(event_scope(p))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("event", seq))?
        .try_into()
}
