//! The custody rule: how much of a merchant's prepaid money must stay in escrow, and whether a
//! release would break it (docs/domain.md: "the bank refuses any instruction that would breach it").
//! Required custody rounds **up** to the fen.

use chrono::{Datelike, NaiveDate};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::{DomainError, DomainResult};
use crate::ids::AccountId;
use crate::ledger::AccountKind;
use crate::money::{Bp, Money};
use crate::party::PartyRecord;
use crate::policy::{CustodyReference, CustodyRule, WarningLine, WarningTrigger};

/// What the custody rule asks of a merchant right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyStatus {
    /// The balance the ratio applies to.
    pub reference: Money,
    pub ratio: Bp,
    pub required: Money,
    /// What the merchant actually has in escrow in this scheme.
    pub actual: Money,
    pub shortfall: Money,
    /// The warning line that set the ratio, if one did.
    pub warning_line: Option<WarningLine>,
}

/// The custody required of a merchant and what it holds, for the scheme whose merchant group
/// account is `group`.
///
/// # Errors
/// Database errors.
pub async fn status<C: ConnectionTrait>(
    db: &C,
    rule: &CustodyRule,
    group: AccountId,
    merchant: &PartyRecord,
    grade: Option<&str>,
    now: Timestamp,
) -> DomainResult<CustodyStatus> {
    evaluate(db, rule, group, merchant, grade, now, None).await
}

/// As [`status`], with the escrow balances as they stood at the end of instant `at` (reports of
/// past periods).
///
/// # Errors
/// Database errors.
pub async fn status_at<C: ConnectionTrait>(
    db: &C,
    rule: &CustodyRule,
    group: AccountId,
    merchant: &PartyRecord,
    grade: Option<&str>,
    at: Timestamp,
) -> DomainResult<CustodyStatus> {
    evaluate(db, rule, group, merchant, grade, at, Some(at)).await
}

async fn evaluate<C: ConnectionTrait>(
    db: &C,
    rule: &CustodyRule,
    group: AccountId,
    merchant: &PartyRecord,
    grade: Option<&str>,
    now: Timestamp,
    as_of: Option<Timestamp>,
) -> DomainResult<CustodyStatus> {
    let actual = Money::from_fen(escrow_total(db, group, as_of).await?.max(0))?;
    let reference = match rule.reference {
        // Everything still owed to payers: what escrow holds and what is still clearing on its
        // way there (paid, not yet settled). Escrow alone could never fall short of itself.
        CustodyReference::OutstandingPrepaid => actual.checked_add(Money::from_fen(
            clearing_total(db, group, as_of).await?.max(0),
        )?)?,
        CustodyReference::PreviousQuarterPrepaid => {
            let end = previous_quarter_end(now.china_date());
            // The last instant of the quarter's last day, China time.
            let at = Timestamp(Timestamp::china_midnight(end.succ_opt().unwrap_or(end)).0 - 1);
            Money::from_fen(escrow_total(db, group, Some(at)).await?.max(0))?
        }
    };
    let mut ratio = rule
        .ratio_bp
        .max(issuer_ratio(rule, merchant).unwrap_or(rule.ratio_bp));
    let mut line_hit = None;
    for line in &rule.warning_lines {
        let crossed = match line.when {
            WarningTrigger::BalanceOver(limit) => reference > limit,
            WarningTrigger::ShareOfRevenueOver(share) => {
                let revenue = merchant
                    .attributes
                    .get("last_year_revenue")
                    .and_then(|v| v.as_str())
                    .and_then(|s| s.parse::<Money>().ok());
                revenue.is_some_and(|r| reference > share.threshold(r))
            }
        };
        if crossed && line.ratio_bp > ratio {
            ratio = line.ratio_bp;
            line_hit = Some(*line);
        }
    }
    if let Some(g) = grade.and_then(|g| rule.grade_ratios_bp.get(g))
        && *g > ratio
    {
        ratio = *g;
        line_hit = None;
    }
    let required = reference.share_ceil(ratio);
    Ok(CustodyStatus {
        reference,
        ratio,
        required,
        actual,
        shortfall: required.saturating_sub(actual),
        warning_line: line_hit,
    })
}

/// The minimum ratio for the merchant's issuer type (`issuer_type` attribute, set by the bank):
/// the highest ratio of the rule's table when the type is not recorded or not listed, since
/// the bank must not under-retain for want of a profile. `None` when the rule has no table.
pub fn issuer_ratio(rule: &CustodyRule, merchant: &PartyRecord) -> Option<Bp> {
    let highest = rule.ratio_by_issuer_bp.values().copied().max()?;
    Some(
        merchant
            .attributes
            .get("issuer_type")
            .and_then(|v| v.as_str())
            .and_then(|t| rule.ratio_by_issuer_bp.get(t))
            .copied()
            .unwrap_or(highest),
    )
}

