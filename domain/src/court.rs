//! Judicial controls (冻结 / 解冻 / 扣划): a court freezes an amount of an order's escrow under a
//! case number, with a priority and an expiry; the freeze blocks releases and refunds of the
//! frozen money but not incoming money; a deduction moves frozen money to the court's
//! designated account. The bank executes what the court's principal instructs.

use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::escrow_order;

use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::gate::{self, Outflow};
use crate::ids::{HoldId, OrderId, PartyId};
use crate::ledger::{
    EntryKind, HoldKind, HoldRecord, HoldStatus, NewHold, consume_hold, get_hold, place_hold,
    post_cleared, release_hold, system, transfer,
};
use crate::money::Money;
use crate::order_record::get_order;
use crate::principal::{Principal, Role};
use crate::scheduler::{self, JobKind};

/// Longest case number (e.g. `(2026)苏0102执123号`).
pub const MAX_CASE_NO_CHARS: usize = 64;

/// A case number as Chinese courts write it: `(2026)苏0102执1234号` — the year in half- or
/// full-width brackets, the province's one-character abbreviation, the court's code (2 to 6
/// digits), the case type (1 to 4 characters: 执, 民初, 执保, 刑终…), the number, and 号.
/// Trimmed; anything else is refused, so every hold and evidence read names a real case.
///
/// # Errors
/// `VALIDATION` naming the expected form.
pub fn check_case_no(case_no: &str) -> DomainResult<String> {
    let v = crate::text::required("caseNo", case_no, MAX_CASE_NO_CHARS)?;
    if is_case_no(&v) {
        Ok(v)
    } else {
        Err(DomainError::invalid(
            "caseNo",
            "must be a case number such as (2026)苏0102执1234号",
        ))
    }
}

fn is_case_no(s: &str) -> bool {
    let mut c = s.chars().peekable();
    let han = |ch: char| ('\u{4E00}'..='\u{9FFF}').contains(&ch);
    let mut take = |pred: &dyn Fn(char) -> bool, min: usize, max: usize| -> bool {
        let mut n = 0;
        while n < max && c.peek().is_some_and(|ch| pred(*ch)) {
            c.next();
            n += 1;
        }
        n >= min
    };
    take(&|ch| matches!(ch, '(' | '（'), 1, 1)
        && take(&|ch| ch.is_ascii_digit(), 4, 4)
        && take(&|ch| matches!(ch, ')' | '）'), 1, 1)
        && take(&|ch| han(ch), 1, 1)
        && take(&|ch| ch.is_ascii_digit(), 2, 6)
        && take(&|ch| han(ch) && ch != '号', 1, 4)
        && take(&|ch| ch.is_ascii_digit(), 1, 12)
        && take(&|ch| ch == '号', 1, 1)
        && c.next().is_none()
}

/// The court a principal acts for: a court principal acts for its own court; the bank names one.
pub(crate) fn acting_court(p: &Principal, named: Option<PartyId>) -> DomainResult<PartyId> {
    match p.role {
        Role::Court => p.own_party(),
        Role::Bank => named.ok_or_else(|| {
            DomainError::invalid(
                "court",
                "the bank must name the court whose order it executes",
            )
        }),
        _ => Err(DomainError::Forbidden(
            "only a court, or the bank executing a court order, may do this".into(),
        )),
    }
}

/// Freezes an amount of an order's escrow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CourtFreeze {
    pub order: OrderId,
    pub amount: Money,
    pub case_no: String,
    pub priority: i32,
    pub expires_at: Option<Timestamp>,
    /// When the bank executes on a court's behalf.
    pub court: Option<PartyId>,
}

impl Command for CourtFreeze {
    type Output = HoldRecord;
    const NAME: &'static str = "courtFreeze";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<HoldRecord> {
        let court = acting_court(tx.principal, self.court)?;
        crate::party::get_party_of(tx.db(), court, crate::party::PartyKind::Court).await?;
        let case_no = check_case_no(&self.case_no)?;
        if self.expires_at.is_some_and(|t| t <= tx.now) {
            return Err(DomainError::invalid("expiresAt", "must be in the future"));
        }
        let order = get_order(tx.db(), self.order).await?;
        let h = place_hold(
            tx,
            NewHold {
                account: order.escrow_account,
                kind: HoldKind::CourtFreeze,
                amount: self.amount,
                case_no: Some(case_no.clone()),
                court: Some(court),
                priority: self.priority,
                order: Some(order.id),
                reason: format!("judicial freeze {case_no}"),
                expires_at: self.expires_at,
            },
        )
        .await?;
        if let Some(t) = self.expires_at {
            scheduler::schedule(
                tx,
                JobKind::HoldExpiry,
                h.id.0,
                t,
                scheduler::hold_key(h.id),
            )
            .await?;
        }
        tx.emit(
            NewEvent::new(
                "court.freeze",
                json!({ "hold_id": h.id, "court_id": court, "case_no": case_no, "amount": h.amount, "priority": h.priority, "expires_at": h.expires_at.map(|t| t.rfc3339()) }),
            )
            .order(order.id)
            .merchant(order.merchant)
            .scheme(order.scheme),
        );
        Ok(h)
    }
}

