//! Reconciliation (对账): a channel's statement for a day is matched against what the ledger
//! received through that channel that day, with zero drift tolerated: order payments 1:1 by
//! the channel's transaction id or 1:N by its batch id, and the receipts that arrive through a
//! channel without an order — patients' payments to medical institutions (`medical_receipt`)
//! and enterprises' payroll fundings (`enterprise_funding`) — 1:1 by their transaction id.
//! Every break is listed with its reason and raises an alert; a receipt or funding the
//! statement lacks is `MISSING_IN_STATEMENT` like a payment.
//!
//! Statement format (CSV, UTF-8, header required):
//!
//! ```text
//! reference,amount
//! wx4200001234,1280.00
//! B20261001-07,3840.00
//! ```
//!
//! `reference` is the channel's transaction id (matched to one payment's `externalRef`, else
//! to a medical receipt's or an enterprise funding's) or a batch id (matched to every payment
//! with that `batchRef`, whose amounts must sum to the line). `amount` has exactly the money
//! syntax of the API. `matchedPayments` counts order payments; matched receipts and fundings
//! count as matched lines.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use lvyue_entity::{enterprise_funding, medical_receipt, payment, statement, statement_line};

use crate::alert::{AlertKind, NewAlert, Severity};
use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{FundingId, PaymentId, ReceiptId, StatementId};
use crate::money::Money;
use crate::order::Channel;
use crate::principal::Role;

/// Most lines in one statement.
pub const MAX_STATEMENT_LINES: usize = 50_000;
/// Most alerts one statement raises (one per break); the statement lists every break anyway.
pub const MAX_BREAK_ALERTS: usize = 100;

string_enum!(
    /// How a statement line (or a ledger payment) came out.
    MatchStatus {
        Matched = "MATCHED",
        /// The statement has it, the ledger does not.
        MissingInLedger = "MISSING_IN_LEDGER",
        /// The ledger has it, the statement does not.
        MissingInStatement = "MISSING_IN_STATEMENT",
        AmountMismatch = "AMOUNT_MISMATCH",
        DuplicateLine = "DUPLICATE_LINE",
    }
);

/// One break.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Break {
    pub status: MatchStatus,
    pub reference: String,
    pub line_no: Option<i32>,
    pub statement_amount: Option<Money>,
    pub ledger_amount: Option<Money>,
    pub reason: String,
}

/// A reconciled statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub statement: StatementId,
    pub channel: Channel,
    pub date: NaiveDate,
    pub lines: u32,
    pub matched_lines: u32,
    pub matched_payments: u32,
    pub breaks: Vec<Break>,
    /// False when this exact statement was imported before; the first result is returned.
    pub applied: bool,
}

struct Line {
    no: i32,
    reference: String,
    amount: Money,
}

/// Money the ledger received through the channel without an order payment: a patient's
/// payment to medical institutions or an enterprise's payroll funding.
struct DirectReceipt {
    /// What it is, with its id (`medical receipt rcp_3`).
    label: String,
    reference: String,
    amount: Money,
}

/// The medical receipts and enterprise fundings of a channel received in `[from, to)`, oldest
/// first (receipts, then fundings).
async fn direct_receipts<C: ConnectionTrait>(
    db: &C,
    channel: Channel,
    from: Timestamp,
    to: Timestamp,
) -> DomainResult<Vec<DirectReceipt>> {
    let mut out = Vec::new();
    for r in medical_receipt::Entity::find()
        .filter(medical_receipt::Column::Channel.eq(channel.as_str()))
        .filter(medical_receipt::Column::ReceivedAtUs.gte(from.0))
        .filter(medical_receipt::Column::ReceivedAtUs.lt(to.0))
        .order_by_asc(medical_receipt::Column::Id)
        .all(db)
        .await?
    {
        out.push(DirectReceipt {
            label: format!("medical receipt {}", ReceiptId(r.id)),
            reference: r.external_ref,
            amount: Money::from_fen(r.total_fen)?,
        });
    }
    for f in enterprise_funding::Entity::find()
        .filter(enterprise_funding::Column::Channel.eq(channel.as_str()))
        .filter(enterprise_funding::Column::FundedAtUs.gte(from.0))
        .filter(enterprise_funding::Column::FundedAtUs.lt(to.0))
        .order_by_asc(enterprise_funding::Column::Id)
        .all(db)
        .await?
    {
        out.push(DirectReceipt {
            label: format!("enterprise funding {}", FundingId(f.id)),
            reference: f.external_ref,
            amount: Money::from_fen(f.amount_fen)?,
        });
    }
    Ok(out)
}

