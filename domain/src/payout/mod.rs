//! Payouts (提现 / 代发): released money leaves the bank — to a merchant's own settlement
//! account, or to many workers at once in an all-or-nothing batch (flexible-employment payroll).
//! Card numbers are stored encrypted and shown masked.

pub mod payroll;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::payout;

use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::gate::{self, Outflow};
use crate::identity::is_valid_card_number;
use crate::ids::{EntryId, PartyId, PayoutId, SchemeId};
use crate::ledger::{
    EntryKind, Leg, MAX_LEGS_PER_ENTRY, get_account, post_cleared, system, transfer,
};
use crate::money::Money;
use crate::party::{PartyKind, get_party_of};
use crate::pii::mask_card;
use crate::principal::Role;
use crate::scheme::enrollment_of;

/// Most recipients in one batch (one journal entry).
pub const MAX_BATCH_ITEMS: usize = MAX_LEGS_PER_ENTRY - 1;

/// A payout line as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutRecord {
    pub id: PayoutId,
    pub batch_ref: Option<String>,
    pub merchant: Option<PartyId>,
    pub recipient_name: String,
    pub recipient_account: String,
    pub amount: Money,
    pub status: String,
    pub entry: EntryId,
    pub created_at: Timestamp,
}

impl TryFrom<payout::Model> for PayoutRecord {
    type Error = DomainError;
    fn try_from(m: payout::Model) -> DomainResult<PayoutRecord> {
        Ok(PayoutRecord {
            id: PayoutId(m.id),
            batch_ref: m.batch_ref,
            merchant: m.merchant_id.map(PartyId),
            recipient_name: m.recipient_name,
            recipient_account: m.recipient_account_masked,
            amount: Money::from_fen(m.amount_fen)?,
            status: m.status,
            entry: EntryId(m.entry_id),
            created_at: Timestamp(m.created_at_us),
        })
    }
}

/// A merchant's payouts, newest first.
///
/// # Errors
/// Database errors.
pub async fn payouts_of<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
    limit: u64,
) -> DomainResult<Vec<PayoutRecord>> {
    use sea_orm::QuerySelect;
    payout::Entity::find()
        .filter(payout::Column::MerchantId.eq(merchant.0))
        .order_by_desc(payout::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(PayoutRecord::try_from)
        .collect()
}

fn check_merchant_caller(tx: &Tx<'_>, merchant: PartyId) -> DomainResult<()> {
    tx.principal.require_role(&[Role::Bank, Role::Merchant])?;
    if tx.principal.role == Role::Merchant && tx.principal.party_id != Some(merchant) {
        return Err(DomainError::not_found("merchant", merchant));
    }
    Ok(())
}

/// Pays released money out to the merchant's own settlement account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestPayout {
    pub merchant: PartyId,
    pub scheme: SchemeId,
    pub amount: Money,
}

impl Command for RequestPayout {
    type Output = PayoutRecord;
    const NAME: &'static str = "requestPayout";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<PayoutRecord> {
        check_merchant_caller(tx, self.merchant)?;
        let amount = self.amount.positive()?;
        let m = get_party_of(tx.db(), self.merchant, PartyKind::Merchant).await?;
        let e = enrollment_of(tx.db(), m.id, self.scheme).await?;
        let clearance = gate::payout(
            tx,
            Outflow::Payout,
            &m,
            self.scheme,
            e.payable_account,
            amount,
        )
        .await?;
        let entry = post_cleared(
            tx,
            clearance,
            EntryKind::Payout,
            &format!("payout to {}", m.name),
            &transfer(e.payable_account, e.settlement_account, amount),
        )
        .await?;
        let settlement = get_account(tx.db(), e.settlement_account).await?;
        let row = insert(
            tx,
            None,
            Some(m.id),
            e.payable_account.0,
            &m.name,
            &settlement.number,
            String::new(),
            amount,
            entry.id,
        )
        .await?;
        tx.emit(
            NewEvent::new("payout.completed", json!({ "payout_id": row.id, "amount": amount, "entry_id": entry.id, "to_account": settlement.number }))
                .merchant(m.id)
                .scheme(self.scheme),
        );
        Ok(row)
    }
}

/// One worker's line of a payroll batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PayoutItem {
    pub name: String,
    /// The worker's bank card number (Luhn-checked, stored encrypted, shown masked).
    pub card_number: String,
    pub amount: Money,
}

