//! Enforcement against a debtor (执行查控): a court finds every account a party holds at the
//! bank — by its USCC, or by its ID number through the keyed hash, never by decrypting — under
//! a case number, and freezes (冻结), renews (续冻), deducts (扣划) or unfreezes (解冻) them
//! (docs/domain.md, "Courts").
//!
//! What a court reaches is the debtor's own money: a merchant's payable money, a customer's
//! deposits and vouchers (a merchant's settlement account is shown, for the court to freeze
//! it at its bank). A merchant's escrow accounts hold its payers' undelivered
//! prepayments, not the merchant's money, and are never shown as the merchant's; a payer's
//! prepayment in an order's escrow is shown when the payer is the debtor, and frozen with the
//! order freeze of [`crate::court`]. A freeze larger than what the account has waits for the
//! rest (轮候冻结): later freezes queue behind earlier ones and are filled, in order, as money
//! arrives (the ledger fills them in the transaction that credits the account). A freeze
//! lapses at its term unless renewed; the bank is alerted before it does.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{account, escrow_order, hold, party};

use crate::Escrow;
use crate::access::RecordAccess;
use crate::alert::{AlertKind, NewAlert, Severity};
use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::court::{acting_court, check_case_no, court_hold};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{AccountId, HoldId, OrderId, PartyId};
use crate::ledger::{
    AccountKind, AccountRecord, HoldKind, HoldRecord, HoldStatus, NewHold, active_holds,
    get_account, place_queued_hold,
};
use crate::money::Money;
use crate::party::{PartyKind, PartyRecord};
use crate::pii::PiiKind;
use crate::principal::{Principal, Role};
use crate::scheduler::{self, JobKind};

/// How long before a freeze lapses the bank is alerted to ask the court about renewal.
pub const LAPSE_NOTICE_DAYS: i64 = 15;

/// One account of a debtor, with what is frozen on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DebtorAccount {
    pub account: AccountRecord,
    /// For an order's escrow: the order whose payer (the debtor) prepaid it.
    pub order: Option<OrderId>,
    /// Active holds, in rank order (the order in which they are filled and paid).
    pub holds: Vec<HoldRecord>,
}

/// A debtor and everything it holds at the bank.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Debtor {
    pub party: PartyRecord,
    pub accounts: Vec<DebtorAccount>,
}

