//! Release (拨付): an escrow tranche becomes the merchant's — only when the policy's
//! confirmations are present (or its time has come), the custody rule still holds after it, the
//! caps allow it, no freeze holds the money, and the merchant is in good standing.

use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{escrow_order, milestone};

use super::{MilestoneRecord, MilestoneStatus, OrderRecord, OrderStatus, get_order, milestones_of};
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::gate::{self, Outflow};
use crate::ids::{EntryId, MilestoneId, OrderId};
use crate::ledger::{EntryKind, Leg, post_cleared, transfer};
use crate::money::Money;
use crate::policy::Policy;
use crate::principal::Role;
use crate::scheduler::{self, JobKind};
use crate::scheme::{enrollment_of, policy_at};

/// One released tranche.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedTranche {
    pub milestone: MilestoneId,
    pub index: i32,
    pub amount: Money,
    pub entry: EntryId,
}

/// Why the next milestone cannot be released, or `None` when it can.
async fn next_releasable(
    tx: &Tx<'_>,
    order: &OrderRecord,
    policy: &Policy,
    force: bool,
) -> DomainResult<Option<MilestoneRecord>> {
    if !matches!(
        order.status,
        OrderStatus::Active | OrderStatus::Inspection | OrderStatus::Escalated
    ) {
        return Err(DomainError::invalid_state(
            format!("order {}", order.order_no),
            order.status.as_str(),
            "release",
        ));
    }
    if policy.release_on_usage {
        // A prepaid card's money goes out only as it is used (`RecordUsage`).
        return Err(DomainError::invalid_state(
            format!("order {}", order.order_no),
            "RELEASED_ON_USAGE",
            "release by milestone",
        ));
    }
    let milestones = milestones_of(tx.db(), order.id).await?;
    let Some(next) = milestones.into_iter().find(|m| {
        matches!(
            m.status,
            MilestoneStatus::Pending | MilestoneStatus::Confirmed
        )
    }) else {
        return Ok(None);
    };
    if next.status == MilestoneStatus::Confirmed || force {
        return Ok(Some(next));
    }
    let rule = policy.milestones.get(next.index as usize).ok_or_else(|| {
        DomainError::Invariant(format!(
            "order {} has no rule for milestone {}",
            order.order_no, next.index
        ))
    })?;
    let by_time = next.due_at.is_some_and(|d| d <= tx.now);
    let confirmed = !rule.confirm_by.is_empty()
        && crate::order_record::confirmations_complete(tx.db(), next.id, &rule.confirm_by).await?;
    if by_time || confirmed {
        return Ok(Some(next));
    }
    Err(DomainError::invalid_state(
        format!("milestone {} ({})", next.index + 1, next.name),
        "PENDING",
        "release before it is confirmed",
    ))
}