/// Pays many recipients from a merchant's payable account in one all-or-nothing entry: every
/// line is validated first, and either all are paid or none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchPayout {
    pub merchant: PartyId,
    pub scheme: SchemeId,
    /// The instructing platform's batch reference, unique.
    pub batch_ref: String,
    pub items: Vec<PayoutItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOutcome {
    pub batch_ref: String,
    pub total: Money,
    pub entry: EntryId,
    pub payouts: Vec<PayoutRecord>,
}

impl Command for BatchPayout {
    type Output = BatchOutcome;
    const NAME: &'static str = "batchPayout";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<BatchOutcome> {
        check_merchant_caller(tx, self.merchant)?;
        if self.items.is_empty() || self.items.len() > MAX_BATCH_ITEMS {
            return Err(DomainError::invalid(
                "items",
                format!("a batch has 1 to {MAX_BATCH_ITEMS} lines"),
            ));
        }
        let batch_ref = crate::text::external_ref("batchRef", &self.batch_ref)?;
        if payout::Entity::find()
            .filter(payout::Column::BatchRef.eq(batch_ref))
            .one(tx.db())
            .await?
            .is_some()
        {
            return Err(DomainError::Conflict(format!(
                "batch {batch_ref} was already paid"
            )));
        }
        let mut errors = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            if crate::text::required("name", &item.name, 50).is_err() {
                errors.push(format!("line {}: name must be 1 to 50 characters", i + 1));
            }
            if !is_valid_card_number(&item.card_number) {
                errors.push(format!("line {}: card number fails its check digit", i + 1));
            }
            if item.amount.is_zero() {
                errors.push(format!("line {}: amount must be greater than zero", i + 1));
            }
        }
        if !errors.is_empty() {
            return Err(DomainError::invalid(
                "items",
                errors.into_iter().take(20).collect::<Vec<_>>().join("; "),
            ));
        }
        let m = get_party_of(tx.db(), self.merchant, PartyKind::Merchant).await?;
        let e = enrollment_of(tx.db(), m.id, self.scheme).await?;
        payroll::vet_batch(tx.db(), self.scheme, &self.items).await?;
        let total = Money::sum(self.items.iter().map(|i| i.amount))?;
        let clearance = gate::payout(
            tx,
            Outflow::BatchPayout,
            &m,
            self.scheme,
            e.payable_account,
            total,
        )
        .await?;
        let outside = system::external(tx, "PAYROLL").await?;
        let mut legs = vec![Leg {
            account: e.payable_account,
            amount_fen: -total.fen(),
        }];
        legs.extend(self.items.iter().map(|i| Leg {
            account: outside,
            amount_fen: i.amount.fen(),
        }));
        let entry = post_cleared(
            tx,
            clearance,
            EntryKind::Payout,
            &format!("batch {batch_ref} of {}", m.name),
            &legs,
        )
        .await?;
        let mut payouts = Vec::with_capacity(self.items.len());
        for item in &self.items {
            let enc = tx.escrow.vault().encrypt(&item.card_number)?;
            payouts.push(
                insert(
                    tx,
                    Some(batch_ref.to_owned()),
                    Some(m.id),
                    e.payable_account.0,
                    item.name.trim(),
                    &mask_card(&item.card_number),
                    enc,
                    item.amount,
                    entry.id,
                )
                .await?,
            );
        }
        tx.emit(
            NewEvent::new("payout.batch_completed", json!({ "batch_ref": batch_ref, "lines": payouts.len(), "total": total, "entry_id": entry.id }))
                .merchant(m.id)
                .scheme(self.scheme),
        );
        Ok(BatchOutcome {
            batch_ref: batch_ref.to_owned(),
            total,
            entry: entry.id,
            payouts,
        })
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    tx: &Tx<'_>,
    batch_ref: Option<String>,
    merchant: Option<PartyId>,
    source: i64,
    name: &str,
    masked: &str,
    enc: String,
    amount: Money,
    entry: EntryId,
) -> DomainResult<PayoutRecord> {
    payout::ActiveModel {
        batch_ref: Set(batch_ref),
        source_account_id: Set(source),
        merchant_id: Set(merchant.map(|m| m.0)),
        recipient_name: Set(name.to_owned()),
        recipient_account_masked: Set(masked.to_owned()),
        recipient_account_enc: Set(enc),
        amount_fen: Set(amount.fen()),
        status: Set("PAID".into()),
        entry_id: Set(entry.0),
        created_at_us: Set(tx.now.0),
        ..Default::default()
    }
    .insert(tx.db())
    .await?
    .try_into()
}