/// Who the court is looking for.
#[derive(Debug, Clone)]
pub enum DebtorKey<'a> {
    /// A unified social credit code (统一社会信用代码).
    Uscc(&'a str),
    /// A resident identity number, matched through its keyed hash.
    IdNumber(&'a str),
}

/// Kinds of a party's own accounts that hold its money at the bank: what a court freezes here.
fn reachable(kind: AccountKind) -> bool {
    matches!(
        kind,
        AccountKind::Payable | AccountKind::Deposit | AccountKind::Voucher
    )
}

/// Kinds of a party's own accounts a lookup shows: its money here, and its settlement account
/// (the merchant's own bank account that payouts go to, outside escrow: its balance is what
/// went out, negative; money there is frozen in the core banking system, not here).
fn shown(kind: AccountKind) -> bool {
    reachable(kind) || kind == AccountKind::External
}

/// Finds a debtor and its accounts under a case number. The lookup is recorded in the log
/// before anything is answered, found or not.
///
/// # Errors
/// `FORBIDDEN` for anyone but a court or the bank; `VALIDATION` for a malformed case number;
/// `NOT_FOUND` when no party has that USCC or ID number.
pub async fn find_debtor(
    escrow: &Escrow,
    who: &Principal,
    case_no: &str,
    key: DebtorKey<'_>,
) -> DomainResult<Debtor> {
    who.require_role(&[Role::Court, Role::Bank])?;
    let case_no = check_case_no(case_no)?;
    let db = escrow.db();
    let found = match key {
        DebtorKey::Uscc(u) => {
            party::Entity::find()
                .filter(party::Column::Uscc.eq(u.trim()))
                .one(db)
                .await?
        }
        DebtorKey::IdNumber(id) => {
            let index = escrow
                .vault()
                .blind_index(PiiKind::IdNumber, &id.trim().to_uppercase());
            party::Entity::find()
                .filter(party::Column::IdNumberHash.eq(index))
                .one(db)
                .await?
        }
    };
    escrow
        .execute(
            who,
            None,
            &RecordAccess {
                operation: "debtorLookup".into(),
                asked: vec![match key {
                    DebtorKey::Uscc(u) => format!("debtor(uscc: {u:?})"),
                    // The number itself stays out of the log: only that one was asked.
                    DebtorKey::IdNumber(_) => "debtor(idNumber)".into(),
                }],
                objects: found
                    .iter()
                    .map(|p| format!("party pty_{}", p.id))
                    .collect(),
                case_no: Some(case_no.clone()),
                merchant: found
                    .as_ref()
                    .filter(|p| p.kind == PartyKind::Merchant.as_str())
                    .map(|p| PartyId(p.id)),
                ..RecordAccess::default()
            },
        )
        .await?;
    let party = PartyRecord::try_from(
        found.ok_or_else(|| DomainError::not_found("debtor", "with that identifier"))?,
    )?;
    let mut accounts = Vec::new();
    let own = account::Entity::find()
        .filter(account::Column::OwnerId.eq(party.id.0))
        .order_by_asc(account::Column::Id)
        .all(db)
        .await?;
    for a in own {
        let a = AccountRecord::try_from(a)?;
        if shown(a.kind) {
            accounts.push(with_holds(db, a, None).await?);
        }
    }
    let prepaid = escrow_order::Entity::find()
        .filter(escrow_order::Column::PayerId.eq(party.id.0))
        .order_by_asc(escrow_order::Column::Id)
        .all(db)
        .await?;
    for o in prepaid {
        let a = get_account(db, AccountId(o.escrow_account_id)).await?;
        accounts.push(with_holds(db, a, Some(OrderId(o.id))).await?);
    }
    Ok(Debtor { party, accounts })
}

async fn with_holds<C: ConnectionTrait>(
    db: &C,
    account: AccountRecord,
    order: Option<OrderId>,
) -> DomainResult<DebtorAccount> {
    Ok(DebtorAccount {
        holds: active_holds(db, account.id).await?,
        account,
        order,
    })
}

/// Freezes an amount of a debtor's account under a case number: what the account has
/// available now is frozen at once, the rest when money arrives, after any earlier freeze.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CourtFreezeAccount {
    pub account: AccountId,
    pub amount: Money,
    pub case_no: String,
    pub priority: i32,
    /// The freeze's term: it lapses then unless renewed.
    pub expires_at: Timestamp,
    /// When the bank executes on a court's behalf.
    pub court: Option<PartyId>,
}

impl Command for CourtFreezeAccount {
    type Output = HoldRecord;
    const NAME: &'static str = "courtFreezeAccount";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<HoldRecord> {
        let court = acting_court(tx.principal, self.court)?;
        crate::party::get_party_of(tx.db(), court, PartyKind::Court).await?;
        let case_no = check_case_no(&self.case_no)?;
        if self.expires_at <= tx.now {
            return Err(DomainError::invalid("expiresAt", "must be in the future"));
        }
        let acc = get_account(tx.db(), self.account).await?;
        let Some(owner) = acc.owner.filter(|_| reachable(acc.kind)) else {
            return Err(if acc.kind == AccountKind::Escrow {
                DomainError::invalid(
                    "account",
                    "an order's escrow is its payer's prepayment: freeze it with courtFreeze(order:) when the payer is the debtor",
                )
            } else if acc.kind == AccountKind::External {
                DomainError::invalid(
                    "account",
                    "a settlement account is the merchant's own bank account outside escrow: its money is frozen by that account's bank",
                )
            } else {
                DomainError::invalid(
                    "account",
                    "only a debtor's own money is frozen here: payable, deposit or voucher accounts",
                )
            });
        };
        let h = place_queued_hold(
            tx,
            NewHold {
                account: acc.id,
                kind: HoldKind::CourtFreeze,
                amount: self.amount,
                case_no: Some(case_no.clone()),
                court: Some(court),
                priority: self.priority,
                order: None,
                reason: format!("judicial freeze {case_no}"),
                expires_at: Some(self.expires_at),
            },
        )
        .await?;
        scheduler::schedule(
            tx,
            JobKind::HoldExpiry,
            h.id.0,
            self.expires_at,
            scheduler::hold_key(h.id),
        )
        .await?;
        schedule_lapse_notice(tx, h.id, self.expires_at).await?;
        let e = owner_event(
            tx,
            "court.freeze",
            owner,
            json!({ "hold_id": h.id, "court_id": court, "case_no": case_no, "account_id": acc.id, "amount": h.amount, "frozen": h.remaining, "queued": h.waiting, "priority": h.priority, "expires_at": self.expires_at.rfc3339() }),
        )
        .await?;
        tx.emit(e);
        Ok(h)
    }
}

