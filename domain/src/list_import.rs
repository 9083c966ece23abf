//! Importing a blocking list (docs/domain.md, "Checks on merchants"): the bank imports the
//! dishonest-debtor list (失信被执行人) and the abnormal-operation list as CSV. A
//! dishonest-debtor hit blocks the merchant (releases stop) and raises an alert; every hit
//! recomputes the merchant's risk grade.
//!
//! CSV format (UTF-8, header required, one merchant per line):
//!
//! ```text
//! uscc,name,reason,listed_on
//! 91320102MA1XXXXXXX,南京某某驾驶培训有限公司,(2026)苏0102执123号,2026-03-01
//! ```
//!
//! Every line is validated; errors name their line number and nothing is imported if any line
//! is wrong. Importing the same file again changes nothing.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use lvyue_entity::{list_entry, list_import, party};

use crate::alert::{AlertKind, NewAlert, Severity};
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::identity::{UsccCheck, check_uscc};
use crate::party::{PartyKind, PartyRecord, PartyStatus};
use crate::principal::Role;
use crate::screening::{ListKind, MAX_LIST_ROWS, Outcome};

/// One validated line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    uscc: String,
    name: String,
    reason: String,
    listed_on: chrono::NaiveDate,
}

fn parse_rows(csv_text: &str) -> DomainResult<Vec<Row>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| DomainError::invalid("csv", format!("line 1: {e}")))?
        .clone();
    let expected = ["uscc", "name", "reason", "listed_on"];
    if headers.iter().collect::<Vec<_>>() != expected {
        return Err(DomainError::invalid(
            "csv",
            format!("line 1: the header must be {}", expected.join(",")),
        ));
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        if rows.len() + errors.len() >= MAX_LIST_ROWS {
            return Err(DomainError::LimitExceeded(format!(
                "a list import has at most {MAX_LIST_ROWS} lines"
            )));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let field = |j: usize| record.get(j).unwrap_or("").to_owned();
        let uscc = field(0);
        if check_uscc(&uscc) == UsccCheck::Malformed {
            errors.push(format!("line {line}: {uscc:?} is not a USCC"));
            continue;
        }
        let Ok(name) = crate::text::required("name", &field(1), 100) else {
            errors.push(format!(
                "line {line}: name must be 1 to 100 characters without control or invisible characters"
            ));
            continue;
        };
        let Ok(reason) = crate::text::optional("reason", &field(2), 500) else {
            errors.push(format!(
                "line {line}: reason must be at most 500 characters without control or invisible characters"
            ));
            continue;
        };
        let listed_on = match field(3).parse::<chrono::NaiveDate>() {
            Ok(d) => d,
            Err(_) => {
                errors.push(format!(
                    "line {line}: listed_on must be a date like 2026-03-01"
                ));
                continue;
            }
        };
        rows.push(Row {
            uscc,
            name,
            reason,
            listed_on,
        });
    }
    if !errors.is_empty() {
        let shown: Vec<_> = errors.iter().take(20).cloned().collect();
        let more = errors.len().saturating_sub(shown.len());
        let suffix = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        return Err(DomainError::invalid(
            "csv",
            format!("{}{suffix}", shown.join("; ")),
        ));
    }
    Ok(rows)
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListImportResult {
    pub kind: ListKind,
    pub rows: u32,
    /// False when this exact file was imported before (nothing changed).
    pub applied: bool,
    /// Registered merchants found on the list by this import.
    pub hits: Vec<crate::ids::PartyId>,
}

/// Imports a list. The file replaces the list: entries not in it become inactive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportList {
    pub kind: ListKind,
    pub csv: String,
}

