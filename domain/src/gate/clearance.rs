//! The clearance an outflow carries to the ledger: which path it is, for which order, and the
//! most it may take from each supervised account. Only the gate makes one (its constructor is
//! private to [`crate::gate`]); the ledger refuses any posting that takes money from escrow, a
//! payable, a deposit, a voucher or a refundable balance without one that covers it.
//!
//! This file imports nothing but ids and money, so the ledger can name the type without
//! depending on the gate's checks.

use crate::enums::string_enum;
use crate::ids::{AccountId, OrderId};
use crate::money::Money;

string_enum!(
    /// Every way money leaves supervised accounts (docs/design.md, "The release gate").
    Outflow {
        /// A milestone's tranche to the merchant (and, on a platform order, its sub-merchants).
        Release = "RELEASE",
        /// A prepaid card's use: exactly its amount to the issuer.
        Usage = "USAGE",
        /// Money back to the payer by the original route (whole, partial, closing down).
        Refund = "REFUND",
        /// Released money to the merchant's own settlement account.
        Payout = "PAYOUT",
        /// Released money to many workers at once (flexible-employment payroll).
        BatchPayout = "BATCH_PAYOUT",
        /// A canteen's approved payment to a food supplier.
        PurchasePayment = "PURCHASE_PAYMENT",
        /// A medical register's receipt refunded to the patient.
        MedicalRefund = "MEDICAL_REFUND",
        /// A depositor's own money back to their bound card.
        DepositWithdrawal = "DEPOSIT_WITHDRAWAL",
        /// A frozen deposit converted into payment to its beneficiary.
        DepositConversion = "DEPOSIT_CONVERSION",
        /// A voucher's balance to other vouchers (split transfer, inheritance, reissue).
        VoucherTransfer = "VOUCHER_TRANSFER",
        /// A voucher paying for a home: into the purchase's escrow.
        VoucherRedemption = "VOUCHER_REDEMPTION",
        /// An expired voucher's balance: back to its project, or cashed out.
        VoucherExpiry = "VOUCHER_EXPIRY",
        /// A court's deduction (扣划) of frozen money to its account.
        CourtDeduction = "COURT_DEDUCTION",
        /// The bank's manual correcting entry.
        Adjustment = "ADJUSTMENT",
    }
);

/// A cleared outflow: made by the gate once its checks passed, spent by one posting.
#[derive(Debug)]
#[must_use = "a clearance is spent by posting its entry"]
pub struct Clearance {
    outflow: Outflow,
    order: Option<OrderId>,
    allowances: Vec<(AccountId, i64)>,
}

impl Clearance {
    pub(in crate::gate) fn new(outflow: Outflow, order: Option<OrderId>) -> Clearance {
        Clearance {
            outflow,
            order,
            allowances: Vec::new(),
        }
    }

    /// Lets the posting take up to `amount` more from `account`.
    pub(in crate::gate) fn allow(mut self, account: AccountId, amount: Money) -> Clearance {
        match self.allowances.iter_mut().find(|(a, _)| *a == account) {
            Some((_, fen)) => *fen = fen.saturating_add(amount.fen()),
            None => self.allowances.push((account, amount.fen())),
        }
        self
    }

    pub fn outflow(&self) -> Outflow {
        self.outflow
    }

    pub fn order(&self) -> Option<OrderId> {
        self.order
    }

    /// The most the posting may take from `account`, in fen.
    pub fn allowance(&self, account: AccountId) -> i64 {
        self.allowances
            .iter()
            .find(|(a, _)| *a == account)
            .map_or(0, |(_, fen)| *fen)
    }
}
