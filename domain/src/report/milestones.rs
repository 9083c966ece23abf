//! Collected vs released by scheme and milestone (docs/domain.md, "What regulators ask for": "counts and amounts per
//! milestone (for example K1/K2/K3)"): for each scheme, what was collected and released in the
//! period, how much of the release went out milestone by milestone, and what is scheduled but
//! not yet released.
//!
//! Every `RELEASE` entry releases exactly one milestone (`order::release`), so a milestone's
//! released amount is its entry's credit to the merchant's payable. Money released outside the
//! schedule — a platform split of the whole order, the deduction a merchant keeps from a refund —
//! is shown on its own line, so the milestones and that line add up to the scheme's released
//! total, which is the ledger's.

use std::collections::BTreeMap;

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use serde::{Deserialize, Serialize};

use lvyue_entity::{escrow_order, journal_entry, milestone, posting};

use super::cells::{Amounts, Range, cells};
use super::{Period, ReportFilter, check_rows, money, order_condition};
use crate::error::{DomainError, DomainResult};
use crate::ids::SchemeId;
use crate::ledger::EntryKind;
use crate::money::Money;
use crate::order_record::OrderStatus;
use crate::principal::{Industry, RegionCode};

/// One milestone position of a scheme's schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneLine {
    /// 0-based position in the schedule.
    pub index: i32,
    pub name: String,
    /// Milestones released in the period, and their amount.
    pub released_count: u64,
    pub released: Money,
    /// Milestones of orders opened before the period's end that were neither released nor
    /// cancelled (by a refund) by then: scheduled, waiting for confirmation or release.
    pub outstanding_count: u64,
    pub outstanding: Money,
}

/// One scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemeReleases {
    pub scheme: SchemeId,
    pub code: String,
    pub name: String,
    pub industry: Industry,
    pub region: RegionCode,
    pub collected: Money,
    /// Everything released to merchants in the period: the milestones plus
    /// `released_outside_schedule`.
    pub released: Money,
    pub refunded: Money,
    pub deducted: Money,
    pub released_outside_schedule: Money,
    /// In schedule order (index, then name when policy versions named a position differently).
    pub milestones: Vec<MilestoneLine>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneReleases {
    pub period: Period,
    pub schemes: Vec<SchemeReleases>,
}

/// `(scheme, index, name)` → (released count, released fen, outstanding count, outstanding fen).
type Lines = BTreeMap<(i64, i32, String), (u64, i64, u64, i64)>;

/// Collected vs released by scheme and milestone, scoped to the principal.
///
/// # Errors
/// `FORBIDDEN` for payers and courts; `LIMIT_EXCEEDED` past [`super::MAX_REPORT_ROWS`].
pub async fn releases_by_milestone<C: ConnectionTrait>(
    db: &C,
    p: &crate::principal::Principal,
    period: Period,
    filter: &ReportFilter,
) -> DomainResult<MilestoneReleases> {
    let scope = order_condition(p, filter)?;
    let mut by_scheme: BTreeMap<i64, Amounts> = BTreeMap::new();
    let flows = cells(
        db,
        &scope,
        Range::Whole {
            from: period.from.0,
            to: period.to.0,
        },
    )
    .await?;
    for (k, a) in &flows {
        by_scheme.entry(k.scheme).or_default().add(a);
    }
    let mut lines: Lines = BTreeMap::new();
    released_lines(db, &scope, period, &mut lines).await?;
    outstanding_lines(db, &scope, period, &mut lines).await?;
    for (scheme, _, _) in lines.keys() {
        by_scheme.entry(*scheme).or_default();
    }
    check_rows(lines.len() + by_scheme.len())?;
    let schemes = super::balances::schemes_by_id(db, by_scheme.keys().copied().collect()).await?;
    let mut out = Vec::with_capacity(by_scheme.len());
    for (id, a) in by_scheme {
        let s = schemes
            .get(&id)
            .ok_or_else(|| DomainError::Invariant(format!("orders of a missing scheme {id}")))?;
        let mut milestones = Vec::new();
        let mut on_schedule = 0i64;
        let own = (id, i32::MIN, String::new())..(id + 1, i32::MIN, String::new());
        for ((_, index, name), (rc, rf, oc, of)) in lines.range(own) {
            on_schedule += rf;
            milestones.push(MilestoneLine {
                index: *index,
                name: name.clone(),
                released_count: *rc,
                released: money(*rf, "released")?,
                outstanding_count: *oc,
                outstanding: money(*of, "outstanding")?,
            });
        }
        let outside = a.released - on_schedule;
        if outside < 0 {
            return Err(DomainError::Invariant(format!(
                "scheme {} released {} fen by milestone but {} fen in all",
                s.code, on_schedule, a.released
            )));
        }
        out.push(SchemeReleases {
            scheme: SchemeId(id),
            code: s.code.clone(),
            name: s.name.clone(),
            industry: s.industry.parse()?,
            region: s.region.parse()?,
            collected: money(a.collected, "collected")?,
            released: money(a.released, "released")?,
            refunded: money(a.refunded, "refunded")?,
            deducted: money(a.deducted, "deducted")?,
            released_outside_schedule: money(outside, "released outside the schedule")?,
            milestones,
        });
    }
    Ok(MilestoneReleases {
        period,
        schemes: out,
    })
}

