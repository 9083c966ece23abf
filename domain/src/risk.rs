//! Risk scores and release alerts (docs/domain.md, "Checks on merchants").
//!
//! A merchant's score (0–100, higher is riskier) is the sum of explainable features, each with
//! its points and the reason in words; the grade is A (0–19) … E (80–100). A score is stored
//! only when it changes, and is recomputed whenever one of its inputs changes (a release, a
//! refund, a list hit, a complaint). A scheme may map grades to custody ratios.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{escrow_order, event, journal_entry, posting, risk_score};

use crate::alert::{AlertKind, NewAlert, Severity};
use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{OrderId, PartyId};
use crate::ledger::EntryKind;
use crate::money::Money;
use crate::order_record::{OrderRecord, OrderStatus};
use crate::party::{PartyKind, PartyStatus, get_party_of};
use crate::policy::Policy;
use crate::principal::Role;
use crate::scheme::{enrollment_of, enrollments_of, get_scheme, policy_at};

/// One feature's contribution to a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub feature: String,
    pub points: i32,
    pub detail: String,
}

/// A stored score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskScore {
    pub merchant: PartyId,
    pub score: i32,
    pub grade: String,
    pub reasons: Vec<Reason>,
    pub computed_at: Timestamp,
}

pub fn grade_of(score: i32) -> &'static str {
    match score {
        i32::MIN..=19 => "A",
        20..=39 => "B",
        40..=59 => "C",
        60..=79 => "D",
        _ => "E",
    }
}

/// The merchant's latest grade, if it was ever scored.
///
/// # Errors
/// Database errors.
pub async fn latest_grade<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
) -> DomainResult<Option<String>> {
    Ok(latest(db, merchant).await?.map(|s| s.grade))
}

/// The merchant's latest score.
///
/// # Errors
/// Database errors.
pub async fn latest<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
) -> DomainResult<Option<RiskScore>> {
    risk_score::Entity::find()
        .filter(risk_score::Column::MerchantId.eq(merchant.0))
        .order_by_desc(risk_score::Column::Id)
        .limit(1)
        .one(db)
        .await?
        .map(|r| {
            Ok(RiskScore {
                merchant,
                score: r.score,
                grade: r.grade,
                reasons: serde_json::from_str(&r.reasons)
                    .map_err(|e| DomainError::Internal(e.to_string()))?,
                computed_at: Timestamp(r.computed_at_us),
            })
        })
        .transpose()
}

const DAY_US: i64 = 86_400_000_000;

