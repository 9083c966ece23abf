//! Supervised deposits in the schema: subscription deposits (房e存, 认筹金) frozen in the home
//! buyer's own account and converted to the down payment or unfrozen, and the trade deposits
//! (保证金) of agricultural wholesale markets and rural property-rights exchanges. The rules are
//! the scheme's `deposit` policy (daily cap on unbound inflows, who lifts a freeze, forfeiture).

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use lvyue_domain::deposit::{
    self as ddeposit, DepositAccountRecord, DepositFreezeFilter, DepositFreezeRecord,
};
use lvyue_domain::ids::{AccountId, HoldId, PartyId};
use lvyue_domain::principal::Role;
use lvyue_domain::queries::Page as DPage;

use super::common::{gid, id, run, time};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::enums::{GqlFreezeStatus, GqlIndustry};
use super::guard::RoleGuard;
use super::loaders::loaders;
use super::party::Party;
use super::scalars::Decimal;
use super::scheme::Scheme;

crate::noted!(
    /// A depositor's own deposit account in a scheme (level 2, under the scheme), with its bound
    /// card.
    DepositAccount(DepositAccountRecord), "deposit account", |r| r.account);

#[Object]
impl DepositAccount {
    /// The deposit account's ledger account id.
    async fn id(&self) -> ID {
        gid(self.0.account)
    }

    async fn scheme(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Scheme>> {
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.scheme)
            .await?
            .map(Scheme))
    }

    /// The depositor; a person's name masked for everyone but the depositor, the bank and
    /// courts.
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.owner)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    async fn region(&self) -> &str {
        self.0.region.as_str()
    }

    async fn industry(&self) -> GqlIndustry {
        self.0.industry.into()
    }

    /// The bound card, first 6 and last 4 digits.
    async fn bound_card(&self) -> &str {
        &self.0.bound_card
    }

    /// All the money in the account, frozen or not.
    async fn balance(&self) -> Decimal {
        self.0.balance.into()
    }

    /// Frozen for beneficiaries.
    async fn frozen(&self) -> Decimal {
        self.0.frozen.into()
    }

    /// Free to freeze again or withdraw to the bound card.
    async fn available(&self) -> Decimal {
        self.0.available().into()
    }

    /// What the depositor paid in today (China calendar day) from sources other than the
    /// bound card, across all their deposit accounts: the policy caps it per day.
    async fn unbound_inflow_today(&self, ctx: &Context<'_>) -> async_graphql::Result<Decimal> {
        let escrow = ctx.escrow()?;
        let day = escrow.clock().now().china_date();
        Ok(ddeposit::unbound_inflow_on(escrow.db(), self.0.owner, day)
            .await?
            .into())
    }

    async fn opened_at(&self) -> DateTime<Utc> {
        time(self.0.opened_at)
    }

    /// The freezes on this account you may see, newest first.
    #[graphql(complexity = "connection::complexity(first, child_complexity)")]
    async fn freezes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, DepositFreeze>> {
        freezes(
            ctx,
            DepositFreezeFilter {
                account: Some(self.0.account),
                ..DepositFreezeFilter::default()
            },
            first,
            after,
        )
        .await
    }
}

crate::noted!(
    /// A deposit frozen for a beneficiary (a developer's project, a market's trade), identified by
    /// its hold on the deposit account.
    DepositFreeze(DepositFreezeRecord), "deposit freeze", |r| r.hold);

#[Object]
impl DepositFreeze {
    /// The freeze's id: its hold.
    async fn id(&self) -> ID {
        gid(self.0.hold)
    }

    async fn account_id(&self) -> ID {
        gid(self.0.account)
    }

    async fn scheme(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Scheme>> {
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.scheme)
            .await?
            .map(Scheme))
    }

    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.owner)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    async fn beneficiary(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.beneficiary)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    async fn region(&self) -> &str {
        self.0.region.as_str()
    }

    async fn industry(&self) -> GqlIndustry {
        self.0.industry.into()
    }

    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    /// What the deposit secures (the project and batch, the lot or trade).
    async fn reference(&self) -> &str {
        &self.0.reference
    }

    async fn status(&self) -> GqlFreezeStatus {
        self.0.status.into()
    }

    async fn frozen_at(&self) -> DateTime<Utc> {
        time(self.0.frozen_at)
    }

    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at.map(time)
    }

    /// The purchase contract (converted) or the default finding (forfeited).
    async fn closing_ref(&self) -> Option<&str> {
        self.0.closing_ref.as_deref()
    }

    /// The payment to the beneficiary (converted or forfeited).
    async fn entry_id(&self) -> Option<ID> {
        self.0.entry.map(gid)
    }
}