/// Milestones released in the period: their `RELEASE` entries' credits.
async fn released_lines<C: ConnectionTrait>(
    db: &C,
    scope: &Condition,
    period: Period,
    lines: &mut Lines,
) -> DomainResult<()> {
    let mut q = Query::select();
    q.from(milestone::Entity)
        .inner_join(
            journal_entry::Entity,
            Expr::col((journal_entry::Entity, journal_entry::Column::Id))
                .equals((milestone::Entity, milestone::Column::ReleasedEntryId)),
        )
        .inner_join(
            posting::Entity,
            Expr::col((posting::Entity, posting::Column::EntryId))
                .equals((journal_entry::Entity, journal_entry::Column::Id)),
        )
        .inner_join(
            escrow_order::Entity,
            Expr::col((escrow_order::Entity, escrow_order::Column::Id))
                .equals((milestone::Entity, milestone::Column::OrderId)),
        )
        .and_where(
            Expr::col((journal_entry::Entity, journal_entry::Column::Kind))
                .eq(EntryKind::Release.as_str()),
        )
        .and_where(Expr::col((posting::Entity, posting::Column::AmountFen)).gt(0))
        .and_where(
            Expr::col((journal_entry::Entity, journal_entry::Column::CreatedAtUs))
                .gte(period.from.0),
        )
        .and_where(
            Expr::col((journal_entry::Entity, journal_entry::Column::CreatedAtUs)).lt(period.to.0),
        );
    grouped(&mut q, scope, "posting.amount_fen");
    for row in db
        .query_all_raw(db.get_database_backend().build(&q))
        .await?
    {
        let (key, n, fen) = read(&row)?;
        let l = lines.entry(key).or_default();
        l.0 += n;
        l.1 += fen;
    }
    Ok(())
}

/// Milestones scheduled but neither released nor cancelled at the end of the period.
async fn outstanding_lines<C: ConnectionTrait>(
    db: &C,
    scope: &Condition,
    period: Period,
    lines: &mut Lines,
) -> DomainResult<()> {
    let released_at = Expr::col((milestone::Entity, milestone::Column::ReleasedAtUs));
    let closed_at = Expr::col((escrow_order::Entity, escrow_order::Column::ClosedAtUs));
    let mut q = Query::select();
    q.from(milestone::Entity)
        .inner_join(
            escrow_order::Entity,
            Expr::col((escrow_order::Entity, escrow_order::Column::Id))
                .equals((milestone::Entity, milestone::Column::OrderId)),
        )
        .and_where(
            Expr::col((escrow_order::Entity, escrow_order::Column::OpenedAtUs)).lt(period.to.0),
        )
        .cond_where(
            Condition::any()
                .add(released_at.clone().is_null())
                .add(released_at.gte(period.to.0)),
        )
        // A refund cancels the milestones still pending when it closes the order.
        .cond_where(
            Condition::any()
                .add(
                    Expr::col((escrow_order::Entity, escrow_order::Column::Status))
                        .ne(OrderStatus::Refunded.as_str()),
                )
                .add(closed_at.clone().is_null())
                .add(closed_at.gte(period.to.0)),
        );
    grouped(&mut q, scope, "milestone.amount_fen");
    for row in db
        .query_all_raw(db.get_database_backend().build(&q))
        .await?
    {
        let (key, n, fen) = read(&row)?;
        let l = lines.entry(key).or_default();
        l.2 += n;
        l.3 += fen;
    }
    Ok(())
}

/// Groups by scheme and milestone position; `amount` is a trusted column name of this module.
fn grouped(q: &mut sea_orm::sea_query::SelectStatement, scope: &Condition, amount: &'static str) {
    q.column((escrow_order::Entity, escrow_order::Column::SchemeId))
        .column((milestone::Entity, milestone::Column::Idx))
        .column((milestone::Entity, milestone::Column::Name))
        .expr_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "n")
        .expr_as(
            Expr::cust(format!("CAST(SUM({amount}) AS BIGINT)")),
            "amount",
        )
        .add_group_by([
            Expr::col((escrow_order::Entity, escrow_order::Column::SchemeId)),
            Expr::col((milestone::Entity, milestone::Column::Idx)),
            Expr::col((milestone::Entity, milestone::Column::Name)),
        ])
        .cond_where(scope.clone());
}

fn read(row: &sea_orm::QueryResult) -> DomainResult<((i64, i32, String), u64, i64)> {
    let scheme: i64 = row.try_get("", "scheme_id")?;
    let idx: i32 = row.try_get("", "idx")?;
    let name: String = row.try_get("", "name")?;
    let n: i64 = row.try_get("", "n")?;
    let fen: Option<i64> = row.try_get("", "amount")?;
    Ok((
        (scheme, idx, name),
        u64::try_from(n).unwrap_or(0),
        fen.unwrap_or(0),
    ))
}
