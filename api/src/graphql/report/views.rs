//! The report objects of the schema: each domain report as GraphQL shows it, its totals, and
//! its rows as a connection cut from the report computed whole (the cursor is the row's
//! position in the report's order).

use async_graphql::connection::{Connection, Edge};
use async_graphql::{ID, Object, OutputType, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use lvyue_domain::Money;
use lvyue_domain::report::{
    self as dreport, BalanceRow, FlowRow, MilestoneLine, RefundSlaLine,
    SchemeReleases as DSchemeReleases, SnapshotRow,
};
use lvyue_domain::voucher::InventoryLine;

use crate::graphql::common::{gid, time};
use crate::graphql::connection::{self, Cursor, Page};
use crate::graphql::enums::{
    GqlFlowDimension, GqlIndustry, GqlRefundStatus, GqlSnapshotFrequency, GqlVoucherStatus,
};
use crate::graphql::scalars::Decimal;
use crate::graphql::trail;

/// One page of a report's rows: positions `after + 1 ..` (0-based), at most `page.first`.
fn rows_page<T: Clone, N: OutputType>(
    page: Page,
    rows: &[T],
    node: impl Fn(T) -> N,
) -> Connection<Cursor, N> {
    let start = page
        .after
        .map_or(0, |a| usize::try_from(a.saturating_add(1)).unwrap_or(0));
    let end = start.saturating_add(page.first).min(rows.len());
    let mut conn = Connection::new(page.after.is_some(), end < rows.len());
    if start < end {
        conn.edges.extend(
            rows[start..end]
                .iter()
                .enumerate()
                .map(|(i, r)| Edge::new(Cursor((start + i) as i64), node(r.clone()))),
        );
    }
    conn
}

fn money(m: Money) -> Decimal {
    m.into()
}

// ----- Fund flows -------------------------------------------------------------------------

/// One group's flows.
#[derive(SimpleObject, Clone)]
pub struct FundFlowRow {
    /// China calendar day, when grouped by day.
    pub day: Option<NaiveDate>,
    pub merchant_id: Option<ID>,
    pub merchant_name: Option<String>,
    pub industry: Option<GqlIndustry>,
    /// The city (6-digit code ending in 00) of the orders' region, when grouped by region.
    pub city: Option<String>,
    /// Paid in by payers (through channels, or from inside the bank: vouchers, subsidies).
    pub collected: Decimal,
    /// Released to merchants (milestones, splits, refund deductions kept).
    pub released: Decimal,
    /// Returned to payers.
    pub refunded: Decimal,
    /// Deducted by court order (扣划).
    pub deducted: Decimal,
    /// Frozen by holds placed on the orders' escrow (judicial freezes).
    pub frozen: Decimal,
    /// Prepaid money still held for payers at the end of the row's day (or of the period
    /// when not grouped by day).
    pub held: Decimal,
}

impl From<FlowRow> for FundFlowRow {
    fn from(r: FlowRow) -> FundFlowRow {
        let key = [
            r.day.map(|d| d.to_string()),
            r.merchant.map(|m| m.to_string()),
            r.industry.map(|i| i.as_str().to_owned()),
            r.city.as_ref().map(|c| c.as_str().to_owned()),
        ];
        trail::object(
            "fund flows row",
            key.into_iter().flatten().collect::<Vec<_>>().join(" "),
        );
        FundFlowRow {
            day: r.day,
            merchant_id: r.merchant.map(gid),
            merchant_name: r.merchant_name,
            industry: r.industry.map(Into::into),
            city: r.city.map(|c| c.as_str().to_owned()),
            collected: money(r.collected),
            released: money(r.released),
            refunded: money(r.refunded),
            deducted: money(r.deducted),
            frozen: money(r.frozen),
            held: money(r.held),
        }
    }
}

/// The flows of the whole report.
#[derive(SimpleObject)]
pub struct FundFlowTotals {
    pub collected: Decimal,
    pub released: Decimal,
    pub refunded: Decimal,
    pub deducted: Decimal,
    pub frozen: Decimal,
    /// Held for payers at the end of the period.
    pub held: Decimal,
}

/// Fund flows over a period: collected, released, refunded, deducted, frozen and held.
pub struct FundFlows(pub dreport::FundFlows);

#[Object]
impl FundFlows {
    #[graphql(name = "from")]
    async fn period_from(&self) -> DateTime<Utc> {
        time(self.0.period.from)
    }

    /// The end of the period (exclusive).
    #[graphql(name = "to")]
    async fn period_to(&self) -> DateTime<Utc> {
        time(self.0.period.to)
    }

    async fn group_by(&self) -> Vec<GqlFlowDimension> {
        self.0.group_by.iter().map(|d| (*d).into()).collect()
    }

    async fn totals(&self) -> FundFlowTotals {
        let t = &self.0.totals;
        FundFlowTotals {
            collected: money(t.collected),
            released: money(t.released),
            refunded: money(t.refunded),
            deducted: money(t.deducted),
            frozen: money(t.frozen),
            held: money(t.held),
        }
    }

    /// Rows in all pages.
    async fn total_count(&self) -> usize {
        self.0.rows.len()
    }

    /// Sorted by the dimensions (day, merchant, industry, city).
    #[graphql(complexity = "connection::complexity(first, child_complexity)")]
    async fn rows(
        &self,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, FundFlowRow>> {
        Ok(rows_page(
            Page::new(first, after)?,
            &self.0.rows,
            FundFlowRow::from,
        ))
    }
}

// ----- Balances by merchant ---------------------------------------------------------------

/// One merchant in one scheme over the period.
#[derive(SimpleObject, Clone)]
pub struct MerchantBalanceRow {
    pub merchant_id: ID,
    pub merchant_name: String,
    pub industry: GqlIndustry,
    pub region: String,
    pub scheme_id: ID,
    pub scheme_code: String,
    /// Prepaid money held for payers at the start of the period.
    pub opening: Decimal,
    pub collected: Decimal,
    pub released: Decimal,
    pub refunded: Decimal,
    /// Deducted by court order.
    pub deducted: Decimal,
    /// `opening + collected − released − refunded − deducted`.
    pub closing: Decimal,
    /// The custody ratio in force at the end of the period, in basis points; null when the
    /// scheme has no custody rule.
    pub custody_ratio_bp: Option<u32>,
    pub required_custody: Decimal,
    /// In the escrow accounts at the end of the period (the closing balance less what was
    /// still in clearing).
    pub actual_custody: Decimal,
    pub shortfall: Decimal,
}

impl From<BalanceRow> for MerchantBalanceRow {
    fn from(r: BalanceRow) -> MerchantBalanceRow {
        trail::object("balances row", format_args!("{} {}", r.merchant, r.scheme));
        MerchantBalanceRow {
            merchant_id: gid(r.merchant),
            merchant_name: r.merchant_name,
            industry: r.industry.into(),
            region: r.region.as_str().to_owned(),
            scheme_id: gid(r.scheme),
            scheme_code: r.scheme_code,
            opening: money(r.opening),
            collected: money(r.collected),
            released: money(r.released),
            refunded: money(r.refunded),
            deducted: money(r.deducted),
            closing: money(r.closing),
            custody_ratio_bp: r.custody_ratio.map(|b| b.get()),
            required_custody: money(r.required_custody),
            actual_custody: money(r.actual_custody),
            shortfall: money(r.shortfall),
        }
    }
}

/// The sums of every row.
#[derive(SimpleObject)]
pub struct MerchantBalanceTotals {
    pub opening: Decimal,
    pub collected: Decimal,
    pub released: Decimal,
    pub refunded: Decimal,
    pub deducted: Decimal,
    pub closing: Decimal,
    pub required_custody: Decimal,
    pub actual_custody: Decimal,
    pub shortfall: Decimal,
}

/// Balances by merchant (and scheme) over a period.
pub struct MerchantBalancesReport(pub dreport::MerchantBalances);

#[Object]
impl MerchantBalancesReport {
    #[graphql(name = "from")]
    async fn period_from(&self) -> DateTime<Utc> {
        time(self.0.period.from)
    }

    /// The end of the period (exclusive).
    #[graphql(name = "to")]
    async fn period_to(&self) -> DateTime<Utc> {
        time(self.0.period.to)
    }

    async fn totals(&self) -> async_graphql::Result<MerchantBalanceTotals> {
        let mut s = [Money::ZERO; 9];
        for r in &self.0.rows {
            let cols = [
                r.opening,
                r.collected,
                r.released,
                r.refunded,
                r.deducted,
                r.closing,
                r.required_custody,
                r.actual_custody,
                r.shortfall,
            ];
            for (acc, v) in s.iter_mut().zip(cols) {
                *acc = acc.checked_add(v)?;
            }
        }
        Ok(MerchantBalanceTotals {
            opening: money(s[0]),
            collected: money(s[1]),
            released: money(s[2]),
            refunded: money(s[3]),
            deducted: money(s[4]),
            closing: money(s[5]),
            required_custody: money(s[6]),
            actual_custody: money(s[7]),
            shortfall: money(s[8]),
        })
    }

    /// Rows in all pages.
    async fn total_count(&self) -> usize {
        self.0.rows.len()
    }

    /// By merchant, then scheme.
    #[graphql(complexity = "connection::complexity(first, child_complexity)")]
    async fn rows(
        &self,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, MerchantBalanceRow>> {
        Ok(rows_page(
            Page::new(first, after)?,
            &self.0.rows,
            MerchantBalanceRow::from,
        ))
    }
}

// ----- Snapshots --------------------------------------------------------------------------

/// One merchant in one scheme at the end of one day.
#[derive(SimpleObject, Clone)]
pub struct BalanceSnapshotRow {
    pub date: NaiveDate,
    pub merchant_id: ID,
    pub merchant_name: String,
    pub scheme_id: ID,
    pub scheme_code: String,
    /// The day's flows.
    pub collected: Decimal,
    pub released: Decimal,
    pub refunded: Decimal,
    pub deducted: Decimal,
    /// Prepaid money held for payers at the end of the day.
    pub closing: Decimal,
    /// Of it, what was in the escrow accounts (settled).
    pub in_escrow: Decimal,
}

impl From<SnapshotRow> for BalanceSnapshotRow {
    fn from(r: SnapshotRow) -> BalanceSnapshotRow {
        trail::object(
            "snapshot row",
            format_args!("{} {} {}", r.date, r.merchant, r.scheme),
        );
        BalanceSnapshotRow {
            date: r.date,
            merchant_id: gid(r.merchant),
            merchant_name: r.merchant_name,
            scheme_id: gid(r.scheme),
            scheme_code: r.scheme_code,
            collected: money(r.collected),
            released: money(r.released),
            refunded: money(r.refunded),
            deducted: money(r.deducted),
            closing: money(r.closing),
            in_escrow: money(r.in_escrow),
        }
    }
}

/// Closing balances at the end of each day (or quarter end) of a period.
pub struct BalanceSnapshots(pub dreport::Snapshots);

#[Object]
impl BalanceSnapshots {
    #[graphql(name = "from")]
    async fn period_from(&self) -> DateTime<Utc> {
        time(self.0.period.from)
    }

    /// The end of the period (exclusive).
    #[graphql(name = "to")]
    async fn period_to(&self) -> DateTime<Utc> {
        time(self.0.period.to)
    }

    async fn frequency(&self) -> GqlSnapshotFrequency {
        self.0.frequency.into()
    }

    /// Rows in all pages.
    async fn total_count(&self) -> usize {
        self.0.rows.len()
    }

    /// By date, then merchant, then scheme.
    #[graphql(complexity = "connection::complexity(first, child_complexity)")]
    async fn rows(
        &self,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, BalanceSnapshotRow>> {
        Ok(rows_page(
            Page::new(first, after)?,
            &self.0.rows,
            BalanceSnapshotRow::from,
        ))
    }
}

// ----- Collected vs released by scheme and milestone --------------------------------------

/// One milestone position of a scheme's schedule.
#[derive(SimpleObject, Clone)]
pub struct MilestoneReleaseLine {
    /// 0-based position in the schedule.
    pub index: i32,
    pub name: String,
    /// Milestones released in the period, and their amount.
    pub released_count: u64,
    pub released: Decimal,
    /// Scheduled at the end of the period but neither released nor cancelled.
    pub outstanding_count: u64,
    pub outstanding: Decimal,
}

impl From<MilestoneLine> for MilestoneReleaseLine {
    fn from(m: MilestoneLine) -> MilestoneReleaseLine {
        MilestoneReleaseLine {
            index: m.index,
            name: m.name,
            released_count: m.released_count,
            released: money(m.released),
            outstanding_count: m.outstanding_count,
            outstanding: money(m.outstanding),
        }
    }
}

/// One scheme: what was collected and released in the period, milestone by milestone.
#[derive(SimpleObject, Clone)]
pub struct SchemeReleases {
    pub scheme_id: ID,
    pub code: String,
    pub name: String,
    pub industry: GqlIndustry,
    pub region: String,
    pub collected: Decimal,
    /// Everything released to merchants: the milestones plus `releasedOutsideSchedule`.
    pub released: Decimal,
    pub refunded: Decimal,
    pub deducted: Decimal,
    /// Released by no milestone: platform splits, deductions kept from refunds.
    pub released_outside_schedule: Decimal,
    /// In schedule order.
    pub milestones: Vec<MilestoneReleaseLine>,
}

impl From<DSchemeReleases> for SchemeReleases {
    fn from(s: DSchemeReleases) -> SchemeReleases {
        trail::object("releases of scheme", s.scheme);
        SchemeReleases {
            scheme_id: gid(s.scheme),
            code: s.code,
            name: s.name,
            industry: s.industry.into(),
            region: s.region.as_str().to_owned(),
            collected: money(s.collected),
            released: money(s.released),
            refunded: money(s.refunded),
            deducted: money(s.deducted),
            released_outside_schedule: money(s.released_outside_schedule),
            milestones: s.milestones.into_iter().map(Into::into).collect(),
        }
    }
}

/// Collected vs released by scheme and milestone over a period.
pub struct MilestoneReleasesReport(pub dreport::MilestoneReleases);

#[Object]
impl MilestoneReleasesReport {
    #[graphql(name = "from")]
    async fn period_from(&self) -> DateTime<Utc> {
        time(self.0.period.from)
    }

    /// The end of the period (exclusive).
    #[graphql(name = "to")]
    async fn period_to(&self) -> DateTime<Utc> {
        time(self.0.period.to)
    }

    /// Schemes in all pages.
    async fn total_count(&self) -> usize {
        self.0.schemes.len()
    }

    /// By scheme id.
    #[graphql(complexity = "connection::complexity(first, child_complexity)")]
    async fn schemes(
        &self,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, SchemeReleases>> {
        Ok(rows_page(
            Page::new(first, after)?,
            &self.0.schemes,
            SchemeReleases::from,
        ))
    }
}

// ----- Refund SLA -------------------------------------------------------------------------

/// One refund requested in the period, measured against its deadline.
#[derive(SimpleObject, Clone)]
#[graphql(name = "RefundSlaLine")]
pub struct RefundSlaLineView {
    pub refund_id: ID,
    pub order_id: ID,
    pub order_no: String,
    pub merchant_id: ID,
    pub merchant_name: String,
    pub scheme_id: ID,
    pub industry: GqlIndustry,
    pub status: GqlRefundStatus,
    /// What went back to the payer (zero until executed).
    pub amount: Decimal,
    pub requested_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub executed_at: Option<DateTime<Utc>>,
    pub working_days_allowed: u32,
    /// To its execution, or to `asOf` while it is open.
    pub working_days_taken: u32,
    pub overdue: bool,
}

impl From<RefundSlaLine> for RefundSlaLineView {
    fn from(l: RefundSlaLine) -> RefundSlaLineView {
        let r = l.sla;
        trail::order(r.order);
        RefundSlaLineView {
            // The id form `Refund.id` uses.
            refund_id: ID(format!("rfd_{}", r.refund)),
            order_id: gid(r.order),
            order_no: r.order_no,
            merchant_id: gid(r.merchant),
            merchant_name: l.merchant_name,
            scheme_id: gid(r.scheme),
            industry: r.industry.into(),
            status: r.status.into(),
            amount: money(r.amount),
            requested_at: time(r.requested_at),
            due_at: time(r.due_at),
            executed_at: r.executed_at.map(time),
            working_days_allowed: r.working_days_allowed,
            working_days_taken: r.working_days_taken,
            overdue: r.overdue,
        }
    }
}

/// The counts of a refund SLA report.
#[derive(SimpleObject)]
pub struct RefundSlaSummary {
    pub requested: u64,
    pub executed_on_time: u64,
    pub executed_late: u64,
    pub open_within_deadline: u64,
    pub open_overdue: u64,
    /// Returned to payers by the executed refunds.
    pub refunded: Decimal,
}

/// Refunds requested in a period and how fast they were executed.
pub struct RefundSlaReport(pub dreport::RefundSla);

#[Object]
impl RefundSlaReport {
    #[graphql(name = "from")]
    async fn period_from(&self) -> DateTime<Utc> {
        time(self.0.period.from)
    }

    /// The end of the period (exclusive).
    #[graphql(name = "to")]
    async fn period_to(&self) -> DateTime<Utc> {
        time(self.0.period.to)
    }

    /// The time open refunds were judged at.
    async fn as_of(&self) -> DateTime<Utc> {
        time(self.0.as_of)
    }

    async fn summary(&self) -> RefundSlaSummary {
        let s = &self.0.summary;
        RefundSlaSummary {
            requested: s.requested,
            executed_on_time: s.executed_on_time,
            executed_late: s.executed_late,
            open_within_deadline: s.open_within_deadline,
            open_overdue: s.open_overdue,
            refunded: money(s.refunded),
        }
    }

    /// Rows in all pages.
    async fn total_count(&self) -> usize {
        self.0.rows.len()
    }

    /// By request time.
    #[graphql(complexity = "connection::complexity(first, child_complexity)")]
    async fn rows(
        &self,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, RefundSlaLineView>> {
        Ok(rows_page(
            Page::new(first, after)?,
            &self.0.rows,
            RefundSlaLineView::from,
        ))
    }
}

// ----- Voucher inventory ------------------------------------------------------------------

/// One project's housing vouchers in one status.
#[derive(SimpleObject, Clone)]
pub struct VoucherInventoryReportLine {
    pub scheme_id: ID,
    pub project_id: ID,
    pub status: GqlVoucherStatus,
    pub count: u64,
    /// Sum of the vouchers' face amounts.
    pub face: Decimal,
    /// Sum of what they hold now.
    pub balance: Decimal,
}

impl From<InventoryLine> for VoucherInventoryReportLine {
    fn from(l: InventoryLine) -> VoucherInventoryReportLine {
        trail::object(
            "voucher inventory line",
            format_args!("{} {} {}", l.scheme, l.project, l.status.as_str()),
        );
        VoucherInventoryReportLine {
            scheme_id: gid(l.scheme),
            project_id: gid(l.project),
            status: l.status.into(),
            count: l.count,
            face: money(l.face),
            balance: money(l.balance),
        }
    }
}

/// The housing-voucher (房票) inventory as it stands.
pub struct VoucherInventoryReport(pub dreport::VoucherInventory);

#[Object]
impl VoucherInventoryReport {
    async fn as_of(&self) -> DateTime<Utc> {
        time(self.0.as_of)
    }

    /// Vouchers counted in all lines.
    async fn count(&self) -> u64 {
        self.0.lines.iter().map(|l| l.count).sum()
    }

    /// Sum of the balances of all lines.
    async fn balance(&self) -> async_graphql::Result<Decimal> {
        let mut total = Money::ZERO;
        for l in &self.0.lines {
            total = total.checked_add(l.balance)?;
        }
        Ok(money(total))
    }

    /// Lines in all pages.
    async fn total_count(&self) -> usize {
        self.0.lines.len()
    }

    /// By project and status.
    #[graphql(complexity = "connection::complexity(first, child_complexity)")]
    async fn lines(
        &self,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, VoucherInventoryReportLine>> {
        Ok(rows_page(
            Page::new(first, after)?,
            &self.0.lines,
            VoucherInventoryReportLine::from,
        ))
    }
}
