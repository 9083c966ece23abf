//! Housing vouchers (房票) for expropriation resettlement (docs/domain.md, "Industries"; research
//! notes §1.7).
//!
//! The housing bureau puts a resettlement project's money into a **project sub-account**
//! (level 2: bank root → scheme → project) and issues **vouchers** to the expropriated
//! residents: each voucher is a level-3 sub-account under its project, owned by its holder.
//! A voucher's life:
//!
//! - issue (the bureau, or the bank on its instruction): project → voucher, valid for the
//!   policy's `validity_months`;
//! - split transfer, **once**: the whole balance is divided among one or more holders (the
//!   holder names themself to keep a part); the new vouchers can never be transferred again
//!   and the parent closes;
//! - inheritance (the bank, on a certificate of succession): the whole balance to a new
//!   voucher of the heir, even when the voucher is no longer transferable;
//! - loss report (the holder or the bank): a LOSS_FREEZE hold on the whole balance; reissue
//!   (the bank): a new number with the same balance and expiry, the old one closed;
//! - redemption against a home purchase: an escrow order of the developer, funded from the
//!   voucher instead of a channel and released in the scheme's stages (30/60/10), plus a
//!   time-tiered reward subsidy from the scheme's SUBSIDY pool into the same escrow;
//! - expiry: the balance goes to the holder (cash-out) or back to the project.
//!
//! A voucher's successors (transfer, inheritance, reissue) keep its **issue time**, expiry and
//! policy version: rewards and validity count from the first issue, and a holder's terms
//! never change under them.

mod expiry;
mod inventory;
mod issue;
mod loss;
mod project;
mod redeem;

pub use expiry::{CASH_OUT, ExpireVoucher, VoucherExpiryOutcome};
pub(crate) use expiry::{expire_due, expiry_notice};
pub use inventory::{
    InventoryLine, RedemptionRecord, VoucherFilter, redemptions_of, voucher_by_number,
    voucher_inventory, voucher_projects, voucher_visible, vouchers,
};
pub use issue::{InheritVoucher, IssueVoucher, TransferPart, TransferVoucher, VoucherTransfer};
pub use loss::{ReissueVoucher, ReportVoucherLoss};
pub use project::{
    CreateVoucherProject, FISCAL_SOURCE, FundVoucherProject, FundVoucherSubsidy, Funding,
    VoucherProjectRecord, get_project, subsidy_pool,
};
pub(crate) use redeem::refund_route;
pub use redeem::{RedeemVoucher, Redemption, reward_bp_at};

use chrono::{FixedOffset, Months};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};

use lvyue_entity::voucher;

use crate::clock::Timestamp;
use crate::command::Tx;
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{AccountId, HoldId, PartyId, SchemeId, VoucherId};
use crate::ledger::{AccountKind, AccountStatus, NewAccount, get_account, open_account};
use crate::money::Money;
use crate::policy::VoucherRule;
use crate::principal::Role;
use crate::scheduler::{self, JobKind};

/// Most new holders one split transfer may name.
pub const MAX_TRANSFER_PARTS: usize = 20;
/// Longest reference (a purchase contract, a certificate of succession).
pub const MAX_REF_CHARS: usize = 64;
/// Longest reason given for a loss report.
pub const MAX_REASON_CHARS: usize = 200;

string_enum!(
    /// A voucher's life.
    VoucherStatus {
        /// Issued (or received) and whole: nothing redeemed from this number, or all of it
        /// came back.
        Active = "ACTIVE",
        /// Part of the balance was redeemed.
        PartiallyUsed = "PARTIALLY_USED",
        /// Everything was redeemed (a refund of a purchase may bring money back).
        UsedUp = "USED_UP",
        /// Reported lost: the whole balance is frozen until the voucher is reissued.
        Frozen = "FROZEN",
        /// Split among new holders; closed.
        Transferred = "TRANSFERRED",
        /// Passed to an heir; closed.
        Inherited = "INHERITED",
        /// Replaced by a new number after a loss report; closed.
        Reissued = "REISSUED",
        /// Validity ended; the balance went back to the project; closed.
        Expired = "EXPIRED",
        /// Validity ended; the balance was paid to the holder; closed.
        CashedOut = "CASHED_OUT",
    }
);