/// Computes the features of a merchant's score from the ledger and the log.
/// `pending_complaints` counts complaints recorded in the current transaction, whose events
/// are not in the table yet.
async fn features<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
    now: Timestamp,
    pending_complaints: i32,
) -> DomainResult<Vec<Reason>> {
    let m = get_party_of(db, merchant, PartyKind::Merchant).await?;
    let mut reasons = Vec::new();

    // Refund rate: refunded orders among closed ones.
    let closed = escrow_order::Entity::find()
        .filter(escrow_order::Column::MerchantId.eq(merchant.0))
        .filter(escrow_order::Column::Status.is_in([
            OrderStatus::Completed.as_str(),
            OrderStatus::Refunded.as_str(),
        ]))
        .count(db)
        .await?;
    let refunded = escrow_order::Entity::find()
        .filter(escrow_order::Column::MerchantId.eq(merchant.0))
        .filter(escrow_order::Column::Status.eq(OrderStatus::Refunded.as_str()))
        .count(db)
        .await?;
    let rate_pct = (refunded * 100).checked_div(closed).unwrap_or(0) as i32;
    reasons.push(Reason {
        feature: "refund_rate".into(),
        points: (rate_pct / 4).min(25),
        detail: format!("{refunded} of {closed} closed orders were refunded ({rate_pct}%)"),
    });

    // Complaints recorded in the last 90 days.
    let complaints = event::Entity::find()
        .filter(event::Column::MerchantId.eq(merchant.0))
        .filter(event::Column::EventType.eq("complaint.recorded"))
        .filter(event::Column::AtUs.gte(now.0 - 90 * DAY_US))
        .count(db)
        .await? as i32
        + pending_complaints;
    reasons.push(Reason {
        feature: "complaints".into(),
        points: (complaints * 3).min(15),
        detail: format!("{complaints} complaints in the last 90 days"),
    });

    // Custody coverage across the merchant's schemes.
    let mut shortfall_points = 0;
    let mut custody_detail = "no custody rule applies".to_owned();
    for e in enrollments_of(db, merchant).await? {
        let s = get_scheme(db, e.scheme).await?;
        let p = policy_at(db, s.id, s.current_version).await?;
        if let Some(rule) = &p.custody {
            let c = crate::custody::status(db, rule, e.group_account, &m, None, now).await?;
            if !c.shortfall.is_zero() {
                shortfall_points = 20;
                custody_detail = format!(
                    "{}: {} in escrow against {} required",
                    s.code, c.actual, c.required
                );
            } else if shortfall_points == 0 {
                custody_detail = format!(
                    "{}: {} in escrow covers the {} required",
                    s.code, c.actual, c.required
                );
            }
        }
    }
    reasons.push(Reason {
        feature: "custody_coverage".into(),
        points: shortfall_points,
        detail: custody_detail,
    });

    // Release velocity against delivery: what left escrow in 30 days against what it held.
    let released_30 = released_since(db, merchant, now.0 - 30 * DAY_US).await?;
    let escrow_now: i64 = escrow_order::Entity::find()
        .filter(escrow_order::Column::MerchantId.eq(merchant.0))
        .all(db)
        .await?
        .iter()
        .map(|o| (o.settled_fen - o.released_fen - o.refunded_fen - o.deducted_fen).max(0))
        .sum();
    let base = released_30 + escrow_now;
    let velocity_pct = if base == 0 {
        0
    } else {
        (released_30 * 100 / base) as i32
    };
    reasons.push(Reason {
        feature: "release_velocity".into(),
        points: if velocity_pct > 80 {
            15
        } else if velocity_pct > 60 {
            8
        } else {
            0
        },
        detail: format!("{velocity_pct}% of prepaid money was released in the last 30 days"),
    });

    // Growth anomaly: collections in the last 30 days against the 90 before.
    let recent = collected_between(db, merchant, now.0 - 30 * DAY_US, now.0).await?;
    let before =
        collected_between(db, merchant, now.0 - 120 * DAY_US, now.0 - 30 * DAY_US).await? / 3;
    let growth_points = if before > 0 && recent > before * 3 {
        10
    } else {
        0
    };
    reasons.push(Reason {
        feature: "growth_anomaly".into(),
        points: growth_points,
        detail: format!(
            "collected {} in 30 days against a monthly average of {}",
            Money::from_fen(recent.max(0))?,
            Money::from_fen(before.max(0))?
        ),
    });

    // List hits.
    let hits = match &m.uscc {
        Some(u) => crate::screening::screen_uscc(db, u).await?,
        None => Vec::new(),
    };
    let list_points: i32 = hits
        .iter()
        .map(|h| match (h.check, h.outcome) {
            ("dishonest_debtor_list", crate::onboarding::Outcome::Fail) => 40,
            ("abnormal_operation_list", crate::onboarding::Outcome::Review) => 20,
            _ => 0,
        })
        .sum();
    reasons.push(Reason {
        feature: "list_hits".into(),
        points: list_points,
        detail: if list_points == 0 {
            "not on any list".into()
        } else {
            hits.iter()
                .filter(|h| h.outcome != crate::onboarding::Outcome::Pass)
                .map(|h| format!("{}: {}", h.check, h.detail))
                .collect::<Vec<_>>()
                .join("; ")
        },
    });
    if m.status == PartyStatus::Suspended {
        reasons.push(Reason {
            feature: "suspended".into(),
            points: 20,
            detail: "suspended by a regulator or the bank".into(),
        });
    }
    Ok(reasons)
}

async fn released_since<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
    since_us: i64,
) -> DomainResult<i64> {
    // Subqueries, not id lists: a large merchant has more orders and releases than a query
    // may bind parameters.
    use sea_orm::sea_query::Query;
    let merchants_orders = Query::select()
        .column(escrow_order::Column::Id)
        .from(escrow_order::Entity)
        .and_where(escrow_order::Column::MerchantId.eq(merchant.0))
        .to_owned();
    let releases = Query::select()
        .column(journal_entry::Column::Id)
        .from(journal_entry::Entity)
        .and_where(journal_entry::Column::Kind.eq(EntryKind::Release.as_str()))
        .and_where(journal_entry::Column::OrderId.in_subquery(merchants_orders))
        .and_where(journal_entry::Column::CreatedAtUs.gte(since_us))
        .to_owned();
    let amounts: Vec<i64> = posting::Entity::find()
        .select_only()
        .column(posting::Column::AmountFen)
        .filter(posting::Column::EntryId.in_subquery(releases))
        .into_tuple()
        .all(db)
        .await?;
    Ok(amounts.into_iter().filter(|a| *a > 0).sum())
}

