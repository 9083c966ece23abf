//! The refund-SLA view (docs/domain.md, "What regulators ask for": refund SLA): for each refund in
//! scope, when it was asked for, when it was due (the policy's deadline in working days, e.g.
//! 15 for canteens), when it was executed, how many working days it took, and whether it was
//! late. Open refunds are measured against `as_of`.

use chrono::Datelike;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use lvyue_entity::{escrow_order, refund};

use crate::calendar::Calendar;
use crate::clock::Timestamp;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrderId, PartyId, SchemeId};
use crate::money::Money;
use crate::order_record::{OrderRecord, RefundStatus};
use crate::page::{Page, Paged, page_of};
use crate::principal::{Industry, Principal};
use crate::queries::order_scope;

/// Which refunds to list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundSlaFilter {
    pub merchant: Option<PartyId>,
    pub scheme: Option<SchemeId>,
    pub industry: Option<Industry>,
    /// Requested at or after.
    pub requested_from: Option<Timestamp>,
    /// Requested before.
    pub requested_before: Option<Timestamp>,
    /// Only refunds that were executed late or are open past their deadline.
    pub overdue_only: bool,
    /// The moment open refunds are measured against (now).
    pub as_of: Timestamp,
}

/// One refund's service level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundSlaRow {
    pub refund: i64,
    pub order: OrderId,
    pub order_no: String,
    pub merchant: PartyId,
    pub scheme: SchemeId,
    pub industry: Industry,
    pub status: RefundStatus,
    /// What went back to the payer (zero until executed).
    pub amount: Money,
    pub requested_at: Timestamp,
    pub due_at: Timestamp,
    pub executed_at: Option<Timestamp>,
    /// Working days the policy allowed (request day to due day).
    pub working_days_allowed: u32,
    /// Working days from the request to its execution, or to `as_of` while it is open.
    pub working_days_taken: u32,
    pub overdue: bool,
}

/// Refunds in scope (through their orders), newest first.
///
/// # Errors
/// Database errors; a date outside the loaded holiday calendar.
pub async fn refund_sla<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    f: &RefundSlaFilter,
    page: Page,
) -> DomainResult<Paged<RefundSlaRow>> {
    let mut orders = Query::select()
        .column(escrow_order::Column::Id)
        .from(escrow_order::Entity)
        .cond_where(order_scope(p))
        .to_owned();
    if let Some(m) = f.merchant {
        orders.and_where(escrow_order::Column::MerchantId.eq(m.0));
    }
    if let Some(s) = f.scheme {
        orders.and_where(escrow_order::Column::SchemeId.eq(s.0));
    }
    if let Some(i) = f.industry {
        orders.and_where(escrow_order::Column::Industry.eq(i.as_str()));
    }
    let mut q = refund::Entity::find().filter(refund::Column::OrderId.in_subquery(orders));
    if let Some(t) = f.requested_from {
        q = q.filter(refund::Column::RequestedAtUs.gte(t.0));
    }
    if let Some(t) = f.requested_before {
        q = q.filter(refund::Column::RequestedAtUs.lt(t.0));
    }
    if f.overdue_only {
        q = q.filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(refund::Column::ExecutedAtUs.is_null())
                        .add(refund::Column::DueAtUs.lt(f.as_of.0)),
                )
                .add(
                    Expr::col(refund::Column::ExecutedAtUs).gt(Expr::col(refund::Column::DueAtUs)),
                ),
        );
    }
    if let Some(a) = page.after {
        q = q.filter(refund::Column::Id.lt(a));
    }
    let rows = q
        .order_by_desc(refund::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    let order_rows = escrow_order::Entity::find()
        .filter(escrow_order::Column::Id.is_in(rows.iter().map(|r| r.order_id)))
        .all(db)
        .await?
        .into_iter()
        .map(OrderRecord::try_from)
        .collect::<DomainResult<Vec<_>>>()?;
    // One read of the calendar for every year the page's refunds span.
    let span = rows.iter().fold(None, |acc: Option<(i32, i32)>, r| {
        let first = Timestamp(r.requested_at_us).china_date().year();
        let end = r.executed_at_us.map_or(f.as_of, Timestamp);
        let last = end.max(Timestamp(r.due_at_us)).china_date().year();
        Some(acc.map_or((first, last), |(a, b)| {
            (Ord::min(a, first), Ord::max(b, last))
        }))
    });
    let calendar = match span {
        Some((first, last)) => Some(Calendar::read(db, first..=last).await?),
        None => None,
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(o) = order_rows.iter().find(|o| o.id.0 == r.order_id) else {
            continue;
        };
        let requested_at = Timestamp(r.requested_at_us);
        let due_at = Timestamp(r.due_at_us);
        let executed_at = r.executed_at_us.map(Timestamp);
        let end = executed_at.unwrap_or(f.as_of);
        out.push(RefundSlaRow {
            refund: r.id,
            order: o.id,
            order_no: o.order_no.clone(),
            merchant: o.merchant,
            scheme: o.scheme,
            industry: o.industry,
            status: r.status.parse()?,
            amount: Money::from_fen(r.amount_fen)?,
            requested_at,
            due_at,
            executed_at,
            working_days_allowed: working_days(calendar.as_ref(), requested_at, due_at)?,
            working_days_taken: working_days(calendar.as_ref(), requested_at, end)?,
            overdue: end > due_at,
        });
    }
    Ok(page_of(out, page))
}

fn working_days(cal: Option<&Calendar>, from: Timestamp, to: Timestamp) -> DomainResult<u32> {
    let cal = cal.ok_or_else(|| DomainError::Invariant("no calendar read for refunds".into()))?;
    Ok(cal
        .working_days_between(from.china_date(), to.china_date())?
        .days)
}
