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
pub const MAX_OBJECTS: usize = 200;

/// Records a read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordAccess {
    /// What was read, e.g. the GraphQL operation or `evidence`.
    pub operation: String,
    /// The fields or objects read (`orders`, `ord_12`, `merchant pty_3`…).
    pub objects: Vec<String>,
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
        if self.objects.len() > MAX_OBJECTS || self.orders.len() > MAX_OBJECTS {
            return Err(DomainError::LimitExceeded(format!(
                "an access record lists at most {MAX_OBJECTS} objects"
            )));
        }
        let seq = tx.next_seq();
        let data = json!({
            "subject": tx.principal.subject,
            "role": tx.principal.role,
            "party_id": tx.principal.party_id,
            "operation": self.operation,
            "objects": self.objects.iter().map(|o| o.chars().take(200).collect::<String>()).collect::<Vec<_>>(),
            "case_no": self.case_no,
            "orders": self.orders,
        });
        let mut e = NewEvent::new("access.read", data);
        if let Some(m) = self.merchant {
            e = e.merchant(m);
        }
        // One event for the read, and one on each order's own history.
        tx.emit(e);
        for o in &self.orders {
            tx.emit(NewEvent::new("access.order_read", json!({ "access_seq": seq, "role": tx.principal.role, "case_no": self.case_no })).order(*o));
        }
        Ok(seq)
    }
}
