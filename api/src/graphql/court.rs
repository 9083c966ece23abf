//! Courts in the schema: evidence bundles for named orders under a case number (every request
//! recorded in the log first); a debtor's accounts found by USCC or ID number (执行查控); and
//! judicial freeze (of an order's escrow, or of a debtor's account, queued when it exceeds what
//! is there), renewal, unfreeze and deduction orders.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};

use lvyue_domain::court::{CourtDeduct, CourtFreeze, CourtUnfreeze};
use lvyue_domain::enforcement::{
    self, CourtDeductFrozen, CourtFreezeAccount, CourtRenewFreeze, DebtorKey,
};
use lvyue_domain::evidence;
use lvyue_domain::ids::OrderId;
use lvyue_domain::log as dlog;
use lvyue_domain::principal::Role;

use super::common::{id, run, timestamp};
use super::context::ContextExt;
use super::guard::RoleGuard;
use super::ledger::{Account, Hold};
use super::notary::log;
use super::party::Party;
use super::scalars::Decimal;
use crate::cosign::Witnesses;

/// One account of a debtor at the bank, with the holds on it in the order they are filled and
/// paid.
#[derive(SimpleObject)]
pub struct DebtorAccount {
    pub account: Account,
    /// For an order's escrow: the order the debtor (its payer) prepaid. Freeze it with
    /// `courtFreeze(order:)`; the debtor's other accounts with `courtFreezeAccount`.
    pub order_id: Option<ID>,
    pub holds: Vec<Hold>,
}

/// A debtor and everything it holds at the bank (执行查控).
#[derive(SimpleObject)]
pub struct Debtor {
    pub party: Party,
    pub accounts: Vec<DebtorAccount>,
}

/// A freeze of a debtor's account.
#[derive(InputObject)]
pub struct CourtFreezeAccountInput {
    pub account: ID,
    pub amount: Decimal,
    pub case_no: String,
    /// Higher is filled and paid first; equal priorities in the order they were made.
    #[graphql(default)]
    pub priority: i32,
    /// The term: the freeze lapses then unless renewed.
    pub expires_at: DateTime<Utc>,
    /// When the bank executes on a court's behalf: that court.
    pub court: Option<ID>,
}

/// A new term for a freeze.
#[derive(InputObject)]
pub struct CourtRenewFreezeInput {
    pub hold: ID,
    /// Later than the present term.
    pub expires_at: DateTime<Utc>,
    pub court: Option<ID>,
}

/// A deduction under a case number from a debtor's account.
#[derive(InputObject)]
pub struct CourtDeductFrozenInput {
    pub account: ID,
    pub case_no: String,
    pub amount: Decimal,
    pub court: Option<ID>,
}

/// The freeze as it stands after the change.
#[derive(SimpleObject)]
pub struct CourtFreezePayload {
    pub hold: Hold,
}

/// The case's freezes on the account as they stand after the deduction.
#[derive(SimpleObject)]
pub struct CourtDeductFrozenPayload {
    pub holds: Vec<Hold>,
}

#[derive(Default)]
pub struct CourtQuery;

#[Object]
impl CourtQuery {
    /// A debtor's accounts at the bank under a case number, found by its unified social credit
    /// code or by its resident ID number (matched through the keyed hash): a merchant's payable
    /// money, deposits, vouchers, and a payer's prepayments in escrow, with balances and holds;
    /// and a merchant's settlement accounts (`EXTERNAL`: its own bank account that payouts go
    /// to, balance negative by what went out), to be frozen at that bank.
    /// Never a merchant's escrow accounts, which hold its payers' money. The lookup is recorded
    /// in the log, found or not.
    #[graphql(guard = "RoleGuard(&[Role::Court, Role::Bank])")]
    async fn debtor(
        &self,
        ctx: &Context<'_>,
        case_no: String,
        uscc: Option<String>,
        id_number: Option<String>,
    ) -> async_graphql::Result<Debtor> {
        let key = match (&uscc, &id_number) {
            (Some(u), None) => DebtorKey::Uscc(u),
            (None, Some(n)) => DebtorKey::IdNumber(n),
            _ => {
                return Err(crate::error::validation(
                    "give exactly one of uscc or idNumber",
                ));
            }
        };
        let who = ctx.principal()?;
        let d = enforcement::find_debtor(ctx.escrow()?, who, &case_no, key).await?;
        Ok(Debtor {
            party: Party::for_viewer(d.party, who),
            accounts: d
                .accounts
                .into_iter()
                .map(|a| DebtorAccount {
                    account: Account::from(a.account),
                    order_id: a.order.map(super::common::gid),
                    holds: a.holds.into_iter().map(Hold::from).collect(),
                })
                .collect(),
        })
    }
}

#[derive(Default)]
pub struct CourtMutation;

