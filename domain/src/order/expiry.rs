//! Expiry: when an order's validity ends with money unreleased, the policy's expiry action runs
//! — refund it to the payer, release it to the merchant after an inspection window, or hand the
//! decision to the regulator. Fired once by the scheduler.

use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::escrow_order;

use super::{OrderRecord, OrderStatus, get_order, refund};
use crate::alert::{AlertKind, NewAlert, Severity};
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::OrderId;
use crate::policy::ExpiryAction;
use crate::principal::Role;
use crate::scheduler::{self, JobKind};
use crate::scheme::policy_at;

/// Runs an order's expiry action (the scheduler, or the bank by hand).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpireOrder {
    pub order: OrderId,
}

impl Command for ExpireOrder {
    type Output = OrderRecord;
    const NAME: &'static str = "expireOrder";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<OrderRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let order = get_order(tx.db(), self.order).await?;
        if !matches!(
            order.status,
            OrderStatus::AwaitingPayment | OrderStatus::Active
        ) {
            return Err(DomainError::invalid_state(
                format!("order {}", order.order_no),
                order.status.as_str(),
                "expire",
            ));
        }
        if order.expires_at.is_none_or(|t| t > tx.now) {
            return Err(DomainError::invalid_state(
                format!("order {}", order.order_no),
                "VALID",
                "expire before its validity ends",
            ));
        }
        let policy = policy_at(tx.db(), order.scheme, order.policy_version).await?;
        tx.emit(
            order.event("order.expired", json!({ "action": policy.expiry_action, "expires_at": order.expires_at.map(|t| t.rfc3339()) })),
        );
        let nothing_left = order.outstanding()?.is_zero();
        if nothing_left {
            // Never paid (or fully paid out): close it as refunded with nothing to return.
            escrow_order::ActiveModel {
                id: Set(order.id.0),
                status: Set(OrderStatus::Refunded.as_str().to_owned()),
                closed_at_us: Set(Some(tx.now.0)),
                ..Default::default()
            }
            .update(tx.db())
            .await?;
            return get_order(tx.db(), order.id).await;
        }
        match policy.expiry_action {
            ExpiryAction::Refund => {
                let r = refund::request(
                    tx,
                    &order,
                    "validity ended",
                    crate::money::Money::ZERO,
                    "EXPIRY".into(),
                    refund::Deadline::Immediate,
                )
                .await?;
                refund::execute(tx, r.id).await?;
            }
            ExpiryAction::AutoRelease { inspection_days } => {
                set_status(tx, order.id, OrderStatus::Inspection).await?;
                if inspection_days == 0 {
                    end_inspection(tx, order.id).await?;
                } else {
                    scheduler::schedule(
                        tx,
                        JobKind::InspectionEnd,
                        order.id.0,
                        tx.now.plus_days(i64::from(inspection_days)),
                        format!("inspection:{}", order.id),
                    )
                    .await?;
                }
            }
            ExpiryAction::Escalate => {
                set_status(tx, order.id, OrderStatus::Escalated).await?;
                let merchant = crate::party::get_party(tx.db(), order.merchant).await?;
                let alert = NewAlert::new(
                    AlertKind::OrderEscalated,
                    Severity::Warning,
                    format!(
                        "order {} expired with money unreleased: the regulator decides",
                        order.order_no
                    ),
                )
                .about_merchant(&merchant)
                .about_order(&order);
                crate::alert::raise(tx, alert).await?;
            }
        }
        get_order(tx.db(), order.id).await
    }
}

/// The notice job: an order's validity ends soon and money still waits in escrow for it — the
/// regulator of its scope and the bank hear of it while something can still be done (a learner
/// can still take the exam before the permit lapses). docs/domain.md: "deadlines near (permit or
/// voucher expiry)".
pub(crate) async fn expiry_notice(tx: &mut Tx<'_>, id: OrderId) -> DomainResult<()> {
    let order = get_order(tx.db(), id).await?;
    let waiting = order.outstanding()?;
    let open = matches!(
        order.status,
        OrderStatus::AwaitingPayment | OrderStatus::Active
    );
    let Some(expires_at) = order.expires_at else {
        return Ok(());
    };
    if !open || waiting.is_zero() || tx.now >= expires_at {
        return Ok(());
    }
    let merchant = crate::party::get_party(tx.db(), order.merchant).await?;
    let alert = NewAlert::new(
        AlertKind::DeadlineNear,
        Severity::Warning,
        format!(
            "order {} of {} with {waiting} unreleased expires on {}",
            order.order_no,
            merchant.name,
            expires_at.china_date()
        ),
    )
    .about_merchant(&merchant)
    .about_order(&order)
    .details(json!({ "order_id": order.id, "order_no": order.order_no, "unreleased": waiting, "expires_at": expires_at.rfc3339(), "status": order.status }))
    .dedupe(format!("order-deadline:{}", order.id));
    crate::alert::raise(tx, alert).await?;
    Ok(())
}

async fn set_status(tx: &Tx<'_>, order: OrderId, status: OrderStatus) -> DomainResult<()> {
    escrow_order::ActiveModel {
        id: Set(order.0),
        status: Set(status.as_str().to_owned()),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    Ok(())
}

/// The inspection window is over: release everything left.
pub(crate) async fn end_inspection(tx: &mut Tx<'_>, order: OrderId) -> DomainResult<()> {
    let o = get_order(tx.db(), order).await?;
    if o.status != OrderStatus::Inspection {
        return Ok(());
    }
    super::release::release_all(tx, order).await?;
    Ok(())
}

/// The regulator's decision on an escalated order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EscalationDecision {
    Release,
    Refund,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResolveEscalation {
    pub order: OrderId,
    pub decision: EscalationDecision,
    pub note: String,
}

impl Command for ResolveEscalation {
    type Output = OrderRecord;
    const NAME: &'static str = "resolveEscalation";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<OrderRecord> {
        tx.principal.require_role(&[Role::Regulator, Role::Bank])?;
        let order = crate::queries::order_visible(tx.db(), tx.principal, self.order).await?;
        let note = crate::text::optional("note", &self.note, 500)?;
        if order.status != OrderStatus::Escalated {
            return Err(DomainError::invalid_state(
                format!("order {}", order.order_no),
                order.status.as_str(),
                "resolve an escalation",
            ));
        }
        tx.emit(
            NewEvent::new(
                "order.escalation_resolved",
                json!({ "decision": self.decision, "by": tx.principal.party_id, "note": note }),
            )
            .order(order.id)
            .merchant(order.merchant)
            .scheme(order.scheme),
        );
        match self.decision {
            EscalationDecision::Release => {
                super::release::release_all(tx, order.id).await?;
            }
            EscalationDecision::Refund => {
                let r = refund::request(
                    tx,
                    &order,
                    "regulator decision on expiry",
                    crate::money::Money::ZERO,
                    "REGULATOR".into(),
                    refund::Deadline::Immediate,
                )
                .await?;
                refund::execute(tx, r.id).await?;
            }
        }
        get_order(tx.db(), order.id).await
    }
}
