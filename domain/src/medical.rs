//! Medical insurance (医保) clearing, in schemes whose policy has a `medical` rule.
//!
//! - **Register (登记簿)**: a medical institution's money at the bank is the payable
//!   sub-account of its enrollment in the scheme. It is the institution's own: the institution
//!   withdraws it to its settlement account with `RequestPayout` ([`crate::payout`]).
//! - **Patient payments** ([`RecordPatientPayment`]): the channel's money enters the channel's
//!   clearing account (COLLECT) and is split at once into each institution's register (SPLIT),
//!   in the same transaction. One receipt may pay several institutions. There is no escrow
//!   stage: the money pays for care already given.
//! - **Refunds** ([`RefundPatientPayment`]): an institution returns (part of) its share of a
//!   receipt by the original route, to the channel the patient paid through.
//! - **Advances (垫资)** ([`AdvanceInsurerShare`], [`RepayAdvance`]): the bank advances the
//!   insurer's share of a claim from its advance account (which goes negative while advances are
//!   outstanding) into the institution's register; the insurer's settlement repays it. At every
//!   moment the advance account's balance is minus the sum of outstanding advances.

use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{medical_receipt as receipt, medical_receipt_line as line};

use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::gate::{self, Outflow};
use crate::ids::{EntryId, PartyId, ReceiptId, SchemeId};
use crate::ledger::{EntryKind, Leg, post, post_cleared, system, transfer};
use crate::money::Money;
use crate::order::Channel;
use crate::party::{PartyKind, get_party_of};
use crate::policy::MedicalRule;
use crate::principal::{Principal, Role};
use crate::queries::{jurisdiction_condition, nothing};
use crate::scheme::{SchemeRecord, enrollment_of, get_scheme, policy_at};

mod advance;

pub use advance::{
    AdvanceFilter, AdvanceInsurerShare, AdvanceRecord, AdvanceStatus, RepayAdvance, advance_scope,
    advances, outstanding_total,
};

/// Most institutions one receipt pays.
pub const MAX_RECEIPT_LINES: usize = 50;

/// The scheme, if its current policy has a medical rule.
async fn medical_scheme<C: ConnectionTrait>(
    db: &C,
    scheme: SchemeId,
) -> DomainResult<(SchemeRecord, MedicalRule)> {
    let s = get_scheme(db, scheme).await?;
    let rule = policy_at(db, s.id, s.current_version)
        .await?
        .medical
        .ok_or_else(|| {
            DomainError::invalid(
                "scheme",
                "this scheme's policy has no medical rule: it does not clear medical payments",
            )
        })?;
    Ok((s, rule))
}

fn check_ref(field: &'static str, value: &str) -> DomainResult<String> {
    Ok(crate::text::external_ref(field, value)?.to_owned())
}

/// One institution's part of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLine {
    pub institution: PartyId,
    pub amount: Money,
    /// What went back to the patient of this part.
    #[serde(default)]
    pub refunded: Money,
}

/// A patient's payment as readers see it (a merchant sees only its own lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRecord {
    pub id: ReceiptId,
    pub scheme: SchemeId,
    pub channel: Channel,
    pub external_ref: String,
    pub payer: Option<PartyId>,
    pub total: Money,
    pub lines: Vec<ReceiptLine>,
    pub collect_entry: EntryId,
    pub split_entry: EntryId,
    pub received_at: Timestamp,
}

fn line_record(l: &line::Model) -> DomainResult<ReceiptLine> {
    Ok(ReceiptLine {
        institution: PartyId(l.merchant_id),
        amount: Money::from_fen(l.amount_fen)?,
        refunded: Money::from_fen(l.refunded_fen)?,
    })
}

/// Which receipt lines a principal may see.
fn line_scope(p: &Principal) -> Condition {
    match (p.role, p.party_id) {
        (Role::Bank, _) => Condition::all(),
        (Role::Merchant, Some(id)) => Condition::all().add(line::Column::MerchantId.eq(id.0)),
        (Role::Regulator, _) => jurisdiction_condition(
            &p.jurisdiction,
            line::Column::Region,
            line::Column::Industry,
        ),
        _ => nothing(),
    }
}

