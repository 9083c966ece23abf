//! Confirmations: the payer confirms delivery, the regulator approves (or rejects), evidence is
//! recorded. When a milestone's confirmations are complete it is released at once, if the
//! money and the rules allow.

use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::confirmation;

use super::{
    MilestoneStatus, OrderRecord, ReleasedTranche, get_order, milestones_of, release_ready,
};
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::OrderId;
use crate::policy::Confirmer;
use crate::principal::Role;
use crate::scheme::policy_at;

/// In which capacity a principal confirms.
pub type ConfirmAs = Confirmer;

/// Longest evidence reference.
pub const MAX_EVIDENCE_CHARS: usize = 500;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfirmMilestone {
    pub order: OrderId,
    /// 0-based position of the milestone in the schedule.
    pub index: i32,
    pub as_: ConfirmAs,
    /// False records a rejection (a regulator refusing to approve).
    pub approve: bool,
    /// For evidence: the record's reference (exam result number, delivery note); otherwise a note.
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmOutcome {
    pub order: OrderRecord,
    pub released: Vec<ReleasedTranche>,
}

impl Command for ConfirmMilestone {
    type Output = ConfirmOutcome;
    const NAME: &'static str = "confirmMilestone";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<ConfirmOutcome> {
        // Each capacity has its role: the payer for itself, the regulator within its
        // jurisdiction, evidence by the bank or the merchant.
        let allowed: &[Role] = match self.as_ {
            Confirmer::Payer => &[Role::Payer],
            Confirmer::Regulator => &[Role::Regulator],
            Confirmer::Evidence => &[Role::Bank, Role::Merchant],
        };
        tx.principal.require_role(allowed)?;
        let order = crate::queries::order_visible(tx.db(), tx.principal, self.order).await?;
        crate::text::optional("evidence", &self.evidence, MAX_EVIDENCE_CHARS)?;
        if self.as_ == Confirmer::Evidence && self.evidence.trim().is_empty() {
            return Err(DomainError::invalid(
                "evidence",
                "an evidence confirmation needs the record's reference",
            ));
        }
        if !self.approve && self.as_ != Confirmer::Regulator {
            return Err(DomainError::invalid(
                "approve",
                "only a regulator records a rejection",
            ));
        }
        let policy = policy_at(tx.db(), order.scheme, order.policy_version).await?;
        let milestones = milestones_of(tx.db(), order.id).await?;
        let m = milestones
            .iter()
            .find(|m| m.index == self.index)
            .ok_or_else(|| {
                DomainError::not_found("milestone", format!("{} #{}", order.order_no, self.index))
            })?;
        let rule = policy
            .milestones
            .get(m.index as usize)
            .ok_or_else(|| DomainError::Invariant("milestone without rule".into()))?;
        if !rule.confirm_by.contains(&self.as_) {
            return Err(DomainError::invalid(
                "as",
                format!(
                    "milestone {} ({}) is not confirmed by {:?} under this policy",
                    m.index + 1,
                    m.name,
                    self.as_
                ),
            ));
        }
        if !matches!(
            m.status,
            MilestoneStatus::Pending | MilestoneStatus::Confirmed
        ) || order.status.is_closed()
        {
            return Err(DomainError::invalid_state(
                format!("milestone {} ({})", m.index + 1, m.name),
                m.status.as_str(),
                "confirm",
            ));
        }
        let confirmer = serde_json::to_value(self.as_)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        confirmation::ActiveModel {
            milestone_id: Set(m.id.0),
            confirmer: Set(confirmer.clone()),
            party_id: Set(tx.principal.party_id.map(|p| p.0)),
            evidence: Set(self.evidence.trim().to_owned()),
            approved: Set(self.approve),
            at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        tx.emit(
            NewEvent::new(
                if self.approve {
                    "milestone.confirmed"
                } else {
                    "milestone.rejected"
                },
                json!({
                    "milestone_id": m.id,
                    "index": m.index,
                    "name": m.name,
                    "as": confirmer,
                    "by": tx.principal.party_id,
                    "evidence": self.evidence.trim(),
                }),
            )
            .order(order.id)
            .merchant(order.merchant)
            .payer(order.payer)
            .scheme(order.scheme),
        );
        let released = if self.approve {
            release_ready(tx, order.id).await?
        } else {
            Vec::new()
        };
        Ok(ConfirmOutcome {
            order: get_order(tx.db(), order.id).await?,
            released,
        })
    }
}
