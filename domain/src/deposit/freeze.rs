//! Freezes: a deposit frozen for a beneficiary, and the three ways a freeze ends — lifted,
//! converted into a payment to the beneficiary, forfeited to it on a default.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::deposit_freeze;

use super::{
    DepositFreezeRecord, FreezeStatus, active_scheme, check_ref, deposit_event, deposit_rule,
    own_account,
};
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::gate::{self, Outflow};
use crate::ids::{AccountId, EntryId, HoldId, PartyId, SchemeId};
use crate::ledger::{
    EntryKind, HoldKind, HoldStatus, NewHold, consume_hold, get_hold, place_hold, post_cleared,
    release_hold, transfer,
};
use crate::money::Money;
use crate::party::{PartyKind, PartyStatus, get_party_of};
use crate::principal::Role;
use crate::scheme::enrollment_of;

/// Freezes part of a deposit for a beneficiary enrolled in the scheme (a developer's project,
/// a market's trade): the depositor, or the bank on their instruction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FreezeDeposit {
    pub account: AccountId,
    pub beneficiary: PartyId,
    pub amount: Money,
    /// What the deposit secures (the project and batch, the lot or trade number).
    pub reference: String,
}

impl Command for FreezeDeposit {
    type Output = DepositFreezeRecord;
    const NAME: &'static str = "freezeDeposit";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<DepositFreezeRecord> {
        let d = own_account(tx, self.account).await?;
        let reference = check_ref("reference", &self.reference)?;
        let s = active_scheme(tx, SchemeId(d.scheme_id), "freeze deposits").await?;
        deposit_rule(tx.db(), s.id, s.current_version).await?;
        let beneficiary = get_party_of(tx.db(), self.beneficiary, PartyKind::Merchant).await?;
        enrollment_of(tx.db(), beneficiary.id, s.id).await?;
        if beneficiary.status != PartyStatus::Active {
            return Err(DomainError::invalid_state(
                format!("merchant {}", beneficiary.name),
                beneficiary.status.as_str(),
                "take deposits",
            ));
        }
        let hold = place_hold(
            tx,
            NewHold {
                account: AccountId(d.account_id),
                kind: HoldKind::DepositFreeze,
                amount: self.amount,
                case_no: None,
                court: None,
                priority: 0,
                order: None,
                reason: format!("deposit for {} ({reference})", beneficiary.name),
                expires_at: None,
            },
        )
        .await?;
        let row = deposit_freeze::ActiveModel {
            hold_id: Set(hold.id.0),
            deposit_account_id: Set(d.id),
            account_id: Set(d.account_id),
            scheme_id: Set(s.id.0),
            policy_version: Set(s.current_version),
            owner_id: Set(d.owner_id),
            beneficiary_id: Set(beneficiary.id.0),
            region: Set(d.region.clone()),
            industry: Set(d.industry.clone()),
            amount_fen: Set(hold.amount.fen()),
            reference: Set(reference.clone()),
            status: Set(FreezeStatus::Frozen.as_str().to_owned()),
            frozen_at_us: Set(tx.now.0),
            closed_at_us: Set(None),
            closing_ref: Set(None),
            entry_id: Set(None),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        tx.emit(
            deposit_event(
                "deposit.frozen",
                d.owner_id,
                d.scheme_id,
                json!({ "hold_id": hold.id, "account_id": AccountId(d.account_id), "beneficiary_id": beneficiary.id, "amount": hold.amount, "reference": reference }),
            )
            .merchant(beneficiary.id),
        );
        DepositFreezeRecord::try_from(row)
    }
}

async fn get_freeze<C: ConnectionTrait>(
    db: &C,
    hold: HoldId,
) -> DomainResult<deposit_freeze::Model> {
    deposit_freeze::Entity::find()
        .filter(deposit_freeze::Column::HoldId.eq(hold.0))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("deposit freeze", hold))
}

/// A freeze still in force, as the principal may act on it: the bank any; the depositor and
/// the beneficiary their own (others' are not found).
async fn frozen(
    tx: &Tx<'_>,
    hold: HoldId,
    action: &'static str,
) -> DomainResult<deposit_freeze::Model> {
    tx.principal
        .require_role(&[Role::Bank, Role::Payer, Role::Merchant])?;
    let f = get_freeze(tx.db(), hold).await?;
    let own = match tx.principal.role {
        Role::Bank => true,
        Role::Payer => tx.principal.party_id == Some(PartyId(f.owner_id)),
        _ => tx.principal.party_id == Some(PartyId(f.beneficiary_id)),
    };
    if !own {
        return Err(DomainError::not_found("deposit freeze", hold));
    }
    if f.status != FreezeStatus::Frozen.as_str() {
        return Err(DomainError::invalid_state(
            format!("deposit freeze {hold}"),
            f.status.clone(),
            action,
        ));
    }
    Ok(f)
}

async fn close_freeze(
    tx: &Tx<'_>,
    f: &deposit_freeze::Model,
    status: FreezeStatus,
    closing_ref: Option<String>,
    entry: Option<EntryId>,
) -> DomainResult<DepositFreezeRecord> {
    let m = deposit_freeze::ActiveModel {
        id: Set(f.id),
        status: Set(status.as_str().to_owned()),
        closed_at_us: Set(Some(tx.now.0)),
        closing_ref: Set(closing_ref),
        entry_id: Set(entry.map(|e| e.0)),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    DepositFreezeRecord::try_from(m)
}

/// Lifts a freeze: the money is the depositor's again. The beneficiary or the bank may always
/// lift it; the depositor only where the policy lets them (认筹金: yes, losing the place in
/// line; 保证金: no — the deposit secures the trade until the market releases it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnfreezeDeposit {
    pub hold: HoldId,
}

