//! Balances by merchant (docs/domain.md, "What regulators ask for", "Prepaid balance by merchant": opening, collected,
//! released, refunded, closing, required custody, actual custody, shortfall) and the daily and
//! quarter-end snapshots of the same balances.
//!
//! A row is one merchant in one scheme: custody is kept per scheme (the escrow accounts under
//! the merchant's group account there), so that is where required and actual custody meet.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use lvyue_entity::{party, risk_score, scheme, scheme_policy};

use super::cells::{Amounts, Range, cells};
use super::{Period, ReportFilter, check_rows, date_of_day, money, order_condition};
use crate::clock::Timestamp;
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::ids::{PartyId, SchemeId};
use crate::money::{Bp, Money};
use crate::policy::{CustodyRule, Policy};
use crate::principal::{Industry, Principal, RegionCode};

/// Longest period of daily snapshots (a year and a day); quarter-end snapshots may cover
/// [`super::MAX_PERIOD_DAYS`].
pub const MAX_DAILY_SNAPSHOT_DAYS: i64 = 366;

/// One merchant in one scheme over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceRow {
    pub merchant: PartyId,
    pub merchant_name: String,
    pub industry: Industry,
    pub region: RegionCode,
    pub scheme: SchemeId,
    pub scheme_code: String,
    /// Prepaid money held for payers at the start of the period.
    pub opening: Money,
    pub collected: Money,
    pub released: Money,
    pub refunded: Money,
    pub deducted: Money,
    /// `opening + collected − released − refunded − deducted`.
    pub closing: Money,
    /// The custody ratio in force at the end of the period; `None` when the scheme has no
    /// custody rule (then nothing is required).
    pub custody_ratio: Option<Bp>,
    pub required_custody: Money,
    /// What was in the escrow accounts at the end of the period (the closing balance less what
    /// was still in clearing, T+1).
    pub actual_custody: Money,
    pub shortfall: Money,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantBalances {
    pub period: Period,
    /// By merchant, then scheme.
    pub rows: Vec<BalanceRow>,
}

/// A merchant in a scheme: `(merchant, scheme)`.
type Group = (i64, i64);

/// Each group's industry, region, opening sums and period flows.
type Groups = BTreeMap<Group, (String, String, Amounts, Amounts)>;

/// Balances by merchant over a period, scoped to the principal.
///
/// # Errors
/// `FORBIDDEN` for payers and courts; `LIMIT_EXCEEDED` past [`super::MAX_REPORT_ROWS`].
pub async fn balances<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    period: Period,
    filter: &ReportFilter,
) -> DomainResult<MerchantBalances> {
    let scope = order_condition(p, filter)?;
    let mut groups: Groups = BTreeMap::new();
    let opening = cells(db, &scope, Range::Before { to: period.from.0 }).await?;
    let flows = cells(
        db,
        &scope,
        Range::Whole {
            from: period.from.0,
            to: period.to.0,
        },
    )
    .await?;
    for (which, set) in [(0, &opening), (1, &flows)] {
        for (k, a) in set {
            let g = groups.entry((k.merchant, k.scheme)).or_insert_with(|| {
                (
                    k.industry.clone(),
                    k.region.clone(),
                    Amounts::default(),
                    Amounts::default(),
                )
            });
            if which == 0 { g.2.add(a) } else { g.3.add(a) }
        }
    }
    check_rows(groups.len())?;
    let names = merchant_names(db, groups.keys().map(|(m, _)| *m).collect()).await?;
    let codes = scheme_codes(db, groups.keys().map(|(_, s)| *s).collect()).await?;
    let at = period.last_instant();
    // One policy lookup per scheme, not per merchant.
    let mut rules: HashMap<i64, Option<CustodyRule>> = HashMap::new();
    let mut rows = Vec::with_capacity(groups.len());
    for ((merchant, scheme), (industry, region, open, f)) in groups {
        if let std::collections::hash_map::Entry::Vacant(slot) = rules.entry(scheme) {
            let policy = policy_in_force(db, SchemeId(scheme), at).await?;
            slot.insert(policy.and_then(|p| p.custody));
        }
        let rule = rules.get(&scheme).and_then(Option::as_ref);
        let opening_fen = open.held_delta();
        let closing_fen = opening_fen + f.held_delta();
        let escrow_fen = open.escrow + f.escrow;
        let actual = money(escrow_fen, "escrow balance")?;
        let (ratio, required, actual, shortfall) =
            match custody_at(db, rule, PartyId(merchant), SchemeId(scheme), at).await? {
                Some(c) => (Some(c.ratio), c.required, c.actual, c.shortfall),
                None => (None, Money::ZERO, actual, Money::ZERO),
            };
        rows.push(BalanceRow {
            merchant: PartyId(merchant),
            merchant_name: found(&names, merchant, "merchant")?,
            industry: industry.parse()?,
            region: region.parse()?,
            scheme: SchemeId(scheme),
            scheme_code: found(&codes, scheme, "scheme")?,
            opening: money(opening_fen, "opening balance")?,
            collected: money(f.collected, "collected")?,
            released: money(f.released, "released")?,
            refunded: money(f.refunded, "refunded")?,
            deducted: money(f.deducted, "deducted")?,
            closing: money(closing_fen, "closing balance")?,
            custody_ratio: ratio,
            required_custody: required,
            actual_custody: actual,
            shortfall,
        });
    }
    Ok(MerchantBalances { period, rows })
}