async fn release_one(
    tx: &mut Tx<'_>,
    order: &OrderRecord,
    m: &MilestoneRecord,
    policy: &Policy,
) -> DomainResult<ReleasedTranche> {
    let clearance = gate::release(tx, Outflow::Release, order, policy, m.amount).await?;
    let enrollment = enrollment_of(tx.db(), order.merchant, order.scheme).await?;
    let memo = format!("{} milestone {} {}", order.order_no, m.index + 1, m.name);
    let (legs, split) = match &order.split {
        None => (
            transfer(order.escrow_account, enrollment.payable_account, m.amount).to_vec(),
            None,
        ),
        Some(terms) => {
            let parts = terms.divide(m.amount)?;
            let mut legs = vec![Leg {
                account: order.escrow_account,
                amount_fen: -m.amount.fen(),
            }];
            if !parts.commission.is_zero() {
                legs.push(Leg {
                    account: enrollment.payable_account,
                    amount_fen: parts.commission.fen(),
                });
            }
            for (sub, part) in &parts.parts {
                if !part.is_zero() {
                    legs.push(Leg {
                        account: enrollment_of(tx.db(), *sub, order.scheme)
                            .await?
                            .payable_account,
                        amount_fen: part.fen(),
                    });
                }
            }
            (legs, Some(parts))
        }
    };
    let entry = post_cleared(tx, clearance, EntryKind::Release, &memo, &legs).await?;
    milestone::ActiveModel {
        id: Set(m.id.0),
        status: Set(MilestoneStatus::Released.as_str().to_owned()),
        confirmed_at_us: Set(Some(m.confirmed_at.unwrap_or(tx.now).0)),
        released_entry_id: Set(Some(entry.id.0)),
        released_at_us: Set(Some(tx.now.0)),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    let released = order.released.checked_add(m.amount)?;
    let milestones = milestones_of(tx.db(), order.id).await?;
    // The next milestone still to release (a partial refund may have cancelled later ones).
    let next = milestones.iter().find(|x| {
        x.index > m.index
            && matches!(
                x.status,
                MilestoneStatus::Pending | MilestoneStatus::Confirmed
            )
    });
    let completed = next.is_none();
    escrow_order::ActiveModel {
        id: Set(order.id.0),
        released_fen: Set(released.fen()),
        status: Set(if completed {
            OrderStatus::Completed.as_str().to_owned()
        } else {
            order.status.as_str().to_owned()
        }),
        closed_at_us: Set(if completed { Some(tx.now.0) } else { None }),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    if completed {
        scheduler::cancel_expiry(tx, order.id).await?;
    } else if let (Some(days), Some(from)) = (policy.validity_days, &policy.validity_from)
        && *from == m.name
        && order.expires_at.is_none()
    {
        // The permit's validity runs from this milestone (科目一 passed), not from opening.
        let exp = tx.now.plus_days(i64::from(days));
        escrow_order::ActiveModel {
            id: Set(order.id.0),
            expires_at_us: Set(Some(exp.0)),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        super::open::schedule_expiry(tx, order.id, policy, exp).await?;
        tx.emit(order.event(
            "order.validity_started",
            json!({ "milestone_id": m.id, "name": m.name, "expires_at": exp.rfc3339() }),
        ));
    }
    // The next milestone is now current: its clock starts.
    if let (Some(n), Some(rule)) = (
        next,
        next.and_then(|n| policy.milestones.get(n.index as usize)),
    ) && let Some(days) = rule.auto_after_days
    {
        let due = tx.now.plus_days(i64::from(days));
        milestone::ActiveModel {
            id: Set(n.id.0),
            due_at_us: Set(Some(due.0)),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        if due > tx.now {
            scheduler::schedule(
                tx,
                JobKind::MilestoneDue,
                n.id.0,
                due,
                scheduler::milestone_key(n.id),
            )
            .await?;
        }
    }
    let mut data = json!({
        "milestone_id": m.id,
        "index": m.index,
        "name": m.name,
        "amount": m.amount,
        "entry_id": entry.id,
        "order_status": if completed { OrderStatus::Completed } else { order.status },
    });
    if let Some(p) = &split {
        data["split"] = json!({
            "commission": p.commission,
            "parts": p.parts.iter().map(|(sub, a)| json!({"merchant_id": sub, "amount": a})).collect::<Vec<_>>(),
        });
    }
    tx.emit(order.event("milestone.released", data));
    let hooks = tx.escrow.hooks();
    hooks.after_release(tx, order, m.amount, policy).await?;
    Ok(ReleasedTranche {
        milestone: m.id,
        index: m.index,
        amount: m.amount,
        entry: entry.id,
    })
}

/// Releases, in order, every milestone of `order` that is now releasable; stops quietly at the
/// first that is not (not yet confirmed, or a gate refuses), leaving it for a later trigger.
///
/// # Errors
/// Database errors.
pub async fn release_ready(tx: &mut Tx<'_>, order: OrderId) -> DomainResult<Vec<ReleasedTranche>> {
    release_while(tx, order, false, false).await
}

/// Releases the remaining milestones whatever their confirmations (expiry with auto-release, a
/// regulator's decision); stops at the first gate that refuses.
pub(crate) async fn release_all(
    tx: &mut Tx<'_>,
    order: OrderId,
) -> DomainResult<Vec<ReleasedTranche>> {
    release_while(tx, order, true, true).await
}

async fn release_while(
    tx: &mut Tx<'_>,
    order_id: OrderId,
    force: bool,
    strict: bool,
) -> DomainResult<Vec<ReleasedTranche>> {
    let mut out = Vec::new();
    loop {
        let order = get_order(tx.db(), order_id).await?;
        if !matches!(
            order.status,
            OrderStatus::Active | OrderStatus::Inspection | OrderStatus::Escalated
        ) {
            return Ok(out);
        }
        let policy = policy_at(tx.db(), order.scheme, order.policy_version).await?;
        let next = match next_releasable(tx, &order, &policy, force).await {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(out),
            Err(e) if !strict => {
                tracing::debug!(order = %order.id, reason = %e, "not releasable yet");
                return Ok(out);
            }
            Err(e) => return Err(e),
        };
        if next.status == MilestoneStatus::Pending {
            milestone::ActiveModel {
                id: Set(next.id.0),
                status: Set(MilestoneStatus::Confirmed.as_str().to_owned()),
                confirmed_at_us: Set(Some(tx.now.0)),
                ..Default::default()
            }
            .update(tx.db())
            .await?;
        }
        match release_one(tx, &order, &next, &policy).await {
            Ok(t) => out.push(t),
            Err(e)
                if !strict
                    && !matches!(e, DomainError::Database(_) | DomainError::Invariant(_)) =>
            {
                tx.emit(
                    NewEvent::new("release.blocked", json!({ "milestone_id": next.id, "index": next.index, "reason": e.to_string(), "code": e.code().as_str() }))
                        .order(order.id)
                        .merchant(order.merchant),
                );
                return Ok(out);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Asks for the next releasable milestone(s) of an order to be released now, and says why not
/// when they cannot be.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseMilestone {
    pub order: OrderId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseOutcome {
    pub released: Vec<ReleasedTranche>,
    pub order: OrderRecord,
}

impl Command for ReleaseMilestone {
    type Output = ReleaseOutcome;
    const NAME: &'static str = "releaseMilestone";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<ReleaseOutcome> {
        tx.principal.require_role(&[Role::Bank, Role::Merchant])?;
        let order = crate::queries::order_visible(tx.db(), tx.principal, self.order).await?;
        let policy = policy_at(tx.db(), order.scheme, order.policy_version).await?;
        // Say exactly why when nothing can be released.
        let Some(next) = next_releasable(tx, &order, &policy, false).await? else {
            return Err(DomainError::invalid_state(
                format!("order {}", order.order_no),
                "FULLY_RELEASED",
                "release",
            ));
        };
        // Say why now, before anything moves; the release itself asks the gate again.
        drop(gate::release(tx, Outflow::Release, &order, &policy, next.amount).await?);
        let released = release_ready(tx, order.id).await?;
        Ok(ReleaseOutcome {
            released,
            order: get_order(tx.db(), order.id).await?,
        })
    }
}
