//! The double-entry ledger (docs/design.md, "Ledger").
//!
//! Every money movement is a journal entry of two or more postings that sum to zero. A posting
//! is a signed amount: positive adds to what the account holds, negative takes from it; the
//! outside world is represented by `External` accounts, which alone may go negative. Balances
//! are cached on the account row and changed only by [`post`], in the same transaction,
//! with accounts locked in ascending id order and each balance check done *in* the update
//! (`… WHERE balance + Δ >= held`), never check-then-write. Holds reduce the available balance
//! without moving money.
//!
//! Money leaves a supervised account (escrow, payable, deposit, voucher, refundable) only by
//! [`post_cleared`], with the clearance the release gate ([`crate::gate`]) gives an outflow
//! that passed its checks; [`post`] refuses such a debit.
//!
//! Invariants, checked by [`crate::audit`]:
//! - the postings of every entry, and of the whole ledger, sum to zero;
//! - no account that may not go negative holds less than its holds (`balance ≥ held ≥ 0`);
//! - every cached balance equals the sum of its postings, every cached `held` the sum of its
//!   active holds, every cached `waiting` the sum of what its active holds still queue.

mod account;
mod balance;
mod clearance;
pub mod commands;
mod entry;
mod hold;
mod query;
pub mod system;

pub use account::{
    AccountKind, AccountRecord, AccountStatus, NewAccount, get_account, open_account,
};
pub use balance::{Balance, balance, balance_after_entry, balance_at_time, balances_of};
pub use clearance::{Clearance, Outflow};
pub use entry::{
    EntryKind, EntryRecord, Leg, MAX_LEGS_PER_ENTRY, MAX_MEMO_CHARS, post, post_cleared, posts_as,
    transfer,
};
pub use hold::{
    HoldKind, HoldRecord, HoldStatus, NewHold, active_holds, consume_hold, get_hold,
    holds_of_order, place_hold, place_queued_hold, release_hold,
};
pub use query::entries;

#[cfg(test)]
mod tests;
