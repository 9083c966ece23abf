//! Housing vouchers (房票) in the schema: the housing bureau's projects and the vouchers it
//! issues, and each voucher's life as its holder, heirs, developers and the bank drive it —
//! split transfer once, inheritance, loss and reissue, redemption in stages with the reward for
//! early use, expiry and cash-out. The rules are the scheme's `voucher` policy.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use lvyue_domain::ids::{AccountId, PartyId, VoucherId};
use lvyue_domain::principal::Role;
use lvyue_domain::queries::Page as DPage;
use lvyue_domain::scheme::policy_at;
use lvyue_domain::voucher::{
    self as dvoucher, InventoryLine, RedemptionRecord, VoucherFilter, VoucherProjectRecord,
    VoucherRecord,
};

use super::common::{gid, id, run, time};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::enums::GqlVoucherStatus;
use super::guard::RoleGuard;
use super::loaders::loaders;
use super::order::{Order, Tranche};
use super::party::Party;
use super::scalars::Decimal;
use super::scheme::Scheme;

crate::noted!(
    /// A voucher: a level-3 sub-account of its project, owned by its holder.
    Voucher(VoucherRecord), "voucher", |r| r.id);

#[Object]
impl Voucher {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    /// `FP` + issue date + serial.
    async fn number(&self) -> &str {
        &self.0.number
    }

    async fn status(&self) -> GqlVoucherStatus {
        self.0.status.into()
    }

    /// The project sub-account (level 2) it belongs to.
    async fn project_id(&self) -> ID {
        gid(self.0.project)
    }

    /// Its own sub-account (level 3).
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

    /// The holder; a person's name masked for everyone but the holder, the bank and courts.
    async fn holder(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.holder)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    /// What the number was created with (issue, a part received, a balance carried over).
    async fn face(&self) -> Decimal {
        self.0.face.into()
    }

    async fn balance(&self) -> Decimal {
        self.0.balance.into()
    }

    /// Frozen by a loss report.
    async fn held(&self) -> Decimal {
        self.0.held.into()
    }

    async fn available(&self) -> Decimal {
        self.0.balance.saturating_sub(self.0.held).into()
    }

    /// False once it came out of a split transfer: it can never be transferred again.
    async fn transferable(&self) -> bool {
        self.0.transferable
    }

    /// The voucher it came from (transfer, inheritance, reissue).
    async fn parent_id(&self) -> Option<ID> {
        self.0.parent.map(gid)
    }

    /// The first issue of its line: rewards and validity count from here.
    async fn issued_at(&self) -> DateTime<Utc> {
        time(self.0.issued_at)
    }

    async fn expires_at(&self) -> DateTime<Utc> {
        time(self.0.expires_at)
    }

    /// The loss freeze on it, while reported lost.
    async fn hold_id(&self) -> Option<ID> {
        self.0.hold.map(gid)
    }

    async fn policy_version(&self) -> i32 {
        self.0.policy_version
    }

    /// The reward (in basis points of the amount redeemed) a redemption would earn now, by the
    /// scheme's reward tiers and the months since the first issue.
    async fn reward_bp_now(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let escrow = ctx.escrow()?;
        let policy = policy_at(escrow.db(), self.0.scheme, self.0.policy_version).await?;
        let Some(rule) = policy.voucher else {
            return Ok(0);
        };
        let bp = dvoucher::reward_bp_at(&rule, self.0.issued_at, escrow.clock().now())?;
        Ok(bp.get() as i32)
    }

    /// Its redemptions against home purchases, oldest first.
    async fn redemptions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Redemption>> {
        Ok(
            dvoucher::redemptions_of(ctx.escrow()?.db(), ctx.principal()?, self.0.id)
                .await?
                .into_iter()
                .map(Redemption)
                .collect(),
        )
    }
}

/// A redemption: an escrow order of the developer funded from the voucher (and the reward).
pub struct Redemption(pub RedemptionRecord);

#[Object]
impl Redemption {
    async fn voucher_id(&self) -> ID {
        gid(self.0.voucher)
    }

