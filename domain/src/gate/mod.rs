//! The release gate (docs/design.md, "The release gate"): the one place that decides whether
//! money may leave supervised accounts — an order's escrow, a merchant's payable, a deposit, a
//! voucher. Every outflow path asks it, and it answers with a [`Clearance`] or the rule that
//! refuses. The ledger posts a debit of a supervised account only with a clearance that covers
//! it ([`crate::ledger::post_cleared`]), and only this module can make one (the type lives in
//! the ledger, and `clippy.toml` forbids its constructor anywhere else), so no path can move
//! supervised money past the checks, whoever writes it next.
//!
//! What each path is checked for:
//!
//! | outflow | checks besides the ledger's holds and balances |
//! |---|---|
//! | release, card usage | the milestone's confirmations, or its time, or the order's expiry (the release path decides which milestone is due by [`crate::order_record::confirmations_complete`]); its money in escrow (an instalment paid and settled); the policy's split terms; every recipient active, enrolled, not closing down, not on the dishonest-debtor list; the scheme active; the per-release and monthly caps; custody after the release |
//! | payout, batch payout | the merchant neither blocked nor closed; the scheme's policy lets payables be paid out (a canteen's money leaves only as purchase payments) |
//! | refund, purchase payment, medical refund, deposit withdrawal and conversion, voucher transfer, redemption and expiry, court deduction | the path's own command has checked its business state (an approved purchase, a court's freeze); the gate records the path and limits the debit to the amount asked |
//! | adjustment | the bank only (granted by the ledger itself: [`Clearance::adjustment`]) |
//!
//! Industries take part through their scheme's policy, which the gate reads (`caps`, `custody`,
//! `split`, `purchase`, `release_on_usage`), not through calls from the order lifecycle into
//! their modules.

// The gate is where clearances are granted (see `clippy.toml`).
#![allow(clippy::disallowed_methods)]

pub use crate::ledger::{Clearance, Outflow};

use chrono::Datelike;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use lvyue_entity::{account, journal_entry, posting};

use crate::clock::Timestamp;
use crate::command::Tx;
use crate::error::{DomainError, DomainResult};
use crate::ids::{AccountId, OrderId, PartyId, SchemeId};
use crate::ledger::{AccountKind, EntryKind, get_account};
use crate::money::Money;
use crate::order_record::OrderRecord;
use crate::party::{PartyKind, PartyRecord, PartyStatus, get_party_of};
use crate::policy::{CustodyReference, Policy};
use crate::scheme::{SchemeStatus, enrollment_of, ensure_not_closing_down, get_scheme, policy_at};

