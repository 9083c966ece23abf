//! Issue, split transfer (once) and inheritance: the ways a voucher's money passes to a holder.

use std::collections::BTreeSet;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{escrow_order, voucher_redemption};

use super::{
    MAX_TRANSFER_PARTS, NewVoucher, VoucherRecord, VoucherStatus, check_ref, close_voucher,
    get_voucher, line_of, open_voucher, plus_months, require_valid, voucher_event,
    voucher_for_holder_or_bank, voucher_rule,
};
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::gate::{self, Outflow};
use crate::ids::{AccountId, PartyId, VoucherId};
use crate::ledger::{EntryKind, HoldStatus, Leg, post, post_cleared, release_hold, transfer};
use crate::money::Money;
use crate::order_record::OrderStatus;
use crate::party::{PartyKind, get_party_of};
use crate::principal::Role;

/// Issues a voucher to an expropriated resident from a project's money (the housing bureau in
/// its jurisdiction, or the bank on its instruction).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueVoucher {
    pub project: AccountId,
    /// The holder (a registered payer).
    pub holder: PartyId,
    pub amount: Money,
}

impl Command for IssueVoucher {
    type Output = VoucherRecord;
    const NAME: &'static str = "issueVoucher";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<VoucherRecord> {
        tx.principal.require_role(&[Role::Bank, Role::Regulator])?;
        let amount = self.amount.positive()?;
        let project = super::get_project(tx.db(), self.project).await?;
        // A regulator outside the scheme's jurisdiction finds no such project.
        let scheme = super::project::voucher_scheme(tx, project.scheme)
            .await
            .map_err(|e| match e {
                DomainError::NotFound { .. } => {
                    DomainError::not_found("voucher project", self.project)
                }
                other => other,
            })?;
        let rule = voucher_rule(tx.db(), scheme.id, scheme.current_version).await?;
        let holder = get_party_of(tx.db(), self.holder, PartyKind::Payer).await?;
        let v = open_voucher(
            tx,
            NewVoucher {
                project: project.account,
                scheme: scheme.id,
                holder: holder.id,
                face: amount,
                transferable: true,
                parent: None,
                issued_at: tx.now,
                expires_at: plus_months(tx.now, rule.validity_months)?,
                policy_version: scheme.current_version,
            },
        )
        .await?;
        let entry = post(
            tx,
            EntryKind::Transfer,
            None,
            &format!("voucher {} issued", v.number),
            &transfer(project.account, v.account, amount),
        )
        .await?;
        let v = get_voucher(tx.db(), v.id).await?;
        tx.emit(voucher_event(
            "voucher.issued",
            &v,
            json!({
                "voucher_id": v.id,
                "number": v.number,
                "project_account_id": v.project,
                "voucher_account_id": v.account,
                "holder_id": v.holder,
                "amount": amount,
                "issued_at": v.issued_at.rfc3339(),
                "expires_at": v.expires_at.rfc3339(),
                "policy_version": v.policy_version,
                "entry_id": entry.id,
                "by": tx.principal.party_id,
            }),
        ));
        Ok(v)
    }
}

/// One new holder's part of a split transfer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferPart {
    pub holder: PartyId,
    pub amount: Money,
}

/// Splits a voucher among one or more new holders (the holder, or the bank at its counter).
///
/// The parts must add up to the whole balance: the parent closes, so a holder who keeps part
/// names themself as one of the holders. Every new voucher is a transferred voucher and can
/// never be transferred again (Xiamen: "a transferred voucher cannot be transferred again").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferVoucher {
    pub voucher: VoucherId,
    pub parts: Vec<TransferPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherTransfer {
    pub from: VoucherRecord,
    pub to: Vec<VoucherRecord>,
}