impl VoucherStatus {
    /// Holds money its holder may use: redeem, transfer (once), report lost.
    pub fn is_usable(self) -> bool {
        matches!(self, VoucherStatus::Active | VoucherStatus::PartiallyUsed)
    }

    /// Closed for good: its money went to successors, the project or the holder.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            VoucherStatus::Transferred
                | VoucherStatus::Inherited
                | VoucherStatus::Reissued
                | VoucherStatus::Expired
                | VoucherStatus::CashedOut
        )
    }
}

/// A voucher as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherRecord {
    pub id: VoucherId,
    pub number: String,
    /// The project sub-account (level 2) it belongs to.
    pub project: AccountId,
    /// Its own sub-account (level 3).
    pub account: AccountId,
    pub scheme: SchemeId,
    pub holder: PartyId,
    /// What the number was created with (issue, the part received, the balance carried over).
    pub face: Money,
    pub balance: Money,
    pub held: Money,
    pub status: VoucherStatus,
    /// False once it came out of a split transfer: it can never be transferred again.
    pub transferable: bool,
    pub parent: Option<VoucherId>,
    /// The first issue of its line (successors keep it).
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub hold: Option<HoldId>,
    pub policy_version: i32,
}

pub(crate) fn record(
    m: voucher::Model,
    balance_fen: i64,
    held_fen: i64,
) -> DomainResult<VoucherRecord> {
    Ok(VoucherRecord {
        id: VoucherId(m.id),
        number: m.number,
        project: AccountId(m.project_account_id),
        account: AccountId(m.account_id),
        scheme: SchemeId(m.scheme_id),
        holder: PartyId(m.holder_id),
        face: Money::from_fen(m.face_fen)?,
        balance: Money::from_fen(balance_fen)?,
        held: Money::from_fen(held_fen)?,
        status: m.status.parse()?,
        transferable: m.transferable,
        parent: m.parent_id.map(VoucherId),
        issued_at: Timestamp(m.issued_at_us),
        expires_at: Timestamp(m.expires_at_us),
        hold: m.hold_id.map(HoldId),
        policy_version: m.policy_version,
    })
}

/// # Errors
/// `NOT_FOUND`.
pub async fn get_voucher<C: ConnectionTrait>(db: &C, id: VoucherId) -> DomainResult<VoucherRecord> {
    let m = voucher::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("voucher", id))?;
    let acc = get_account(db, AccountId(m.account_id)).await?;
    record(m, acc.balance_fen, acc.held.fen())
}

/// The voucher as the principal may act on it: the bank any, a holder its own (another's is
/// not found), nobody else.
pub(crate) async fn voucher_for_holder_or_bank(
    tx: &Tx<'_>,
    id: VoucherId,
) -> DomainResult<VoucherRecord> {
    tx.principal.require_role(&[Role::Bank, Role::Payer])?;
    let v = get_voucher(tx.db(), id).await?;
    if tx.principal.role == Role::Payer && tx.principal.party_id != Some(v.holder) {
        return Err(DomainError::not_found("voucher", id));
    }
    Ok(v)
}

/// The voucher rule of a scheme's policy version.
pub(crate) async fn voucher_rule<C: ConnectionTrait>(
    db: &C,
    scheme: SchemeId,
    version: i32,
) -> DomainResult<VoucherRule> {
    crate::scheme::policy_at(db, scheme, version)
        .await?
        .voucher
        .ok_or_else(|| {
            DomainError::invalid_state(
                format!("scheme {scheme}"),
                "WITHOUT_VOUCHER_RULE",
                "issue or settle housing vouchers",
            )
        })
}