/// What the custody rule of the policy in force at `at` asked of the merchant then, with its
/// grade then and the escrow balances then; `None` without a rule.
async fn custody_at<C: ConnectionTrait>(
    db: &C,
    rule: Option<&CustodyRule>,
    merchant: PartyId,
    scheme: SchemeId,
    at: Timestamp,
) -> DomainResult<Option<crate::custody::CustodyStatus>> {
    let Some(rule) = rule else {
        return Ok(None);
    };
    let enrollment = crate::scheme::enrollment_of(db, merchant, scheme).await?;
    let m = crate::party::get_party(db, merchant).await?;
    let grade = risk_score::Entity::find()
        .filter(risk_score::Column::MerchantId.eq(merchant.0))
        .filter(risk_score::Column::ComputedAtUs.lte(at.0))
        .order_by_desc(risk_score::Column::Id)
        .one(db)
        .await?
        .map(|r| r.grade);
    Ok(Some(
        crate::custody::status_at(db, rule, enrollment.group_account, &m, grade.as_deref(), at)
            .await?,
    ))
}

/// The latest policy version of a scheme created at or before `at`.
async fn policy_in_force<C: ConnectionTrait>(
    db: &C,
    scheme: SchemeId,
    at: Timestamp,
) -> DomainResult<Option<Policy>> {
    let row = scheme_policy::Entity::find()
        .filter(scheme_policy::Column::SchemeId.eq(scheme.0))
        .filter(scheme_policy::Column::CreatedAtUs.lte(at.0))
        .order_by_desc(scheme_policy::Column::Version)
        .one(db)
        .await?;
    row.map(|r| {
        serde_json::from_str(&r.policy).map_err(|e| {
            DomainError::Internal(format!("stored policy {scheme} v{}: {e}", r.version))
        })
    })
    .transpose()
}

string_enum!(
    /// Which days a snapshot report lists.
    SnapshotFrequency {
        /// Every day of the period.
        Daily = "DAILY",
        /// The last day of each calendar quarter in the period (MOFCOM Art. 26 reports).
        QuarterEnd = "QUARTER_END",
    }
);

/// One merchant in one scheme at the end of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRow {
    pub date: NaiveDate,
    pub merchant: PartyId,
    pub merchant_name: String,
    pub scheme: SchemeId,
    pub scheme_code: String,
    /// The day's flows.
    pub collected: Money,
    pub released: Money,
    pub refunded: Money,
    pub deducted: Money,
    /// Prepaid money held for payers at the end of the day.
    pub closing: Money,
    /// Of it, what was in the escrow accounts (settled).
    pub in_escrow: Money,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshots {
    pub period: Period,
    pub frequency: SnapshotFrequency,
    /// By date, then merchant, then scheme. A merchant appears on a date when it holds money
    /// or its money moved that day. Quarter-end rows are exactly the daily rows of those days.
    pub rows: Vec<SnapshotRow>,
}

fn is_quarter_end(d: NaiveDate) -> bool {
    matches!((d.month(), d.day()), (3, 31) | (6, 30) | (9, 30) | (12, 31))
}