/// What a merchant holds in escrow in one scheme (the escrow accounts under its group).
///
/// # Errors
/// Database errors.
pub async fn escrow_balance<C: ConnectionTrait>(db: &C, group: AccountId) -> DomainResult<Money> {
    Ok(Money::from_fen(
        escrow_total(db, group, None).await?.max(0),
    )?)
}

/// The placeholder of bind parameter `i` (1-based) on `backend`.
fn param(backend: DbBackend, i: usize) -> String {
    if backend == DbBackend::Postgres {
        format!("${i}")
    } else {
        "?".to_owned()
    }
}

/// Runs a query whose one row has a BIGINT column `total`.
async fn total<C: ConnectionTrait>(db: &C, stmt: Statement) -> DomainResult<i64> {
    let row = db
        .query_one_raw(stmt)
        .await?
        .ok_or_else(|| DomainError::Internal("custody sum returned nothing".into()))?;
    Ok(row.try_get::<i64>("", "total")?)
}

/// Sum of the balances of the escrow accounts under `group`, now or as of `at`.
async fn escrow_total<C: ConnectionTrait>(
    db: &C,
    group: AccountId,
    at: Option<Timestamp>,
) -> DomainResult<i64> {
    let backend = db.get_database_backend();
    let p = |i| param(backend, i);
    let escrow = AccountKind::Escrow.as_str();
    let stmt = match at {
        None => Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT CAST(COALESCE(SUM(balance_fen), 0) AS BIGINT) AS total FROM account WHERE parent_id = {} AND kind = {}",
                p(1),
                p(2)
            ),
            [group.0.into(), escrow.into()],
        ),
        Some(t) => Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT CAST(COALESCE(SUM(p.balance_after_fen), 0) AS BIGINT) AS total FROM posting p \
                 WHERE p.id IN (SELECT MAX(q.id) FROM posting q JOIN account a ON a.id = q.account_id \
                 WHERE a.parent_id = {} AND a.kind = {} AND q.created_at_us <= {} GROUP BY q.account_id)",
                p(1),
                p(2),
                p(3)
            ),
            [group.0.into(), escrow.into(), t.0.into()],
        ),
    };
    total(db, stmt).await
}

/// Sum of the payments to the orders under `group` that were paid and not yet settled, now or
/// as of `at`.
async fn clearing_total<C: ConnectionTrait>(
    db: &C,
    group: AccountId,
    at: Option<Timestamp>,
) -> DomainResult<i64> {
    let backend = db.get_database_backend();
    let p = |i| param(backend, i);
    let base = "SELECT CAST(COALESCE(SUM(pay.amount_fen), 0) AS BIGINT) AS total FROM payment pay \
                JOIN escrow_order o ON o.id = pay.order_id JOIN account a ON a.id = o.escrow_account_id";
    let stmt = match at {
        None => Statement::from_sql_and_values(
            backend,
            format!(
                "{base} WHERE a.parent_id = {} AND pay.settle_entry_id IS NULL",
                p(1)
            ),
            [group.0.into()],
        ),
        Some(t) => Statement::from_sql_and_values(
            backend,
            format!(
                "{base} WHERE a.parent_id = {} AND pay.paid_at_us <= {} AND (pay.settle_entry_id IS NULL \
                 OR EXISTS (SELECT 1 FROM journal_entry j WHERE j.id = pay.settle_entry_id AND j.created_at_us > {}))",
                p(1),
                p(2),
                p(3)
            ),
            [group.0.into(), t.0.into(), t.0.into()],
        ),
    };
    total(db, stmt).await
}

/// The last day of the calendar quarter before the one `today` is in.
pub fn previous_quarter_end(today: NaiveDate) -> NaiveDate {
    let q_start_month = ((today.month() - 1) / 3) * 3 + 1;
    let start = NaiveDate::from_ymd_opt(today.year(), q_start_month, 1).unwrap_or(today);
    start.pred_opt().unwrap_or(start)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn previous_quarter_ends() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(previous_quarter_end(d("2026-11-25")), d("2026-09-30"));
        assert_eq!(previous_quarter_end(d("2026-01-01")), d("2025-12-31"));
        assert_eq!(previous_quarter_end(d("2026-06-30")), d("2026-03-31"));
    }
}