/// `t` plus whole calendar months in China time (the 31st becomes the month's last day).
pub fn plus_months(t: Timestamp, months: u32) -> DomainResult<Timestamp> {
    let china = FixedOffset::east_opt(8 * 3600)
        .ok_or_else(|| DomainError::Invariant("UTC+8 offset".into()))?;
    t.to_utc()
        .with_timezone(&china)
        .checked_add_months(Months::new(months))
        .map(|d| Timestamp(d.timestamp_micros()))
        .ok_or_else(|| DomainError::invalid("months", "the date is out of range"))
}

/// Refuses a reference (contract, certificate) that is empty, too long or hides characters.
pub(crate) fn check_ref(field: &'static str, value: &str) -> DomainResult<String> {
    crate::text::required(field, value, MAX_REF_CHARS)
}

/// Refuses to act on a voucher whose validity has ended (its expiry job may not have run yet).
pub(crate) fn require_valid(
    tx: &Tx<'_>,
    v: &VoucherRecord,
    action: &'static str,
) -> DomainResult<()> {
    if tx.now >= v.expires_at {
        return Err(DomainError::invalid_state(
            format!("voucher {}", v.number),
            "EXPIRED",
            action,
        ));
    }
    Ok(())
}

/// The terms a new voucher number is created with.
pub(crate) struct NewVoucher {
    pub project: AccountId,
    pub scheme: SchemeId,
    pub holder: PartyId,
    pub face: Money,
    pub transferable: bool,
    pub parent: Option<VoucherId>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub policy_version: i32,
}

impl NewVoucher {
    /// A successor of `v` (transfer part, heir, reissue): same project, issue time, expiry and
    /// policy version.
    pub fn successor_of(
        v: &VoucherRecord,
        holder: PartyId,
        face: Money,
        transferable: bool,
    ) -> NewVoucher {
        NewVoucher {
            project: v.project,
            scheme: v.scheme,
            holder,
            face,
            transferable,
            parent: Some(v.id),
            issued_at: v.issued_at,
            expires_at: v.expires_at,
            policy_version: v.policy_version,
        }
    }
}

