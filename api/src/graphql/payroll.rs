//! Flexible-employment payroll (灵活用工) in the schema: the bank records an enterprise's
//! transfer into its payroll account, and the platform checks a batch before instructing it.
//! The batch itself is `batchPayout` (all or nothing), vetted against the scheme's `payroll`
//! policy (`per_batch_cap`, `per_line_cap`, no card twice).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use lvyue_domain::ids::{PartyId, SchemeId};
use lvyue_domain::payout::PayoutItem;
use lvyue_domain::payroll::{self as dpayroll, FundingRecord, PayrollCheck};
use lvyue_domain::principal::Role;

use super::common::{gid, id, run, time};
use super::context::ContextExt;
use super::enums::{GqlChannel, GqlLineProblemKind};
use super::guard::RoleGuard;
use super::ledger::PayoutItemInput;
use super::loaders::loaders;
use super::party::Party;
use super::scalars::Decimal;

/// An enterprise's transfer into its payroll account, credited to its payable.
pub struct EnterpriseFunding(pub FundingRecord);

#[Object]
impl EnterpriseFunding {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    /// The enterprise.
    async fn merchant(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.merchant)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    async fn scheme_id(&self) -> ID {
        gid(self.0.scheme)
    }

    async fn channel(&self) -> GqlChannel {
        self.0.channel.into()
    }

    /// The channel's transaction id (what reconciliation matches).
    async fn external_ref(&self) -> &str {
        &self.0.external_ref
    }

    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    async fn entry_id(&self) -> ID {
        gid(self.0.entry)
    }

    async fn funded_at(&self) -> DateTime<Utc> {
        time(self.0.funded_at)
    }
}

/// One line's problem.
#[derive(SimpleObject)]
pub struct PayrollLineProblem {
    /// 1-based line number.
    pub line: u32,
    pub kind: GqlLineProblemKind,
    pub problem: String,
}

/// A batch checked without paying anyone: every problem `batchPayout` would refuse it for.
#[derive(SimpleObject)]
pub struct PayrollBatchCheck {
    /// True when `batchPayout` would pay every line.
    pub ok: bool,
    pub lines: u32,
    pub total: Decimal,
    /// What the enterprise's payable has available now.
    pub available: Decimal,
    pub line_problems: Vec<PayrollLineProblem>,
    pub batch_problems: Vec<String>,
}

impl From<PayrollCheck> for PayrollBatchCheck {
    fn from(c: PayrollCheck) -> PayrollBatchCheck {
        PayrollBatchCheck {
            ok: c.ok,
            lines: c.lines,
            total: c.total.into(),
            available: c.available.into(),
            line_problems: c
                .line_problems
                .into_iter()
                .map(|p| PayrollLineProblem {
                    line: p.line,
                    kind: p.kind.into(),
                    problem: p.problem,
                })
                .collect(),
            batch_problems: c.batch_problems,
        }
    }
}

#[derive(Default)]
pub struct PayrollQuery;

#[Object]
impl PayrollQuery {
    /// Tries a payroll batch without paying anyone (the enterprise's platform for itself, or
    /// the bank): names, cards, amounts, repeated cards, the policy's caps, the money there.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant])")]
    async fn check_payroll_batch(
        &self,
        ctx: &Context<'_>,
        merchant: ID,
        scheme: ID,
        items: Vec<PayoutItemInput>,
    ) -> async_graphql::Result<PayrollBatchCheck> {
        let items: Vec<PayoutItem> = items
            .into_iter()
            .map(|i| {
                Ok(PayoutItem {
                    name: i.name,
                    card_number: i.card_number,
                    amount: i.amount.money()?,
                })
            })
            .collect::<Result<_, lvyue_domain::DomainError>>()?;
        Ok(dpayroll::check_payroll_batch(
            ctx.escrow()?.db(),
            ctx.principal()?,
            id::<PartyId>(&merchant)?,
            id::<SchemeId>(&scheme)?,
            &items,
        )
        .await?
        .into())
    }
}

#[derive(InputObject)]
pub struct FundEnterpriseAccountInput {
    /// The enterprise.
    pub merchant: ID,
    pub scheme: ID,
    pub amount: Decimal,
    pub channel: GqlChannel,
    /// The channel's transaction id; a second record with the same id is refused.
    pub external_ref: String,
}

#[derive(Default)]
pub struct PayrollMutation;

#[Object]
impl PayrollMutation {
    /// Records an enterprise's transfer into its payroll account (the bank, as it arrives):
    /// straight into its payable, only in a scheme whose policy has a `payroll` rule.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn fund_enterprise_account(
        &self,
        ctx: &Context<'_>,
        input: FundEnterpriseAccountInput,
        idempotency_key: String,
    ) -> async_graphql::Result<EnterpriseFunding> {
        let cmd = dpayroll::FundEnterpriseAccount {
            merchant: id(&input.merchant)?,
            scheme: id(&input.scheme)?,
            amount: input.amount.money()?,
            channel: input.channel.into(),
            external_ref: input.external_ref,
        };
        Ok(EnterpriseFunding(run(ctx, &idempotency_key, cmd).await?))
    }
}
