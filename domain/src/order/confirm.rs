//! Confirmations: the payer confirms delivery, the regulator approves (or rejects), a
//! registered third-party confirmer gives evidence (the merchant only for its own order where
//! the milestone says `self_certify`). When a milestone's confirmations are complete it is
//! released at once, if the money and the rules allow.

use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::confirmation;

use super::{
    MilestoneStatus, OrderRecord, ReleasedTranche, get_order, milestones_of, release_ready,
};
use crate::command::{Command, Tx};
use crate::confirmer::ConfirmerKind;
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::ids::OrderId;
use crate::policy::{Confirmer, MilestoneRule};
use crate::principal::Role;
use crate::scheme::policy_at;

string_enum!(
    /// In which capacity a principal confirms.
    ConfirmAs {
        /// The payer of the order.
        Payer = "PAYER",
        /// The regulator of the scheme.
        Regulator = "REGULATOR",
        /// A registered third-party confirmer, with the record's reference (or the merchant,
        /// where the milestone allows self-certification).
        Evidence = "EVIDENCE",
    }
);

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
        // jurisdiction, evidence by a registered confirmer, by the bank entering a third party's
        // record, or by a merchant only where the policy lets it certify itself.
        let allowed: &[Role] = match self.as_ {
            ConfirmAs::Payer => &[Role::Payer],
            ConfirmAs::Regulator => &[Role::Regulator],
            ConfirmAs::Evidence => &[Role::Bank, Role::Confirmer, Role::Merchant],
        };
        tx.principal.require_role(allowed)?;
        let order = crate::queries::order_visible(tx.db(), tx.principal, self.order).await?;
        crate::text::optional("evidence", &self.evidence, MAX_EVIDENCE_CHARS)?;
        if self.as_ == ConfirmAs::Evidence && self.evidence.trim().is_empty() {
            return Err(DomainError::invalid(
                "evidence",
                "an evidence confirmation needs the record's reference",
            ));
        }
        if !self.approve && self.as_ != ConfirmAs::Regulator {
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
        let who = capacities(tx, &order, rule, self.as_).await?;
        if who.satisfies.is_empty() {
            return Err(DomainError::invalid(
                "as",
                format!(
                    "milestone {} ({}) is not confirmed by {} under this policy (it needs {})",
                    m.index + 1,
                    m.name,
                    who.describe(self.as_),
                    rule.confirm_by
                        .iter()
                        .map(|c| c.key())
                        .collect::<Vec<_>>()
                        .join(", ")
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
        for c in &who.satisfies {
            confirmation::ActiveModel {
                milestone_id: Set(m.id.0),
                confirmer: Set(c.key()),
                party_id: Set(tx.principal.party_id.map(|p| p.0)),
                evidence: Set(self.evidence.trim().to_owned()),
                approved: Set(self.approve),
                at_us: Set(tx.now.0),
                ..Default::default()
            }
            .insert(tx.db())
            .await?;
        }
        tx.emit(order.event(
            if self.approve {
                "milestone.confirmed"
            } else {
                "milestone.rejected"
            },
            json!({
                "milestone_id": m.id,
                "index": m.index,
                "name": m.name,
                "as": self.as_,
                "satisfies": who.satisfies.iter().map(|c| c.key()).collect::<Vec<_>>(),
                "by": tx.principal.party_id,
                "by_role": tx.principal.role.as_str(),
                "confirmer_kind": who.kind,
                "self_certified": who.self_certified,
                "evidence": self.evidence.trim(),
            }),
        ));
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

/// Who is confirming, and which of the milestone's required confirmations that fulfils.
struct Capacity {
    satisfies: Vec<Confirmer>,
    kind: Option<ConfirmerKind>,
    self_certified: bool,
}

impl Capacity {
    fn describe(&self, as_: ConfirmAs) -> String {
        match self.kind {
            Some(k) => format!("a confirmer of kind {k}"),
            None => as_.to_string(),
        }
    }
}

/// The required confirmations the caller fulfils in capacity `as_`.
async fn capacities(
    tx: &Tx<'_>,
    order: &OrderRecord,
    rule: &MilestoneRule,
    as_: ConfirmAs,
) -> DomainResult<Capacity> {
    let only = |c: Confirmer| Capacity {
        satisfies: rule
            .confirm_by
            .iter()
            .copied()
            .filter(|x| *x == c)
            .collect(),
        kind: None,
        self_certified: false,
    };
    match as_ {
        ConfirmAs::Payer => Ok(only(Confirmer::Payer)),
        ConfirmAs::Regulator => Ok(only(Confirmer::Regulator)),
        // The bank's operators enter a third party's record: generic evidence only, never in
        // the name of a confirmer kind or party the policy names.
        ConfirmAs::Evidence if tx.principal.role == Role::Bank => Ok(only(Confirmer::Evidence)),
        ConfirmAs::Evidence if tx.principal.role == Role::Merchant => {
            // Reached only for the merchant's own order (`order_visible`).
            if !rule.self_certify {
                return Err(DomainError::Forbidden(format!(
                    "{} is certified by a third party: a merchant does not confirm its own delivery unless the policy allows it (self_certify)",
                    rule.name
                )));
            }
            Ok(Capacity {
                self_certified: true,
                ..only(Confirmer::Evidence)
            })
        }
        ConfirmAs::Evidence => {
            let c = crate::confirmer::acting_confirmer(tx.db(), tx.principal, order.scheme).await?;
            // One confirmation fulfils one requirement: the most specific that names this
            // confirmer (itself, then its kind, then any registered confirmer), so a policy
            // that asks for an exam system and a named association needs both.
            let named = Confirmer::ConfirmerParty(c.party.id);
            let of_kind = Confirmer::ConfirmerKind(c.kind);
            let satisfies = [named, of_kind, Confirmer::Evidence]
                .into_iter()
                .find(|x| rule.confirm_by.contains(x))
                .into_iter()
                .collect();
            Ok(Capacity {
                satisfies,
                kind: Some(c.kind),
                self_certified: false,
            })
        }
    }
}