#[Object]
impl CourtMutation {
    /// Everything `lvyue verify` needs to check the named orders' history offline, in one JSON
    /// document: each event's canonical JSON, leaf hash and inclusion proof, the signed
    /// checkpoint, the witnesses' cosignatures on it and the verifier key. The request itself
    /// is recorded in the log first.
    #[graphql(guard = "RoleGuard(&[Role::Court, Role::Bank])")]
    async fn evidence_bundle(
        &self,
        ctx: &Context<'_>,
        case_no: String,
        orders: Vec<ID>,
    ) -> async_graphql::Result<Json<serde_json::Value>> {
        let ids: Vec<OrderId> = orders.iter().map(id).collect::<Result<_, _>>()?;
        let escrow = ctx.escrow()?;
        let mut b = evidence::bundle(escrow, log(ctx)?, ctx.principal()?, &case_no, &ids).await?;
        // The checkpoint was signed for this bundle: its witnesses are asked now, so that the
        // bundle carries their cosignatures (those that answer in time).
        if let Some(witnesses) = ctx.data_opt::<Arc<Witnesses>>()
            && !witnesses.is_empty()
            && let Some(c) = dlog::checkpoint_at(escrow.db(), b.tree_size).await?
        {
            witnesses.cosign(escrow, log(ctx)?, &c).await?;
            b.cosignatures = dlog::cosignatures_at(escrow.db(), b.tree_size).await?;
        }
        Ok(Json(serde_json::to_value(b)?))
    }

    /// Freezes an amount of an order's escrow under a case number (冻结). Blocks releases and
    /// refunds of the frozen money, not incoming payments. `court`: when the bank executes.
    #[graphql(guard = "RoleGuard(&[Role::Court, Role::Bank])")]
    #[allow(clippy::too_many_arguments)]
    async fn court_freeze(
        &self,
        ctx: &Context<'_>,
        order: ID,
        amount: Decimal,
        case_no: String,
        #[graphql(default)] priority: i32,
        expires_at: Option<DateTime<Utc>>,
        court: Option<ID>,
        idempotency_key: String,
    ) -> async_graphql::Result<Hold> {
        let cmd = CourtFreeze {
            order: id(&order)?,
            amount: amount.money()?,
            case_no,
            priority,
            expires_at: expires_at.map(timestamp),
            court: court.as_ref().map(id).transpose()?,
        };
        Ok(Hold::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Freezes an amount of a debtor's account — payable, deposit or voucher — under a case
    /// number until `expiresAt` (冻结). What the account has available is frozen at once; the
    /// rest waits behind earlier freezes and is frozen, in order, as money arrives (轮候冻结):
    /// see the hold's `remaining` and `waiting`. The bank is alerted before the term ends.
    #[graphql(guard = "RoleGuard(&[Role::Court, Role::Bank])")]
    async fn court_freeze_account(
        &self,
        ctx: &Context<'_>,
        input: CourtFreezeAccountInput,
        idempotency_key: String,
    ) -> async_graphql::Result<CourtFreezePayload> {
        let cmd = CourtFreezeAccount {
            account: id(&input.account)?,
            amount: input.amount.money()?,
            case_no: input.case_no,
            priority: input.priority,
            expires_at: timestamp(input.expires_at),
            court: input.court.as_ref().map(id).transpose()?,
        };
        Ok(CourtFreezePayload {
            hold: Hold::from(run(ctx, &idempotency_key, cmd).await?),
        })
    }

    /// Extends a freeze's term before it lapses (续冻).
    #[graphql(guard = "RoleGuard(&[Role::Court, Role::Bank])")]
    async fn court_renew_freeze(
        &self,
        ctx: &Context<'_>,
        input: CourtRenewFreezeInput,
        idempotency_key: String,
    ) -> async_graphql::Result<CourtFreezePayload> {
        let cmd = CourtRenewFreeze {
            hold: id(&input.hold)?,
            expires_at: timestamp(input.expires_at),
            court: input.court.as_ref().map(id).transpose()?,
        };
        Ok(CourtFreezePayload {
            hold: Hold::from(run(ctx, &idempotency_key, cmd).await?),
        })
    }

    /// Deducts under a case number from a debtor's account to the court's account (扣划),
    /// from the court's freezes of that case on the account in rank order.
    #[graphql(guard = "RoleGuard(&[Role::Court, Role::Bank])")]
    async fn court_deduct_frozen(
        &self,
        ctx: &Context<'_>,
        input: CourtDeductFrozenInput,
        idempotency_key: String,
    ) -> async_graphql::Result<CourtDeductFrozenPayload> {
        let cmd = CourtDeductFrozen {
            account: id(&input.account)?,
            case_no: input.case_no,
            amount: input.amount.money()?,
            court: input.court.as_ref().map(id).transpose()?,
        };
        Ok(CourtDeductFrozenPayload {
            holds: run(ctx, &idempotency_key, cmd)
                .await?
                .into_iter()
                .map(Hold::from)
                .collect(),
        })
    }

    /// Lifts what remains of a freeze (解冻).
    #[graphql(guard = "RoleGuard(&[Role::Court, Role::Bank])")]
    async fn court_unfreeze(
        &self,
        ctx: &Context<'_>,
        hold: ID,
        court: Option<ID>,
        idempotency_key: String,
    ) -> async_graphql::Result<Hold> {
        let cmd = CourtUnfreeze {
            hold: id(&hold)?,
            court: court.as_ref().map(id).transpose()?,
        };
        Ok(Hold::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Deducts frozen money to the court's designated account (扣划).
    #[graphql(guard = "RoleGuard(&[Role::Court, Role::Bank])")]
    async fn court_deduct(
        &self,
        ctx: &Context<'_>,
        hold: ID,
        amount: Decimal,
        court: Option<ID>,
        idempotency_key: String,
    ) -> async_graphql::Result<Hold> {
        let cmd = CourtDeduct {
            hold: id(&hold)?,
            amount: amount.money()?,
            court: court.as_ref().map(id).transpose()?,
        };
        Ok(Hold::from(run(ctx, &idempotency_key, cmd).await?))
    }
}
