//! Courts in the schema: evidence bundles for named orders under a case number (every request
//! recorded in the log first), and judicial freeze, unfreeze and deduction orders.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object};
use chrono::{DateTime, Utc};

use lvyue_domain::court::{CourtDeduct, CourtFreeze, CourtUnfreeze};
use lvyue_domain::evidence;
use lvyue_domain::ids::OrderId;
use lvyue_domain::log as dlog;
use lvyue_domain::principal::Role;

use super::common::{id, run, timestamp};
use super::context::ContextExt;
use super::guard::RoleGuard;
use super::ledger::Hold;
use super::notary::log;
use super::scalars::Decimal;
use crate::cosign::Witnesses;

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
