//! Supervised deposits: money frozen in the depositor's **own** account for a beneficiary
//! (docs/domain.md, "Industries"; research notes §1.6).
//!
//! One set of primitives serves two industries' needs:
//! - **subscription deposits** (房e存, 认筹金): a home buyer freezes a deposit for a
//!   developer's project to hold a place in line; on purchase it becomes the down payment
//!   (paid to the developer), otherwise it is unfrozen back to the buyer, who may do so at any
//!   time (losing the place). The developer never holds it before the sale (a developer
//!   without a presale permit may take no deposit-like payment);
//! - **trade deposits** (保证金) of agricultural wholesale markets and rural property-rights
//!   exchanges: a buyer's deposit secures a trade; the market (or seller) releases it after
//!   the trade, or it is forfeited to them when the buyer defaults.
//!
//! The account: a DEPOSIT account owned by the depositor under the scheme (bank root →
//! scheme → deposit, level 2), with the depositor's card bound to it. Inflows from the bound
//! card are unlimited; inflows from any other source are capped per depositor and China
//! calendar day by the policy's `deposit.unbound_daily_cap` (Type II accounts: ¥10,000), across
//! all their deposit accounts. Withdrawals of unfrozen money go back to the bound card.
//!
//! A freeze is a DEPOSIT_FREEZE hold naming its beneficiary, identified by its hold id. It
//! ends unfrozen (hold released), converted (hold consumed, money to the beneficiary's
//! payable in the scheme, on the depositor's word or the bank's) or forfeited (the same
//! movement, by the bank on a default, only where the policy's `forfeit_on_default` allows).
//! Who may lift it is policy too (`beneficiary_releases`).

mod freeze;
mod query;

pub use freeze::{ConvertDeposit, ForfeitDeposit, FreezeDeposit, UnfreezeDeposit};

pub use query::{
    DepositFreezeFilter, deposit_account_visible, deposit_accounts, deposit_freeze_visible,
    deposit_freezes, unbound_inflow_on,
};

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{deposit_account, deposit_freeze, deposit_inflow};

use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::gate::{self, Outflow};
use crate::identity::is_valid_card_number;
use crate::ids::{AccountId, EntryId, HoldId, PartyId, SchemeId};
use crate::ledger::{
    AccountKind, EntryKind, NewAccount, get_account, open_account, post, post_cleared, system,
    transfer,
};
use crate::money::Money;
use crate::party::{PartyKind, get_party_of};
use crate::pii::{PiiKind, mask_card};
use crate::policy::DepositRule;
use crate::principal::{Industry, RegionCode, Role};
use crate::scheme::{SchemeRecord, SchemeStatus, get_scheme, policy_at};

/// Where inflows from bound cards come from and withdrawals go (the depositors' Type I cards).
pub const BOUND_CARDS: &str = "DEPOSIT_BOUND_CARDS";
/// Where inflows from any other source come from.
pub const OTHER_SOURCES: &str = "DEPOSIT_OTHER_SOURCES";
/// Longest reference (a project or lot, a purchase contract, a default finding).
pub const MAX_REF_CHARS: usize = 64;

string_enum!(
    /// How a freeze stands.
    FreezeStatus {
        Frozen = "FROZEN",
        /// Lifted: the money is the depositor's to use again.
        Unfrozen = "UNFROZEN",
        /// Became a payment to the beneficiary (the down payment on a purchase).
        Converted = "CONVERTED",
        /// Taken by the beneficiary on the depositor's default.
        Forfeited = "FORFEITED",
    }
);

/// A deposit account as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositAccountRecord {
    pub account: AccountId,
    pub scheme: SchemeId,
    pub owner: PartyId,
    pub region: RegionCode,
    pub industry: Industry,
    /// First 6 and last 4 digits.
    pub bound_card: String,
    pub balance: Money,
    pub frozen: Money,
    pub opened_at: Timestamp,
}

impl DepositAccountRecord {
    pub fn available(&self) -> Money {
        self.balance.saturating_sub(self.frozen)
    }
}

