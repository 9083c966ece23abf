//! Firing the scheduler's jobs: which command each job kind runs, the tick that fires what is
//! due, and giving up on a job that keeps failing. A job fires inside the transaction of the
//! command it runs, which also marks it done with a conditional update, so it never fires
//! twice — not after a crash, not with two nodes polling the same table.
//!
//! This is the one module that knows every kind of work (orders, courts, prepaid cards,
//! vouchers, the calendar); nothing in the domain imports it, so the queue itself
//! ([`crate::scheduler`]) stays at the bottom of the import graph.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::scheduled_job as job;

use crate::Escrow;
use crate::alert::{AlertKind, NewAlert, Severity};
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{HoldId, MilestoneId, OrderId};
use crate::principal::{Principal, Role};
use crate::scheduler::{
    JOBS_PER_TICK, JobKind, JobRecord, JobStatus, MAX_JOB_ATTEMPTS, RETRY_AFTER_SECS,
};

/// Runs one due job: marks it done (only if still pending) and does its work, in one
/// transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FireJob {
    pub job: i64,
}

impl Command for FireJob {
    type Output = JobKind;
    const NAME: &'static str = "fireJob";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<JobKind> {
        tx.principal.require_role(&[Role::Bank])?;
        let j = job::Entity::find_by_id(self.job)
            .one(tx.db())
            .await?
            .ok_or_else(|| DomainError::not_found("job", self.job))?;
        let j = JobRecord::try_from(j)?;
        let marked = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(JobStatus::Done.as_str()))
            .col_expr(job::Column::FiredAtUs, Expr::value(tx.now.0))
            .filter(job::Column::Id.eq(j.id))
            .filter(job::Column::Status.eq(JobStatus::Pending.as_str()))
            .filter(job::Column::DueAtUs.lte(tx.now.0))
            .exec(tx.db())
            .await?;
        if marked.rows_affected != 1 {
            return Err(DomainError::invalid_state(
                format!("job {}", j.id),
                j.status.as_str(),
                "fire it",
            ));
        }
        tx.emit(NewEvent::new(
            "job.fired",
            json!({ "job_id": j.id, "kind": j.kind, "key": j.key, "due_at": j.due_at.rfc3339() }),
        ));
        match j.kind {
            JobKind::Settle => {
                let date = crate::order_record::settle_job_date(j.target)?;
                crate::order::Settle { date }.run(tx).await?;
            }
            JobKind::OrderExpiry => {
                crate::order::ExpireOrder {
                    order: OrderId(j.target),
                }
                .run(tx)
                .await?;
            }
            JobKind::OrderExpiryNotice => {
                crate::order::expiry::expiry_notice(tx, OrderId(j.target)).await?;
            }
            JobKind::InspectionEnd => {
                crate::order::expiry::end_inspection(tx, OrderId(j.target)).await?;
            }
            JobKind::MilestoneDue => {
                let m =
                    crate::order_record::milestone_order(tx.db(), MilestoneId(j.target)).await?;
                crate::order::release_ready(tx, m).await?;
            }
            JobKind::HoldExpiry => {
                crate::court::expire_hold(tx, HoldId(j.target)).await?;
            }
            JobKind::RefundDeadline => {
                crate::order::refund::deadline_passed(tx, j.target).await?;
            }
            JobKind::ClosingDownRefunds => {
                crate::prepaid::continue_closing_down(tx, j.target).await?;
            }
            JobKind::VoucherExpiry => {
                crate::voucher::expire_due(tx, crate::ids::VoucherId(j.target)).await?;
            }
            JobKind::VoucherExpiryNotice => {
                crate::voucher::expiry_notice(tx, crate::ids::VoucherId(j.target)).await?;
            }
            JobKind::CalendarReplan => {
                crate::calendar::replan::replan(tx).await?;
            }
            JobKind::FreezeLapseNotice => {
                crate::enforcement::lapse_notice(tx, HoldId(j.target)).await?;
            }
        }
        Ok(j.kind)
    }
}