async fn collected_between<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
    from_us: i64,
    to_us: i64,
) -> DomainResult<i64> {
    let amounts: Vec<i64> = lvyue_entity::payment::Entity::find()
        .select_only()
        .column(lvyue_entity::payment::Column::AmountFen)
        .filter(sea_orm::sea_query::ExprTrait::in_subquery(
            sea_orm::sea_query::Expr::col(lvyue_entity::payment::Column::OrderId),
            sea_orm::sea_query::Query::select()
                .column(escrow_order::Column::Id)
                .from(escrow_order::Entity)
                .and_where(escrow_order::Column::MerchantId.eq(merchant.0))
                .to_owned(),
        ))
        .filter(lvyue_entity::payment::Column::PaidAtUs.gte(from_us))
        .filter(lvyue_entity::payment::Column::PaidAtUs.lt(to_us))
        .into_tuple()
        .all(db)
        .await?;
    Ok(amounts.into_iter().sum())
}

/// Recomputes a merchant's score and stores it (with an event) if it changed.
///
/// # Errors
/// Database errors.
pub async fn recompute(tx: &mut Tx<'_>, merchant: PartyId) -> DomainResult<RiskScore> {
    let reasons = features(tx.db(), merchant, tx.now, 0).await?;
    store(tx, merchant, reasons).await
}

async fn store(
    tx: &mut Tx<'_>,
    merchant: PartyId,
    reasons: Vec<Reason>,
) -> DomainResult<RiskScore> {
    let score = reasons.iter().map(|r| r.points).sum::<i32>().clamp(0, 100);
    let grade = grade_of(score).to_owned();
    let previous = latest(tx.db(), merchant).await?;
    if let Some(p) = &previous
        && p.score == score
        && p.reasons == reasons
    {
        return Ok(p.clone());
    }
    let reasons_json =
        serde_json::to_string(&reasons).map_err(|e| DomainError::Internal(e.to_string()))?;
    risk_score::ActiveModel {
        merchant_id: Set(merchant.0),
        score: Set(score),
        grade: Set(grade.clone()),
        reasons: Set(reasons_json),
        inputs: Set(String::new()),
        computed_at_us: Set(tx.now.0),
        ..Default::default()
    }
    .insert(tx.db())
    .await?;
    tx.emit(
        NewEvent::new("risk.scored", json!({ "party_id": merchant, "score": score, "grade": grade, "previous_grade": previous.map(|p| p.grade), "reasons": reasons }))
            .merchant(merchant),
    );
    Ok(RiskScore {
        merchant,
        score,
        grade,
        reasons,
        computed_at: tx.now,
    })
}

/// After a release: alerts for unusually large or frequent releases, releases ahead of
/// delivery, and custody; then the merchant's score.
pub(crate) async fn after_release(
    tx: &mut Tx<'_>,
    order: &OrderRecord,
    amount: Money,
    policy: &Policy,
) -> DomainResult<()> {
    let merchant = get_party_of(tx.db(), order.merchant, PartyKind::Merchant).await?;
    let enrollment = enrollment_of(tx.db(), order.merchant, order.scheme).await?;
    let escrow_before = crate::custody::escrow_balance(tx.db(), enrollment.group_account)
        .await?
        .checked_add(amount)?;
    let alert_base = |kind, severity, message: String| {
        NewAlert::new(kind, severity, message)
            .about_merchant(&merchant)
            .about_order(order)
    };
    if let Some(bp) = policy.large_release_bp {
        let limit = escrow_before.share_floor(bp);
        if amount > limit {
            crate::alert::raise(
                tx,
                alert_base(
                    AlertKind::LargeRelease,
                    Severity::Warning,
                    format!(
                        "release of {amount} on {} is over {bp} of the {escrow_before} in escrow",
                        order.order_no
                    ),
                )
                .details(
                    json!({ "amount": amount, "escrow_before": escrow_before, "share_bp": bp }),
                ),
            )
            .await?;
        }
    }
    if let Some(multiple) = policy.large_release_multiple {
        let last_30 = released_since(tx.db(), merchant.id, tx.now.0 - 30 * DAY_US).await?;
        let today = released_since(tx.db(), merchant.id, tx.now.0 - DAY_US).await?;
        let daily_avg = last_30 / 30;
        if daily_avg > 0 && today > daily_avg * i64::from(multiple) {
            crate::alert::raise(
                tx,
                alert_base(
                    AlertKind::FrequentReleases,
                    Severity::Warning,
                    format!("{} released {} in 24 hours, over {multiple}× its 30-day daily average of {}", merchant.name, Money::from_fen(today)?, Money::from_fen(daily_avg)?),
                )
                .dedupe(format!("frequent:{}:{}", merchant.id, tx.now.china_date())),
            )
            .await?;
        }
    }
    ahead_of_delivery(tx, order, &merchant).await?;
    if let Some(rule) = &policy.custody {
        custody_alerts(tx, order, &merchant, rule).await?;
    }
    recompute(tx, merchant.id).await?;
    Ok(())
}