pub(crate) fn account_record(
    m: deposit_account::Model,
    balance_fen: i64,
    held_fen: i64,
) -> DomainResult<DepositAccountRecord> {
    Ok(DepositAccountRecord {
        account: AccountId(m.account_id),
        scheme: SchemeId(m.scheme_id),
        owner: PartyId(m.owner_id),
        region: m.region.parse()?,
        industry: m.industry.parse()?,
        bound_card: m.bound_card_masked,
        balance: Money::from_fen(balance_fen)?,
        frozen: Money::from_fen(held_fen)?,
        opened_at: Timestamp(m.opened_at_us),
    })
}

/// A freeze as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositFreezeRecord {
    /// The freeze's identity: its hold on the deposit account.
    pub hold: HoldId,
    pub account: AccountId,
    pub scheme: SchemeId,
    pub owner: PartyId,
    pub beneficiary: PartyId,
    pub region: RegionCode,
    pub industry: Industry,
    pub amount: Money,
    pub reference: String,
    pub status: FreezeStatus,
    pub frozen_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    /// The purchase contract (converted) or the default finding (forfeited).
    pub closing_ref: Option<String>,
    pub entry: Option<EntryId>,
}

impl TryFrom<deposit_freeze::Model> for DepositFreezeRecord {
    type Error = DomainError;
    fn try_from(m: deposit_freeze::Model) -> DomainResult<DepositFreezeRecord> {
        Ok(DepositFreezeRecord {
            hold: HoldId(m.hold_id),
            account: AccountId(m.account_id),
            scheme: SchemeId(m.scheme_id),
            owner: PartyId(m.owner_id),
            beneficiary: PartyId(m.beneficiary_id),
            region: m.region.parse()?,
            industry: m.industry.parse()?,
            amount: Money::from_fen(m.amount_fen)?,
            reference: m.reference,
            status: m.status.parse()?,
            frozen_at: Timestamp(m.frozen_at_us),
            closed_at: m.closed_at_us.map(Timestamp),
            closing_ref: m.closing_ref,
            entry: m.entry_id.map(EntryId),
        })
    }
}

async fn get_deposit_row<C: ConnectionTrait>(
    db: &C,
    account: AccountId,
) -> DomainResult<deposit_account::Model> {
    deposit_account::Entity::find()
        .filter(deposit_account::Column::AccountId.eq(account.0))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("deposit account", account))
}

/// The deposit account as the principal may act on it: the bank any, a depositor its own.
async fn own_account(tx: &Tx<'_>, account: AccountId) -> DomainResult<deposit_account::Model> {
    tx.principal.require_role(&[Role::Bank, Role::Payer])?;
    let d = get_deposit_row(tx.db(), account).await?;
    if tx.principal.role == Role::Payer && tx.principal.party_id != Some(PartyId(d.owner_id)) {
        return Err(DomainError::not_found("deposit account", account));
    }
    Ok(d)
}

async fn current_record(
    tx: &Tx<'_>,
    d: deposit_account::Model,
) -> DomainResult<DepositAccountRecord> {
    let acc = get_account(tx.db(), AccountId(d.account_id)).await?;
    account_record(d, acc.balance_fen, acc.held.fen())
}

/// The deposit rule of a scheme's policy version.
async fn deposit_rule<C: ConnectionTrait>(
    db: &C,
    scheme: SchemeId,
    version: i32,
) -> DomainResult<DepositRule> {
    policy_at(db, scheme, version)
        .await?
        .deposit
        .ok_or_else(|| {
            DomainError::invalid_state(
                format!("scheme {scheme}"),
                "WITHOUT_DEPOSIT_RULE",
                "take supervised deposits",
            )
        })
}

async fn active_scheme(
    tx: &Tx<'_>,
    id: SchemeId,
    action: &'static str,
) -> DomainResult<SchemeRecord> {
    let s = get_scheme(tx.db(), id).await?;
    if s.status != SchemeStatus::Active {
        return Err(DomainError::invalid_state(
            format!("scheme {}", s.code),
            s.status.as_str(),
            action,
        ));
    }
    Ok(s)
}