/// Extends a freeze's term (续冻) before it lapses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CourtRenewFreeze {
    pub hold: HoldId,
    pub expires_at: Timestamp,
    pub court: Option<PartyId>,
}

impl Command for CourtRenewFreeze {
    type Output = HoldRecord;
    const NAME: &'static str = "courtRenewFreeze";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<HoldRecord> {
        let court = acting_court(tx.principal, self.court)?;
        let h = court_hold(tx, self.hold, court).await?;
        if h.status != HoldStatus::Active {
            return Err(DomainError::invalid_state(
                format!("hold {}", h.id),
                h.status.as_str(),
                "renew",
            ));
        }
        if h.expires_at.is_none_or(|t| self.expires_at <= t) {
            return Err(DomainError::invalid(
                "expiresAt",
                "must be later than the freeze's present term",
            ));
        }
        hold::Entity::update_many()
            .col_expr(
                hold::Column::ExpiresAtUs,
                sea_orm::sea_query::Expr::value(self.expires_at.0),
            )
            .filter(hold::Column::Id.eq(h.id.0))
            .exec(tx.db())
            .await?;
        scheduler::reschedule(tx, &scheduler::hold_key(h.id), self.expires_at).await?;
        schedule_lapse_notice(tx, h.id, self.expires_at).await?;
        let acc = get_account(tx.db(), h.account).await?;
        let data = json!({ "hold_id": h.id, "court_id": court, "case_no": h.case_no, "expires_at": self.expires_at.rfc3339(), "was": h.expires_at.map(|t| t.rfc3339()) });
        let e = match (h.order, acc.owner) {
            (None, Some(owner)) => owner_event(tx, "court.renew", owner, data).await?,
            (Some(o), _) => {
                let o = crate::order_record::get_order(tx.db(), o).await?;
                NewEvent::new("court.renew", data)
                    .order(o.id)
                    .merchant(o.merchant)
                    .scheme(o.scheme)
            }
            (None, None) => NewEvent::new("court.renew", data),
        };
        tx.emit(e);
        crate::ledger::get_hold(tx.db(), h.id).await
    }
}

async fn schedule_lapse_notice(tx: &Tx<'_>, h: HoldId, expires_at: Timestamp) -> DomainResult<()> {
    let notice = expires_at.plus_days(-LAPSE_NOTICE_DAYS);
    if notice > tx.now {
        // One notice per term: a renewed freeze gets a notice for its new term.
        scheduler::schedule(
            tx,
            JobKind::FreezeLapseNotice,
            h.0,
            notice,
            format!("hold-lapse:{h}:{}", expires_at.0),
        )
        .await?;
    }
    Ok(())
}

