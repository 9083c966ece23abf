//! Splits (分账) for platforms (二清 compliance): one receipt divided among sub-merchants by ratio
//! (largest remainder, no fen lost) with the platform's commission capped by the scheme. The
//! bank keeps one payable account per sub-merchant and pays each directly: the platform never
//! holds the sub-merchants' money.

use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{escrow_order, milestone};

use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{EntryId, OrderId, PartyId};
use crate::ledger::{EntryKind, Leg, post};
use crate::money::{Bp, Money};
use crate::order::{MilestoneStatus, OrderStatus, milestones_of};
use crate::party::{PartyKind, get_party_of};
use crate::principal::Role;
use crate::scheme::{enrollment_of, policy_at};

/// Most sub-merchants in one split.
pub const MAX_SPLIT_RECIPIENTS: usize = 200;

/// One sub-merchant's weight in a split.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SplitShare {
    pub merchant: PartyId,
    pub weight: u64,
}

/// Splits what an order holds in escrow: the platform's commission first, the rest among the
/// sub-merchants by weight. The order is then complete.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitOrder {
    pub order: OrderId,
    pub commission_bp: Bp,
    pub shares: Vec<SplitShare>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitOutcome {
    pub order: OrderId,
    pub amount: Money,
    pub commission: Money,
    pub parts: Vec<(PartyId, Money)>,
    pub entry: EntryId,
}

impl Command for SplitOrder {
    type Output = SplitOutcome;
    const NAME: &'static str = "splitOrder";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<SplitOutcome> {
        tx.principal.require_role(&[Role::Bank, Role::Merchant])?;
        let order = crate::queries::order_visible(tx.db(), tx.principal, self.order).await?;
        let policy = policy_at(tx.db(), order.scheme, order.policy_version).await?;
        let rule = policy.split.ok_or_else(|| {
            DomainError::invalid("order", "this scheme's policy has no split rule")
        })?;
        if self.commission_bp > rule.commission_cap_bp {
            return Err(DomainError::LimitExceeded(format!(
                "a commission of {} is over the cap of {}",
                self.commission_bp, rule.commission_cap_bp
            )));
        }
        if self.shares.is_empty() || self.shares.len() > MAX_SPLIT_RECIPIENTS {
            return Err(DomainError::invalid(
                "shares",
                format!("a split has 1 to {MAX_SPLIT_RECIPIENTS} sub-merchants"),
            ));
        }
        if order.status != OrderStatus::Active || !order.in_clearing().is_zero() {
            return Err(DomainError::invalid_state(
                format!("order {}", order.order_no),
                if order.status == OrderStatus::Active {
                    "NOT_YET_SETTLED"
                } else {
                    order.status.as_str()
                },
                "split",
            ));
        }
        let amount = order.in_escrow();
        if amount.is_zero() {
            return Err(DomainError::invalid_state(
                format!("order {}", order.order_no),
                "EMPTY",
                "split",
            ));
        }
        let commission = amount.share_floor(self.commission_bp);
        let rest = amount.checked_sub(commission)?;
        let weights: Vec<u64> = self.shares.iter().map(|s| s.weight).collect();
        let parts = rest.split_by_ratio(&weights)?;
        let platform = enrollment_of(tx.db(), order.merchant, order.scheme).await?;
        let mut legs = vec![Leg {
            account: order.escrow_account,
            amount_fen: -amount.fen(),
        }];
        if !commission.is_zero() {
            legs.push(Leg {
                account: platform.payable_account,
                amount_fen: commission.fen(),
            });
        }
        let mut out_parts = Vec::new();
        for (share, part) in self.shares.iter().zip(&parts) {
            let sub = get_party_of(tx.db(), share.merchant, PartyKind::Merchant).await?;
            if sub.id == order.merchant {
                return Err(DomainError::invalid(
                    "shares",
                    "the platform takes only its commission, not a share",
                ));
            }
            let e = enrollment_of(tx.db(), sub.id, order.scheme).await?;
            if !part.is_zero() {
                legs.push(Leg {
                    account: e.payable_account,
                    amount_fen: part.fen(),
                });
            }
            out_parts.push((sub.id, *part));
        }
        let entry = post(
            tx,
            EntryKind::Split,
            Some(order.id),
            &format!("split of {}", order.order_no),
            &legs,
        )
        .await?;
        for m in milestones_of(tx.db(), order.id).await? {
            if m.status != MilestoneStatus::Released {
                milestone::ActiveModel {
                    id: Set(m.id.0),
                    status: Set(MilestoneStatus::Released.as_str().to_owned()),
                    released_entry_id: Set(Some(entry.id.0)),
                    released_at_us: Set(Some(tx.now.0)),
                    confirmed_at_us: Set(Some(tx.now.0)),
                    ..Default::default()
                }
                .update(tx.db())
                .await?;
            }
        }
        escrow_order::ActiveModel {
            id: Set(order.id.0),
            released_fen: Set(order.released.checked_add(amount)?.fen()),
            status: Set(OrderStatus::Completed.as_str().to_owned()),
            closed_at_us: Set(Some(tx.now.0)),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        tx.emit(
            NewEvent::new(
                "order.split",
                json!({
                    "amount": amount,
                    "commission_bp": self.commission_bp,
                    "commission": commission,
                    "parts": out_parts.iter().map(|(p, a)| json!({"merchant_id": p, "amount": a})).collect::<Vec<_>>(),
                    "entry_id": entry.id,
                }),
            )
            .order(order.id)
            .merchant(order.merchant)
            .payer(order.payer)
            .scheme(order.scheme),
        );
        Ok(SplitOutcome {
            order: order.id,
            amount,
            commission,
            parts: out_parts,
            entry: entry.id,
        })
    }
}