fn check_ref(field: &'static str, value: &str) -> DomainResult<String> {
    crate::text::required(field, value, MAX_REF_CHARS)
}

fn deposit_event(kind: &'static str, owner: i64, scheme: i64, data: serde_json::Value) -> NewEvent {
    NewEvent::new(kind, data)
        .payer(PartyId(owner))
        .scheme(SchemeId(scheme))
}

/// Opens a depositor's own deposit account in a scheme, with their card bound to it (the
/// depositor in the bank's app, or the bank at its counter).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenDepositAccount {
    pub scheme: SchemeId,
    pub owner: PartyId,
    /// The depositor's own (Type I) card number.
    pub bound_card: String,
}

impl Command for OpenDepositAccount {
    type Output = DepositAccountRecord;
    const NAME: &'static str = "openDepositAccount";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<DepositAccountRecord> {
        tx.principal.require_role(&[Role::Bank, Role::Payer])?;
        if tx.principal.role == Role::Payer && tx.principal.party_id != Some(self.owner) {
            return Err(DomainError::Forbidden(
                "a depositor opens deposit accounts only for itself".into(),
            ));
        }
        let s = active_scheme(tx, self.scheme, "open deposit accounts").await?;
        deposit_rule(tx.db(), s.id, s.current_version).await?;
        let owner = get_party_of(tx.db(), self.owner, PartyKind::Payer).await?;
        let card = self.bound_card.trim();
        if !is_valid_card_number(card) {
            return Err(DomainError::invalid(
                "boundCard",
                "is not a valid 12 to 19 digit card number",
            ));
        }
        let existing = deposit_account::Entity::find()
            .filter(deposit_account::Column::OwnerId.eq(owner.id.0))
            .filter(deposit_account::Column::SchemeId.eq(s.id.0))
            .one(tx.db())
            .await?;
        if existing.is_some() {
            return Err(DomainError::Conflict(format!(
                "the depositor already has a deposit account in {}",
                s.code
            )));
        }
        let acc = open_account(
            tx,
            NewAccount::new(
                format!("{} deposit ({})", owner.display_name(false), s.code),
                AccountKind::Deposit,
            )
            .under(s.account)
            .owned_by(owner.id)
            .in_scheme(s.id),
        )
        .await?;
        let vault = tx.escrow.vault();
        let row = deposit_account::ActiveModel {
            account_id: Set(acc.id.0),
            scheme_id: Set(s.id.0),
            owner_id: Set(owner.id.0),
            region: Set(s.region.as_str().to_owned()),
            industry: Set(s.industry.as_str().to_owned()),
            bound_card_index: Set(vault.blind_index(PiiKind::Card, card)),
            bound_card_enc: Set(vault.encrypt(card)?),
            bound_card_masked: Set(mask_card(card)),
            status: Set("OPEN".into()),
            opened_at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        tx.emit(
            deposit_event(
                "deposit.account_opened",
                owner.id.0,
                s.id.0,
                json!({ "account_id": acc.id, "level": acc.level, "bound_card": mask_card(card) }),
            )
            .personal("bound_card", card),
        );
        account_record(row, 0, 0)
    }
}

/// Records money arriving in a deposit account (the bank, from the transfer it received).
/// From the bound card any amount; from anywhere else at most the policy's daily cap per
/// depositor and China calendar day.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FundDeposit {
    pub account: AccountId,
    pub amount: Money,
    /// The card or account number the money came from.
    pub source_account: String,
    /// The transfer's reference; a second inflow with the same reference is refused.
    pub external_ref: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositFunded {
    pub account: DepositAccountRecord,
    pub bound: bool,
    pub entry: EntryId,
    /// Unbound inflows of the depositor today, this one included.
    pub unbound_today: Money,
}