impl Command for UnfreezeDeposit {
    type Output = DepositFreezeRecord;
    const NAME: &'static str = "unfreezeDeposit";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<DepositFreezeRecord> {
        let f = frozen(tx, self.hold, "be unfrozen").await?;
        let rule = deposit_rule(tx.db(), SchemeId(f.scheme_id), f.policy_version).await?;
        if tx.principal.role == Role::Payer && rule.beneficiary_releases {
            return Err(DomainError::Forbidden(
                "this deposit secures a trade: the market or the bank releases it".into(),
            ));
        }
        let h = release_hold(tx, self.hold, HoldStatus::Released).await?;
        let record = close_freeze(tx, &f, FreezeStatus::Unfrozen, None, None).await?;
        tx.emit(
            deposit_event(
                "deposit.unfrozen",
                f.owner_id,
                f.scheme_id,
                json!({ "hold_id": h.id, "account_id": AccountId(f.account_id), "amount": Money::from_fen(f.amount_fen)?, "by": tx.principal.role }),
            )
            .merchant(PartyId(f.beneficiary_id)),
        );
        Ok(record)
    }
}

/// Moves a frozen deposit to the beneficiary's payable in the scheme (consume the hold, then
/// post), refusing a beneficiary that may not receive money.
async fn pay_beneficiary(
    tx: &Tx<'_>,
    f: &deposit_freeze::Model,
    memo: &str,
) -> DomainResult<EntryId> {
    let beneficiary = get_party_of(tx.db(), PartyId(f.beneficiary_id), PartyKind::Merchant).await?;
    if beneficiary.status != PartyStatus::Active {
        return Err(DomainError::invalid_state(
            format!("merchant {}", beneficiary.name),
            beneficiary.status.as_str(),
            "receive deposits",
        ));
    }
    let enrollment = enrollment_of(tx.db(), beneficiary.id, SchemeId(f.scheme_id)).await?;
    let hold = get_hold(tx.db(), HoldId(f.hold_id)).await?;
    consume_hold(tx, hold.id, hold.remaining).await?;
    let clearance = gate::clear(
        Outflow::DepositConversion,
        None,
        AccountId(f.account_id),
        hold.remaining,
    )?;
    let entry = post_cleared(
        tx,
        clearance,
        EntryKind::Deposit,
        memo,
        &transfer(
            AccountId(f.account_id),
            enrollment.payable_account,
            hold.remaining,
        ),
    )
    .await?;
    Ok(entry.id)
}

/// On purchase, the frozen deposit becomes the down payment, paid to the developer (the
/// depositor, or the bank on the signed contract).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConvertDeposit {
    pub hold: HoldId,
    pub contract_ref: String,
}

impl Command for ConvertDeposit {
    type Output = DepositFreezeRecord;
    const NAME: &'static str = "convertDeposit";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<DepositFreezeRecord> {
        tx.principal.require_role(&[Role::Bank, Role::Payer])?;
        let f = frozen(tx, self.hold, "be converted").await?;
        let contract = check_ref("contractRef", &self.contract_ref)?;
        let entry =
            pay_beneficiary(tx, &f, &format!("deposit converted, contract {contract}")).await?;
        let record = close_freeze(
            tx,
            &f,
            FreezeStatus::Converted,
            Some(contract.clone()),
            Some(entry),
        )
        .await?;
        tx.emit(
            deposit_event(
                "deposit.converted",
                f.owner_id,
                f.scheme_id,
                json!({ "hold_id": self.hold, "beneficiary_id": PartyId(f.beneficiary_id), "amount": record.amount, "contract_ref": contract, "entry_id": entry }),
            )
            .merchant(PartyId(f.beneficiary_id)),
        );
        Ok(record)
    }
}

/// The depositor defaulted: the frozen deposit goes to the beneficiary (the bank, on the
/// market's finding), only where the policy provides for forfeiture.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForfeitDeposit {
    pub hold: HoldId,
    /// The default finding (the trade, what was not done).
    pub reason: String,
}

impl Command for ForfeitDeposit {
    type Output = DepositFreezeRecord;
    const NAME: &'static str = "forfeitDeposit";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<DepositFreezeRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let f = frozen(tx, self.hold, "be forfeited").await?;
        let reason = check_ref("reason", &self.reason)?;
        let rule = deposit_rule(tx.db(), SchemeId(f.scheme_id), f.policy_version).await?;
        if !rule.forfeit_on_default {
            return Err(DomainError::invalid_state(
                format!("deposit freeze {}", self.hold),
                "NOT_FORFEITABLE",
                "be forfeited under this scheme's policy",
            ));
        }
        let entry = pay_beneficiary(tx, &f, &format!("deposit forfeited: {reason}")).await?;
        let record = close_freeze(
            tx,
            &f,
            FreezeStatus::Forfeited,
            Some(reason.clone()),
            Some(entry),
        )
        .await?;
        tx.emit(
            deposit_event(
                "deposit.forfeited",
                f.owner_id,
                f.scheme_id,
                json!({ "hold_id": self.hold, "beneficiary_id": PartyId(f.beneficiary_id), "amount": record.amount, "reason": reason, "entry_id": entry }),
            )
            .merchant(PartyId(f.beneficiary_id)),
        );
        Ok(record)
    }
}
