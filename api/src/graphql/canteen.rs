//! School canteens (阳光食堂) in the schema: the school a canteen serves, purchase payments to
//! food suppliers that the school and the education bureau approve (the scheme's `purchase`
//! policy), and the refund-SLA view of every refund in scope (unused meals within the
//! policy's `refund.deadline_working_days`). Meal fees themselves are ordinary orders.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use lvyue_domain::canteen::{self as dcanteen, PurchaseFilter, PurchaseRecord};
use lvyue_domain::ids::{PartyId, PurchaseId};
use lvyue_domain::principal::Role;
use lvyue_domain::queries::{self, Page as DPage};
use lvyue_domain::refund_sla::{self as dsla, RefundSlaFilter, RefundSlaRow};

use super::common::{gid, id, run, time, timestamp};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::enums::{GqlIndustry, GqlPurchaseApprover, GqlPurchaseStatus, GqlRefundStatus};
use super::guard::RoleGuard;
use super::loaders::loaders;
use super::order::Order;
use super::party::Party;
use super::scalars::Decimal;
use super::scheme::Scheme;

crate::noted!(
    /// A canteen's payment to a food supplier from its payable, paid by the bank once everyone the
    /// policy lists approved it.
    Purchase(PurchaseRecord), "purchase", |r| r.id);

#[Object]
impl Purchase {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn status(&self) -> GqlPurchaseStatus {
        self.0.status.into()
    }

    /// The canteen.
    async fn merchant(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.merchant)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    async fn scheme(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Scheme>> {
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.scheme)
            .await?
            .map(Scheme))
    }

    /// The school whose approval it needs (assigned when it was requested).
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let Some(s) = self.0.school else {
            return Ok(None);
        };
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(s)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    async fn supplier_name(&self) -> &str {
        &self.0.supplier_name
    }

    async fn supplier_account(&self) -> &str {
        &self.0.supplier_account
    }

    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    async fn invoice_ref(&self) -> &str {
        &self.0.invoice_ref
    }

    /// Whose approvals it needs, from the policy when it was requested.
    async fn approvals_needed(&self) -> Vec<GqlPurchaseApprover> {
        self.0
            .approvals_needed
            .iter()
            .map(|a| (*a).into())
            .collect()
    }

    /// The school's decision: absent until it decides.
    async fn school_approved(&self) -> Option<bool> {
        self.0.school_approved
    }

    async fn school_decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.school_decided_at.map(time)
    }

    /// The education bureau's decision: absent until it decides.
    async fn bureau_approved(&self) -> Option<bool> {
        self.0.bureau_approved
    }

    async fn bureau_decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.bureau_decided_at.map(time)
    }

    /// The approvers' notes, one line each.
    async fn note(&self) -> &str {
        &self.0.note
    }

    /// MERCHANT or BANK.
    async fn requested_by(&self) -> &str {
        &self.0.requested_by
    }

    async fn requested_at(&self) -> DateTime<Utc> {
        time(self.0.requested_at)
    }

    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at.map(time)
    }

    /// The payment to the supplier, once paid.
    async fn entry_id(&self) -> Option<ID> {
        self.0.entry.map(gid)
    }
}

/// The school a canteen serves in one scheme.
#[derive(SimpleObject)]
pub struct CanteenSchool {
    pub merchant_id: ID,
    pub scheme_id: ID,
    pub school: Party,
    pub assigned_at: DateTime<Utc>,
}

/// One refund's service level: asked, due, executed, working days taken against allowed.
pub struct RefundSla(pub RefundSlaRow);

#[Object]
impl RefundSla {
    async fn refund_id(&self) -> ID {
        ID(format!("rfd_{}", self.0.refund))
    }

    async fn order_id(&self) -> ID {
        gid(self.0.order)
    }

    async fn order_no(&self) -> &str {
        &self.0.order_no
    }

    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Order>> {
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.order)
            .await?
            .map(Order::from))
    }

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

    async fn industry(&self) -> GqlIndustry {
        self.0.industry.into()
    }

    async fn status(&self) -> GqlRefundStatus {
        self.0.status.into()
    }

    /// What went back to the payer (zero until executed).
    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    async fn requested_at(&self) -> DateTime<Utc> {
        time(self.0.requested_at)
    }

    async fn due_at(&self) -> DateTime<Utc> {
        time(self.0.due_at)
    }

    async fn executed_at(&self) -> Option<DateTime<Utc>> {
        self.0.executed_at.map(time)
    }

    /// Working days the policy allowed (request day to due day).
    async fn working_days_allowed(&self) -> u32 {
        self.0.working_days_allowed
    }

    /// Working days from the request to its execution, or to now while it is open.
    async fn working_days_taken(&self) -> u32 {
        self.0.working_days_taken
    }

    /// Executed after its deadline, or open past it.
    async fn overdue(&self) -> bool {
        self.0.overdue
    }
}

#[derive(InputObject, Default)]
pub struct PurchaseFilterInput {
    pub merchant: Option<ID>,
    pub scheme: Option<ID>,
    pub status: Option<GqlPurchaseStatus>,
}

#[derive(InputObject, Default)]
pub struct RefundSlaFilterInput {
    pub merchant: Option<ID>,
    pub scheme: Option<ID>,
    pub industry: Option<GqlIndustry>,
    /// Requested at or after.
    pub requested_from: Option<DateTime<Utc>>,
    /// Requested before.
    pub requested_before: Option<DateTime<Utc>>,
    /// Only refunds executed late or open past their deadline.
    #[graphql(default)]
    pub overdue_only: bool,
}

#[derive(Default)]
pub struct CanteenQuery;