/// After a court deduction (扣划): the money left escrow past the custody gate (a court order
/// is not refused for custody), so a shortfall it leaves is alerted now rather than found at
/// the next release, which it would block.
pub(crate) async fn after_deduction(tx: &mut Tx<'_>, order: OrderId) -> DomainResult<()> {
    let order = crate::order_record::get_order(tx.db(), order).await?;
    let policy = policy_at(tx.db(), order.scheme, order.policy_version).await?;
    let Some(rule) = &policy.custody else {
        return Ok(());
    };
    let merchant = get_party_of(tx.db(), order.merchant, PartyKind::Merchant).await?;
    custody_alerts(tx, &order, &merchant, rule).await
}

/// Custody alerts for the merchant's escrow in the order's scheme: a crossed warning line, and
/// custody below the required level.
async fn custody_alerts(
    tx: &mut Tx<'_>,
    order: &OrderRecord,
    merchant: &crate::party::PartyRecord,
    rule: &crate::policy::CustodyRule,
) -> DomainResult<()> {
    let enrollment = enrollment_of(tx.db(), order.merchant, order.scheme).await?;
    let alert_base = |kind, severity, message: String| {
        NewAlert::new(kind, severity, message)
            .about_merchant(merchant)
            .about_order(order)
    };
    let grade = latest_grade(tx.db(), merchant.id).await?;
    let c = crate::custody::status(
        tx.db(),
        rule,
        enrollment.group_account,
        merchant,
        grade.as_deref(),
        tx.now,
    )
    .await?;
    if let Some(line) = c.warning_line {
        crate::alert::raise(
            tx,
            alert_base(AlertKind::WarningLineCrossed, Severity::Warning, format!("{} crossed a warning line: custody ratio now {}", merchant.name, line.ratio_bp))
                .details(json!({ "reference": c.reference, "required": c.required, "actual": c.actual, "line": line }))
                .dedupe(format!("warning-line:{}:{}", merchant.id, order.scheme)),
        )
        .await?;
    }
    if !c.shortfall.is_zero() {
        crate::alert::raise(
            tx,
            alert_base(
                AlertKind::CustodyShortfall,
                Severity::Critical,
                format!(
                    "{} holds {} in escrow, {} short of the {} required",
                    merchant.name, c.actual, c.shortfall, c.required
                ),
            )
            .details(json!({ "reference": c.reference, "ratio_bp": c.ratio, "required": c.required, "actual": c.actual, "shortfall": c.shortfall }))
            .dedupe(format!("custody:{}:{}", merchant.id, order.scheme)),
        )
        .await?;
    }
    Ok(())
}

/// A tranche released by time or by a forced decision while its policy asked for confirmations
/// that never came is a release ahead of delivery.
async fn ahead_of_delivery(
    tx: &mut Tx<'_>,
    order: &OrderRecord,
    merchant: &crate::party::PartyRecord,
) -> DomainResult<()> {
    let policy = policy_at(tx.db(), order.scheme, order.policy_version).await?;
    for m in crate::order_record::milestones_of(tx.db(), order.id).await? {
        if m.released_at != Some(tx.now) {
            continue;
        }
        let Some(rule) = policy.milestones.get(m.index as usize) else {
            continue;
        };
        if rule.confirm_by.is_empty() {
            continue;
        }
        if !crate::order_record::confirmations_complete(tx.db(), m.id, &rule.confirm_by).await? {
            let a = NewAlert::new(
                AlertKind::ReleaseAheadOfDelivery,
                Severity::Warning,
                format!(
                    "milestone {} ({}) of {} was released without its confirmations",
                    m.index + 1,
                    m.name,
                    order.order_no
                ),
            )
            .about_merchant(merchant)
            .about_order(order)
            .dedupe(format!("ahead:{}", m.id));
            crate::alert::raise(tx, a).await?;
        }
    }
    Ok(())
}