/// Clears a release of `amount` from `order`'s escrow to its merchant (and sub-merchants):
/// `outflow` is [`Outflow::Release`] for a milestone's tranche, [`Outflow::Usage`] for a
/// prepaid card's use. The tranche's confirmations are the caller's to have checked with
/// [`crate::order_record::confirmations_complete`]; everything else a release needs is checked here.
///
/// # Errors
/// `INVALID_STATE` naming the recipient, scheme or order state that refuses;
/// `LIMIT_EXCEEDED` over a cap; `INSUFFICIENT_FUNDS` when the escrow cannot cover it;
/// `CUSTODY_BREACH` when the custody rule would no longer hold.
pub async fn release(
    tx: &Tx<'_>,
    outflow: Outflow,
    order: &OrderRecord,
    policy: &Policy,
    amount: Money,
) -> DomainResult<Clearance> {
    if !matches!(outflow, Outflow::Release | Outflow::Usage) {
        return Err(DomainError::Invariant(format!(
            "{outflow} is not a release"
        )));
    }
    let merchant = recipient(tx, order.merchant, order.scheme).await?;
    if policy.split.is_some() && order.split.is_none() {
        // Opened before split terms were fixed at opening: releasing would pay the platform
        // the sub-merchants' money. Such an order is refunded or settled by the bank.
        return Err(DomainError::invalid_state(
            format!("order {}", order.order_no),
            "WITHOUT_SPLIT_TERMS",
            "release to a platform that must split it",
        ));
    }
    // A platform order pays its sub-merchants directly: each must be fit to receive money.
    if let Some(terms) = &order.split {
        for share in &terms.shares {
            recipient(tx, share.merchant, order.scheme).await?;
        }
    }
    let scheme = get_scheme(tx.db(), order.scheme).await?;
    if scheme.status != SchemeStatus::Active {
        return Err(DomainError::invalid_state(
            format!("scheme {}", scheme.code),
            scheme.status.as_str(),
            "release",
        ));
    }
    if let Some(cap) = policy.caps.per_release
        && amount > cap
    {
        return Err(DomainError::LimitExceeded(format!(
            "a release of {amount} is over the per-release cap of {cap}"
        )));
    }
    let enrollment = enrollment_of(tx.db(), order.merchant, order.scheme).await?;
    if let Some(cap) = policy.caps.monthly {
        let released = released_this_month(tx, enrollment.group_account).await?;
        if released.checked_add(amount)? > cap {
            return Err(DomainError::LimitExceeded(format!(
                "releases this month would reach {} over the monthly cap of {cap}",
                released.checked_add(amount)?
            )));
        }
    }
    let escrow = get_account(tx.db(), order.escrow_account).await?;
    if policy.payment.staged && order.in_escrow() < amount {
        // Paid in instalments: this tranche waits for the money for it, not for a freeze.
        return Err(DomainError::invalid_state(
            format!(
                "order {} with {} of the {amount} for this tranche settled in escrow",
                order.order_no,
                order.in_escrow()
            ),
            "AWAITING_INSTALMENT",
            "release before the instalment for it has been paid and settled",
        ));
    }
    if escrow.available_fen() < amount.fen() {
        let available = Money::from_fen(escrow.available_fen().max(0))?;
        return Err(DomainError::InsufficientFunds {
            account: escrow.number,
            available,
            requested: amount,
        });
    }
    if let Some(rule) = &policy.custody {
        let grade = crate::risk::latest_grade(tx.db(), merchant.id).await?;
        let before = crate::custody::status(
            tx.db(),
            rule,
            enrollment.group_account,
            &merchant,
            grade.as_deref(),
            tx.now,
        )
        .await?;
        let after = before.actual.saturating_sub(amount);
        // Against what is owed now, the requirement falls with the release (the payer is owed
        // that much less); against last quarter's balance it stays.
        let required_after = match rule.reference {
            CustodyReference::OutstandingPrepaid => before
                .reference
                .saturating_sub(amount)
                .share_ceil(before.ratio),
            CustodyReference::PreviousQuarterPrepaid => before.required,
        };
        if after < required_after {
            return Err(DomainError::CustodyBreach {
                required: required_after,
                remaining: after,
            });
        }
    }
    Ok(Clearance::new(outflow, Some(order.id)).allow(order.escrow_account, amount))
}

/// Clears paying `amount` out of a merchant's payable in `scheme`: to its own settlement
/// account ([`Outflow::Payout`]) or to workers ([`Outflow::BatchPayout`]).
///
/// # Errors
/// `INVALID_STATE` when the merchant is blocked or closed, or the scheme's money leaves only as
/// purchase payments.
pub async fn payout(
    tx: &Tx<'_>,
    outflow: Outflow,
    merchant: &PartyRecord,
    scheme: SchemeId,
    payable: AccountId,
    amount: Money,
) -> DomainResult<Clearance> {
    if !matches!(outflow, Outflow::Payout | Outflow::BatchPayout) {
        return Err(DomainError::Invariant(format!("{outflow} is not a payout")));
    }
    // A batch is the merchant's own instruction: only an active merchant gives one. Its own
    // payout a merchant may take while suspended, not once blocked or closed.
    let (refused, action) = match outflow {
        Outflow::BatchPayout => (merchant.status != PartyStatus::Active, "instruct payouts"),
        _ => (
            matches!(merchant.status, PartyStatus::Blocked | PartyStatus::Closed),
            "be paid out",
        ),
    };
    if refused {
        return Err(DomainError::invalid_state(
            format!("merchant {}", merchant.name),
            merchant.status.as_str(),
            action,
        ));
    }
    let s = get_scheme(tx.db(), scheme).await?;
    let policy = policy_at(tx.db(), scheme, s.current_version).await?;
    if policy.purchase.is_some() {
        return Err(DomainError::invalid_state(
            format!("scheme {}", s.code),
            "PURCHASE_ONLY",
            "pay out a payable: money leaves it only as approved purchase payments to suppliers",
        ));
    }
    Ok(Clearance::new(outflow, None).allow(payable, amount))
}

