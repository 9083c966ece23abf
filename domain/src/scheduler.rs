//! The scheduler's queue: jobs that must run once when due — order expiry, milestones that
//! confirm with time, T+1 settlement, hold expiry, refund deadlines, housing-voucher expiry.
//! Jobs live in the database, so they survive restarts. This module only schedules, cancels
//! and lists them, so every module may queue work without depending on the ones that do it;
//! firing a job — which command each kind runs — is [`crate::jobs`], at the top of the domain.

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, OnConflict},
};
use serde::{Deserialize, Serialize};

use lvyue_entity::scheduled_job as job;

use crate::Escrow;
use crate::clock::Timestamp;
use crate::command::Tx;
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::ids::{HoldId, MilestoneId, OrderId};

/// Jobs taken per tick.
pub const JOBS_PER_TICK: u64 = 100;
/// A job that keeps failing is retried this many times, then left FAILED with an alert.
pub const MAX_JOB_ATTEMPTS: i32 = 10;
/// Wait before retrying a failed job.
pub(crate) const RETRY_AFTER_SECS: i64 = 3600;

string_enum!(
    /// What a job does.
    JobKind {
        /// Settle every payment due on a date (target: the date as yyyymmdd).
        Settle = "SETTLE",
        /// An order's validity ends (target: order id).
        OrderExpiry = "ORDER_EXPIRY",
        /// An order's validity ends soon: DEADLINE_NEAR alert (target: order id).
        OrderExpiryNotice = "ORDER_EXPIRY_NOTICE",
        /// An order's inspection window ends: release what is left (target: order id).
        InspectionEnd = "INSPECTION_END",
        /// A milestone's time has come (target: milestone id).
        MilestoneDue = "MILESTONE_DUE",
        /// A hold's expiry (target: hold id).
        HoldExpiry = "HOLD_EXPIRY",
        /// A requested refund's deadline (target: refund id).
        RefundDeadline = "REFUND_DEADLINE",
        /// A closing-down merchant's remaining card refunds (target: enrollment id).
        ClosingDownRefunds = "CLOSING_DOWN_REFUNDS",
        /// A housing voucher's validity ends (target: voucher id).
        VoucherExpiry = "VOUCHER_EXPIRY",
        /// A housing voucher expires soon: DEADLINE_NEAR alert (target: voucher id).
        VoucherExpiryNotice = "VOUCHER_EXPIRY_NOTICE",
        /// Dates left to re-plan after a calendar year was loaded (target: unused).
        CalendarReplan = "CALENDAR_REPLAN",
        /// A court freeze's term ends soon: FREEZE_LAPSING alert (target: hold id).
        FreezeLapseNotice = "FREEZE_LAPSE_NOTICE",
    }
);

string_enum!(
    JobStatus { Pending = "PENDING", Done = "DONE", Failed = "FAILED", Cancelled = "CANCELLED" }
);

/// Schedules a job once: a second schedule with the same key changes nothing.
///
/// # Errors
/// Database errors.
pub async fn schedule(
    tx: &Tx<'_>,
    kind: JobKind,
    target: i64,
    due: Timestamp,
    key: String,
) -> DomainResult<()> {
    job::Entity::insert(job::ActiveModel {
        kind: Set(kind.as_str().to_owned()),
        dedupe_key: Set(key),
        target_id: Set(target),
        due_at_us: Set(due.0),
        status: Set(JobStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        last_error: Set(String::new()),
        fired_at_us: Set(None),
        created_at_us: Set(tx.now.0),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(job::Column::DedupeKey)
            .do_nothing()
            .to_owned(),
    )
    .try_insert()
    .exec(tx.db())
    .await?;
    Ok(())
}

/// Moves a pending job to a new time (a renewed freeze's expiry). Nothing when no job with
/// that key is pending.
///
/// # Errors
/// Database errors.
pub async fn reschedule(tx: &Tx<'_>, key: &str, due: Timestamp) -> DomainResult<()> {
    job::Entity::update_many()
        .col_expr(job::Column::DueAtUs, Expr::value(due.0))
        .filter(job::Column::DedupeKey.eq(key))
        .filter(job::Column::Status.eq(JobStatus::Pending.as_str()))
        .exec(tx.db())
        .await?;
    Ok(())
}

/// Cancels a pending job by key (e.g. an order's expiry once it is refunded).
///
/// # Errors
/// Database errors.
pub async fn cancel(tx: &Tx<'_>, key: &str) -> DomainResult<()> {
    job::Entity::update_many()
        .col_expr(
            job::Column::Status,
            Expr::value(JobStatus::Cancelled.as_str()),
        )
        .filter(job::Column::DedupeKey.eq(key))
        .filter(job::Column::Status.eq(JobStatus::Pending.as_str()))
        .exec(tx.db())
        .await?;
    Ok(())
}

/// Cancels an order's expiry and its notice: the order closed before its validity ended.
///
/// # Errors
/// Database errors.
pub async fn cancel_expiry(tx: &Tx<'_>, order: OrderId) -> DomainResult<()> {
    cancel(tx, &expiry_key(order)).await?;
    cancel(tx, &expiry_notice_key(order)).await
}

pub fn expiry_key(order: OrderId) -> String {
    format!("expiry:{order}")
}

pub fn expiry_notice_key(order: OrderId) -> String {
    format!("expiry-notice:{order}")
}

pub fn milestone_key(m: MilestoneId) -> String {
    format!("milestone:{m}")
}

pub fn hold_key(h: HoldId) -> String {
    format!("hold:{h}")
}

/// A scheduled job as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: i64,
    pub kind: JobKind,
    pub key: String,
    pub target: i64,
    pub due_at: Timestamp,
    pub status: JobStatus,
    pub attempts: i32,
    pub last_error: String,
}

impl TryFrom<job::Model> for JobRecord {
    type Error = DomainError;
    fn try_from(m: job::Model) -> DomainResult<JobRecord> {
        Ok(JobRecord {
            id: m.id,
            kind: m.kind.parse()?,
            key: m.dedupe_key,
            target: m.target_id,
            due_at: Timestamp(m.due_at_us),
            status: m.status.parse()?,
            attempts: m.attempts,
            last_error: m.last_error,
        })
    }
}

/// Pending jobs already due at `now`: the scheduler's backlog (for the metrics).
///
/// # Errors
/// Database errors.
pub async fn overdue(db: &DatabaseConnection, now: Timestamp) -> DomainResult<u64> {
    Ok(job::Entity::find()
        .filter(job::Column::Status.eq(JobStatus::Pending.as_str()))
        .filter(job::Column::DueAtUs.lte(now.0))
        .count(db)
        .await?)
}

/// Jobs, newest first (for the bank's operators).
///
/// # Errors
/// Database errors.
pub async fn jobs(
    escrow: &Escrow,
    status: Option<JobStatus>,
    limit: u64,
) -> DomainResult<Vec<JobRecord>> {
    let mut q = job::Entity::find()
        .order_by_desc(job::Column::Id)
        .limit(limit);
    if let Some(s) = status {
        q = q.filter(job::Column::Status.eq(s.as_str()));
    }
    q.all(escrow.db())
        .await?
        .into_iter()
        .map(JobRecord::try_from)
        .collect()
}