/// What one scheduler tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub fired: u32,
    pub failed: u32,
}

/// Fires every job due at `now` (at most [`JOBS_PER_TICK`]). A job whose work fails is retried
/// later; after [`MAX_JOB_ATTEMPTS`] it is left FAILED and an alert is raised. Also warns the
/// bank, once a day, when the loaded holiday calendar is about to run out.
///
/// # Errors
/// Database errors while listing jobs.
pub async fn tick(escrow: &Escrow) -> DomainResult<TickReport> {
    // A failed warning must not hold up settlement and deadlines: it is tried again next tick.
    if let Err(e) = crate::calendar::store::warn_if_ending(escrow).await {
        tracing::warn!(error = %e, "could not warn that the holiday calendar is ending");
    }
    let now = escrow.clock().now();
    let due = job::Entity::find()
        .filter(job::Column::Status.eq(JobStatus::Pending.as_str()))
        .filter(job::Column::DueAtUs.lte(now.0))
        .order_by_asc(job::Column::DueAtUs)
        .order_by_asc(job::Column::Id)
        .limit(JOBS_PER_TICK)
        .all(escrow.db())
        .await?;
    let system = Principal::system();
    let mut report = TickReport::default();
    for j in due {
        let key = crate::idempotency::IdempotencyKey::new(&format!("job-{}", j.id))?;
        match escrow
            .execute(&system, Some(&key), &FireJob { job: j.id })
            .await
        {
            Ok(_) => report.fired += 1,
            // Another node fired it first.
            Err(DomainError::InvalidState { .. }) => {}
            Err(e) => {
                report.failed += 1;
                record_failure(escrow, &j, &e).await?;
            }
        }
    }
    Ok(report)
}

/// Records a failed attempt; after the last one, marks the job FAILED and raises an alert
/// in a transaction of its own.
async fn record_failure(escrow: &Escrow, j: &job::Model, e: &DomainError) -> DomainResult<()> {
    let attempts = j.attempts + 1;
    tracing::warn!(job = j.id, kind = %j.kind, attempts, error = %e, "scheduled job failed");
    if attempts >= MAX_JOB_ATTEMPTS {
        escrow
            .execute(
                &Principal::system(),
                None,
                &GiveUpJob {
                    job: j.id,
                    error: e.to_string(),
                },
            )
            .await?;
        return Ok(());
    }
    job::ActiveModel {
        id: Set(j.id),
        attempts: Set(attempts),
        last_error: Set(e.to_string().chars().take(500).collect()),
        due_at_us: Set(escrow
            .clock()
            .now()
            .plus_seconds(RETRY_AFTER_SECS * i64::from(attempts))
            .0),
        ..Default::default()
    }
    .update(escrow.db())
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct GiveUpJob {
    job: i64,
    error: String,
}

impl Command for GiveUpJob {
    type Output = ();
    const NAME: &'static str = "giveUpJob";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<()> {
        let j = job::Entity::find_by_id(self.job)
            .one(tx.db())
            .await?
            .ok_or_else(|| DomainError::not_found("job", self.job))?;
        job::ActiveModel {
            id: Set(j.id),
            status: Set(JobStatus::Failed.as_str().to_owned()),
            attempts: Set(j.attempts + 1),
            last_error: Set(self.error.chars().take(500).collect()),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        tx.emit(NewEvent::new(
            "job.failed",
            json!({ "job_id": j.id, "kind": j.kind, "key": j.dedupe_key, "error": self.error }),
        ));
        crate::alert::raise(
            tx,
            NewAlert::new(
                AlertKind::JobFailed,
                Severity::Critical,
                format!(
                    "scheduled job {} ({}) failed {} times: {}",
                    j.dedupe_key,
                    j.kind,
                    j.attempts + 1,
                    self.error
                ),
            )
            .dedupe(format!("job:{}", j.id)),
        )
        .await?;
        Ok(())
    }
}