fn parse(csv_text: &str) -> DomainResult<Vec<Line>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| DomainError::invalid("csv", format!("line 1: {e}")))?
        .clone();
    if headers.iter().collect::<Vec<_>>() != ["reference", "amount"] {
        return Err(DomainError::invalid(
            "csv",
            "line 1: the header must be reference,amount",
        ));
    }
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let no = (i + 2) as i32;
        if lines.len() >= MAX_STATEMENT_LINES {
            return Err(DomainError::LimitExceeded(format!(
                "a statement has at most {MAX_STATEMENT_LINES} lines"
            )));
        }
        match record {
            Err(e) => errors.push(format!("line {no}: {e}")),
            Ok(r) => {
                let reference = r.get(0).unwrap_or("").to_owned();
                // Untrimmed: a statement's reference is matched byte for byte.
                if crate::text::external_ref("reference", &reference).ok() != Some(&reference) {
                    errors.push(format!(
                        "line {no}: reference must be 1 to {} printable ASCII characters",
                        crate::text::MAX_EXTERNAL_REF
                    ));
                    continue;
                }
                match Money::parse_positive(r.get(1).unwrap_or("")) {
                    Ok(amount) => lines.push(Line {
                        no,
                        reference,
                        amount,
                    }),
                    Err(e) => errors.push(format!("line {no}: {e}")),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::invalid(
            "csv",
            errors.into_iter().take(20).collect::<Vec<_>>().join("; "),
        ));
    }
    Ok(lines)
}

/// Imports and reconciles a channel's statement for a day.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportStatement {
    pub channel: Channel,
    pub date: NaiveDate,
    pub csv: String,
}

