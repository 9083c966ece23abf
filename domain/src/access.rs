//! The access log: every read by a regulator or a court (who, what, when, under which case) is
//! itself an event in the notarized log, so the bank can show who looked at whose money, and
//! nobody can quietly remove the record (docs/domain.md, "Courts"; docs/design.md, "Who sees what").

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{OrderId, PartyId};
use crate::principal::Role;

/// Most objects one access record lists.
pub const MAX_OBJECTS: usize = 1_000;
/// Most orders one access record names: each gets an event of its own, and with the record's
/// own event they fit in one transaction.
pub const MAX_ORDERS: usize = crate::event::MAX_EVENTS_PER_TRANSACTION - 1;
/// Most root fields one access record lists.
pub const MAX_ASKED: usize = 64;

/// Records a read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RecordAccess {
    /// The client's own name for what it did (a GraphQL operation name as sent), or what the
    /// server did for it (`evidence`, `report`). A label only: `asked` is what was asked.
    pub operation: String,
    /// What was asked, as the server read it: each root field by its own name (never an
    /// alias) with its arguments, `order(id: "ord_12")`.
    pub asked: Vec<String>,
    /// Free text asked (a search's words): personal, so the record holds only its salted
    /// commitment.
    pub asked_text: Option<String>,
    /// The objects the answer carried (`party pty_3`, `event 41`…), noted where they were
    /// produced.
    pub objects: Vec<String>,
    /// The error codes the answer carried: a refused probe is on the record too.
    pub refused: Vec<String>,
    /// A court's case number.
    pub case_no: Option<String>,
    /// Orders the read concerned, so each order's history shows who read it.
    pub orders: Vec<OrderId>,
    pub merchant: Option<PartyId>,
}

impl Command for RecordAccess {
    type Output = u64;
    const NAME: &'static str = "recordAccess";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<u64> {
        tx.principal
            .require_role(&[Role::Regulator, Role::Court, Role::Bank])?;
        if self.operation.is_empty() || self.operation.chars().count() > 200 {
            return Err(DomainError::invalid(
                "operation",
                "must be 1 to 200 characters",
            ));
        }
        if self.objects.len() > MAX_OBJECTS
            || self.orders.len() > MAX_ORDERS
            || self.asked.len() > MAX_ASKED
            || self.refused.len() > MAX_ASKED
        {
            return Err(DomainError::LimitExceeded(format!(
                "an access record lists at most {MAX_OBJECTS} objects, {MAX_ORDERS} orders and {MAX_ASKED} fields"
            )));
        }
        let seq = tx.next_seq();
        let data = json!({
            "subject": tx.principal.subject,
            "role": tx.principal.role,
            "party_id": tx.principal.party_id,
            "operation": self.operation,
            "asked": self.asked.iter().map(|a| clip(a)).collect::<Vec<_>>(),
            "objects": self.objects.iter().map(|o| clip(o)).collect::<Vec<_>>(),
            "refused": self.refused.iter().map(|r| clip(r)).collect::<Vec<_>>(),
            "case_no": self.case_no,
            "orders": self.orders,
        });
        // Sealed: the leaf commits to who read what, under which case, without showing it.
        let mut e = NewEvent::new("access.read", data).sealed();
        if let Some(text) = &self.asked_text {
            e = e.personal("asked_text", text.clone());
        }
        if let Some(m) = self.merchant {
            e = e.merchant(m);
        }
        // One event for the read, and one on each order's own history.
        tx.emit(e);
        for o in &self.orders {
            tx.emit(NewEvent::new("access.order_read", json!({ "access_seq": seq, "role": tx.principal.role, "case_no": self.case_no })).order(*o).sealed());
        }
        Ok(seq)
    }
}

/// A listed string, at most 500 characters (an argument list is never longer in practice; a
/// longer one is cut with an ellipsis that says so).
fn clip(s: &str) -> String {
    const MAX: usize = 500;
    if s.chars().count() <= MAX {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX).collect();
    out.push('…');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sea_orm::{EntityTrait, PaginatorTrait};

    use super::*;
    use crate::db_test;
    use crate::error::ErrorCode;
    use crate::principal::Principal;
    use crate::testing::TestDb;

    fn record(operation: &str) -> RecordAccess {
        RecordAccess {
            operation: operation.into(),
            asked: vec!["orders(first: 20)".into()],
            ..RecordAccess::default()
        }
    }

    async fn events(db: &TestDb) -> u64 {
        lvyue_entity::event::Entity::find()
            .count(&db.db)
            .await
            .unwrap()
    }

    db_test!(
        grouped_records_commit_together_and_a_refused_one_costs_the_others_nothing,
        |db: TestDb| async move {
            let escrow = db.escrow().await;
            let auditor = Principal::bank("auditor");
            let before = events(&db).await;
            let group: Vec<_> = ["a", "b", "c"]
                .into_iter()
                .map(|op| (auditor.clone(), record(op)))
                .collect();
            let seqs: Vec<u64> = escrow
                .execute_grouped(&group)
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
            // One event each, numbered in the group's order with no gap.
            assert_eq!(seqs, [before, before + 1, before + 2]);
            assert_eq!(events(&db).await, before + 3);

            let mixed = vec![
                (auditor.clone(), record("d")),
                (auditor.clone(), record("")),
                (Principal::bank("other"), record("f")),
            ];
            let answers = escrow.execute_grouped(&mixed).await;
            assert_eq!(
                answers[1].as_ref().unwrap_err().code(),
                ErrorCode::Validation
            );
            assert!(answers[0].is_ok() && answers[2].is_ok(), "{answers:?}");
            assert_eq!(events(&db).await, before + 5);
            let report = crate::audit::audit(&db.db, None).await.unwrap();
            assert!(report.is_clean(), "{:#?}", report.breaches);
        }
    );
}
