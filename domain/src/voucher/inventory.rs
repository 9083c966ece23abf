//! Reads: vouchers, projects, redemptions and the voucher inventory (docs/domain.md, "What
//! regulators ask for"), each scoped to who asks — the bank everything, the housing bureau
//! the schemes of its regions and industries, a holder its own vouchers.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use lvyue_entity::{account, scheme, voucher, voucher_project, voucher_redemption};

use super::{VoucherProjectRecord, VoucherRecord, VoucherStatus, project::project_record, record};
use crate::clock::Timestamp;
use crate::error::{DomainError, DomainResult};
use crate::ids::{AccountId, OrderId, PartyId, SchemeId, VoucherId};
use crate::ledger::balances_of;
use crate::money::{Bp, Money};
use crate::page::{Page, Paged};
use crate::principal::{Principal, Role};
use crate::queries::{scheme_scope, voucher_scope};

/// Most inventory lines one answer carries (projects × statuses).
pub const MAX_INVENTORY_LINES: u64 = 2_000;

/// Filters of the voucher list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherFilter {
    pub scheme: Option<SchemeId>,
    pub project: Option<AccountId>,
    pub holder: Option<PartyId>,
    pub status: Option<VoucherStatus>,
}

async fn with_balances<C: ConnectionTrait>(
    db: &C,
    rows: Vec<voucher::Model>,
) -> DomainResult<Vec<VoucherRecord>> {
    let ids: Vec<AccountId> = rows.iter().map(|v| AccountId(v.account_id)).collect();
    let balances = balances_of(db, &ids).await?;
    rows.into_iter()
        .map(|m| {
            let b = balances
                .get(&AccountId(m.account_id))
                .copied()
                .ok_or_else(|| {
                    DomainError::Invariant(format!("voucher {} has no account", m.id))
                })?;
            record(m, b.balance_fen, b.held_fen)
        })
        .collect()
}

/// Vouchers in scope, newest first.
///
/// # Errors
/// Database errors.
pub async fn vouchers<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    f: &VoucherFilter,
    page: Page,
) -> DomainResult<Paged<VoucherRecord>> {
    let mut q = voucher::Entity::find().filter(voucher_scope(p));
    if let Some(s) = f.scheme {
        q = q.filter(voucher::Column::SchemeId.eq(s.0));
    }
    if let Some(a) = f.project {
        q = q.filter(voucher::Column::ProjectAccountId.eq(a.0));
    }
    if let Some(h) = f.holder {
        q = q.filter(voucher::Column::HolderId.eq(h.0));
    }
    if let Some(s) = f.status {
        q = q.filter(voucher::Column::Status.eq(s.as_str()));
    }
    if let Some(a) = page.after {
        q = q.filter(voucher::Column::Id.lt(a));
    }
    let mut rows = q
        .order_by_desc(voucher::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    let has_next = rows.len() as u64 > page.first;
    rows.truncate(page.first as usize);
    Ok(Paged {
        items: with_balances(db, rows).await?,
        has_next,
    })
}

/// # Errors
/// `NOT_FOUND` when it does not exist or is out of scope.
pub async fn voucher_visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: VoucherId,
) -> DomainResult<VoucherRecord> {
    let row = voucher::Entity::find_by_id(id.0)
        .filter(voucher_scope(p))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("voucher", id))?;
    with_balances(db, vec![row])
        .await?
        .pop()
        .ok_or_else(|| DomainError::not_found("voucher", id))
}

/// By voucher number.
///
/// # Errors
/// `NOT_FOUND` when it does not exist or is out of scope.
pub async fn voucher_by_number<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    number: &str,
) -> DomainResult<VoucherRecord> {
    let what = || DomainError::not_found("voucher", number.chars().take(40).collect::<String>());
    let row = voucher::Entity::find()
        .filter(voucher::Column::Number.eq(number))
        .filter(voucher_scope(p))
        .one(db)
        .await?
        .ok_or_else(what)?;
    with_balances(db, vec![row]).await?.pop().ok_or_else(what)
}