/// Opens a voucher's sub-account under its project, records it with a new number
/// (`FP` + date + id), and schedules its expiry and its deadline notice. The caller posts
/// the money in.
pub(crate) async fn open_voucher(tx: &Tx<'_>, new: NewVoucher) -> DomainResult<VoucherRecord> {
    let holder =
        crate::party::get_party_of(tx.db(), new.holder, crate::party::PartyKind::Payer).await?;
    let account = open_account(
        tx,
        NewAccount::new(
            format!("房票 {}", holder.display_name(false)),
            AccountKind::Voucher,
        )
        .under(new.project)
        .owned_by(holder.id)
        .in_scheme(new.scheme),
    )
    .await?;
    let row = voucher::ActiveModel {
        number: Set(format!("pending-{}-{}", tx.log_seq, account.id.0)),
        project_account_id: Set(new.project.0),
        account_id: Set(account.id.0),
        scheme_id: Set(new.scheme.0),
        holder_id: Set(holder.id.0),
        face_fen: Set(new.face.positive()?.fen()),
        status: Set(VoucherStatus::Active.as_str().to_owned()),
        transferable: Set(new.transferable),
        parent_id: Set(new.parent.map(|p| p.0)),
        issued_at_us: Set(new.issued_at.0),
        expires_at_us: Set(new.expires_at.0),
        hold_id: Set(None),
        policy_version: Set(new.policy_version),
        ..Default::default()
    }
    .insert(tx.db())
    .await?;
    let id = VoucherId(row.id);
    voucher::ActiveModel {
        id: Set(id.0),
        number: Set(format!(
            "FP{}{:08}",
            tx.now.china_date().format("%Y%m%d"),
            id.0
        )),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    scheduler::schedule(
        tx,
        JobKind::VoucherExpiry,
        id.0,
        new.expires_at,
        expiry_key(id),
    )
    .await?;
    let rule = voucher_rule(tx.db(), new.scheme, new.policy_version).await?;
    if let Some(days) = rule.expiry_notice_days {
        let at = new.expires_at.plus_days(-i64::from(days));
        if at > tx.now {
            scheduler::schedule(tx, JobKind::VoucherExpiryNotice, id.0, at, notice_key(id)).await?;
        }
    }
    get_voucher(tx.db(), id).await
}

pub(crate) fn expiry_key(id: VoucherId) -> String {
    format!("voucher-expiry:{id}")
}

pub(crate) fn notice_key(id: VoucherId) -> String {
    format!("voucher-notice:{id}")
}

/// Sets a voucher's status (and its loss hold).
pub(crate) async fn set_status(
    tx: &Tx<'_>,
    id: VoucherId,
    status: VoucherStatus,
    hold: Option<HoldId>,
) -> DomainResult<()> {
    voucher::ActiveModel {
        id: Set(id.0),
        status: Set(status.as_str().to_owned()),
        hold_id: Set(hold.map(|h| h.0)),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    Ok(())
}

/// Closes a voucher whose money has left it: its status, its sub-account (no posting can
/// reach it again) and its pending jobs.
pub(crate) async fn close_voucher(
    tx: &Tx<'_>,
    v: &VoucherRecord,
    status: VoucherStatus,
) -> DomainResult<()> {
    let acc = get_account(tx.db(), v.account).await?;
    if acc.balance_fen != 0 || !acc.held.is_zero() {
        return Err(DomainError::Invariant(format!(
            "voucher {} closed with {} fen in it",
            v.number, acc.balance_fen
        )));
    }
    set_status(tx, v.id, status, None).await?;
    lvyue_entity::account::ActiveModel {
        id: Set(v.account.0),
        status: Set(AccountStatus::Closed.as_str().to_owned()),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    scheduler::cancel(tx, &expiry_key(v.id)).await?;
    scheduler::cancel(tx, &notice_key(v.id)).await?;
    Ok(())
}

/// An event about a voucher, in its holder's and its scheme's history.
pub(crate) fn voucher_event(
    kind: &'static str,
    v: &VoucherRecord,
    data: serde_json::Value,
) -> NewEvent {
    NewEvent::new(kind, data).payer(v.holder).scheme(v.scheme)
}

/// Vouchers whose purchases may still be refunded into `v`: itself and the predecessors
/// whose money passed to it whole (reissue, inheritance).
pub(crate) async fn line_of<C: ConnectionTrait>(
    db: &C,
    v: &VoucherRecord,
) -> DomainResult<Vec<VoucherId>> {
    let mut line = vec![v.id];
    let mut parent = v.parent;
    while let Some(p) = parent {
        let row = voucher::Entity::find_by_id(p.0)
            .one(db)
            .await?
            .ok_or_else(|| DomainError::Invariant(format!("voucher {p} is gone")))?;
        let status: VoucherStatus = row.status.parse()?;
        if !matches!(status, VoucherStatus::Reissued | VoucherStatus::Inherited) {
            break;
        }
        line.push(p);
        parent = row.parent_id.map(VoucherId);
    }
    Ok(line)
}

/// The single successor of a voucher closed by reissue or inheritance.
pub(crate) async fn successor_of<C: ConnectionTrait>(
    db: &C,
    v: VoucherId,
) -> DomainResult<Option<VoucherId>> {
    let children = voucher::Entity::find()
        .filter(voucher::Column::ParentId.eq(v.0))
        .all(db)
        .await?;
    Ok(match children.as_slice() {
        [only] => Some(VoucherId(only.id)),
        _ => None,
    })
}

#[cfg(test)]
mod tests;