async fn freezes(
    ctx: &Context<'_>,
    filter: DepositFreezeFilter,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<Connection<Cursor, DepositFreeze>> {
    let page = Page::new(first, after)?;
    let rows = ddeposit::deposit_freezes(
        ctx.escrow()?.db(),
        ctx.principal()?,
        &filter,
        DPage {
            after: page.after,
            first: page.first as u64,
        },
    )
    .await?;
    Ok(connection::of_paged(
        page,
        rows.items.into_iter().map(DepositFreeze::from).collect(),
        rows.has_next,
        |f| f.0.hold.0,
    ))
}

#[derive(InputObject, Default)]
pub struct DepositFreezeFilterInput {
    pub scheme: Option<ID>,
    pub account: Option<ID>,
    pub beneficiary: Option<ID>,
    pub status: Option<GqlFreezeStatus>,
}

#[derive(Default)]
pub struct DepositQuery;

#[Object]
impl DepositQuery {
    /// Deposit accounts in your scope, newest first: the bank all, a regulator those of its
    /// regions and industries, a depositor its own.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Payer])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn deposit_accounts(
        &self,
        ctx: &Context<'_>,
        scheme: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, DepositAccount>> {
        let page = Page::new(first, after)?;
        let rows = ddeposit::deposit_accounts(
            ctx.escrow()?.db(),
            ctx.principal()?,
            scheme.as_ref().map(id).transpose()?,
            DPage {
                after: page.after,
                first: page.first as u64,
            },
        )
        .await?;
        Ok(connection::of_paged(
            page,
            rows.items.into_iter().map(DepositAccount::from).collect(),
            rows.has_next,
            |a| a.0.account.0,
        ))
    }

    /// A deposit account you may see.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Payer])")]
    async fn deposit_account(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<DepositAccount> {
        Ok(DepositAccount::from(
            ddeposit::deposit_account_visible(
                ctx.escrow()?.db(),
                ctx.principal()?,
                self::id::<AccountId>(&id)?,
            )
            .await?,
        ))
    }

    /// Deposit freezes in your scope, newest first: as deposit accounts, and a merchant those
    /// that name it as beneficiary.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Payer, Role::Merchant])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn deposit_freezes(
        &self,
        ctx: &Context<'_>,
        filter: Option<DepositFreezeFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, DepositFreeze>> {
        let f = filter.unwrap_or_default();
        let filter = DepositFreezeFilter {
            scheme: f.scheme.as_ref().map(id).transpose()?,
            account: f.account.as_ref().map(id::<AccountId>).transpose()?,
            beneficiary: f.beneficiary.as_ref().map(id::<PartyId>).transpose()?,
            status: f.status.map(Into::into),
        };
        freezes(ctx, filter, first, after).await
    }

    /// A deposit freeze you may see.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Payer, Role::Merchant])")]
    async fn deposit_freeze(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<DepositFreeze> {
        Ok(DepositFreeze::from(
            ddeposit::deposit_freeze_visible(
                ctx.escrow()?.db(),
                ctx.principal()?,
                self::id::<HoldId>(&id)?,
            )
            .await?,
        ))
    }
}

#[derive(InputObject)]
pub struct FundDepositInput {
    pub account: ID,
    pub amount: Decimal,
    /// The card or account number the money came from (8 to 32 letters or digits).
    pub source_account: String,
    /// The transfer's reference; a second inflow with the same reference is refused.
    pub external_ref: String,
}

/// An inflow recorded.
#[derive(SimpleObject)]
pub struct FundDepositPayload {
    pub account: DepositAccount,
    /// It came from the bound card (no daily cap).
    pub bound: bool,
    pub entry_id: ID,
    /// The depositor's unbound inflows today, this one included.
    pub unbound_today: Decimal,
}

#[derive(InputObject)]
pub struct FreezeDepositInput {
    pub account: ID,
    /// A merchant enrolled in the scheme (the developer, the market, the exchange).
    pub beneficiary: ID,
    pub amount: Decimal,
    /// What the deposit secures (the project and batch, the lot or trade number).
    pub reference: String,
}

#[derive(Default)]
pub struct DepositMutation;

#[Object]
impl DepositMutation {
    /// Opens a depositor's own deposit account in a scheme with their card bound to it (the
    /// depositor, or the bank at its counter).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Payer])")]
    async fn open_deposit_account(
        &self,
        ctx: &Context<'_>,
        scheme: ID,
        owner: ID,
        bound_card: String,
        idempotency_key: String,
    ) -> async_graphql::Result<DepositAccount> {
        let cmd = ddeposit::OpenDepositAccount {
            scheme: id(&scheme)?,
            owner: id(&owner)?,
            bound_card,
        };
        Ok(DepositAccount::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Records money arriving in a deposit account (the bank): from the bound card any amount,
    /// from anywhere else at most the policy's `unbound_daily_cap` per depositor and day.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn fund_deposit(
        &self,
        ctx: &Context<'_>,
        input: FundDepositInput,
        idempotency_key: String,
    ) -> async_graphql::Result<FundDepositPayload> {
        let cmd = ddeposit::FundDeposit {
            account: id(&input.account)?,
            amount: input.amount.money()?,
            source_account: input.source_account,
            external_ref: input.external_ref,
        };
        let o = run(ctx, &idempotency_key, cmd).await?;
        Ok(FundDepositPayload {
            account: DepositAccount::from(o.account),
            bound: o.bound,
            entry_id: gid(o.entry),
            unbound_today: o.unbound_today.into(),
        })
    }

    /// Takes unfrozen money back to the bound card (the depositor, or the bank).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Payer])")]
    async fn withdraw_deposit(
        &self,
        ctx: &Context<'_>,
        account: ID,
        amount: Decimal,
        idempotency_key: String,
    ) -> async_graphql::Result<DepositAccount> {
        let cmd = ddeposit::WithdrawDeposit {
            account: id(&account)?,
            amount: amount.money()?,
        };
        Ok(DepositAccount::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Freezes part of a deposit for a beneficiary enrolled in the scheme: the money stays in
    /// the depositor's account (the depositor, or the bank).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Payer])")]
    async fn freeze_deposit(
        &self,
        ctx: &Context<'_>,
        input: FreezeDepositInput,
        idempotency_key: String,
    ) -> async_graphql::Result<DepositFreeze> {
        let cmd = ddeposit::FreezeDeposit {
            account: id(&input.account)?,
            beneficiary: id(&input.beneficiary)?,
            amount: input.amount.money()?,
            reference: input.reference,
        };
        Ok(DepositFreeze::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Lifts a freeze: the money is the depositor's again (the beneficiary or the bank; the
    /// depositor too unless the policy says `beneficiary_releases`).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Payer, Role::Merchant])")]
    async fn unfreeze_deposit(
        &self,
        ctx: &Context<'_>,
        freeze: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<DepositFreeze> {
        let cmd = ddeposit::UnfreezeDeposit { hold: id(&freeze)? };
        Ok(DepositFreeze::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// On purchase, the frozen deposit becomes the down payment, paid to the beneficiary (the
    /// depositor, or the bank on the signed contract).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Payer])")]
    async fn convert_deposit(
        &self,
        ctx: &Context<'_>,
        freeze: ID,
        contract_ref: String,
        idempotency_key: String,
    ) -> async_graphql::Result<DepositFreeze> {
        let cmd = ddeposit::ConvertDeposit {
            hold: id(&freeze)?,
            contract_ref,
        };
        Ok(DepositFreeze::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// The depositor defaulted: the frozen deposit goes to the beneficiary (the bank, on the
    /// market's finding), only where the policy says `forfeit_on_default`.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn forfeit_deposit(
        &self,
        ctx: &Context<'_>,
        freeze: ID,
        reason: String,
        idempotency_key: String,
    ) -> async_graphql::Result<DepositFreeze> {
        let cmd = ddeposit::ForfeitDeposit {
            hold: id(&freeze)?,
            reason,
        };
        Ok(DepositFreeze::from(run(ctx, &idempotency_key, cmd).await?))
    }
}