impl Command for ImportStatement {
    type Output = Reconciliation;
    const NAME: &'static str = "importStatement";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<Reconciliation> {
        tx.principal.require_role(&[Role::Bank])?;
        let lines = parse(&self.csv)?;
        let hash = hex::encode(Sha256::digest(format!(
            "{}\n{}\n{}",
            self.channel, self.date, self.csv
        )));
        if let Some(existing) = statement::Entity::find()
            .filter(statement::Column::ContentHash.eq(hash.as_str()))
            .one(tx.db())
            .await?
        {
            tx.emit(NewEvent::new(
                "statement.import_repeated",
                json!({ "statement_id": StatementId(existing.id), "content_sha256": hash }),
            ));
            let mut r = reconciliation_of(tx.db(), StatementId(existing.id)).await?;
            r.applied = false;
            return Ok(r);
        }
        let day_start = Timestamp::china_midnight(self.date);
        let day_end = Timestamp::china_midnight(self.date.succ_opt().unwrap_or(self.date));
        let payments = payment::Entity::find()
            .filter(payment::Column::Channel.eq(self.channel.as_str()))
            .filter(payment::Column::PaidAtUs.gte(day_start.0))
            .filter(payment::Column::PaidAtUs.lt(day_end.0))
            .order_by_asc(payment::Column::Id)
            .all(tx.db())
            .await?;
        let by_ref: BTreeMap<&str, &payment::Model> = payments
            .iter()
            .map(|p| (p.external_ref.as_str(), p))
            .collect();
        let mut by_batch: BTreeMap<&str, Vec<&payment::Model>> = BTreeMap::new();
        for p in &payments {
            if let Some(b) = &p.batch_ref {
                by_batch.entry(b.as_str()).or_default().push(p);
            }
        }
        let direct = direct_receipts(tx.db(), self.channel, day_start, day_end).await?;
        // A reference is matched to one record: an order payment's before a direct receipt's,
        // the first direct receipt's before a later one's.
        let mut direct_by_ref: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, d) in direct.iter().enumerate() {
            direct_by_ref.entry(d.reference.as_str()).or_insert(i);
        }
        let st = statement::ActiveModel {
            channel: Set(self.channel.as_str().to_owned()),
            statement_date: Set(self.date.to_string()),
            content_hash: Set(hash.clone()),
            lines: Set(lines.len() as i32),
            breaks: Set(0),
            imported_at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        let mut seen_refs = HashSet::new();
        let mut matched_payments: HashSet<i64> = HashSet::new();
        let mut matched_direct: HashSet<usize> = HashSet::new();
        let mut line_rows = Vec::new();
        let mut breaks = Vec::new();
        let mut matched_lines = 0;
        for line in &lines {
            let (status, ledger, reason, matched): (MatchStatus, Option<Money>, String, Vec<i64>) =
                if !seen_refs.insert(line.reference.clone()) {
                    (
                        MatchStatus::DuplicateLine,
                        None,
                        "the reference appears more than once in the statement".into(),
                        vec![],
                    )
                } else if let Some(p) = by_ref.get(line.reference.as_str()) {
                    let amount = Money::from_fen(p.amount_fen)?;
                    if amount == line.amount {
                        (MatchStatus::Matched, Some(amount), "1:1".into(), vec![p.id])
                    } else {
                        (
                            MatchStatus::AmountMismatch,
                            Some(amount),
                            format!("the ledger recorded {amount} for this transaction"),
                            vec![],
                        )
                    }
                } else if let Some(group) = by_batch.get(line.reference.as_str()) {
                    let amounts = group
                        .iter()
                        .map(|p| Money::from_fen(p.amount_fen))
                        .collect::<Result<Vec<_>, _>>()?;
                    let sum = Money::sum(amounts)?;
                    if sum == line.amount {
                        (
                            MatchStatus::Matched,
                            Some(sum),
                            format!("1:{}", group.len()),
                            group.iter().map(|p| p.id).collect(),
                        )
                    } else {
                        (
                            MatchStatus::AmountMismatch,
                            Some(sum),
                            format!("the {} payments of this batch sum to {sum}", group.len()),
                            vec![],
                        )
                    }
                } else if let Some(&i) = direct_by_ref.get(line.reference.as_str()) {
                    let d = &direct[i];
                    if d.amount == line.amount {
                        matched_direct.insert(i);
                        (
                            MatchStatus::Matched,
                            Some(d.amount),
                            format!("1:1 {}", d.label),
                            vec![],
                        )
                    } else {
                        (
                            MatchStatus::AmountMismatch,
                            Some(d.amount),
                            format!("the ledger recorded {} for {}", d.amount, d.label),
                            vec![],
                        )
                    }
                } else {
                    (
                        MatchStatus::MissingInLedger,
                        None,
                        "nothing the ledger received through this channel that day has this reference"
                            .into(),
                        vec![],
                    )
                };
            if status == MatchStatus::Matched {
                matched_lines += 1;
            } else {
                breaks.push(Break {
                    status,
                    reference: line.reference.clone(),
                    line_no: Some(line.no),
                    statement_amount: Some(line.amount),
                    ledger_amount: ledger,
                    reason: reason.clone(),
                });
            }
            line_rows.push((line, status, reason, matched.clone()));
            matched_payments.extend(matched);
        }
        for p in &payments {
            if !matched_payments.contains(&p.id)
                && !breaks.iter().any(|b| {
                    b.reference == p.external_ref || Some(&b.reference) == p.batch_ref.as_ref()
                })
            {
                breaks.push(Break {
                    status: MatchStatus::MissingInStatement,
                    reference: p.external_ref.clone(),
                    line_no: None,
                    statement_amount: None,
                    ledger_amount: Some(Money::from_fen(p.amount_fen)?),
                    reason: format!(
                        "payment {} is in the ledger but not in the statement",
                        PaymentId(p.id)
                    ),
                });
            }
        }
        for (i, d) in direct.iter().enumerate() {
            if !matched_direct.contains(&i) && !breaks.iter().any(|b| b.reference == d.reference) {
                breaks.push(Break {
                    status: MatchStatus::MissingInStatement,
                    reference: d.reference.clone(),
                    line_no: None,
                    statement_amount: None,
                    ledger_amount: Some(d.amount),
                    reason: format!("{} is in the ledger but not in the statement", d.label),
                });
            }
        }
        for (line, status, reason, matched) in line_rows {
            let row = statement_line::ActiveModel {
                statement_id: Set(st.id),
                line_no: Set(line.no),
                external_ref: Set(line.reference.clone()),
                amount_fen: Set(line.amount.fen()),
                match_status: Set(status.as_str().to_owned()),
                detail: Set(reason),
                ..Default::default()
            }
            .insert(tx.db())
            .await?;
            for pid in matched {
                payment::ActiveModel {
                    id: Set(pid),
                    statement_line_id: Set(Some(row.id)),
                    ..Default::default()
                }
                .update(tx.db())
                .await?;
            }
        }
        for b in breaks
            .iter()
            .filter(|b| b.status == MatchStatus::MissingInStatement)
        {
            statement_line::ActiveModel {
                statement_id: Set(st.id),
                line_no: Set(0),
                external_ref: Set(b.reference.clone()),
                amount_fen: Set(b.ledger_amount.map(Money::fen).unwrap_or(0)),
                match_status: Set(b.status.as_str().to_owned()),
                detail: Set(b.reason.clone()),
                ..Default::default()
            }
            .insert(tx.db())
            .await?;
        }
        statement::ActiveModel {
            id: Set(st.id),
            breaks: Set(breaks.len() as i32),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        tx.emit(NewEvent::new(
            "statement.reconciled",
            json!({
                "statement_id": StatementId(st.id),
                "channel": self.channel,
                "date": self.date.to_string(),
                "lines": lines.len(),
                "matched_lines": matched_lines,
                "matched_payments": matched_payments.len(),
                "breaks": breaks.iter().map(|b| json!({"status": b.status, "reference": b.reference, "line": b.line_no, "reason": b.reason})).collect::<Vec<_>>(),
                "content_sha256": hash,
            }),
        ));
        for b in breaks.iter().take(MAX_BREAK_ALERTS) {
            crate::alert::raise(
                tx,
                NewAlert::new(
                    AlertKind::ReconciliationBreak,
                    Severity::Critical,
                    format!(
                        "{} statement {}: {} {} — {}",
                        self.channel, self.date, b.status, b.reference, b.reason
                    ),
                )
                .details(json!({ "statement_id": StatementId(st.id), "break": b })),
            )
            .await?;
        }
        Ok(Reconciliation {
            statement: StatementId(st.id),
            channel: self.channel,
            date: self.date,
            lines: lines.len() as u32,
            matched_lines,
            matched_payments: matched_payments.len() as u32,
            breaks,
            applied: true,
        })
    }
}

