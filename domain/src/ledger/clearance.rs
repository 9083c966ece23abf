//! The clearance an outflow carries to the ledger: which path it is, for which order, and the
//! most it may take from each supervised account. The ledger refuses any posting that takes
//! money from escrow, a payable, a deposit, a voucher or a refundable balance without one that
//! covers it.
//!
//! The type lives here, below the gate, so that the ledger names it without depending on the
//! gate's checks (which read orders, parties and policies, all of which use the ledger). Only
//! the gate ([`crate::gate`]) makes one: `clippy.toml` disallows [`Clearance::new`] and
//! [`Clearance::allow`] everywhere else, and CI runs clippy with warnings as errors. The one
//! exception is [`Clearance::adjustment`], the bank's own correcting entry, which is a ledger
//! rule and checks nothing but who posts it.

use crate::command::Tx;
use crate::enums::string_enum;
use crate::error::DomainResult;
use crate::ids::{AccountId, OrderId};
use crate::money::Money;
use crate::principal::Role;

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
    pub(crate) fn new(outflow: Outflow, order: Option<OrderId>) -> Clearance {
        Clearance {
            outflow,
            order,
            allowances: Vec::new(),
        }
    }

    /// Lets the posting take up to `amount` more from `account`.
    pub(crate) fn allow(mut self, account: AccountId, amount: Money) -> Clearance {
        match self.allowances.iter_mut().find(|(a, _)| *a == account) {
            Some((_, fen)) => *fen = fen.saturating_add(amount.fen()),
            None => self.allowances.push((account, amount.fen())),
        }
        self
    }

    /// Clears the bank's manual correcting entry taking `from` (account, amount) pairs.
    ///
    /// # Errors
    /// `FORBIDDEN` for anyone but the bank.
    #[allow(clippy::disallowed_methods)] // the bank's correction is the ledger's own rule
    pub fn adjustment(tx: &Tx<'_>, from: &[(AccountId, Money)]) -> DomainResult<Clearance> {
        tx.principal.require_role(&[Role::Bank])?;
        Ok(from
            .iter()
            .fold(Clearance::new(Outflow::Adjustment, None), |c, (a, m)| {
                c.allow(*a, *m)
            }))
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