impl Command for TransferVoucher {
    type Output = VoucherTransfer;
    const NAME: &'static str = "transferVoucher";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<VoucherTransfer> {
        let v = voucher_for_holder_or_bank(tx, self.voucher).await?;
        if !v.status.is_usable() {
            return Err(DomainError::invalid_state(
                format!("voucher {}", v.number),
                v.status.as_str(),
                "transfer",
            ));
        }
        if !v.transferable {
            return Err(DomainError::invalid_state(
                format!("voucher {}", v.number),
                "ALREADY_TRANSFERRED",
                "transfer a voucher a second time",
            ));
        }
        require_valid(tx, &v, "transfer")?;
        if !v.held.is_zero() {
            return Err(DomainError::invalid_state(
                format!("voucher {}", v.number),
                "HELD",
                "transfer money that is frozen",
            ));
        }
        if purchase_in_progress(tx, &v).await? {
            return Err(DomainError::invalid_state(
                format!("voucher {}", v.number),
                "PURCHASE_IN_PROGRESS",
                "transfer while a purchase paid from it may still be refunded into it",
            ));
        }
        if self.parts.is_empty() || self.parts.len() > MAX_TRANSFER_PARTS {
            return Err(DomainError::invalid(
                "parts",
                format!("name 1 to {MAX_TRANSFER_PARTS} new holders"),
            ));
        }
        let holders: BTreeSet<PartyId> = self.parts.iter().map(|p| p.holder).collect();
        if holders.len() != self.parts.len() {
            return Err(DomainError::invalid("parts", "each holder may appear once"));
        }
        if self.parts.len() == 1 && self.parts[0].holder == v.holder {
            return Err(DomainError::invalid(
                "parts",
                "a transfer to the holder alone changes nothing",
            ));
        }
        let amounts = self
            .parts
            .iter()
            .map(|p| p.amount.positive())
            .collect::<Result<Vec<Money>, _>>()?;
        let total = Money::sum(amounts.iter().copied())?;
        if total != v.balance {
            return Err(DomainError::invalid(
                "parts",
                format!(
                    "the parts add up to {total}; they must add up to the whole balance of {} (name yourself to keep a part)",
                    v.balance
                ),
            ));
        }
        let mut to = Vec::with_capacity(self.parts.len());
        let mut legs = vec![Leg {
            account: v.account,
            amount_fen: -v.balance.fen(),
        }];
        for (part, amount) in self.parts.iter().zip(amounts) {
            let child =
                open_voucher(tx, NewVoucher::successor_of(&v, part.holder, amount, false)).await?;
            legs.push(Leg {
                account: child.account,
                amount_fen: amount.fen(),
            });
            to.push(child);
        }
        let clearance = gate::clear(Outflow::VoucherTransfer, None, v.account, v.balance)?;
        let entry = post_cleared(
            tx,
            clearance,
            EntryKind::Transfer,
            &format!("voucher {} split transfer", v.number),
            &legs,
        )
        .await?;
        close_voucher(tx, &v, VoucherStatus::Transferred).await?;
        let mut received = Vec::with_capacity(to.len());
        for child in &to {
            received.push(get_voucher(tx.db(), child.id).await?);
        }
        tx.emit(voucher_event(
            "voucher.transferred",
            &v,
            json!({
                "voucher_id": v.id,
                "number": v.number,
                "amount": v.balance,
                "entry_id": entry.id,
                "parts": received.iter().map(|c| json!({"voucher_id": c.id, "number": c.number, "holder_id": c.holder, "amount": c.balance})).collect::<Vec<_>>(),
                "by": tx.principal.party_id,
            }),
        ));
        for c in &received {
            tx.emit(voucher_event(
                "voucher.received",
                c,
                json!({ "voucher_id": c.id, "number": c.number, "from_voucher_id": v.id, "amount": c.balance, "transferable": c.transferable, "expires_at": c.expires_at.rfc3339() }),
            ));
        }
        Ok(VoucherTransfer {
            from: get_voucher(tx.db(), v.id).await?,
            to: received,
        })
    }
}

