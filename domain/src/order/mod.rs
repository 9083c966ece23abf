//! Orders: a payer's prepayment to a merchant under a scheme's policy, and its milestones
//! (docs/domain.md, "The primitives").
//!
//! An order's money is in one of a few places at every moment, and the audit checks it:
//! `collected = released + refunded + deducted + in clearing (not yet settled) + in escrow`.

mod collect;
mod confirm;
pub(crate) mod expiry;
mod hooks;
mod open;
pub(crate) mod refund;
pub(crate) mod release;

pub use collect::{
    Channel, Collect, CollectOutcome, PaymentRecord, Settle, SettleOutcome, payments_of,
};
pub use confirm::{ConfirmAs, ConfirmMilestone, ConfirmOutcome};
pub use expiry::{EscalationDecision, ExpireOrder, ResolveEscalation};
pub use hooks::{Hooked, LifecycleHooks};
pub use open::{AcceptOrder, OpenOrder};
pub use refund::{ApproveDeduction, ExecuteRefund, RefundRecord, RequestRefund, refunds_of};
pub use release::{ReleaseMilestone, ReleaseOutcome, ReleasedTranche, release_ready};

pub use crate::order_record::{
    MilestoneRecord, MilestoneStatus, OrderRecord, OrderStatus, PaymentStatus, RefundStatus,
    end_of_day, get_order, milestone_order, milestones_of, milestones_of_orders, settle_job_target,
};

#[cfg(test)]
mod tests;