/// A stored statement's reconciliation.
///
/// # Errors
/// `NOT_FOUND`.
pub async fn reconciliation_of<C: ConnectionTrait>(
    db: &C,
    id: StatementId,
) -> DomainResult<Reconciliation> {
    let st = statement::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("statement", id))?;
    let rows = statement_line::Entity::find()
        .filter(statement_line::Column::StatementId.eq(id.0))
        .order_by_asc(statement_line::Column::Id)
        .all(db)
        .await?;
    let matched_payments = payment::Entity::find()
        .filter(payment::Column::StatementLineId.is_in(rows.iter().map(|r| r.id)))
        .all(db)
        .await?
        .len() as u32;
    let mut breaks = Vec::new();
    let mut matched_lines = 0;
    for r in rows {
        let status: MatchStatus = r.match_status.parse()?;
        if status == MatchStatus::Matched {
            matched_lines += 1;
            continue;
        }
        let amount = Money::from_fen(r.amount_fen)?;
        let missing_in_statement = status == MatchStatus::MissingInStatement;
        breaks.push(Break {
            status,
            reference: r.external_ref,
            line_no: if missing_in_statement {
                None
            } else {
                Some(r.line_no)
            },
            statement_amount: if missing_in_statement {
                None
            } else {
                Some(amount)
            },
            ledger_amount: if missing_in_statement {
                Some(amount)
            } else {
                None
            },
            reason: r.detail,
        });
    }
    Ok(Reconciliation {
        statement: id,
        channel: st.channel.parse()?,
        date: st
            .statement_date
            .parse()
            .map_err(|_| DomainError::Invariant("stored statement date".into()))?,
        lines: st.lines as u32,
        matched_lines,
        matched_payments,
        breaks,
        applied: true,
    })
}

#[cfg(test)]
mod tests;