/// Lifts what remains of a freeze.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CourtUnfreeze {
    pub hold: HoldId,
    pub court: Option<PartyId>,
}

impl Command for CourtUnfreeze {
    type Output = HoldRecord;
    const NAME: &'static str = "courtUnfreeze";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<HoldRecord> {
        let court = acting_court(tx.principal, self.court)?;
        let h = court_hold(tx, self.hold, court).await?;
        let released = release_hold(tx, h.id, HoldStatus::Released).await?;
        scheduler::cancel(tx, &scheduler::hold_key(h.id)).await?;
        emit_on_order(tx, &h, "court.unfreeze", json!({ "hold_id": h.id, "court_id": court, "case_no": h.case_no, "amount": h.remaining })).await?;
        Ok(released)
    }
}

/// Deducts frozen money to the court's designated account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CourtDeduct {
    pub hold: HoldId,
    pub amount: Money,
    pub court: Option<PartyId>,
}

impl Command for CourtDeduct {
    type Output = HoldRecord;
    const NAME: &'static str = "courtDeduct";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<HoldRecord> {
        let court = acting_court(tx.principal, self.court)?;
        let h = court_hold(tx, self.hold, court).await?;
        let after = consume_hold(tx, h.id, self.amount).await?;
        let court_account = system::court_account(tx, court).await?;
        let clearance = gate::clear(Outflow::CourtDeduction, h.order, h.account, self.amount)?;
        let entry = post_cleared(
            tx,
            clearance,
            EntryKind::Deduct,
            &format!("deduction {}", h.case_no.clone().unwrap_or_default()),
            &transfer(h.account, court_account, self.amount),
        )
        .await?;
        if let Some(order_id) = h.order {
            let o = get_order(tx.db(), order_id).await?;
            escrow_order::ActiveModel {
                id: Set(o.id.0),
                deducted_fen: Set(o.deducted.checked_add(self.amount)?.fen()),
                ..Default::default()
            }
            .update(tx.db())
            .await?;
            crate::risk::after_deduction(tx, o.id).await?;
        }
        if after.status != HoldStatus::Active {
            scheduler::cancel(tx, &scheduler::hold_key(h.id)).await?;
        }
        emit_on_order(tx, &h, "court.deduct", json!({ "hold_id": h.id, "court_id": court, "case_no": h.case_no, "amount": self.amount, "entry_id": entry.id, "court_account_id": court_account })).await?;
        Ok(after)
    }
}

pub(crate) async fn court_hold(
    tx: &Tx<'_>,
    id: HoldId,
    court: PartyId,
) -> DomainResult<HoldRecord> {
    let h = get_hold(tx.db(), id).await?;
    // Another court's freeze is not found, not forbidden: ids reveal nothing.
    if h.kind != HoldKind::CourtFreeze || h.court != Some(court) {
        return Err(DomainError::not_found("hold", id));
    }
    Ok(h)
}

async fn emit_on_order(
    tx: &mut Tx<'_>,
    h: &HoldRecord,
    kind: &'static str,
    data: serde_json::Value,
) -> DomainResult<()> {
    let mut e = NewEvent::new(kind, data);
    if let Some(o) = h.order {
        let order = get_order(tx.db(), o).await?;
        e = e
            .order(order.id)
            .merchant(order.merchant)
            .scheme(order.scheme);
    }
    tx.emit(e);
    Ok(())
}

/// A freeze reached its expiry: what remains is released (fired by the scheduler).
pub(crate) async fn expire_hold(tx: &mut Tx<'_>, id: HoldId) -> DomainResult<()> {
    let h = get_hold(tx.db(), id).await?;
    if h.status != HoldStatus::Active {
        return Ok(());
    }
    release_hold(tx, id, HoldStatus::Expired).await?;
    emit_on_order(
        tx,
        &h,
        "hold.expired",
        json!({ "hold_id": h.id, "case_no": h.case_no, "amount": h.remaining }),
    )
    .await
}

#[cfg(test)]
mod case_number_tests {
    use super::is_case_no;

    #[test]
    fn case_numbers_have_the_courts_form() {
        for ok in [
            "(2026)苏0102执1234号",
            "（2025）京0105民初12号",
            "(2026)沪01执保7号",
            "(2024)粤03刑终100号",
        ] {
            assert!(is_case_no(ok), "{ok}");
        }
        for bad in [
            "x",
            "",
            "(2026)苏0102执号",
            "(26)苏0102执1号",
            "(2026)0102执1号",
            "(2026)苏0102执1",
            "(2026)苏0102执1号 ",
            "(2026)苏0102执1-2号",
            "(2026)苏0102执行案件很多字1号",
        ] {
            assert!(!is_case_no(bad), "{bad}");
        }
    }
}
