//! Re-planning after a year of the calendar is loaded or replaced: every payment still in
//! clearing gets its T+1 settle date again, and every refund still waiting on its policy
//! deadline gets that deadline again, each from the calendar as it now stands. A date that
//! changes (or stops being provisional) is written with its scheduled job and an event of its
//! own on the order, in the loading transaction; past [`CHANGES_PER_TRANSACTION`] the rest
//! continue in a scheduled job right away.

use chrono::{Datelike, NaiveDate};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{payment, refund, scheduled_job as job};

use super::{Calendar, WorkingDate, YEARS_AHEAD};
use crate::clock::Timestamp;
use crate::command::Tx;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrderId, PaymentId};
use crate::order_record::{PaymentStatus, RefundStatus, get_order};
use crate::scheduler::{self, JobKind, JobStatus};
use crate::scheme::policy_at;

/// Dates changed (each with its event) in one transaction; a transaction writes at most
/// [`crate::event::MAX_EVENTS_PER_TRANSACTION`] events.
pub const CHANGES_PER_TRANSACTION: usize = 500;

/// What a re-plan changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replanned {
    /// Payments in clearing whose settle date changed.
    pub payments: u32,
    /// Open refunds whose deadline changed.
    pub refunds: u32,
    /// More changes were left to a follow-up job.
    pub more: bool,
}

impl Replanned {
    fn changes(&self) -> usize {
        (self.payments + self.refunds) as usize
    }
}

/// Recomputes every pending working-day date against the stored calendar.
///
/// # Errors
/// Database errors; stored rows that do not parse.
pub async fn replan(tx: &mut Tx<'_>) -> DomainResult<Replanned> {
    let mut out = Replanned::default();
    replan_payments(tx, &mut out).await?;
    if !out.more {
        replan_refunds(tx, &mut out).await?;
    }
    if out.more {
        scheduler::schedule(
            tx,
            JobKind::CalendarReplan,
            0,
            tx.now,
            format!("calendar-replan:{}", tx.next_seq()),
        )
        .await?;
    }
    Ok(out)
}

/// The calendar for walks starting on any of `starts`.
async fn calendar_for(
    tx: &Tx<'_>,
    starts: impl Iterator<Item = NaiveDate>,
) -> DomainResult<Option<Calendar>> {
    let mut range: Option<(i32, i32)> = None;
    for d in starts {
        let y = d.year();
        range = Some(range.map_or((y, y), |(a, b)| (a.min(y), b.max(y))));
    }
    match range {
        Some((a, b)) => Ok(Some(Calendar::read(tx.db(), a..=b + YEARS_AHEAD).await?)),
        None => Ok(None),
    }
}

async fn replan_payments(tx: &mut Tx<'_>, out: &mut Replanned) -> DomainResult<()> {
    let clearing = payment::Entity::find()
        .filter(payment::Column::Status.eq(PaymentStatus::Clearing.as_str()))
        .order_by_asc(payment::Column::Id)
        .all(tx.db())
        .await?;
    let Some(cal) = calendar_for(
        tx,
        clearing
            .iter()
            .map(|p| Timestamp(p.paid_at_us).china_date()),
    )
    .await?
    else {
        return Ok(());
    };
    let today = tx.now.china_date();
    for p in clearing {
        let was = WorkingDate {
            date: p
                .settle_date
                .parse()
                .map_err(|_| DomainError::Invariant("stored settle date".into()))?,
            provisional: p.settle_provisional,
        };
        let now = cal.next_working_day(Timestamp(p.paid_at_us).china_date())?;
        if now == was {
            continue;
        }
        if out.changes() >= CHANGES_PER_TRANSACTION {
            out.more = true;
            return Ok(());
        }
        payment::ActiveModel {
            id: Set(p.id),
            settle_date: Set(now.date.to_string()),
            settle_provisional: Set(now.provisional),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        let target = crate::order_record::settle_job_target(now.date)?;
        // A settle date that has already come (the year was loaded late) settles at once; an
        // earlier settle job for that date may have run already.
        let (due, key) = if now.date <= today {
            (tx.now, format!("settle:{target}:replan:{}", tx.next_seq()))
        } else {
            (
                Timestamp::china_midnight(now.date),
                format!("settle:{target}"),
            )
        };
        scheduler::schedule(tx, JobKind::Settle, target, due, key).await?;
        let order = get_order(tx.db(), OrderId(p.order_id)).await?;
        tx.emit(order.event(
            "payment.settle_date_replanned",
            json!({
                "payment_id": PaymentId(p.id),
                "from": was.date.to_string(),
                "from_provisional": was.provisional,
                "to": now.date.to_string(),
                "provisional": now.provisional,
            }),
        ));
        out.payments += 1;
    }
    Ok(())
}

async fn replan_refunds(tx: &mut Tx<'_>, out: &mut Replanned) -> DomainResult<()> {
    // A refund waits on a policy deadline exactly when its deadline job is pending.
    let jobs = job::Entity::find()
        .filter(job::Column::Kind.eq(JobKind::RefundDeadline.as_str()))
        .filter(job::Column::Status.eq(JobStatus::Pending.as_str()))
        .order_by_asc(job::Column::TargetId)
        .all(tx.db())
        .await?;
    let mut pending = Vec::with_capacity(jobs.len());
    for j in jobs {
        let Some(r) = refund::Entity::find_by_id(j.target_id).one(tx.db()).await? else {
            return Err(DomainError::Invariant(format!(
                "deadline job {} for missing refund {}",
                j.id, j.target_id
            )));
        };
        if r.status != RefundStatus::Executed.as_str() {
            pending.push((j, r));
        }
    }
    let Some(cal) = calendar_for(
        tx,
        pending
            .iter()
            .map(|(_, r)| Timestamp(r.requested_at_us).china_date()),
    )
    .await?
    else {
        return Ok(());
    };
    for (j, r) in pending {
        let order = get_order(tx.db(), OrderId(r.order_id)).await?;
        let policy = policy_at(tx.db(), order.scheme, order.policy_version).await?;
        let was = WorkingDate {
            date: Timestamp(r.due_at_us).china_date(),
            provisional: r.due_provisional,
        };
        let now = cal.add_working_days(
            Timestamp(r.requested_at_us).china_date(),
            policy.refund.deadline_working_days,
        )?;
        if now == was {
            continue;
        }
        if out.changes() >= CHANGES_PER_TRANSACTION {
            out.more = true;
            return Ok(());
        }
        let due_at = crate::order_record::end_of_day(now.date)?;
        refund::ActiveModel {
            id: Set(r.id),
            due_at_us: Set(due_at.0),
            due_provisional: Set(now.provisional),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        job::Entity::update_many()
            .col_expr(job::Column::DueAtUs, Expr::value(due_at.0))
            .filter(job::Column::Id.eq(j.id))
            .filter(job::Column::Status.eq(JobStatus::Pending.as_str()))
            .exec(tx.db())
            .await?;
        tx.emit(order.event(
            "refund.deadline_replanned",
            json!({
                "refund_id": r.id,
                "from": Timestamp(r.due_at_us).rfc3339(),
                "from_provisional": was.provisional,
                "to": due_at.rfc3339(),
                "provisional": now.provisional,
            }),
        ));
        out.refunds += 1;
    }
    Ok(())
}