impl Command for ImportList {
    type Output = ListImportResult;
    const NAME: &'static str = "importList";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<ListImportResult> {
        tx.principal.require_role(&[Role::Bank])?;
        let rows = parse_rows(&self.csv)?;
        let hash = hex::encode(Sha256::digest(format!("{}\n{}", self.kind, self.csv)));
        let existing = list_import::Entity::find()
            .filter(list_import::Column::ContentHash.eq(hash.as_str()))
            .one(tx.db())
            .await?;
        if existing.is_some() {
            tx.emit(NewEvent::new(
                "list.import_repeated",
                json!({ "kind": self.kind, "content_sha256": hash }),
            ));
            return Ok(ListImportResult {
                kind: self.kind,
                rows: rows.len() as u32,
                applied: false,
                hits: Vec::new(),
            });
        }
        let import = list_import::ActiveModel {
            kind: Set(self.kind.as_str().to_owned()),
            content_hash: Set(hash.clone()),
            rows: Set(rows.len() as i32),
            imported_by: Set(tx.principal.subject.clone()),
            imported_at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        list_entry::Entity::update_many()
            .col_expr(list_entry::Column::Active, Expr::value(false))
            .filter(list_entry::Column::Kind.eq(self.kind.as_str()))
            .exec(tx.db())
            .await?;
        for chunk in rows.chunks(500) {
            list_entry::Entity::insert_many(chunk.iter().map(|r| list_entry::ActiveModel {
                kind: Set(self.kind.as_str().to_owned()),
                uscc: Set(r.uscc.clone()),
                name: Set(r.name.clone()),
                reason: Set(r.reason.clone()),
                listed_on: Set(r.listed_on.to_string()),
                import_id: Set(import.id),
                active: Set(true),
                ..Default::default()
            }))
            .exec(tx.db())
            .await?;
        }
        tx.emit(NewEvent::new(
            "list.imported",
            json!({ "kind": self.kind, "rows": rows.len(), "content_sha256": hash }),
        ));
        // Screen every registered merchant against the new list.
        let usccs: Vec<&str> = rows.iter().map(|r| r.uscc.as_str()).collect();
        let mut hits = Vec::new();
        for chunk in usccs.chunks(500) {
            let merchants = party::Entity::find()
                .filter(party::Column::Kind.eq(PartyKind::Merchant.as_str()))
                .filter(party::Column::Uscc.is_in(chunk.iter().copied()))
                .all(tx.db())
                .await?;
            for m in merchants {
                let m = PartyRecord::try_from(m)?;
                hits.push(m.id);
                on_hit(tx, &m, self.kind).await?;
            }
        }
        Ok(ListImportResult {
            kind: self.kind,
            rows: rows.len() as u32,
            applied: true,
            hits,
        })
    }
}

async fn on_hit(tx: &mut Tx<'_>, m: &PartyRecord, kind: ListKind) -> DomainResult<()> {
    let row = rows_reason(tx, m, kind).await?;
    tx.emit(
        NewEvent::new(
            "merchant.checked",
            json!({ "party_id": m.id, "check": kind.check_name(), "input": m.uscc, "outcome": if kind == ListKind::DishonestDebtor { Outcome::Fail } else { Outcome::Review }, "detail": row }),
        )
        .merchant(m.id),
    );
    if kind == ListKind::DishonestDebtor && m.status != PartyStatus::Blocked {
        party::ActiveModel {
            id: Set(m.id.0),
            status: Set(PartyStatus::Blocked.as_str().to_owned()),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        tx.emit(
            NewEvent::new("merchant.status_changed", json!({ "party_id": m.id, "from": m.status, "to": PartyStatus::Blocked, "reason": "dishonest-debtor list", "by": "screening" }))
                .merchant(m.id),
        );
    }
    crate::alert::raise(
        tx,
        NewAlert::new(
            AlertKind::ListHit,
            if kind == ListKind::DishonestDebtor {
                Severity::Critical
            } else {
                Severity::Warning
            },
            format!(
                "{} is on the {} list",
                m.name,
                if kind == ListKind::DishonestDebtor {
                    "dishonest-debtor"
                } else {
                    "abnormal-operation"
                }
            ),
        )
        .about_merchant(m)
        .details(json!({ "list": kind, "detail": row }))
        .dedupe(format!("list:{}:{}", kind, m.id)),
    )
    .await?;
    crate::risk::recompute(tx, m.id).await?;
    Ok(())
}

async fn rows_reason(tx: &Tx<'_>, m: &PartyRecord, kind: ListKind) -> DomainResult<String> {
    let e = list_entry::Entity::find()
        .filter(list_entry::Column::Uscc.eq(m.uscc.clone().unwrap_or_default()))
        .filter(list_entry::Column::Kind.eq(kind.as_str()))
        .filter(list_entry::Column::Active.eq(true))
        .one(tx.db())
        .await?;
    Ok(
        e.map(|e| format!("listed on {}: {}", e.listed_on, e.reason))
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_lines_are_validated_with_line_numbers() {
        let csv = "uscc,name,reason,listed_on\n91110000600037341L,甲公司,案1,2026-03-01\nBAD,乙公司,案2,2026-03-01\n91310115MA1K3BTP2B,,案3,2026-03-01\n91310115MA1K3BTP2B,丙公司,案4,March\n";
        let err = parse_rows(csv).unwrap_err().to_string();
        assert!(
            err.contains("line 3") && err.contains("line 4") && err.contains("line 5"),
            "{err}"
        );
        assert!(!err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_wrong_header_is_refused() {
        assert!(
            parse_rows("code,name\n")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
    }

    #[test]
    fn valid_lists_parse() {
        let rows =
            parse_rows("uscc,name,reason,listed_on\n91110000600037341L, 甲公司 ,案1,2026-03-01\n")
                .unwrap_or_default();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "甲公司");
    }
}