/// A receipt with the lines the principal may see: the bank and the paying patient see all;
/// an institution its own; a regulator those of its jurisdiction.
///
/// # Errors
/// `NOT_FOUND` when it does not exist or no line is in scope.
pub async fn receipt_visible<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    id: ReceiptId,
) -> DomainResult<ReceiptRecord> {
    let r = receipt::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("receipt", id))?;
    let own_payment =
        p.role == Role::Payer && r.payer_id.is_some() && r.payer_id == p.party_id.map(|x| x.0);
    let scope = if own_payment {
        Condition::all()
    } else {
        line_scope(p)
    };
    let lines = line::Entity::find()
        .filter(line::Column::ReceiptId.eq(r.id))
        .filter(scope)
        .order_by_asc(line::Column::Id)
        .all(db)
        .await?;
    if lines.is_empty() {
        return Err(DomainError::not_found("receipt", id));
    }
    Ok(ReceiptRecord {
        id: ReceiptId(r.id),
        scheme: SchemeId(r.scheme_id),
        channel: r.channel.parse()?,
        external_ref: r.external_ref,
        payer: r.payer_id.map(PartyId),
        total: Money::from_fen(r.total_fen)?,
        lines: lines.iter().map(line_record).collect::<DomainResult<_>>()?,
        collect_entry: EntryId(r.collect_entry_id),
        split_entry: EntryId(r.split_entry_id),
        received_at: Timestamp(r.received_at_us),
    })
}

/// One institution's share of a patient payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentShare {
    pub institution: PartyId,
    pub amount: Money,
}

/// The bank records a patient's payment through a channel and splits it into the registers
/// of the institutions it pays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordPatientPayment {
    pub scheme: SchemeId,
    pub channel: Channel,
    /// The channel's transaction id; once per channel.
    pub external_ref: String,
    /// The patient, when registered.
    pub payer: Option<PartyId>,
    pub shares: Vec<PaymentShare>,
}

impl Command for RecordPatientPayment {
    type Output = ReceiptRecord;
    const NAME: &'static str = "recordPatientPayment";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<ReceiptRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let reference = check_ref("externalRef", &self.external_ref)?;
        if self.shares.is_empty() || self.shares.len() > MAX_RECEIPT_LINES {
            return Err(DomainError::invalid(
                "shares",
                format!("a payment pays 1 to {MAX_RECEIPT_LINES} institutions"),
            ));
        }
        let (s, _) = medical_scheme(tx.db(), self.scheme).await?;
        if let Some(payer) = self.payer {
            get_party_of(tx.db(), payer, PartyKind::Payer).await?;
        }
        if receipt::Entity::find()
            .filter(receipt::Column::Channel.eq(self.channel.as_str()))
            .filter(receipt::Column::ExternalRef.eq(reference.as_str()))
            .one(tx.db())
            .await?
            .is_some()
        {
            return Err(DomainError::Conflict(format!(
                "{} payment {reference} was already recorded",
                self.channel
            )));
        }
        let mut legs = Vec::with_capacity(self.shares.len() + 1);
        let mut lines = Vec::with_capacity(self.shares.len());
        for (i, share) in self.shares.iter().enumerate() {
            let amount = share.amount.positive()?;
            if self.shares[..i]
                .iter()
                .any(|x| x.institution == share.institution)
            {
                return Err(DomainError::invalid(
                    "shares",
                    format!("institution {} is listed twice", share.institution),
                ));
            }
            let m = get_party_of(tx.db(), share.institution, PartyKind::Merchant).await?;
            let e = enrollment_of(tx.db(), m.id, s.id).await?;
            legs.push(Leg {
                account: e.payable_account,
                amount_fen: amount.fen(),
            });
            lines.push((m, amount));
        }
        let total = Money::sum(lines.iter().map(|(_, a)| *a))?;
        let outside = system::channel_external(tx, self.channel.as_str()).await?;
        let clearing = system::clearing_account(tx, self.channel.as_str()).await?;
        let collect = post(
            tx,
            EntryKind::Collect,
            None,
            &format!("medical {} {reference}", self.channel),
            &transfer(outside, clearing, total),
        )
        .await?;
        legs.push(Leg {
            account: clearing,
            amount_fen: -total.fen(),
        });
        let split = post(
            tx,
            EntryKind::Split,
            None,
            &format!("medical {} {reference} to registers", self.channel),
            &legs,
        )
        .await?;
        let r = receipt::ActiveModel {
            scheme_id: Set(s.id.0),
            channel: Set(self.channel.as_str().to_owned()),
            external_ref: Set(reference.clone()),
            payer_id: Set(self.payer.map(|p| p.0)),
            total_fen: Set(total.fen()),
            collect_entry_id: Set(collect.id.0),
            split_entry_id: Set(split.id.0),
            received_at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        for (m, amount) in &lines {
            line::ActiveModel {
                receipt_id: Set(r.id),
                merchant_id: Set(m.id.0),
                region: Set(m
                    .region
                    .as_ref()
                    .map(|x| x.as_str().to_owned())
                    .unwrap_or_else(|| s.region.as_str().to_owned())),
                industry: Set(s.industry.as_str().to_owned()),
                amount_fen: Set(amount.fen()),
                refunded_fen: Set(0),
                ..Default::default()
            }
            .insert(tx.db())
            .await?;
        }
        let mut e = NewEvent::new(
            "medical.payment_received",
            json!({
                "receipt_id": ReceiptId(r.id),
                "channel": self.channel,
                "external_ref": reference,
                "total": total,
                "shares": lines.iter().map(|(m, a)| json!({"institution_id": m.id, "amount": a})).collect::<Vec<_>>(),
                "collect_entry_id": collect.id,
                "split_entry_id": split.id,
            }),
        )
        .scheme(s.id);
        if let Some(p) = self.payer {
            e = e.payer(p);
        }
        // With one institution the event is also that institution's evidence.
        if let [(m, _)] = lines.as_slice() {
            e = e.merchant(m.id);
        }
        tx.emit(e);
        receipt_visible(tx.db(), tx.principal, ReceiptId(r.id)).await
    }
}

