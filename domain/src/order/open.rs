//! Opening an order: the payer, the merchant, the scheme's current policy version, and the
//! milestone amounts fixed once (each stage floor(total × bp / 10000), the last the remainder).

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{escrow_order, milestone};

use super::{MilestoneStatus, OrderRecord, OrderStatus, get_order};
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{OrderId, PartyId, SchemeId};
use crate::ledger::{AccountKind, NewAccount, open_account};
use crate::money::{Bp, Money};
use crate::party::{PartyKind, PartyStatus, get_party_of};
use crate::principal::Role;
use crate::scheduler::{self, JobKind};
use crate::scheme::{SchemeStatus, enrollment_of, get_scheme, policy_at};
use crate::split::SplitTerms;

/// Longest order description.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenOrder {
    pub scheme: SchemeId,
    pub merchant: PartyId,
    pub payer: PartyId,
    pub total: Money,
    pub description: String,
    /// The merchant's own order number; generated when absent.
    pub order_no: Option<String>,
    /// How a platform order's releases are divided (required exactly when the scheme's policy
    /// has a split rule); fixed from now on.
    #[serde(default)]
    pub split: Option<SplitTerms>,
}

impl Command for OpenOrder {
    type Output = OrderRecord;
    const NAME: &'static str = "openOrder";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<OrderRecord> {
        tx.principal.require_role(&[Role::Bank, Role::Merchant])?;
        if tx.principal.role == Role::Merchant && tx.principal.party_id != Some(self.merchant) {
            return Err(DomainError::Forbidden(
                "a merchant opens orders only for itself".into(),
            ));
        }
        let total = self.total.positive()?;
        crate::text::optional("description", &self.description, MAX_DESCRIPTION_CHARS)?;
        let scheme = get_scheme(tx.db(), self.scheme).await?;
        if scheme.status != SchemeStatus::Active {
            return Err(DomainError::invalid_state(
                format!("scheme {}", scheme.code),
                scheme.status.as_str(),
                "open orders",
            ));
        }
        let merchant = get_party_of(tx.db(), self.merchant, PartyKind::Merchant).await?;
        if merchant.status != PartyStatus::Active {
            return Err(DomainError::invalid_state(
                format!("merchant {}", merchant.id),
                merchant.status.as_str(),
                "take new orders",
            ));
        }
        let payer = get_party_of(tx.db(), self.payer, PartyKind::Payer).await?;
        let enrollment = enrollment_of(tx.db(), merchant.id, scheme.id).await?;
        crate::scheme::ensure_not_closing_down(tx.db(), merchant.id, scheme.id, "take new orders")
            .await?;
        let policy = policy_at(tx.db(), scheme.id, scheme.current_version).await?;
        match (&policy.split, &self.split) {
            (Some(rule), Some(terms)) => terms.check(tx.db(), rule, scheme.id, merchant.id).await?,
            (Some(_), None) => {
                return Err(DomainError::invalid(
                    "split",
                    "this scheme splits every order: give the platform's commission and each sub-merchant's weight when opening it",
                ));
            }
            (None, Some(_)) => {
                return Err(DomainError::invalid(
                    "split",
                    "this scheme's policy has no split rule",
                ));
            }
            (None, None) => {}
        }
        let shares: Vec<Bp> = policy.milestones.iter().map(|m| m.share_bp).collect();
        let amounts = total.split_by_bp(&shares)?;