impl Command for FundDeposit {
    type Output = DepositFunded;
    const NAME: &'static str = "fundDeposit";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<DepositFunded> {
        tx.principal.require_role(&[Role::Bank])?;
        let amount = self.amount.positive()?;
        let source = self.source_account.trim();
        if !(8..=32).contains(&source.len()) || !source.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(DomainError::invalid(
                "sourceAccount",
                "must be 8 to 32 letters or digits",
            ));
        }
        let reference = crate::text::external_ref("externalRef", &self.external_ref)?;
        let d = get_deposit_row(tx.db(), self.account).await?;
        let s = active_scheme(tx, SchemeId(d.scheme_id), "take deposits").await?;
        let rule = deposit_rule(tx.db(), s.id, s.current_version).await?;
        if deposit_inflow::Entity::find()
            .filter(deposit_inflow::Column::ExternalRef.eq(reference))
            .one(tx.db())
            .await?
            .is_some()
        {
            return Err(DomainError::Conflict(format!(
                "inflow {reference} was already recorded"
            )));
        }
        let bound = tx.escrow.vault().blind_index(PiiKind::Card, source) == d.bound_card_index;
        let day = tx.now.china_date();
        let mut unbound_today = unbound_inflow_on(tx.db(), PartyId(d.owner_id), day).await?;
        if !bound {
            unbound_today = unbound_today.checked_add(amount)?;
            if unbound_today > rule.unbound_daily_cap {
                return Err(DomainError::LimitExceeded(format!(
                    "inflows from sources other than the bound card would reach {unbound_today} today, over the daily cap of {}; pay from the bound card",
                    rule.unbound_daily_cap
                )));
            }
        }
        let outside = system::external(tx, if bound { BOUND_CARDS } else { OTHER_SOURCES }).await?;
        let entry = post(
            tx,
            EntryKind::Deposit,
            None,
            &format!("deposit inflow {reference}"),
            &transfer(outside, AccountId(d.account_id), amount),
        )
        .await?;
        deposit_inflow::ActiveModel {
            deposit_account_id: Set(d.id),
            owner_id: Set(d.owner_id),
            amount_fen: Set(amount.fen()),
            bound: Set(bound),
            source_masked: Set(mask_card(source)),
            external_ref: Set(reference.to_owned()),
            entry_id: Set(entry.id.0),
            day: Set(day.to_string()),
            at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        tx.emit(deposit_event(
            "deposit.funded",
            d.owner_id,
            d.scheme_id,
            json!({ "account_id": AccountId(d.account_id), "amount": amount, "bound": bound, "source": mask_card(source), "external_ref": reference, "entry_id": entry.id, "unbound_today": unbound_today }),
        ));
        Ok(DepositFunded {
            account: current_record(tx, d).await?,
            bound,
            entry: entry.id,
            unbound_today,
        })
    }
}

/// Takes unfrozen money out of a deposit account, back to the bound card (the depositor, or
/// the bank on their instruction). Frozen money cannot be withdrawn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WithdrawDeposit {
    pub account: AccountId,
    pub amount: Money,
}

impl Command for WithdrawDeposit {
    type Output = DepositAccountRecord;
    const NAME: &'static str = "withdrawDeposit";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<DepositAccountRecord> {
        let d = own_account(tx, self.account).await?;
        let card = system::external(tx, BOUND_CARDS).await?;
        let amount = self.amount.positive()?;
        let clearance = gate::clear(
            Outflow::DepositWithdrawal,
            None,
            AccountId(d.account_id),
            amount,
        )?;
        let entry = post_cleared(
            tx,
            clearance,
            EntryKind::Deposit,
            "deposit withdrawn to the bound card",
            &transfer(AccountId(d.account_id), card, amount),
        )
        .await?;
        tx.emit(deposit_event(
            "deposit.withdrawn",
            d.owner_id,
            d.scheme_id,
            json!({ "account_id": AccountId(d.account_id), "amount": self.amount, "to": d.bound_card_masked, "entry_id": entry.id }),
        ));
        current_record(tx, d).await
    }
}

#[cfg(test)]
mod tests;
