//! Regulator reports (docs/domain.md, "What regulators ask for"): fund flows, balances by
//! merchant, daily and quarter-end snapshots, collected vs released by scheme and
//! milestone, the refund SLA, and the voucher inventory.
//!
//! Each report is one function of `(db, principal, period, filter)` that returns typed rows, so
//! the API exposes it 1:1 in GraphQL and, through [`render_csv`] and [`render_xlsx`], as a CSV or
//! Excel download.
//! Scoping is the one of [`crate::queries::order_scope`], applied in SQL: a regulator sees the
//! orders of its regions and industries, a merchant its own, the bank all; payers and courts
//! get no reports.
//!
//! Every amount is read from the ledger — the positive postings of the journal entries of an
//! order (`COLLECT`, `RELEASE`, `SPLIT`, `REFUND`, `DEDUCT`) and the postings on its escrow
//! account — never from the order counters, so every total is the ledger's (the tests reconcile
//! both). Days are China calendar days, bucketed with integer arithmetic that SQLite and
//! PostgreSQL compute alike.
//!
//! Running a report for download is itself recorded ([`RecordReportRun`]): a `report_run` row
//! and a notarized `report.run` event, whose id the CSV watermark prints.

mod balances;
mod cells;
mod export;
mod flows;
mod milestones;
mod refund_sla;
mod run;
mod vouchers;

pub use balances::{
    BalanceRow, MerchantBalances, SnapshotFrequency, SnapshotRow, Snapshots, balances, snapshots,
};
pub use export::{BOM, CsvReport, render_csv, render_xlsx};
pub use flows::{FlowDimension, FlowQuery, FlowRow, FlowTotals, FundFlows, fund_flows};
pub use milestones::{MilestoneLine, MilestoneReleases, SchemeReleases, releases_by_milestone};
pub use refund_sla::{RefundSla, RefundSlaLine, RefundSlaSummary, refund_sla};
pub use run::{
    MAX_PARAMS_CHARS, RecordReportRun, ReportKind, ReportRun, get_report_run, report_runs,
};
pub use vouchers::{VoucherInventory, voucher_inventory};

use chrono::NaiveDate;
use sea_orm::ColumnTrait;
use sea_orm::sea_query::Condition;
use serde::{Deserialize, Serialize};

use lvyue_entity::escrow_order;

use crate::clock::Timestamp;
use crate::error::{DomainError, DomainResult};
use crate::ids::{PartyId, SchemeId};
use crate::principal::{Industry, Principal, RegionPrefix, Role};

/// Longest period a report covers (ten years and a few days: quarter-end snapshots of a
/// decade).
pub const MAX_PERIOD_DAYS: i64 = 3_660;
/// Most rows one report holds in memory; a larger request is refused, not truncated.
pub const MAX_REPORT_ROWS: usize = 200_000;

/// Microseconds in a day.
pub(crate) const DAY_US: i64 = 86_400_000_000;
/// China Standard Time is UTC+8 all year (no daylight saving time).
pub(crate) const CHINA_OFFSET_US: i64 = 8 * 3_600_000_000;

/// The China calendar day an instant falls on, as days since 1970-01-01 (integer arithmetic,
/// the same expression the SQL of the reports groups by).
pub(crate) fn china_day_index(t: Timestamp) -> i64 {
    (t.0 + CHINA_OFFSET_US).div_euclid(DAY_US)
}

/// The date of a day index.
pub(crate) fn date_of_day(day: i64) -> DomainResult<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::days(day)))
        .ok_or_else(|| DomainError::Invariant(format!("day {day} is out of the calendar")))
}

/// A report's time range: `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Period {
    /// # Errors
    /// `VALIDATION` when `from` is not before `to` or the period is longer than
    /// [`MAX_PERIOD_DAYS`].
    pub fn new(from: Timestamp, to: Timestamp) -> DomainResult<Period> {
        if from >= to {
            return Err(DomainError::invalid("period", "from must be before to"));
        }
        if to.0 - from.0 > MAX_PERIOD_DAYS * DAY_US {
            return Err(DomainError::invalid(
                "period",
                format!("a report covers at most {MAX_PERIOD_DAYS} days"),
            ));
        }
        Ok(Period { from, to })
    }

    /// Whole China calendar days: from the start of `first` to the end of `last`.
    ///
    /// # Errors
    /// As [`Period::new`].
    pub fn china_days(first: NaiveDate, last: NaiveDate) -> DomainResult<Period> {
        let after = last
            .succ_opt()
            .ok_or_else(|| DomainError::invalid("period", "out of the calendar"))?;
        Period::new(
            Timestamp::china_midnight(first),
            Timestamp::china_midnight(after),
        )
    }

    /// The last instant inside the period.
    pub fn last_instant(self) -> Timestamp {
        Timestamp(self.to.0 - 1)
    }

    /// The China calendar days the period touches, first to last.
    pub(crate) fn days(self) -> std::ops::RangeInclusive<i64> {
        china_day_index(self.from)..=china_day_index(self.last_instant())
    }
}

/// Narrows a report beyond the principal's scope: time range aside, the filters regulators ask
/// for (docs/domain.md: "queryable by time range, region, industry, merchant").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFilter {
    pub merchant: Option<PartyId>,
    pub scheme: Option<SchemeId>,
    pub industry: Option<Industry>,
    pub region_prefix: Option<RegionPrefix>,
}

/// Who may run reports: the bank, regulators (their jurisdiction) and merchants (themselves).
pub(crate) fn require_report_role(p: &Principal) -> DomainResult<()> {
    p.require_role(&[Role::Bank, Role::Regulator, Role::Merchant])
}

/// The orders a report covers: the principal's scope and the filter, on `escrow_order`.
///
/// # Errors
/// `FORBIDDEN` for payers and courts.
pub(crate) fn order_condition(p: &Principal, f: &ReportFilter) -> DomainResult<Condition> {
    require_report_role(p)?;
    let mut c = Condition::all().add(crate::queries::order_scope(p));
    if let Some(m) = f.merchant {
        c = c.add(escrow_order::Column::MerchantId.eq(m.0));
    }
    if let Some(s) = f.scheme {
        c = c.add(escrow_order::Column::SchemeId.eq(s.0));
    }
    if let Some(i) = f.industry {
        c = c.add(escrow_order::Column::Industry.eq(i.as_str()));
    }
    if let Some(r) = &f.region_prefix {
        c = c.add(escrow_order::Column::Region.starts_with(r.as_str()));
    }
    Ok(c)
}

/// A row count check before a report grows past [`MAX_REPORT_ROWS`].
pub(crate) fn check_rows(n: usize) -> DomainResult<()> {
    if n > MAX_REPORT_ROWS {
        return Err(DomainError::LimitExceeded(format!(
            "the report would have more than {MAX_REPORT_ROWS} rows: narrow the period or the filter"
        )));
    }
    Ok(())
}

/// Money from a fen sum that the ledger guarantees is not negative.
pub(crate) fn money(fen: i64, what: &str) -> DomainResult<crate::money::Money> {
    crate::money::Money::from_fen(fen)
        .map_err(|_| DomainError::Invariant(format!("{what} is {fen} fen, out of range")))
}

#[cfg(test)]
mod tests;
