//! Regulator reports in the schema (docs/domain.md, "What regulators ask for"; regulators'
//! fund flows): fund flows by day, merchant, industry and city; balances by merchant; daily and
//! quarter-end snapshots; collected vs released by scheme and milestone; the refund SLA; the
//! voucher inventory. Each field is one domain report call, scoped there to the caller (the
//! bank all, a regulator its regions and industries, a merchant itself); the same reports are
//! downloadable as CSV at `GET /reports/<kind>.csv` (`crate::server`), where each download is
//! recorded as a report run ([`ReportQuery::report_runs`]).
//!
//! A report is an aggregate computed whole; its rows are served as a Relay connection cut from
//! it (at most 200 a page), the cursor being the row's position in the report's order. Totals
//! come with the report, so a client never adds pages up to reconcile.

mod views;

pub use views::{
    BalanceSnapshotRow, BalanceSnapshots, FundFlowRow, FundFlowTotals, FundFlows,
    MerchantBalanceRow, MerchantBalanceTotals, MerchantBalancesReport, MilestoneReleaseLine,
    MilestoneReleasesReport, RefundSlaLineView, RefundSlaReport, RefundSlaSummary, SchemeReleases,
    VoucherInventoryReport, VoucherInventoryReportLine,
};

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Json, Object};
use chrono::{DateTime, Utc};

use lvyue_domain::DomainError;
use lvyue_domain::ids::{PartyId, ReportRunId, SchemeId};
use lvyue_domain::principal::{RegionPrefix, Role};
use lvyue_domain::queries::Page as DPage;
use lvyue_domain::report::{
    self as dreport, FlowQuery, Period, ReportFilter, ReportRun as DReportRun,
};

use super::common::{gid, id, time, timestamp};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::enums::{GqlFlowDimension, GqlIndustry, GqlReportKind, GqlRole, GqlSnapshotFrequency};
use super::guard::RoleGuard;

/// Most `groupBy` dimensions (each of the four once).
const MAX_GROUP_BY: usize = 4;