    /// The purchase's escrow order, released to the developer in the scheme's stages.
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Order>> {
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.order)
            .await?
            .map(Order::from))
    }

    async fn developer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.developer)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    /// Taken from the voucher.
    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    async fn reward_bp(&self) -> i32 {
        self.0.reward_bp.get() as i32
    }

    /// Paid from the scheme's subsidy pool into the same escrow.
    async fn reward(&self) -> Decimal {
        self.0.reward.into()
    }

    async fn contract_ref(&self) -> &str {
        &self.0.contract_ref
    }

    /// What came back into the voucher from a refunded purchase.
    async fn refunded(&self) -> Decimal {
        self.0.refunded.into()
    }

    async fn redeemed_at(&self) -> DateTime<Utc> {
        time(self.0.redeemed_at)
    }
}

/// A resettlement project: its sub-account (level 2) holds the money not yet issued.
pub struct VoucherProject(pub VoucherProjectRecord);

#[Object]
impl VoucherProject {
    /// The project sub-account's id (the project's identity).
    async fn id(&self) -> ID {
        gid(self.0.account)
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn scheme(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Scheme>> {
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.scheme)
            .await?
            .map(Scheme))
    }

    /// When set, its vouchers are redeemed only with this developer.
    async fn developer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let Some(d) = self.0.developer else {
            return Ok(None);
        };
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(d)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    /// Not yet issued (and what came back from expired vouchers).
    async fn balance(&self) -> Decimal {
        self.0.balance.into()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
}

/// One line of the voucher inventory: one project's vouchers in one status.
#[derive(SimpleObject)]
pub struct VoucherInventoryLine {
    pub scheme_id: ID,
    pub project_id: ID,
    pub status: GqlVoucherStatus,
    pub count: u64,
    /// Sum of the numbers' face amounts.
    pub face: Decimal,
    /// Sum of what they hold now.
    pub balance: Decimal,
}

impl From<InventoryLine> for VoucherInventoryLine {
    fn from(l: InventoryLine) -> VoucherInventoryLine {
        VoucherInventoryLine {
            scheme_id: gid(l.scheme),
            project_id: gid(l.project),
            status: l.status.into(),
            count: l.count,
            face: l.face.into(),
            balance: l.balance.into(),
        }
    }
}

#[derive(InputObject, Default)]
pub struct VoucherFilterInput {
    pub scheme: Option<ID>,
    pub project: Option<ID>,
    pub holder: Option<ID>,
    pub status: Option<GqlVoucherStatus>,
}

#[derive(Default)]
pub struct VoucherQuery;

#[Object]
impl VoucherQuery {
    /// Vouchers in your scope, newest first: the bank all, the housing bureau those of its
    /// schemes, a holder its own.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Payer])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn vouchers(
        &self,
        ctx: &Context<'_>,
        filter: Option<VoucherFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, Voucher>> {
        let page = Page::new(first, after)?;
        let f = filter.unwrap_or_default();
        let filter = VoucherFilter {
            scheme: f.scheme.as_ref().map(id).transpose()?,
            project: f.project.as_ref().map(id::<AccountId>).transpose()?,
            holder: f.holder.as_ref().map(id::<PartyId>).transpose()?,
            status: f.status.map(Into::into),
        };
        let rows = dvoucher::vouchers(
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
            rows.items.into_iter().map(Voucher::from).collect(),
            rows.has_next,
            |v| v.0.id.0,
        ))
    }