/// True when a purchase paid from this voucher (or from the predecessors whose money passed
/// to it whole) is still open, so that a refund would come back into it.
async fn purchase_in_progress(tx: &Tx<'_>, v: &VoucherRecord) -> DomainResult<bool> {
    let line = line_of(tx.db(), v).await?;
    let orders: Vec<i64> = voucher_redemption::Entity::find()
        .filter(voucher_redemption::Column::VoucherId.is_in(line.iter().map(|l| l.0)))
        .all(tx.db())
        .await?
        .into_iter()
        .map(|r| r.order_id)
        .collect();
    if orders.is_empty() {
        return Ok(false);
    }
    let open = escrow_order::Entity::find()
        .filter(escrow_order::Column::Id.is_in(orders))
        .filter(escrow_order::Column::Status.is_not_in([
            OrderStatus::Completed.as_str(),
            OrderStatus::Refunded.as_str(),
        ]))
        .one(tx.db())
        .await?;
    Ok(open.is_some())
}

/// Passes a voucher's whole balance to an heir on a certificate of succession (the bank, after
/// the housing bureau reviewed it). Allowed whether or not the voucher may still be
/// transferred: inheritance is not a transfer, and the heir's voucher keeps the right to
/// transfer it once if the deceased still had it. A loss report on the deceased's voucher is
/// lifted: the heir gets a new number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InheritVoucher {
    pub voucher: VoucherId,
    pub heir: PartyId,
    /// The certificate of succession (继承公证书) or court judgment reference.
    pub certificate_ref: String,
}

impl Command for InheritVoucher {
    type Output = VoucherRecord;
    const NAME: &'static str = "inheritVoucher";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<VoucherRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let certificate = check_ref("certificateRef", &self.certificate_ref)?;
        let v = get_voucher(tx.db(), self.voucher).await?;
        if !(v.status.is_usable() || v.status == VoucherStatus::Frozen) {
            return Err(DomainError::invalid_state(
                format!("voucher {}", v.number),
                v.status.as_str(),
                "be inherited",
            ));
        }
        require_valid(tx, &v, "be inherited")?;
        let heir = get_party_of(tx.db(), self.heir, PartyKind::Payer).await?;
        if heir.id == v.holder {
            return Err(DomainError::invalid(
                "heir",
                "the heir is already the holder",
            ));
        }
        if let Some(h) = v.hold {
            release_hold(tx, h, HoldStatus::Released).await?;
        }
        let v = get_voucher(tx.db(), v.id).await?;
        if !v.held.is_zero() {
            return Err(DomainError::invalid_state(
                format!("voucher {}", v.number),
                "HELD",
                "pass on money that is frozen",
            ));
        }
        let heirs = open_voucher(
            tx,
            NewVoucher::successor_of(&v, heir.id, v.balance, v.transferable),
        )
        .await?;
        let clearance = gate::clear(Outflow::VoucherTransfer, None, v.account, v.balance)?;
        let entry = post_cleared(
            tx,
            clearance,
            EntryKind::Transfer,
            &format!("voucher {} inherited", v.number),
            &transfer(v.account, heirs.account, v.balance),
        )
        .await?;
        close_voucher(tx, &v, VoucherStatus::Inherited).await?;
        let heirs = get_voucher(tx.db(), heirs.id).await?;
        tx.emit(
            voucher_event(
                "voucher.inherited",
                &v,
                json!({
                    "voucher_id": v.id,
                    "number": v.number,
                    "to_voucher_id": heirs.id,
                    "to_number": heirs.number,
                    "heir_id": heir.id,
                    "amount": v.balance,
                    "loss_hold_lifted": v.hold,
                    "transferable": heirs.transferable,
                    "entry_id": entry.id,
                }),
            )
            .personal("certificate_ref", certificate),
        );
        tx.emit(voucher_event(
            "voucher.received",
            &heirs,
            json!({ "voucher_id": heirs.id, "number": heirs.number, "from_voucher_id": v.id, "amount": heirs.balance, "transferable": heirs.transferable, "expires_at": heirs.expires_at.rfc3339() }),
        ));
        Ok(heirs)
    }
}