/// The period `[from, to)` of a report.
///
/// # Errors
/// `VALIDATION` when `from` is not before `to` or the period is too long.
pub fn period(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Period, DomainError> {
    Period::new(timestamp(from), timestamp(to))
}

/// Narrows a report beyond the caller's scope.
#[derive(InputObject, Default, Clone)]
pub struct ReportFilterInput {
    pub merchant: Option<ID>,
    pub scheme: Option<ID>,
    pub industry: Option<GqlIndustry>,
    /// A region code prefix (2, 4 or 6 digits).
    pub region_prefix: Option<String>,
}

impl ReportFilterInput {
    /// The domain filter.
    ///
    /// # Errors
    /// `NOT_FOUND` for a malformed id, `VALIDATION` for a malformed region prefix.
    pub fn to_domain(&self) -> Result<ReportFilter, DomainError> {
        Ok(ReportFilter {
            merchant: self.merchant.as_ref().map(id::<PartyId>).transpose()?,
            scheme: self.scheme.as_ref().map(id::<SchemeId>).transpose()?,
            industry: self.industry.map(Into::into),
            region_prefix: self
                .region_prefix
                .as_deref()
                .map(str::parse::<RegionPrefix>)
                .transpose()?,
        })
    }
}

fn filter_of(f: Option<ReportFilterInput>) -> Result<ReportFilter, DomainError> {
    f.unwrap_or_default().to_domain()
}

/// The dimensions of a fund-flow report, each once, in the order given.
///
/// # Errors
/// `VALIDATION` for more than the four dimensions.
pub fn group_by(dims: &[GqlFlowDimension]) -> Result<Vec<dreport::FlowDimension>, DomainError> {
    if dims.len() > MAX_GROUP_BY {
        return Err(DomainError::invalid(
            "groupBy",
            format!("at most {MAX_GROUP_BY} dimensions"),
        ));
    }
    let mut out: Vec<dreport::FlowDimension> = Vec::with_capacity(dims.len());
    for d in dims {
        let d = (*d).into();
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

// ----- Report runs ------------------------------------------------------------------------

/// A recorded download of a report: who, which report, with which parameters, when. Its id is
/// the one printed in the CSV watermark; its `report.run` event is in the notarized log.
pub struct ReportRun(pub DReportRun);

#[Object]
impl ReportRun {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn kind(&self) -> GqlReportKind {
        self.0.kind.into()
    }

    /// The token subject of who ran it.
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    async fn role(&self) -> GqlRole {
        self.0.role.into()
    }

    async fn party_id(&self) -> Option<ID> {
        self.0.party.map(gid)
    }

    /// The parameters as given (period, filter, grouping).
    async fn params(&self) -> Json<serde_json::Value> {
        Json(self.0.params.clone())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
}

#[derive(Default)]
pub struct ReportQuery;

#[Object]
impl ReportQuery {
    /// Fund flows over `[from, to)` in your scope, grouped by any of day, merchant, industry
    /// and city (none: one row of totals). CSV: `GET /reports/fund-flows.csv`.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Merchant])")]
    async fn fund_flows(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default)] group_by: Vec<GqlFlowDimension>,
        filter: Option<ReportFilterInput>,
    ) -> async_graphql::Result<FundFlows> {
        let q = FlowQuery {
            period: period(from, to)?,
            filter: filter_of(filter)?,
            group_by: self::group_by(&group_by)?,
        };
        Ok(FundFlows(
            dreport::fund_flows(ctx.escrow()?.db(), ctx.principal()?, &q).await?,
        ))
    }

    /// Balances by merchant and scheme over `[from, to)`: opening, collected, released,
    /// refunded, deducted, closing, required and actual custody, shortfall.
    /// CSV: `GET /reports/merchant-balances.csv`.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Merchant])")]
    async fn merchant_balances_report(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        filter: Option<ReportFilterInput>,
    ) -> async_graphql::Result<MerchantBalancesReport> {
        Ok(MerchantBalancesReport(
            dreport::balances(
                ctx.escrow()?.db(),
                ctx.principal()?,
                period(from, to)?,
                &filter_of(filter)?,
            )
            .await?,
        ))
    }

    /// Closing balances at the end of every day, or of every quarter, of `[from, to)`.
    /// CSV: `GET /reports/snapshots.csv`.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Merchant])")]
    async fn snapshots(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        filter: Option<ReportFilterInput>,
        #[graphql(default_with = "GqlSnapshotFrequency::Daily")] frequency: GqlSnapshotFrequency,
    ) -> async_graphql::Result<BalanceSnapshots> {
        Ok(BalanceSnapshots(
            dreport::snapshots(
                ctx.escrow()?.db(),
                ctx.principal()?,
                period(from, to)?,
                &filter_of(filter)?,
                frequency.into(),
            )
            .await?,
        ))
    }

    /// Collected vs released by scheme and milestone over `[from, to)`.
    /// CSV: `GET /reports/releases-by-milestone.csv`.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Merchant])")]
    async fn releases_by_milestone(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        filter: Option<ReportFilterInput>,
    ) -> async_graphql::Result<MilestoneReleasesReport> {
        Ok(MilestoneReleasesReport(
            dreport::releases_by_milestone(
                ctx.escrow()?.db(),
                ctx.principal()?,
                period(from, to)?,
                &filter_of(filter)?,
            )
            .await?,
        ))
    }

    /// Refunds requested in `[from, to)`, each against its deadline, judged now, with the
    /// report's counts (`refundSla` lists the same refunds one page at a time, unsummed).
    /// CSV: `GET /reports/refund-sla.csv`.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Merchant])")]
    async fn refund_sla_report(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        filter: Option<ReportFilterInput>,
    ) -> async_graphql::Result<RefundSlaReport> {
        let escrow = ctx.escrow()?;
        Ok(RefundSlaReport(
            dreport::refund_sla(
                escrow.db(),
                ctx.principal()?,
                period(from, to)?,
                &filter_of(filter)?,
                escrow.clock().now(),
            )
            .await?,
        ))
    }

    /// The housing-voucher inventory in your scope now, optionally of one scheme.
    /// CSV: `GET /reports/voucher-inventory.csv`.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Merchant])")]
    async fn voucher_inventory_report(
        &self,
        ctx: &Context<'_>,
        scheme: Option<ID>,
    ) -> async_graphql::Result<VoucherInventoryReport> {
        let escrow = ctx.escrow()?;
        Ok(VoucherInventoryReport(
            dreport::voucher_inventory(
                escrow.db(),
                ctx.principal()?,
                scheme.as_ref().map(id::<SchemeId>).transpose()?,
                escrow.clock().now(),
            )
            .await?,
        ))
    }

    /// Recorded report downloads, newest first: the bank every run (the access log of
    /// reports), others their own.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Merchant])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn report_runs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, ReportRun>> {
        let page = Page::new(first, after)?;
        let rows = dreport::report_runs(
            ctx.escrow()?.db(),
            ctx.principal()?,
            DPage {
                after: page.after,
                first: page.first as u64,
            },
        )
        .await?;
        Ok(connection::of_paged(
            page,
            rows.items.into_iter().map(ReportRun).collect(),
            rows.has_next,
            |r| r.0.id.0,
        ))
    }

    /// A recorded report download, by the id in its CSV watermark (the bank any; others their
    /// own).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Merchant])")]
    async fn report_run(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ReportRun> {
        Ok(ReportRun(
            dreport::get_report_run(
                ctx.escrow()?.db(),
                ctx.principal()?,
                self::id::<ReportRunId>(&id)?,
            )
            .await?,
        ))
    }
}