#[Object]
impl CanteenQuery {
    /// Purchase payments in your scope, newest first: the bank all, a canteen its own, a
    /// regulator those of its jurisdiction and, for a school, those it must approve.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Regulator])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn purchases(
        &self,
        ctx: &Context<'_>,
        filter: Option<PurchaseFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, Purchase>> {
        let page = Page::new(first, after)?;
        let f = filter.unwrap_or_default();
        let filter = PurchaseFilter {
            merchant: f.merchant.as_ref().map(id::<PartyId>).transpose()?,
            scheme: f.scheme.as_ref().map(id).transpose()?,
            status: f.status.map(Into::into),
        };
        let rows = dcanteen::purchases(
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
            rows.items.into_iter().map(Purchase::from).collect(),
            rows.has_next,
            |p| p.0.id.0,
        ))
    }

    /// A purchase payment you may see.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Regulator])")]
    async fn purchase(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Purchase> {
        Ok(Purchase::from(
            dcanteen::purchase_visible(
                ctx.escrow()?.db(),
                ctx.principal()?,
                self::id::<PurchaseId>(&id)?,
            )
            .await?,
        ))
    }

    /// The school assigned to a canteen in a scheme (the canteen itself, the bank, regulators
    /// over it); absent while none is.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Regulator])")]
    async fn canteen_school(
        &self,
        ctx: &Context<'_>,
        merchant: ID,
        scheme: ID,
    ) -> async_graphql::Result<Option<Party>> {
        let p = ctx.principal()?;
        let db = ctx.escrow()?.db();
        let m = queries::merchant_visible(db, p, id(&merchant)?).await?;
        let Some(school) = dcanteen::school_of(db, m.id, id(&scheme)?).await? else {
            return Ok(None);
        };
        Ok(loaders(ctx)?
            .by_id
            .load_one(school)
            .await?
            .map(|s| Party::for_viewer(s, p)))
    }

    /// Every refund in your scope (through its order) with its deadline and how it was kept,
    /// newest first; open refunds are measured against now.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Payer, Role::Regulator])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn refund_sla(
        &self,
        ctx: &Context<'_>,
        filter: Option<RefundSlaFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, RefundSla>> {
        let page = Page::new(first, after)?;
        let escrow = ctx.escrow()?;
        let f = filter.unwrap_or_default();
        let filter = RefundSlaFilter {
            merchant: f.merchant.as_ref().map(id::<PartyId>).transpose()?,
            scheme: f.scheme.as_ref().map(id).transpose()?,
            industry: f.industry.map(Into::into),
            requested_from: f.requested_from.map(timestamp),
            requested_before: f.requested_before.map(timestamp),
            overdue_only: f.overdue_only,
            as_of: escrow.clock().now(),
        };
        let rows = dsla::refund_sla(
            escrow.db(),
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
            rows.items.into_iter().map(RefundSla).collect(),
            rows.has_next,
            |r| r.0.refund,
        ))
    }
}

#[derive(InputObject)]
pub struct RequestPurchaseInput {
    pub merchant: ID,
    pub scheme: ID,
    pub supplier_name: String,
    /// The supplier's bank account number.
    pub supplier_account: String,
    pub amount: Decimal,
    /// The supplier's invoice (or delivery note) number; one purchase per invoice.
    pub invoice_ref: String,
}

#[derive(Default)]
pub struct CanteenMutation;

#[Object]
impl CanteenMutation {
    /// Names the school a canteen serves in a scheme (the bank): a regulator party whose
    /// jurisdiction covers the canteen's district and `CANTEEN`, not the scheme's own regulator.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn assign_canteen_school(
        &self,
        ctx: &Context<'_>,
        merchant: ID,
        scheme: ID,
        school: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<CanteenSchool> {
        let cmd = dcanteen::AssignCanteenSchool {
            merchant: id(&merchant)?,
            scheme: id(&scheme)?,
            school: id(&school)?,
        };
        let a = run(ctx, &idempotency_key, cmd).await?;
        let p = ctx.principal()?;
        let school = lvyue_domain::party::get_party(ctx.escrow()?.db(), a.school).await?;
        Ok(CanteenSchool {
            merchant_id: gid(a.merchant),
            scheme_id: gid(a.scheme),
            school: Party::for_viewer(school, p),
            assigned_at: time(a.assigned_at),
        })
    }

    /// A canteen asks for a supplier to be paid from its payable (the canteen for itself, or
    /// the bank). The amount is reserved until the approvals the policy lists are in.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant])")]
    async fn request_purchase(
        &self,
        ctx: &Context<'_>,
        input: RequestPurchaseInput,
        idempotency_key: String,
    ) -> async_graphql::Result<Purchase> {
        let cmd = dcanteen::RequestPurchase {
            merchant: id(&input.merchant)?,
            scheme: id(&input.scheme)?,
            supplier_name: input.supplier_name,
            supplier_account: input.supplier_account,
            amount: input.amount.money()?,
            invoice_ref: input.invoice_ref,
        };
        Ok(Purchase::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// The school or the education bureau approves (or rejects) a pending purchase payment; the
    /// last approval needed makes the bank pay the supplier at once.
    #[graphql(guard = "RoleGuard(&[Role::Regulator])")]
    async fn approve_purchase(
        &self,
        ctx: &Context<'_>,
        purchase: ID,
        approve: bool,
        #[graphql(default)] note: String,
        idempotency_key: String,
    ) -> async_graphql::Result<Purchase> {
        let cmd = dcanteen::ApprovePurchase {
            purchase: id(&purchase)?,
            approve,
            note,
        };
        Ok(Purchase::from(run(ctx, &idempotency_key, cmd).await?))
    }
}