/// A complaint about a merchant (from a payer, a regulator or the bank's hotline); counts
/// towards its risk score.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordComplaint {
    pub merchant: PartyId,
    pub order: Option<OrderId>,
    pub text: String,
}

impl Command for RecordComplaint {
    type Output = RiskScore;
    const NAME: &'static str = "recordComplaint";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<RiskScore> {
        tx.principal
            .require_role(&[Role::Bank, Role::Regulator, Role::Payer])?;
        // A payer complains about the merchant of one of its own orders (it sees no merchant
        // list); the others about merchants in their scope.
        let m = if tx.principal.role == Role::Payer {
            let payer = tx.principal.own_party()?;
            let theirs = escrow_order::Entity::find()
                .filter(escrow_order::Column::PayerId.eq(payer.0))
                .filter(escrow_order::Column::MerchantId.eq(self.merchant.0))
                .one(tx.db())
                .await?;
            if theirs.is_none() {
                return Err(DomainError::not_found("merchant", self.merchant));
            }
            get_party_of(tx.db(), self.merchant, PartyKind::Merchant).await?
        } else {
            crate::queries::merchant_visible(tx.db(), tx.principal, self.merchant).await?
        };
        if let Some(o) = self.order {
            let order = crate::queries::order_visible(tx.db(), tx.principal, o).await?;
            if order.merchant != m.id {
                return Err(DomainError::invalid(
                    "order",
                    "the order is not this merchant's",
                ));
            }
        }
        let text = crate::text::required("text", &self.text, 1000)?;
        let mut e = NewEvent::new(
            "complaint.recorded",
            json!({ "by_role": tx.principal.role, "text": text }),
        )
        .merchant(m.id);
        if let Some(o) = self.order {
            e = e.order(o);
        }
        tx.emit(e);
        let reasons = features(tx.db(), m.id, tx.now, 1).await?;
        store(tx, m.id, reasons).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use crate::alert::{AlertKind, Severity};
    use crate::clock::Timestamp;
    use crate::court::{CourtDeduct, CourtFreeze};
    use crate::db_test;
    use crate::page::Page;
    use crate::principal::Industry;
    use crate::testing::TestDb;
    use crate::testing::world::World;

    db_test!(
        a_court_deduction_that_leaves_custody_short_raises_an_alert,
        |db: TestDb| async move {
            // Wednesday 2026-03-25: paid, settled before the quarter ends.
            let start =
                Timestamp::china_midnight("2026-03-25".parse().unwrap()).plus_seconds(36_000);
            let w = World::at(&db, start).await;
            let court = w.court().await;
            let policy = json!({
                "milestones": [{"name": "结业", "share_bp": 10000, "confirm_by": ["EVIDENCE"]}],
                "custody": {"reference": "PREVIOUS_QUARTER_PREPAID", "ratio_bp": 5000}
            });
            let s = w
                .scheme(Industry::DrivingSchool, "320100", None, policy)
                .await;
            let m = w
                .merchant("玄武驾校", "320102", Industry::DrivingSchool)
                .await;
            w.enroll(&s, &m).await;
            let payer = w.payer("段誉").await;
            let o = w.order(&s, &m, &payer, "1000.00").await;
            w.pay(&o, "1000.00").await;
            // Settled the next day; in April half of last quarter's 1,000.00 must stay, and a
            // court takes 600.00 of it.
            w.pass_days(1).await;
            w.pass_days(9).await;
            let hold = w
                .run(CourtFreeze {
                    order: o.id,
                    amount: "600.00".parse().unwrap(),
                    case_no: "(2026)苏0102执1号".into(),
                    priority: 0,
                    expires_at: None,
                    court: Some(court.id),
                })
                .await
                .unwrap();
            w.run(CourtDeduct {
                hold: hold.id,
                amount: "600.00".parse().unwrap(),
                court: Some(court.id),
            })
            .await
            .unwrap();
            let alerts = crate::alert::alerts(&db.db, &w.bank, None, Page::new(None, 50).unwrap())
                .await
                .unwrap();
            let short: Vec<_> = alerts
                .items
                .iter()
                .filter(|a| a.kind == AlertKind::CustodyShortfall)
                .collect();
            assert_eq!(short.len(), 1, "{alerts:?}");
            assert_eq!(short[0].severity, Severity::Critical);
            assert_eq!(short[0].order, Some(o.id));
            assert!(
                short[0].message.contains("100.00 short of the 500.00"),
                "{}",
                short[0].message
            );
        }
    );
}