/// Closing balances at the end of each day (or quarter end) of the period. A period ending
/// mid-day gives its last day's balance at the period's end.
///
/// # Errors
/// `FORBIDDEN` for payers and courts; `VALIDATION` for daily snapshots over more than
/// [`MAX_DAILY_SNAPSHOT_DAYS`]; `LIMIT_EXCEEDED` past [`super::MAX_REPORT_ROWS`].
pub async fn snapshots<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    period: Period,
    filter: &ReportFilter,
    frequency: SnapshotFrequency,
) -> DomainResult<Snapshots> {
    let days = period.days();
    if frequency == SnapshotFrequency::Daily
        && days.end() - days.start() + 1 > MAX_DAILY_SNAPSHOT_DAYS
    {
        return Err(DomainError::invalid(
            "period",
            format!("daily snapshots cover at most {MAX_DAILY_SNAPSHOT_DAYS} days"),
        ));
    }
    let scope = order_condition(p, filter)?;
    let opening = cells(db, &scope, Range::Before { to: period.from.0 }).await?;
    let flows = cells(
        db,
        &scope,
        Range::ByDay {
            from: period.from.0,
            to: period.to.0,
        },
    )
    .await?;
    // (merchant, scheme) → (running totals since the start of time, the day's flows).
    let mut state: BTreeMap<(i64, i64), (Amounts, Amounts)> = BTreeMap::new();
    for (k, a) in &opening {
        state.entry((k.merchant, k.scheme)).or_default().0.add(a);
    }
    let mut by_day: BTreeMap<i64, Vec<(Group, Amounts)>> = BTreeMap::new();
    for (k, a) in &flows {
        by_day
            .entry(k.day)
            .or_default()
            .push(((k.merchant, k.scheme), *a));
    }
    let mut keys: Vec<(i64, i64)> = state.keys().copied().collect();
    keys.extend(flows.keys().map(|k| (k.merchant, k.scheme)));
    let names = merchant_names(db, keys.iter().map(|(m, _)| *m).collect()).await?;
    let codes = scheme_codes(db, keys.iter().map(|(_, s)| *s).collect()).await?;

    let mut rows = Vec::new();
    for day in days {
        for (_, today) in state.values_mut() {
            *today = Amounts::default();
        }
        for (g, a) in by_day.remove(&day).unwrap_or_default() {
            let s = state.entry(g).or_default();
            s.0.add(&a);
            s.1.add(&a);
        }
        let date = date_of_day(day)?;
        if frequency == SnapshotFrequency::QuarterEnd && !is_quarter_end(date) {
            continue;
        }
        for ((merchant, scheme), (total, today)) in &state {
            if total.held_delta() == 0 && total.escrow == 0 && today.is_zero() {
                continue;
            }
            rows.push(SnapshotRow {
                date,
                merchant: PartyId(*merchant),
                merchant_name: found(&names, *merchant, "merchant")?,
                scheme: SchemeId(*scheme),
                scheme_code: found(&codes, *scheme, "scheme")?,
                collected: money(today.collected, "collected")?,
                released: money(today.released, "released")?,
                refunded: money(today.refunded, "refunded")?,
                deducted: money(today.deducted, "deducted")?,
                closing: money(total.held_delta(), "closing balance")?,
                in_escrow: money(total.escrow, "escrow balance")?,
            });
            check_rows(rows.len())?;
        }
    }
    Ok(Snapshots {
        period,
        frequency,
        rows,
    })
}

/// The name looked up for `id`: every row of a report names a merchant or scheme that
/// exists, so a missing one is a broken store, reported, never an empty cell.
pub(super) fn found(names: &HashMap<i64, String>, id: i64, what: &str) -> DomainResult<String> {
    names
        .get(&id)
        .cloned()
        .ok_or_else(|| DomainError::Invariant(format!("{what} {id} of a report row is not stored")))
}

/// Names of merchants by id, in one query.
pub(super) async fn merchant_names<C: ConnectionTrait>(
    db: &C,
    ids: Vec<i64>,
) -> DomainResult<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut ids = ids;
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::with_capacity(ids.len());
    // Bounded IN lists: PostgreSQL takes at most 65,535 parameters in one statement.
    for chunk in ids.chunks(IN_CHUNK) {
        for r in party::Entity::find()
            .filter(party::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            out.insert(r.id, r.name);
        }
    }
    Ok(out)
}

/// Codes of schemes by id, in one query.
pub(super) async fn scheme_codes<C: ConnectionTrait>(
    db: &C,
    ids: Vec<i64>,
) -> DomainResult<HashMap<i64, String>> {
    Ok(schemes_by_id(db, ids)
        .await?
        .into_iter()
        .map(|(id, s)| (id, s.code))
        .collect())
}

/// Schemes by id.
pub(super) async fn schemes_by_id<C: ConnectionTrait>(
    db: &C,
    ids: Vec<i64>,
) -> DomainResult<HashMap<i64, scheme::Model>> {
    let mut ids = ids;
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        for s in scheme::Entity::find()
            .filter(scheme::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            out.insert(s.id, s);
        }
    }
    Ok(out)
}

/// Ids per `IN (…)` list.
const IN_CHUNK: usize = 1_000;