/// Clears an outflow whose business checks are its command's own (see the table above):
/// taking at most `amount` from `account`, for `order` when it concerns one.
///
/// # Errors
/// `INTERNAL` (an invariant) for a path the gate checks itself ([`release`], [`payout`],
/// [`Clearance::adjustment`]).
pub fn clear(
    outflow: Outflow,
    order: Option<OrderId>,
    account: AccountId,
    amount: Money,
) -> DomainResult<Clearance> {
    match outflow {
        Outflow::Release
        | Outflow::Usage
        | Outflow::Payout
        | Outflow::BatchPayout
        | Outflow::Adjustment => Err(DomainError::Invariant(format!(
            "{outflow} is cleared by its own check"
        ))),
        _ => Ok(Clearance::new(outflow, order).allow(account, amount)),
    }
}

/// A merchant that is to receive released money: active, not on the dishonest-debtor list,
/// enrolled in the scheme and not closing down there.
async fn recipient(tx: &Tx<'_>, merchant: PartyId, scheme: SchemeId) -> DomainResult<PartyRecord> {
    let merchant = get_party_of(tx.db(), merchant, PartyKind::Merchant).await?;
    if merchant.status != PartyStatus::Active {
        return Err(DomainError::invalid_state(
            format!("merchant {}", merchant.name),
            merchant.status.as_str(),
            "receive releases",
        ));
    }
    if let Some(uscc) = &merchant.uscc
        && crate::screening::is_dishonest(tx.db(), uscc).await?
    {
        return Err(DomainError::invalid_state(
            format!("merchant {}", merchant.name),
            "ON_DISHONEST_DEBTOR_LIST",
            "receive releases",
        ));
    }
    enrollment_of(tx.db(), merchant.id, scheme).await?;
    ensure_not_closing_down(tx.db(), merchant.id, scheme, "receive releases").await?;
    Ok(merchant)
}

/// What left the escrow of a merchant's orders in one scheme (the accounts under its
/// enrolment's `group`) by release or card usage since the start of this month (China time).
/// Measured where the money leaves, not where it lands: a platform's split tranche counts
/// whole, though only the commission reaches the platform's own payable.
async fn released_this_month(tx: &Tx<'_>, group: AccountId) -> DomainResult<Money> {
    let today = tx.now.china_date();
    let start = chrono::NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    let since = Timestamp::china_midnight(start);
    // Subqueries: a month of releases, and a merchant's order accounts, are more ids than a
    // query may bind.
    let this_months_releases = sea_orm::sea_query::Query::select()
        .column(journal_entry::Column::Id)
        .from(journal_entry::Entity)
        .and_where(journal_entry::Column::Kind.eq(EntryKind::Release.as_str()))
        .and_where(journal_entry::Column::CreatedAtUs.gte(since.0))
        .to_owned();
    let escrow_accounts = sea_orm::sea_query::Query::select()
        .column(account::Column::Id)
        .from(account::Entity)
        .and_where(account::Column::ParentId.eq(group.0))
        .and_where(account::Column::Kind.eq(AccountKind::Escrow.as_str()))
        .to_owned();
    let amounts: Vec<i64> = posting::Entity::find()
        .select_only()
        .column(posting::Column::AmountFen)
        .filter(posting::Column::AccountId.in_subquery(escrow_accounts))
        .filter(posting::Column::EntryId.in_subquery(this_months_releases))
        .into_tuple()
        .all(tx.db())
        .await?;
    let mut taken = Money::ZERO;
    for fen in amounts.into_iter().filter(|a| *a < 0) {
        taken = taken
            .checked_add(Money::from_fen(fen.checked_neg().ok_or_else(|| {
                DomainError::Invariant(format!("posting of {fen} fen"))
            })?)?)?;
    }
    Ok(taken)
}

#[cfg(test)]
mod tests;
