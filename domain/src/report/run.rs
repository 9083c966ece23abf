//! Report runs: each download of a report is recorded — who, which report, with which
//! parameters, when — as a `report_run` row and a notarized `report.run` event (the access log
//! of reports). The run's id is printed in the CSV watermark, so a file found later can be
//! traced to the request that produced it.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use lvyue_entity::report_run;

use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{PartyId, ReportRunId};
use crate::page::{Page, Paged};
use crate::principal::{Principal, Role};

/// Largest parameter document of a run (serialized JSON).
pub const MAX_PARAMS_CHARS: usize = 4_000;

string_enum!(
    /// The reports (docs/domain.md, "What regulators ask for").
    ReportKind {
        FundFlows = "FUND_FLOWS",
        Balances = "BALANCES",
        DailySnapshots = "DAILY_SNAPSHOTS",
        MilestoneReleases = "MILESTONE_RELEASES",
        RefundSla = "REFUND_SLA",
        VoucherInventory = "VOUCHER_INVENTORY",
    }
);

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRun {
    pub id: ReportRunId,
    pub kind: ReportKind,
    /// The token subject of who ran it.
    pub subject: String,
    pub role: Role,
    pub party: Option<PartyId>,
    pub params: Value,
    pub created_at: Timestamp,
}

/// Who ran a report, as stored in `report_run.principal`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredPrincipal {
    subject: String,
    role: Role,
    party_id: Option<PartyId>,
}

impl TryFrom<report_run::Model> for ReportRun {
    type Error = DomainError;
    fn try_from(m: report_run::Model) -> DomainResult<ReportRun> {
        let who: StoredPrincipal = serde_json::from_str(&m.principal)
            .map_err(|e| DomainError::Internal(format!("report run {}: {e}", m.id)))?;
        Ok(ReportRun {
            id: ReportRunId(m.id),
            kind: m.kind.parse()?,
            subject: who.subject,
            role: who.role,
            party: who.party_id,
            params: serde_json::from_str(&m.params).unwrap_or(Value::Null),
            created_at: Timestamp(m.created_at_us),
        })
    }
}

/// Records that the principal runs a report. Anyone who may run reports (bank, regulator,
/// merchant) records their own runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordReportRun {
    pub kind: ReportKind,
    /// The report's parameters as the caller gave them (period, filter, grouping): a JSON
    /// object of at most [`MAX_PARAMS_CHARS`].
    pub params: Value,
}

impl Command for RecordReportRun {
    type Output = ReportRun;
    const NAME: &'static str = "recordReportRun";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<ReportRun> {
        super::require_report_role(tx.principal)?;
        if !self.params.is_object() {
            return Err(DomainError::invalid("params", "must be a JSON object"));
        }
        let params = self.params.to_string();
        if params.chars().count() > MAX_PARAMS_CHARS {
            return Err(DomainError::invalid(
                "params",
                format!("at most {MAX_PARAMS_CHARS} characters"),
            ));
        }
        let who = StoredPrincipal {
            subject: tx.principal.subject.clone(),
            role: tx.principal.role,
            party_id: tx.principal.party_id,
        };
        let row = report_run::ActiveModel {
            kind: Set(self.kind.as_str().to_owned()),
            principal: Set(
                serde_json::to_string(&who).map_err(|e| DomainError::Internal(e.to_string()))?
            ),
            params: Set(params),
            created_at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        let run = ReportRun::try_from(row)?;
        let mut e = NewEvent::new(
            "report.run",
            json!({
                "report_id": run.id,
                "kind": run.kind,
                "subject": run.subject,
                "role": run.role,
                "party_id": run.party,
                "params": run.params,
            }),
        );
        if tx.principal.role == Role::Merchant
            && let Some(m) = tx.principal.party_id
        {
            e = e.merchant(m);
        }
        tx.emit(e);
        Ok(run)
    }
}

/// A run the principal may see: the bank any, others their own (same party, role and
/// subject: a token naming another party with the same subject sees nothing).
///
/// # Errors
/// `NOT_FOUND` when it does not exist or is someone else's.
pub async fn get_report_run<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: ReportRunId,
) -> DomainResult<ReportRun> {
    let run: ReportRun = report_run::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("report", id))?
        .try_into()?;
    if p.role == Role::Bank
        || (run.subject == p.subject && run.role == p.role && run.party == p.party_id)
    {
        Ok(run)
    } else {
        Err(DomainError::not_found("report", id))
    }
}

/// Report runs, newest first: the bank sees every run (the access log of reports), others
/// their own.
///
/// # Errors
/// `VALIDATION` for a bad page; database errors.
pub async fn report_runs<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    page: Page,
) -> DomainResult<Paged<ReportRun>> {
    let mut q = report_run::Entity::find();
    if p.role != Role::Bank {
        let who = StoredPrincipal {
            subject: p.subject.clone(),
            role: p.role,
            party_id: p.party_id,
        };
        q =
            q.filter(report_run::Column::Principal.eq(
                serde_json::to_string(&who).map_err(|e| DomainError::Internal(e.to_string()))?,
            ));
    }
    if let Some(a) = page.after {
        q = q.filter(report_run::Column::Id.lt(a));
    }
    let mut rows = q
        .order_by_desc(report_run::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?
        .into_iter()
        .map(ReportRun::try_from)
        .collect::<DomainResult<Vec<_>>>()?;
    let has_next = rows.len() as u64 > page.first;
    rows.truncate(page.first as usize);
    Ok(Paged {
        items: rows,
        has_next,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::db_test;
    use crate::principal::Jurisdiction;
    use crate::testing::TestDb;

    db_test!(
        a_run_is_seen_by_its_own_party_only,
        |db: TestDb| async move {
            let escrow = db.escrow().await;
            let merchant = |party| Principal {
                subject: "shared-subject".into(),
                role: Role::Merchant,
                party_id: Some(PartyId(party)),
                jurisdiction: Jurisdiction::default(),
            };
            let run = escrow
                .execute(
                    &merchant(1),
                    None,
                    &RecordReportRun {
                        kind: ReportKind::Balances,
                        params: json!({"report": "merchant-balances"}),
                    },
                )
                .await
                .unwrap();
            get_report_run(escrow.db(), &merchant(1), run.id)
                .await
                .unwrap();
            let err = get_report_run(escrow.db(), &merchant(2), run.id)
                .await
                .unwrap_err();
            assert_eq!(err.code(), crate::error::ErrorCode::NotFound);
            let page = Page::new(None, 10).unwrap();
            assert!(
                report_runs(escrow.db(), &merchant(2), page)
                    .await
                    .unwrap()
                    .items
                    .is_empty()
            );
        }
    );
}
