//! Fund flows (docs/domain.md, "What regulators ask for": "fund flows (collected, released, refunded, held)
//! aggregated by day, merchant and industry over any period"): what came in and went out of
//! the payers' prepaid money, grouped by any of day, merchant, industry and city.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::cells::{Amounts, CellKey, Range, cells};
use super::{Period, ReportFilter, check_rows, date_of_day, money, order_condition};
use crate::enums::string_enum;
use crate::error::DomainResult;
use crate::ids::PartyId;
use crate::money::Money;
use crate::principal::{Industry, Principal, RegionCode};

string_enum!(
    /// What fund flows are grouped by.
    FlowDimension {
        /// China calendar day.
        Day = "DAY",
        Merchant = "MERCHANT",
        Industry = "INDUSTRY",
        /// The city (4-digit prefix) of the order's region, e.g. 320100 Nanjing.
        Region = "REGION",
    }
);

/// What to aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowQuery {
    pub period: Period,
    pub filter: ReportFilter,
    /// Any of the dimensions, in any order; none gives one row of totals.
    pub group_by: Vec<FlowDimension>,
}

/// One group's flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRow {
    pub day: Option<NaiveDate>,
    pub merchant: Option<PartyId>,
    pub merchant_name: Option<String>,
    pub industry: Option<Industry>,
    pub city: Option<RegionCode>,
    pub collected: Money,
    pub released: Money,
    pub refunded: Money,
    /// Deducted by court order (扣划).
    pub deducted: Money,
    /// Frozen: holds placed on the orders' escrow (judicial freezes…).
    pub frozen: Money,
    /// Prepaid money still held for the payers at the end of the row's day (or of the period
    /// when not grouped by day): collected − released − refunded − deducted since the start.
    pub held: Money,
}

/// The flows of the whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowTotals {
    pub collected: Money,
    pub released: Money,
    pub refunded: Money,
    pub deducted: Money,
    pub frozen: Money,
    /// Held for payers at the end of the period.
    pub held: Money,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundFlows {
    pub period: Period,
    pub group_by: Vec<FlowDimension>,
    /// Sorted by the dimensions (day, merchant, industry, city). Grouped by day, a group has a
    /// row on each day its money moved; otherwise every group with a flow or money held.
    pub rows: Vec<FlowRow>,
    pub totals: FlowTotals,
}

/// The group a cell falls in, every dimension not grouped by left at its neutral value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Group {
    merchant: Option<i64>,
    industry: Option<String>,
    city: Option<String>,
}

fn group_of(k: &CellKey, dims: &HashSet<FlowDimension>) -> Group {
    Group {
        merchant: dims
            .contains(&FlowDimension::Merchant)
            .then_some(k.merchant),
        industry: dims
            .contains(&FlowDimension::Industry)
            .then(|| k.industry.clone()),
        city: dims
            .contains(&FlowDimension::Region)
            .then(|| format!("{}00", k.region.get(..4).unwrap_or(&k.region))),
    }
}

/// Fund flows over a period, scoped to the principal.
///
/// # Errors
/// `FORBIDDEN` for payers and courts; `LIMIT_EXCEEDED` past [`super::MAX_REPORT_ROWS`].
pub async fn fund_flows<C: sea_orm::ConnectionTrait>(
    db: &C,
    p: &Principal,
    q: &FlowQuery,
) -> DomainResult<FundFlows> {
    let scope = order_condition(p, &q.filter)?;
    let dims: HashSet<FlowDimension> = q.group_by.iter().copied().collect();
    let by_day = dims.contains(&FlowDimension::Day);
    let (from, to) = (q.period.from.0, q.period.to.0);
    let range = if by_day {
        Range::ByDay { from, to }
    } else {
        Range::Whole { from, to }
    };
    let period = cells(db, &scope, range).await?;
    let opening = cells(db, &scope, Range::Before { to: from }).await?;

    // The held balance of each group carries over from before the period, day by day.
    let mut held: BTreeMap<Group, i64> = BTreeMap::new();
    for (k, a) in &opening {
        *held.entry(group_of(k, &dims)).or_default() += a.held_delta();
    }
    let mut rows_by: BTreeMap<(i64, Group), Amounts> = BTreeMap::new();
    for (k, a) in &period {
        rows_by
            .entry((k.day, group_of(k, &dims)))
            .or_default()
            .add(a);
    }
    // Groups with money held but no flow in the period still show what they hold.
    if !by_day {
        for (g, h) in &held {
            if *h != 0 {
                rows_by.entry((0, g.clone())).or_default();
            }
        }
    }
    check_rows(rows_by.len())?;
    let names = super::balances::merchant_names(
        db,
        rows_by.keys().filter_map(|(_, g)| g.merchant).collect(),
    )
    .await?;

    let mut totals = Amounts::default();
    let mut rows = Vec::with_capacity(rows_by.len());
    // Rows come in day order, so the running balance of each group is its balance that day.
    for ((day, g), a) in rows_by {
        let h = held.entry(g.clone()).or_default();
        *h += a.held_delta();
        totals.add(&a);
        rows.push(FlowRow {
            day: if by_day {
                Some(date_of_day(day)?)
            } else {
                None
            },
            merchant: g.merchant.map(PartyId),
            merchant_name: g.merchant.and_then(|m| names.get(&m).cloned()),
            industry: g.industry.as_deref().map(str::parse).transpose()?,
            city: g.city.as_deref().map(str::parse).transpose()?,
            collected: money(a.collected, "collected")?,
            released: money(a.released, "released")?,
            refunded: money(a.refunded, "refunded")?,
            deducted: money(a.deducted, "deducted")?,
            frozen: money(a.frozen, "frozen")?,
            held: money(*h, "held")?,
        });
    }
    Ok(FundFlows {
        period: q.period,
        group_by: q.group_by.clone(),
        rows,
        totals: FlowTotals {
            collected: money(totals.collected, "collected")?,
            released: money(totals.released, "released")?,
            refunded: money(totals.refunded, "refunded")?,
            deducted: money(totals.deducted, "deducted")?,
            frozen: money(totals.frozen, "frozen")?,
            held: money(held.values().sum(), "held")?,
        },
    })
}
