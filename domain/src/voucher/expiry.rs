//! Expiry and cash-out: when a voucher's validity ends, its balance is paid to the holder
//! (cash-out, when the policy says so) or goes back to its project; a DEADLINE_NEAR alert is
//! raised the policy's `expiry_notice_days` before. Both fire from the scheduler.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    VoucherRecord, VoucherStatus, close_voucher, get_voucher, voucher_event, voucher_rule,
};
use crate::alert::{AlertKind, NewAlert, Severity};
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::gate::{self, Outflow};
use crate::ids::VoucherId;
use crate::ledger::{EntryKind, HoldStatus, post_cleared, release_hold, system, transfer};
use crate::money::Money;
use crate::principal::{Industry, Role};
use crate::scheme::get_scheme;

/// The outside account cash-outs are paid to (the holders' own bank accounts).
pub const CASH_OUT: &str = "VOUCHER_CASH_OUT";

/// Ends a voucher whose validity has ended (the scheduler; the bank by hand).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpireVoucher {
    pub voucher: VoucherId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherExpiryOutcome {
    pub voucher: VoucherRecord,
    /// What left the voucher.
    pub amount: Money,
    /// Paid to the holder (true) or back to the project (false).
    pub cashed_out: bool,
}

impl Command for ExpireVoucher {
    type Output = VoucherExpiryOutcome;
    const NAME: &'static str = "expireVoucher";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<VoucherExpiryOutcome> {
        tx.principal.require_role(&[Role::Bank])?;
        expire(tx, self.voucher).await
    }
}

/// The expiry job: ends the voucher unless it was already closed (transferred, inherited,
/// reissued — their successors carry their own jobs).
pub(crate) async fn expire_due(tx: &mut Tx<'_>, id: VoucherId) -> DomainResult<()> {
    if get_voucher(tx.db(), id).await?.status.is_closed() {
        return Ok(());
    }
    expire(tx, id).await.map(|_| ())
}

async fn expire(tx: &mut Tx<'_>, id: VoucherId) -> DomainResult<VoucherExpiryOutcome> {
    let v = get_voucher(tx.db(), id).await?;
    if v.status.is_closed() {
        return Err(DomainError::invalid_state(
            format!("voucher {}", v.number),
            v.status.as_str(),
            "expire",
        ));
    }
    if tx.now < v.expires_at {
        return Err(DomainError::invalid_state(
            format!("voucher {}", v.number),
            "VALID",
            "expire before its validity ends",
        ));
    }
    // A loss report protects the number, not the money from its holder: the cash-out goes to
    // the holder's own account, and a return to the project to nobody's.
    if let Some(h) = v.hold.filter(|_| v.status == VoucherStatus::Frozen) {
        release_hold(tx, h, HoldStatus::Expired).await?;
    }
    let v = get_voucher(tx.db(), id).await?;
    if !v.held.is_zero() {
        return Err(DomainError::invalid_state(
            format!("voucher {}", v.number),
            "HELD",
            "expire while money on it is frozen",
        ));
    }
    let rule = voucher_rule(tx.db(), v.scheme, v.policy_version).await?;
    let cash_out = rule.cash_out_on_expiry && !v.balance.is_zero();
    let (status, destination) = if cash_out {
        (
            VoucherStatus::CashedOut,
            system::external(tx, CASH_OUT).await?,
        )
    } else {
        (VoucherStatus::Expired, v.project)
    };
    let entry = if v.balance.is_zero() {
        None
    } else {
        Some(
            post_cleared(
                tx,
                gate::clear(Outflow::VoucherExpiry, None, v.account, v.balance)?,
                if cash_out {
                    EntryKind::Payout
                } else {
                    EntryKind::Transfer
                },
                &format!("voucher {} expired", v.number),
                &transfer(v.account, destination, v.balance),
            )
            .await?,
        )
    };
    close_voucher(tx, &v, status).await?;
    tx.emit(voucher_event(
        if cash_out {
            "voucher.cashed_out"
        } else {
            "voucher.expired"
        },
        &v,
        json!({
            "voucher_id": v.id,
            "number": v.number,
            "amount": v.balance,
            "to": if cash_out { "HOLDER" } else { "PROJECT" },
            "destination_account_id": destination,
            "entry_id": entry.map(|e| e.id),
            "expires_at": v.expires_at.rfc3339(),
        }),
    ));
    Ok(VoucherExpiryOutcome {
        voucher: get_voucher(tx.db(), id).await?,
        amount: v.balance,
        cashed_out: cash_out,
    })
}

/// The notice job: a voucher with money left is about to expire — the bureau and the bank
/// hear of it (docs/domain.md: "deadlines near (permit or voucher expiry)").
pub(crate) async fn expiry_notice(tx: &mut Tx<'_>, id: VoucherId) -> DomainResult<()> {
    let v = get_voucher(tx.db(), id).await?;
    if v.status.is_closed() || v.balance.is_zero() || tx.now >= v.expires_at {
        return Ok(());
    }
    let scheme = get_scheme(tx.db(), v.scheme).await?;
    let mut alert = NewAlert::new(
        AlertKind::DeadlineNear,
        Severity::Warning,
        format!(
            "housing voucher {} with {} unused expires on {}",
            v.number,
            v.balance,
            v.expires_at.china_date()
        ),
    )
    .details(json!({ "voucher_id": v.id, "number": v.number, "balance": v.balance, "expires_at": v.expires_at.rfc3339(), "status": v.status }))
    .dedupe(format!("voucher-deadline:{}", v.id));
    alert.scheme = Some(scheme.id);
    alert.region = Some(scheme.region.as_str().to_owned());
    alert.industry = Some(Industry::HousingVoucher);
    crate::alert::raise(tx, alert).await?;
    Ok(())
}