/// An institution returns (part of) its share of a patient's payment by the original route
/// (the institution itself, or the bank on its behalf).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundPatientPayment {
    pub receipt: ReceiptId,
    pub institution: PartyId,
    pub amount: Money,
    pub reason: String,
}

impl Command for RefundPatientPayment {
    type Output = ReceiptRecord;
    const NAME: &'static str = "refundPatientPayment";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<ReceiptRecord> {
        tx.principal.require_role(&[Role::Bank, Role::Merchant])?;
        if tx.principal.role == Role::Merchant && tx.principal.party_id != Some(self.institution) {
            return Err(DomainError::not_found("receipt", self.receipt));
        }
        let amount = self.amount.positive()?;
        let reason = crate::text::required("reason", &self.reason, 500)?;
        let reason = reason.as_str();
        let r = receipt::Entity::find_by_id(self.receipt.0)
            .one(tx.db())
            .await?
            .ok_or_else(|| DomainError::not_found("receipt", self.receipt))?;
        let l = line::Entity::find()
            .filter(line::Column::ReceiptId.eq(r.id))
            .filter(line::Column::MerchantId.eq(self.institution.0))
            .one(tx.db())
            .await?
            .ok_or_else(|| DomainError::not_found("receipt", self.receipt))?;
        let left = Money::from_fen(l.amount_fen - l.refunded_fen)?;
        if amount > left {
            return Err(DomainError::invalid(
                "amount",
                format!("only {left} of this institution's share is left to refund"),
            ));
        }
        let e = enrollment_of(tx.db(), self.institution, SchemeId(r.scheme_id)).await?;
        let outside = system::channel_external(tx, &r.channel).await?;
        let clearance = gate::clear(Outflow::MedicalRefund, None, e.payable_account, amount)?;
        let entry = post_cleared(
            tx,
            clearance,
            EntryKind::Refund,
            &format!("medical refund of {} {}", r.channel, r.external_ref),
            &transfer(e.payable_account, outside, amount),
        )
        .await?;
        // Conditional on what we read: a concurrent refund cannot be lost.
        let updated = line::Entity::update_many()
            .col_expr(
                line::Column::RefundedFen,
                sea_orm::sea_query::Expr::value(l.refunded_fen + amount.fen()),
            )
            .filter(line::Column::Id.eq(l.id))
            .filter(line::Column::RefundedFen.eq(l.refunded_fen))
            .exec(tx.db())
            .await?;
        if updated.rows_affected != 1 {
            return Err(DomainError::invalid_state(
                format!("receipt {}", self.receipt),
                "CHANGED",
                "refund",
            ));
        }
        let mut ev = NewEvent::new(
            "medical.payment_refunded",
            json!({
                "receipt_id": self.receipt,
                "institution_id": self.institution,
                "amount": amount,
                "channel": r.channel,
                "external_ref": r.external_ref,
                "reason": reason,
                "entry_id": entry.id,
            }),
        )
        .merchant(self.institution)
        .scheme(SchemeId(r.scheme_id));
        if let Some(p) = r.payer_id {
            ev = ev.payer(PartyId(p));
        }
        tx.emit(ev);
        receipt_visible(tx.db(), tx.principal, self.receipt).await
    }
}

#[cfg(test)]
mod tests;