/// Voucher projects the bank, or a regulator of their scheme, may see.
///
/// # Errors
/// `FORBIDDEN` for merchants, payers and courts.
pub async fn voucher_projects<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    scheme_filter: Option<SchemeId>,
) -> DomainResult<Vec<VoucherProjectRecord>> {
    p.require_role(&[Role::Bank, Role::Regulator])?;
    let mut q = voucher_project::Entity::find().filter(
        Expr::col((voucher_project::Entity, voucher_project::Column::SchemeId)).in_subquery(
            Query::select()
                .column(scheme::Column::Id)
                .from(scheme::Entity)
                .cond_where(scheme_scope(p))
                .to_owned(),
        ),
    );
    if let Some(s) = scheme_filter {
        q = q.filter(voucher_project::Column::SchemeId.eq(s.0));
    }
    let rows = q
        .order_by_asc(voucher_project::Column::Id)
        .limit(crate::page::MAX_PAGE)
        .all(db)
        .await?;
    let balances = balances_of(
        db,
        &rows
            .iter()
            .map(|r| AccountId(r.account_id))
            .collect::<Vec<_>>(),
    )
    .await?;
    rows.into_iter()
        .map(|r| {
            let b = balances
                .get(&AccountId(r.account_id))
                .map(|b| b.balance_fen)
                .unwrap_or(0);
            project_record(r, b)
        })
        .collect()
}

/// One line of the inventory: the vouchers of one project in one status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryLine {
    pub scheme: SchemeId,
    pub project: AccountId,
    pub status: VoucherStatus,
    pub count: u64,
    /// Sum of the numbers' face amounts.
    pub face: Money,
    /// Sum of what they hold now.
    pub balance: Money,
}

/// The voucher inventory in scope: counts and sums by project and status.
///
/// # Errors
/// Database errors.
pub async fn voucher_inventory<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    scheme_filter: Option<SchemeId>,
) -> DomainResult<Vec<InventoryLine>> {
    let v = voucher::Entity;
    let mut cond = voucher_scope(p);
    if let Some(s) = scheme_filter {
        cond = cond.add(voucher::Column::SchemeId.eq(s.0));
    }
    let query = Query::select()
        .column((v, voucher::Column::SchemeId))
        .column((v, voucher::Column::ProjectAccountId))
        .column((v, voucher::Column::Status))
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .expr_as(
            Expr::cust("CAST(COALESCE(SUM(voucher.face_fen), 0) AS BIGINT)"),
            Alias::new("face_total"),
        )
        .expr_as(
            Expr::cust("CAST(COALESCE(SUM(account.balance_fen), 0) AS BIGINT)"),
            Alias::new("balance_total"),
        )
        .from(v)
        .inner_join(
            account::Entity,
            Expr::col((account::Entity, account::Column::Id))
                .equals((v, voucher::Column::AccountId)),
        )
        .cond_where(cond)
        .group_by_col((v, voucher::Column::SchemeId))
        .group_by_col((v, voucher::Column::ProjectAccountId))
        .group_by_col((v, voucher::Column::Status))
        .order_by((v, voucher::Column::ProjectAccountId), sea_orm::Order::Asc)
        .order_by((v, voucher::Column::Status), sea_orm::Order::Asc)
        .limit(MAX_INVENTORY_LINES)
        .to_owned();
    let stmt = db.get_database_backend().build(&query);
    db.query_all_raw(stmt)
        .await?
        .into_iter()
        .map(|row| {
            let status: String = row.try_get("", "status")?;
            Ok(InventoryLine {
                scheme: SchemeId(row.try_get("", "scheme_id")?),
                project: AccountId(row.try_get("", "project_account_id")?),
                status: status.parse()?,
                count: u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or(0),
                face: Money::from_fen(row.try_get("", "face_total")?)?,
                balance: Money::from_fen(row.try_get("", "balance_total")?)?,
            })
        })
        .collect()
}

/// A redemption as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionRecord {
    pub voucher: VoucherId,
    pub order: OrderId,
    pub developer: PartyId,
    pub amount: Money,
    pub reward_bp: Bp,
    pub reward: Money,
    pub contract_ref: String,
    pub refunded: Money,
    pub redeemed_at: Timestamp,
}

/// The redemptions of a voucher the principal may see.
///
/// # Errors
/// `NOT_FOUND` when the voucher is out of scope.
pub async fn redemptions_of<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: VoucherId,
) -> DomainResult<Vec<RedemptionRecord>> {
    voucher_visible(db, p, id).await?;
    voucher_redemption::Entity::find()
        .filter(voucher_redemption::Column::VoucherId.eq(id.0))
        .order_by_asc(voucher_redemption::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| {
            Ok(RedemptionRecord {
                voucher: VoucherId(r.voucher_id),
                order: OrderId(r.order_id),
                developer: PartyId(r.developer_id),
                amount: Money::from_fen(r.amount_fen)?,
                reward_bp: Bp::new(u32::try_from(r.reward_bp).unwrap_or(u32::MAX))?,
                reward: Money::from_fen(r.reward_fen)?,
                contract_ref: r.contract_ref,
                refunded: Money::from_fen(r.refunded_fen)?,
                redeemed_at: Timestamp(r.redeemed_at_us),
            })
        })
        .collect()
}
