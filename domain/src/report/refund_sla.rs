//! The refund SLA report (docs/domain.md, "What regulators ask for": "requests, processed within N working days (for
//! example 15), overdue"): every refund requested in the period, as the refund-SLA query
//! ([`crate::refund_sla`]) measures it, with the merchant's name and the report's counts.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use lvyue_entity::escrow_order;

use super::{Period, ReportFilter, check_rows, require_report_role};
use crate::clock::Timestamp;
use crate::error::DomainResult;
use crate::money::Money;
use crate::page::{MAX_PAGE, Page};
use crate::principal::Principal;
use crate::refund_sla::{RefundSlaFilter, RefundSlaRow};

/// One refund, with its merchant's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundSlaLine {
    #[serde(flatten)]
    pub sla: RefundSlaRow,
    pub merchant_name: String,
}

/// Counts of the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundSlaSummary {
    pub requested: u64,
    pub executed_on_time: u64,
    pub executed_late: u64,
    pub open_within_deadline: u64,
    pub open_overdue: u64,
    /// Returned to payers by the executed refunds.
    pub refunded: Money,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundSla {
    pub period: Period,
    /// The time open refunds were judged at.
    pub as_of: Timestamp,
    /// By request time.
    pub rows: Vec<RefundSlaLine>,
    pub summary: RefundSlaSummary,
}

/// Refunds requested in the period, scoped to the principal, judged at `now`.
///
/// # Errors
/// `FORBIDDEN` for payers and courts; `LIMIT_EXCEEDED` past [`super::MAX_REPORT_ROWS`].
pub async fn refund_sla<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    period: Period,
    filter: &ReportFilter,
    now: Timestamp,
) -> DomainResult<RefundSla> {
    require_report_role(p)?;
    let f = RefundSlaFilter {
        merchant: filter.merchant,
        scheme: filter.scheme,
        industry: filter.industry,
        requested_from: Some(period.from),
        requested_before: Some(period.to),
        overdue_only: false,
        as_of: now,
    };
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = crate::refund_sla::refund_sla(db, p, &f, Page::new(after, MAX_PAGE)?).await?;
        after = page.items.last().map(|r| r.refund);
        rows.extend(page.items);
        check_rows(rows.len())?;
        if !page.has_next {
            break;
        }
    }
    // The query has no region filter: the orders' regions narrow it here.
    if let Some(prefix) = &filter.region_prefix {
        let mut regions: HashMap<i64, String> = HashMap::new();
        let ids: Vec<i64> = rows.iter().map(|r| r.order.0).collect();
        for chunk in ids.chunks(1_000) {
            for o in escrow_order::Entity::find()
                .filter(escrow_order::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await?
            {
                regions.insert(o.id, o.region);
            }
        }
        rows.retain(|r| {
            regions
                .get(&r.order.0)
                .is_some_and(|region| prefix.covers(region))
        });
    }
    rows.sort_by_key(|r| (r.requested_at, r.refund));
    let names =
        super::balances::merchant_names(db, rows.iter().map(|r| r.merchant.0).collect()).await?;
    let mut summary = RefundSlaSummary::default();
    let mut lines = Vec::with_capacity(rows.len());
    for r in rows {
        summary.requested += 1;
        match (r.executed_at.is_some(), r.overdue) {
            (true, false) => summary.executed_on_time += 1,
            (true, true) => summary.executed_late += 1,
            (false, false) => summary.open_within_deadline += 1,
            (false, true) => summary.open_overdue += 1,
        }
        summary.refunded = summary.refunded.checked_add(r.amount)?;
        lines.push(RefundSlaLine {
            merchant_name: super::balances::found(&names, r.merchant.0, "merchant")?,
            sla: r,
        });
    }
    Ok(RefundSla {
        period,
        as_of: now,
        rows: lines,
        summary,
    })
}