    /// A voucher you may see, by id.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Payer])")]
    async fn voucher(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Voucher> {
        Ok(Voucher::from(
            dvoucher::voucher_visible(
                ctx.escrow()?.db(),
                ctx.principal()?,
                self::id::<VoucherId>(&id)?,
            )
            .await?,
        ))
    }

    /// A voucher you may see, by its number.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator, Role::Payer])")]
    async fn voucher_by_number(
        &self,
        ctx: &Context<'_>,
        number: String,
    ) -> async_graphql::Result<Voucher> {
        Ok(Voucher::from(
            dvoucher::voucher_by_number(ctx.escrow()?.db(), ctx.principal()?, &number).await?,
        ))
    }

    /// Resettlement projects of the housing-voucher schemes in your scope (at most 200).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator])")]
    async fn voucher_projects(
        &self,
        ctx: &Context<'_>,
        scheme: Option<ID>,
    ) -> async_graphql::Result<Vec<VoucherProject>> {
        Ok(dvoucher::voucher_projects(
            ctx.escrow()?.db(),
            ctx.principal()?,
            scheme.as_ref().map(id).transpose()?,
        )
        .await?
        .into_iter()
        .map(VoucherProject)
        .collect())
    }

    /// The voucher inventory in your scope: counts and sums by project and status.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator])")]
    async fn voucher_inventory(
        &self,
        ctx: &Context<'_>,
        scheme: Option<ID>,
    ) -> async_graphql::Result<Vec<VoucherInventoryLine>> {
        Ok(dvoucher::voucher_inventory(
            ctx.escrow()?.db(),
            ctx.principal()?,
            scheme.as_ref().map(id).transpose()?,
        )
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }
}

#[derive(InputObject)]
pub struct CreateVoucherProjectInput {
    pub scheme: ID,
    pub name: String,
    /// Restricts redemption to one developer enrolled in the scheme.
    pub developer: Option<ID>,
}

#[derive(InputObject)]
pub struct TransferPartInput {
    pub holder: ID,
    pub amount: Decimal,
}

/// Money moved into a project or the scheme's subsidy pool.
#[derive(SimpleObject)]
pub struct VoucherFundingPayload {
    pub account_id: ID,
    pub amount: Decimal,
    /// The account's balance after it.
    pub balance: Decimal,
    pub entry_id: ID,
}

/// A split transfer: the closed voucher and the new ones.
#[derive(SimpleObject)]
pub struct VoucherTransferPayload {
    pub from: Voucher,
    pub to: Vec<Voucher>,
}

/// A redemption: the voucher after it, the purchase's escrow order, and what was released at
/// once.
#[derive(SimpleObject)]
pub struct RedeemVoucherPayload {
    pub voucher: Voucher,
    pub order: Order,
    pub amount: Decimal,
    pub reward_bp: i32,
    pub reward: Decimal,
    pub released: Vec<Tranche>,
}

/// An ended voucher: what left it, and whether to the holder (cash-out) or the project.
#[derive(SimpleObject)]
pub struct VoucherExpiryPayload {
    pub voucher: Voucher,
    pub amount: Decimal,
    pub cashed_out: bool,
}

fn funding_payload(f: dvoucher::Funding) -> VoucherFundingPayload {
    VoucherFundingPayload {
        account_id: gid(f.account),
        amount: f.amount.into(),
        balance: f.balance.into(),
        entry_id: gid(f.entry),
    }
}

#[derive(Default)]
pub struct VoucherMutation;

#[Object]
impl VoucherMutation {
    /// Opens a resettlement project's sub-account (level 2) under a housing-voucher scheme (the
    /// housing bureau in its jurisdiction, or the bank on its instruction).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator])")]
    async fn create_voucher_project(
        &self,
        ctx: &Context<'_>,
        input: CreateVoucherProjectInput,
        idempotency_key: String,
    ) -> async_graphql::Result<VoucherProject> {
        let cmd = dvoucher::CreateVoucherProject {
            scheme: id(&input.scheme)?,
            name: input.name,
            developer: input.developer.as_ref().map(id).transpose()?,
        };
        Ok(VoucherProject(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Records the bureau's money arriving in a project from its fiscal account (the bank).
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn fund_voucher_project(
        &self,
        ctx: &Context<'_>,
        project: ID,
        amount: Decimal,
        reference: String,
        idempotency_key: String,
    ) -> async_graphql::Result<VoucherFundingPayload> {
        let cmd = dvoucher::FundVoucherProject {
            project: id(&project)?,
            amount: amount.money()?,
            reference,
        };
        Ok(funding_payload(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Records the bureau's money for early-use rewards arriving in the scheme's subsidy pool
    /// (the bank).
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn fund_voucher_subsidy(
        &self,
        ctx: &Context<'_>,
        scheme: ID,
        amount: Decimal,
        reference: String,
        idempotency_key: String,
    ) -> async_graphql::Result<VoucherFundingPayload> {
        let cmd = dvoucher::FundVoucherSubsidy {
            scheme: id(&scheme)?,
            amount: amount.money()?,
            reference,
        };
        Ok(funding_payload(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Issues a voucher to an expropriated resident from a project's money (the housing bureau,
    /// or the bank on its instruction), valid for the policy's `validity_months`.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator])")]
    async fn issue_voucher(
        &self,
        ctx: &Context<'_>,
        project: ID,
        holder: ID,
        amount: Decimal,
        idempotency_key: String,
    ) -> async_graphql::Result<Voucher> {
        let cmd = dvoucher::IssueVoucher {
            project: id(&project)?,
            holder: id(&holder)?,
            amount: amount.money()?,
        };
        Ok(Voucher::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Splits a voucher's whole balance among one or more holders, once (the holder names
    /// themself to keep a part); the new vouchers can never be transferred again.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Payer])")]
    async fn transfer_voucher(
        &self,
        ctx: &Context<'_>,
        voucher: ID,
        parts: Vec<TransferPartInput>,
        idempotency_key: String,
    ) -> async_graphql::Result<VoucherTransferPayload> {
        let cmd = dvoucher::TransferVoucher {
            voucher: id(&voucher)?,
            parts: parts
                .iter()
                .map(|p| {
                    Ok(dvoucher::TransferPart {
                        holder: id(&p.holder)?,
                        amount: p.amount.money()?,
                    })
                })
                .collect::<Result<_, lvyue_domain::DomainError>>()?,
        };
        let o = run(ctx, &idempotency_key, cmd).await?;
        Ok(VoucherTransferPayload {
            from: Voucher::from(o.from),
            to: o.to.into_iter().map(Voucher::from).collect(),
        })
    }

    /// Passes a voucher's whole balance to an heir on a certificate of succession (the bank,
    /// after the housing bureau reviewed it). Returns the heir's new voucher.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn inherit_voucher(
        &self,
        ctx: &Context<'_>,
        voucher: ID,
        heir: ID,
        certificate_ref: String,
        idempotency_key: String,
    ) -> async_graphql::Result<Voucher> {
        let cmd = dvoucher::InheritVoucher {
            voucher: id(&voucher)?,
            heir: id(&heir)?,
            certificate_ref,
        };
        Ok(Voucher::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Reports a voucher lost: its whole balance is frozen (the holder, or the bank).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Payer])")]
    async fn report_voucher_loss(
        &self,
        ctx: &Context<'_>,
        voucher: ID,
        #[graphql(default)] reason: String,
        idempotency_key: String,
    ) -> async_graphql::Result<Voucher> {
        let cmd = dvoucher::ReportVoucherLoss {
            voucher: id(&voucher)?,
            reason,
        };
        Ok(Voucher::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Reissues a voucher reported lost under a new number with the same balance and expiry
    /// (the bank). Returns the new voucher.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn reissue_voucher(
        &self,
        ctx: &Context<'_>,
        voucher: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<Voucher> {
        let cmd = dvoucher::ReissueVoucher {
            voucher: id(&voucher)?,
        };
        Ok(Voucher::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Redeems part or all of a voucher against a home purchase from a developer enrolled in
    /// the scheme (the holder, or the bank): an escrow order released to the developer in the
    /// scheme's stages, plus the reward for early use from the subsidy pool.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Payer])")]
    async fn redeem_voucher(
        &self,
        ctx: &Context<'_>,
        voucher: ID,
        developer: ID,
        amount: Decimal,
        contract_ref: String,
        idempotency_key: String,
    ) -> async_graphql::Result<RedeemVoucherPayload> {
        let cmd = dvoucher::RedeemVoucher {
            voucher: id(&voucher)?,
            developer: id(&developer)?,
            amount: amount.money()?,
            contract_ref,
        };
        let r = run(ctx, &idempotency_key, cmd).await?;
        Ok(RedeemVoucherPayload {
            voucher: Voucher::from(r.voucher),
            order: Order::from(r.order),
            amount: r.amount.into(),
            reward_bp: r.reward_bp.get() as i32,
            reward: r.reward.into(),
            released: r
                .released
                .into_iter()
                .map(|t| Tranche {
                    milestone_id: gid(t.milestone),
                    index: t.index,
                    amount: t.amount.into(),
                    entry_id: gid(t.entry),
                })
                .collect(),
        })
    }

    /// Ends a voucher whose validity has ended (the scheduler does this; the bank may by hand):
    /// the balance is paid to the holder where the policy says `cash_out_on_expiry`, else it
    /// goes back to the project.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn expire_voucher(
        &self,
        ctx: &Context<'_>,
        voucher: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<VoucherExpiryPayload> {
        let cmd = dvoucher::ExpireVoucher {
            voucher: id(&voucher)?,
        };
        let o = run(ctx, &idempotency_key, cmd).await?;
        Ok(VoucherExpiryPayload {
            voucher: Voucher::from(o.voucher),
            amount: o.amount.into(),
            cashed_out: o.cashed_out,
        })
    }
}
