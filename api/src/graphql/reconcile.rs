//! Reconciliation and operations in the schema (bank only): import a channel statement and see
//! its breaks; see the scheduler's jobs.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::NaiveDate;

use lvyue_domain::principal::Role;
use lvyue_domain::reconcile::{self as drec, ImportStatement, Reconciliation};
use lvyue_domain::scheduler;

use super::common::{gid, id, run, time};
use super::context::ContextExt;
use super::enums::{GqlChannel, GqlMatchStatus};
use super::guard::RoleGuard;
use super::scalars::Decimal;

/// One break between a statement and the ledger.
#[derive(SimpleObject)]
pub struct Break {
    pub status: GqlMatchStatus,
    pub reference: String,
    /// The statement line (absent when the ledger has it and the statement does not).
    pub line: Option<i32>,
    pub statement_amount: Option<Decimal>,
    pub ledger_amount: Option<Decimal>,
    pub reason: String,
}

/// A reconciled statement.
#[derive(SimpleObject)]
pub struct StatementReconciliation {
    pub statement_id: ID,
    pub channel: GqlChannel,
    pub date: NaiveDate,
    pub lines: u32,
    pub matched_lines: u32,
    pub matched_payments: u32,
    /// Zero drift is tolerated: every difference is listed.
    pub breaks: Vec<Break>,
    /// False when this exact statement was imported before (its first result is shown).
    pub applied: bool,
}

impl From<Reconciliation> for StatementReconciliation {
    fn from(r: Reconciliation) -> StatementReconciliation {
        StatementReconciliation {
            statement_id: gid(r.statement),
            channel: r.channel.into(),
            date: r.date,
            lines: r.lines,
            matched_lines: r.matched_lines,
            matched_payments: r.matched_payments,
            breaks: r
                .breaks
                .into_iter()
                .map(|b| Break {
                    status: b.status.into(),
                    reference: b.reference,
                    line: b.line_no,
                    statement_amount: b.statement_amount.map(Into::into),
                    ledger_amount: b.ledger_amount.map(Into::into),
                    reason: b.reason,
                })
                .collect(),
            applied: r.applied,
        }
    }
}

/// A scheduled job.
#[derive(SimpleObject)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub key: String,
    pub due_at: chrono::DateTime<chrono::Utc>,
    pub status: String,
    pub attempts: i32,
    pub last_error: String,
}

#[derive(Default)]
pub struct OpsQuery;

#[Object]
impl OpsQuery {
    /// A reconciled statement (bank).
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn statement(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<StatementReconciliation> {
        Ok(drec::reconciliation_of(ctx.escrow()?.db(), self::id(&id)?)
            .await?
            .into())
    }

    /// The scheduler's jobs, newest first (bank).
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        status: Option<String>,
        #[graphql(default = 50)] limit: u32,
    ) -> async_graphql::Result<Vec<Job>> {
        let status = status.map(|s| s.parse()).transpose()?;
        let jobs = scheduler::jobs(ctx.escrow()?, status, u64::from(limit.min(200))).await?;
        Ok(jobs
            .into_iter()
            .map(|j| Job {
                id: format!("job_{}", j.id),
                kind: j.kind.to_string(),
                key: j.key,
                due_at: time(j.due_at),
                status: j.status.to_string(),
                attempts: j.attempts,
                last_error: j.last_error,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct OpsMutation;

#[Object]
impl OpsMutation {
    /// Imports a channel's statement for a day (CSV `reference,amount`) and reconciles it with
    /// the ledger, 1:1 and 1:N; every break raises an alert.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn import_statement(
        &self,
        ctx: &Context<'_>,
        channel: GqlChannel,
        date: NaiveDate,
        csv: String,
        idempotency_key: String,
    ) -> async_graphql::Result<StatementReconciliation> {
        Ok(run(
            ctx,
            &idempotency_key,
            ImportStatement {
                channel: channel.into(),
                date,
                csv,
            },
        )
        .await?
        .into())
    }
}