        let order_no = match &self.order_no {
            Some(no) => {
                let no = no.trim();
                if no.is_empty()
                    || no.len() > 40
                    || !no.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(DomainError::invalid(
                        "orderNo",
                        "must be 1 to 40 letters, digits or -",
                    ));
                }
                if escrow_order::Entity::find()
                    .filter(escrow_order::Column::OrderNo.eq(no))
                    .one(tx.db())
                    .await?
                    .is_some()
                {
                    return Err(DomainError::Conflict(format!("order number {no} is taken")));
                }
                Some(no.to_owned())
            }
            None => None,
        };
        // With validity_from, the validity starts when that milestone is released.
        let expires_at = policy
            .validity_days
            .filter(|_| policy.validity_from.is_none())
            .map(|d| tx.now.plus_days(i64::from(d)));
        // The escrow account is opened before the order row; the order id is linked after.
        let escrow = open_account(
            tx,
            NewAccount::new(
                format!("{} escrow for {}", merchant.name, payer.display_name(false)),
                AccountKind::Escrow,
            )
            .under(enrollment.group_account)
            .owned_by(merchant.id)
            .in_scheme(scheme.id),
        )
        .await?;
        let placeholder = format!("pending-{}-{}", tx.log_seq, escrow.id.0);
        let row = escrow_order::ActiveModel {
            order_no: Set(order_no.clone().unwrap_or(placeholder)),
            scheme_id: Set(scheme.id.0),
            policy_version: Set(scheme.current_version),
            merchant_id: Set(merchant.id.0),
            payer_id: Set(payer.id.0),
            region: Set(merchant
                .region
                .as_ref()
                .map(|r| r.as_str().to_owned())
                .unwrap_or_else(|| scheme.region.as_str().to_owned())),
            industry: Set(scheme.industry.as_str().to_owned()),
            total_fen: Set(total.fen()),
            collected_fen: Set(0),
            settled_fen: Set(0),
            released_fen: Set(0),
            refunded_fen: Set(0),
            deducted_fen: Set(0),
            status: Set(OrderStatus::AwaitingPayment.as_str().to_owned()),
            escrow_account_id: Set(escrow.id.0),
            description: Set(self.description.trim().to_owned()),
            opened_at_us: Set(tx.now.0),
            expires_at_us: Set(expires_at.map(|t| t.0)),
            closed_at_us: Set(None),
            split_terms: Set(self.split.as_ref().map(SplitTerms::to_stored).transpose()?),
            // At the bank's counter the payer is there; a merchant's order waits for the payer.
            payer_accepted_at_us: Set((tx.principal.role != Role::Merchant).then_some(tx.now.0)),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        let id = OrderId(row.id);
        if order_no.is_none() {
            let generated = format!("LY{}{:08}", tx.now.china_date().format("%Y%m%d"), id.0);
            escrow_order::ActiveModel {
                id: Set(id.0),
                order_no: Set(generated),
                ..Default::default()
            }
            .update(tx.db())
            .await?;
        }
        lvyue_entity::account::ActiveModel {
            id: Set(escrow.id.0),
            order_id: Set(Some(id.0)),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        let mut milestone_ids = Vec::new();
        for (i, (rule, amount)) in policy.milestones.iter().zip(&amounts).enumerate() {
            // The first milestone is current from the start; later ones when the one before is released.
            let due_at = if i == 0 {
                rule.auto_after_days.map(|d| tx.now.plus_days(i64::from(d)))
            } else {
                None
            };
            let m = milestone::ActiveModel {
                order_id: Set(id.0),
                idx: Set(i as i32),
                name: Set(rule.name.clone()),
                share_bp: Set(rule.share_bp.get() as i32),
                amount_fen: Set(amount.fen()),
                status: Set(MilestoneStatus::Pending.as_str().to_owned()),
                due_at_us: Set(due_at.map(|t| t.0)),
                confirmed_at_us: Set(None),
                released_entry_id: Set(None),
                released_at_us: Set(None),
                ..Default::default()
            }
            .insert(tx.db())
            .await?;
            if let Some(due) = due_at.filter(|d| *d > tx.now) {
                scheduler::schedule(
                    tx,
                    JobKind::MilestoneDue,
                    m.id,
                    due,
                    scheduler::milestone_key(crate::ids::MilestoneId(m.id)),
                )
                .await?;
            }
            milestone_ids.push(m.id);
        }
        if let Some(exp) = expires_at {
            schedule_expiry(tx, id, &policy, exp).await?;
        }
        let order = get_order(tx.db(), id).await?;
        let mut data = json!({
                    "order_no": order.order_no,
                    "scheme_id": scheme.id,
                    "policy_version": order.policy_version,
                    "payer_id": payer.id,
                    "total": total,
                    "milestones": policy.milestones.iter().zip(&amounts).map(|(r, a)| json!({"name": r.name, "share_bp": r.share_bp, "amount": a})).collect::<Vec<_>>(),
                    "escrow_account_id": escrow.id,
                    "expires_at": expires_at.map(|t| t.rfc3339()),
        });
        if order.payer_accepted_at.is_none() {
            data["awaiting_payer"] = json!(true);
        }
        if let Some(terms) = &self.split {
            // The terms are on the record from the start: nobody can choose them afterwards.
            data["split"] = json!({
                "commission_bp": terms.commission_bp,
                "shares": terms.shares.iter().map(|s| json!({"merchant_id": s.merchant, "weight": s.weight})).collect::<Vec<_>>(),
            });
        }
        tx.emit(
            NewEvent::new("order.opened", data)
                .order(id)
                .merchant(merchant.id)
                .payer(payer.id)
                .scheme(scheme.id),
        );
        Ok(order)
    }
}

/// The payer consents to an order a merchant opened for it (the payer, with its own token; or
/// the bank, at its counter). Until then the merchant does not see who the payer is: a
/// merchant cannot reach a person's data by naming them on an order. Accepting an accepted
/// order changes nothing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptOrder {
    pub order: OrderId,
}

impl Command for AcceptOrder {
    type Output = OrderRecord;
    const NAME: &'static str = "acceptOrder";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<OrderRecord> {
        tx.principal.require_role(&[Role::Bank, Role::Payer])?;
        let order = crate::queries::order_visible(tx.db(), tx.principal, self.order).await?;
        if order.payer_accepted_at.is_none() {
            accept(tx, &order, "ACCEPTED").await?;
        } else {
            // Nothing changes; the command still leaves its mark on the order's record.
            tx.emit(
                NewEvent::new("order.payer_accepted", json!({ "already": true }))
                    .order(order.id)
                    .payer(order.payer),
            );
        }
        get_order(tx.db(), order.id).await
    }
}

/// Records the payer's consent to `order`: `how` is `ACCEPTED` (its own word) or `PAID`.
///
/// # Errors
/// Database errors.
pub(crate) async fn accept(tx: &mut Tx<'_>, order: &OrderRecord, how: &str) -> DomainResult<()> {
    escrow_order::ActiveModel {
        id: Set(order.id.0),
        payer_accepted_at_us: Set(Some(tx.now.0)),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    tx.emit(order.event(
        "order.payer_accepted",
        json!({ "how": how, "by": tx.principal.role }),
    ));
    Ok(())
}

/// Schedules an order's expiry at `exp`, and the notice before it that the policy asks for.
///
/// # Errors
/// Database errors.
pub(crate) async fn schedule_expiry(
    tx: &Tx<'_>,
    id: OrderId,
    policy: &crate::policy::Policy,
    exp: crate::clock::Timestamp,
) -> DomainResult<()> {
    scheduler::schedule(
        tx,
        JobKind::OrderExpiry,
        id.0,
        exp,
        scheduler::expiry_key(id),
    )
    .await?;
    if let Some(days) = policy.expiry_notice_days {
        scheduler::schedule(
            tx,
            JobKind::OrderExpiryNotice,
            id.0,
            exp.plus_days(-i64::from(days)),
            scheduler::expiry_notice_key(id),
        )
        .await?;
    }
    Ok(())
}
