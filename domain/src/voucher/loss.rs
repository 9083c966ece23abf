//! Loss (挂失) and reissue (补发): a lost voucher's whole balance is frozen at once, and the
//! bank, once the housing bureau has checked the holder's evidence, moves it to a new number
//! with the same balance and expiry.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    MAX_REASON_CHARS, NewVoucher, VoucherRecord, VoucherStatus, close_voucher, get_voucher,
    open_voucher, require_valid, set_status, voucher_event, voucher_for_holder_or_bank,
};
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::gate::{self, Outflow};
use crate::ids::VoucherId;
use crate::ledger::{
    EntryKind, HoldKind, NewHold, consume_hold, get_hold, place_hold, post_cleared, transfer,
};
use crate::money::Money;
use crate::principal::Role;

/// Reports a voucher lost: a LOSS_FREEZE hold on its whole balance, so nobody holding the
/// number can redeem or transfer it (the holder, or the bank at its counter).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportVoucherLoss {
    pub voucher: VoucherId,
    pub reason: String,
}

impl Command for ReportVoucherLoss {
    type Output = VoucherRecord;
    const NAME: &'static str = "reportVoucherLoss";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<VoucherRecord> {
        let v = voucher_for_holder_or_bank(tx, self.voucher).await?;
        let reason = crate::text::optional("reason", &self.reason, MAX_REASON_CHARS)?;
        let reason = reason.as_str();
        if !v.status.is_usable() {
            return Err(DomainError::invalid_state(
                format!("voucher {}", v.number),
                v.status.as_str(),
                "be reported lost",
            ));
        }
        require_valid(tx, &v, "be reported lost")?;
        let available = v.balance.checked_sub(v.held)?;
        if available.is_zero() {
            return Err(DomainError::invalid_state(
                format!("voucher {}", v.number),
                "NOTHING_AVAILABLE",
                "be reported lost",
            ));
        }
        let hold = place_hold(
            tx,
            NewHold {
                account: v.account,
                kind: HoldKind::LossFreeze,
                amount: available,
                case_no: None,
                court: None,
                priority: 0,
                order: None,
                reason: format!("voucher {} reported lost", v.number),
                expires_at: None,
            },
        )
        .await?;
        set_status(tx, v.id, VoucherStatus::Frozen, Some(hold.id)).await?;
        let v = get_voucher(tx.db(), v.id).await?;
        tx.emit(voucher_event(
            "voucher.loss_reported",
            &v,
            json!({ "voucher_id": v.id, "number": v.number, "hold_id": hold.id, "amount": hold.amount, "reason": reason, "by": tx.principal.role }),
        ));
        Ok(v)
    }
}

/// Reissues a voucher reported lost under a new number: the same holder, balance, expiry,
/// issue time and transferability; the old number is closed and its hold consumed (the bank,
/// after the housing bureau checked the evidence).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReissueVoucher {
    pub voucher: VoucherId,
}

impl Command for ReissueVoucher {
    type Output = VoucherRecord;
    const NAME: &'static str = "reissueVoucher";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<VoucherRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let v = get_voucher(tx.db(), self.voucher).await?;
        let Some(hold) = v.hold.filter(|_| v.status == VoucherStatus::Frozen) else {
            return Err(DomainError::invalid_state(
                format!("voucher {}", v.number),
                v.status.as_str(),
                "be reissued before it is reported lost",
            ));
        };
        require_valid(tx, &v, "be reissued")?;
        let h = get_hold(tx.db(), hold).await?;
        consume_hold(tx, hold, h.remaining).await?;
        let balance: Money = get_voucher(tx.db(), v.id).await?.balance;
        let new = open_voucher(
            tx,
            NewVoucher::successor_of(&v, v.holder, balance, v.transferable),
        )
        .await?;
        let clearance = gate::clear(Outflow::VoucherTransfer, None, v.account, balance)?;
        let entry = post_cleared(
            tx,
            clearance,
            EntryKind::Transfer,
            &format!("voucher {} reissued as {}", v.number, new.number),
            &transfer(v.account, new.account, balance),
        )
        .await?;
        close_voucher(tx, &v, VoucherStatus::Reissued).await?;
        let new = get_voucher(tx.db(), new.id).await?;
        tx.emit(voucher_event(
            "voucher.reissued",
            &v,
            json!({
                "voucher_id": v.id,
                "number": v.number,
                "to_voucher_id": new.id,
                "to_number": new.number,
                "amount": balance,
                "hold_id": hold,
                "expires_at": new.expires_at.rfc3339(),
                "entry_id": entry.id,
            }),
        ));
        Ok(new)
    }
}