/// A freeze's term ends soon: the bank is alerted, so that the court can be asked to renew
/// (fired by the scheduler; nothing when the freeze has ended or was renewed meanwhile).
pub(crate) async fn lapse_notice(tx: &mut Tx<'_>, id: HoldId) -> DomainResult<()> {
    let h = crate::ledger::get_hold(tx.db(), id).await?;
    let Some(expires_at) = h.expires_at else {
        return Ok(());
    };
    if h.status != HoldStatus::Active || expires_at.plus_days(-LAPSE_NOTICE_DAYS) > tx.now {
        return Ok(());
    }
    let acc = get_account(tx.db(), h.account).await?;
    let mut alert = NewAlert::new(
        AlertKind::FreezeLapsing,
        Severity::Warning,
        format!(
            "the judicial freeze {} on account {} ({} frozen, {} queued) lapses on {} unless the court renews it",
            h.case_no.clone().unwrap_or_default(),
            acc.number,
            h.remaining,
            h.waiting,
            expires_at.china_date()
        ),
    )
    .details(json!({ "hold_id": h.id, "case_no": h.case_no, "account_id": acc.id, "expires_at": expires_at.rfc3339() }))
    .dedupe(format!("freeze-lapsing:{}:{}", h.id, expires_at.0));
    if let Some(owner) = acc.owner {
        let p = crate::party::get_party(tx.db(), owner).await?;
        if p.kind == PartyKind::Merchant {
            alert = alert.about_merchant(&p);
        }
    }
    if crate::alert::raise(tx, alert).await?.is_none() {
        tx.emit(NewEvent::new(
            "court.freeze_lapsing",
            json!({ "hold_id": h.id, "expires_at": expires_at.rfc3339() }),
        ));
    }
    Ok(())
}

/// An event about a debtor's account, filed under its owner (so that a merchant's history and
/// its regulators see it).
async fn owner_event(
    tx: &Tx<'_>,
    kind: &'static str,
    owner: PartyId,
    data: serde_json::Value,
) -> DomainResult<NewEvent> {
    let p = crate::party::get_party(tx.db(), owner).await?;
    let e = NewEvent::new(kind, data);
    Ok(match p.kind {
        PartyKind::Merchant => e.merchant(owner),
        PartyKind::Payer => e.payer(owner),
        _ => e,
    })
}

/// The active court freezes of `court` under `case_no` on `account`, in rank order.
///
/// # Errors
/// Database errors.
pub async fn freezes_of_case<C: ConnectionTrait>(
    db: &C,
    court: PartyId,
    case_no: &str,
    account: AccountId,
) -> DomainResult<Vec<HoldRecord>> {
    let mut holds = active_holds(db, account).await?;
    holds.retain(|h| {
        h.kind == HoldKind::CourtFreeze
            && h.court == Some(court)
            && h.case_no.as_deref() == Some(case_no)
    });
    Ok(holds)
}

/// Deducts under a case number from a debtor's account (扣划), to the court's account: from
/// this court's freezes of that case on the account, in rank order. The clerk names the case
/// and the account, as a ruling does, not the bank's hold ids.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CourtDeductFrozen {
    pub account: AccountId,
    pub case_no: String,
    pub amount: Money,
    pub court: Option<PartyId>,
}

impl Command for CourtDeductFrozen {
    type Output = Vec<HoldRecord>;
    const NAME: &'static str = "courtDeductFrozen";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<Vec<HoldRecord>> {
        let court = acting_court(tx.principal, self.court)?;
        let case_no = check_case_no(&self.case_no)?;
        let amount = self.amount.positive()?;
        let freezes = freezes_of_case(tx.db(), court, &case_no, self.account).await?;
        if freezes.is_empty() {
            return Err(DomainError::not_found(
                "freeze",
                format!("under {case_no} on account {}", self.account),
            ));
        }
        let frozen = freezes
            .iter()
            .try_fold(Money::ZERO, |sum, h| sum.checked_add(h.remaining))?;
        if amount > frozen {
            return Err(DomainError::invalid(
                "amount",
                format!("only {frozen} is frozen under {case_no} on this account"),
            ));
        }
        let mut left = amount;
        let mut after = Vec::new();
        for h in freezes {
            if left.is_zero() {
                break;
            }
            let take = Ord::min(left, h.remaining);
            if take.is_zero() {
                continue;
            }
            let deduct = crate::court::CourtDeduct {
                hold: h.id,
                amount: take,
                court: self.court,
            };
            after.push(deduct.run(tx).await?);
            left = left.checked_sub(take)?;
        }
        Ok(after)
    }
}
