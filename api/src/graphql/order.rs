//! Orders in the schema: the escrow lifecycle from payment to release or refund, as the bank,
//! the merchant, the payer and the regulator each see and drive it.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use lvyue_domain::ids::{OrderId, PartyId};
use lvyue_domain::ledger::holds_of_order;
use lvyue_domain::money::Bp;
use lvyue_domain::order::{
    self as dorder, MilestoneRecord, OrderRecord, PaymentRecord, RefundRecord,
};
use lvyue_domain::principal::Role;
use lvyue_domain::queries::{self, OrderFilter, Page as DPage};
use lvyue_domain::split::{SplitShare, SplitTerms};

use super::common::{gid, id, run, time};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::enums::{
    GqlChannel, GqlConfirmer, GqlIndustry, GqlMilestoneStatus, GqlOrderStatus, GqlPaymentStatus,
    GqlRefundStatus,
};
use super::event::Event;
use super::guard::RoleGuard;
use super::ledger::{Account, Hold};
use super::loaders::loaders;
use super::party::Party;
use super::scalars::Decimal;
use super::scheme::Scheme;
use super::trail;

/// An order as an answer carries it; made only by [`Order::from`], which notes it on a
/// supervised read's trail.
pub struct Order(OrderRecord);

impl From<OrderRecord> for Order {
    fn from(r: OrderRecord) -> Order {
        trail::order(r.id);
        Order(r)
    }
}

impl Order {
    pub fn record(&self) -> &OrderRecord {
        &self.0
    }
}

#[Object]
impl Order {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn order_no(&self) -> &str {
        &self.0.order_no
    }

    async fn status(&self) -> GqlOrderStatus {
        self.0.status.into()
    }

    async fn industry(&self) -> GqlIndustry {
        self.0.industry.into()
    }

    async fn region(&self) -> &str {
        self.0.region.as_str()
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    async fn total(&self) -> Decimal {
        self.0.total.into()
    }

    /// Paid by the payer so far.
    async fn collected(&self) -> Decimal {
        self.0.collected.into()
    }

    /// Settled (T+1) into escrow so far.
    async fn settled(&self) -> Decimal {
        self.0.settled.into()
    }

    async fn released(&self) -> Decimal {
        self.0.released.into()
    }

    async fn refunded(&self) -> Decimal {
        self.0.refunded.into()
    }

    /// Deducted to a court.
    async fn deducted(&self) -> Decimal {
        self.0.deducted.into()
    }

    /// Collected but not yet settled.
    async fn in_clearing(&self) -> Decimal {
        self.0.in_clearing().into()
    }

    /// In escrow now: collected = released + refunded + deducted + inClearing + inEscrow.
    async fn in_escrow(&self) -> Decimal {
        self.0.in_escrow().into()
    }

    /// The policy version the order was opened under (its terms never change).
    async fn policy_version(&self) -> i32 {
        self.0.policy_version
    }

    async fn opened_at(&self) -> DateTime<Utc> {
        time(self.0.opened_at)
    }

    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at.map(time)
    }

    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at.map(time)
    }

    /// A platform order's split terms (commission and sub-merchant weights), fixed when it was
    /// opened; every release is divided by them. Absent for other orders.
    async fn split(&self) -> Option<SplitTermsView> {
        self.0.split.as_ref().map(|t| SplitTermsView {
            commission_bp: t.commission_bp.get(),
            shares: t
                .shares
                .iter()
                .map(|s| SplitShareView {
                    merchant_id: gid(s.merchant),
                    weight: s.weight,
                })
                .collect(),
        })
    }

    async fn merchant(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let viewer = ctx.principal()?;
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.merchant)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    /// The payer; a person's data masked for everyone but the payer, the bank and courts. Null
    /// for the merchant until the payer has accepted the order (`payerAccepted`).
    async fn payer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Party>> {
        let viewer = ctx.principal()?;
        if !self.0.payer_shown_to(viewer) {
            return Ok(None);
        }
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.payer)
            .await?
            .map(|p| Party::for_viewer(p, viewer)))
    }

    /// Whether the payer has consented to the order: opened at the bank's counter, accepted
    /// with the payer's own token (`acceptOrder`), or paid.
    async fn payer_accepted(&self) -> bool {
        self.0.payer_accepted_at.is_some()
    }

    async fn scheme(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Scheme>> {
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.scheme)
            .await?
            .map(Scheme))
    }

    /// The order's escrow account (the bank and the merchant).
    async fn escrow_account(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Account>> {
        let viewer = ctx.principal()?;
        if !(viewer.role == Role::Bank || viewer.party_id == Some(self.0.merchant)) {
            return Ok(None);
        }
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.escrow_account)
            .await?
            .map(Account::from))
    }

    async fn milestones(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Milestone>> {
        Ok(loaders(ctx)?
            .milestones
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Milestone::from)
            .collect())
    }

    async fn payments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Payment>> {
        Ok(loaders(ctx)?
            .payments
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(Payment::from)
            .collect())
    }

    async fn refunds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Refund>> {
        Ok(dorder::refunds_of(ctx.escrow()?.db(), self.0.id)
            .await?
            .into_iter()
            .map(Refund::from)
            .collect())
    }

    /// Holds (court freezes) on the order's escrow, highest priority first.
    async fn holds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Hold>> {
        Ok(holds_of_order(ctx.escrow()?.db(), self.0.id)
            .await?
            .into_iter()
            .map(Hold::from)
            .collect())
    }

    /// The order's events in the transparency log, oldest first.
    #[graphql(complexity = "connection::complexity(first, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, Event>> {
        let page = Page::new(first, after)?;
        let rows = queries::events(
            ctx.escrow()?.db(),
            ctx.principal()?,
            Some(self.0.id),
            page.after.map(|a| lvyue_domain::ids::Seq(a as u64)),
            page.first as u64,
        )
        .await?;
        Ok(connection::of_paged(
            page,
            rows.items.into_iter().map(Event::from).collect(),
            rows.has_next,
            |e| e.record().seq.0 as i64,
        ))
    }
}

/// Made only by [`Milestone::from`], which notes its order on a supervised read's trail.
pub struct Milestone(MilestoneRecord);

impl From<MilestoneRecord> for Milestone {
    fn from(r: MilestoneRecord) -> Milestone {
        trail::order(r.order);
        Milestone(r)
    }
}

#[Object]
impl Milestone {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    /// 0-based position in the schedule.
    async fn index(&self) -> i32 {
        self.0.index
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Share in basis points (10000 = 100%).
    async fn share_bp(&self) -> i32 {
        self.0.share.get() as i32
    }

    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    async fn status(&self) -> GqlMilestoneStatus {
        self.0.status.into()
    }

    /// When time alone confirms it, once current.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at.map(time)
    }

    async fn confirmed_at(&self) -> Option<DateTime<Utc>> {
        self.0.confirmed_at.map(time)
    }

    async fn released_at(&self) -> Option<DateTime<Utc>> {
        self.0.released_at.map(time)
    }

    /// The journal entry that released it.
    async fn release_entry_id(&self) -> Option<ID> {
        self.0.released_entry.map(gid)
    }
}

/// Made only by [`Payment::from`], which notes its order on a supervised read's trail.
pub struct Payment(PaymentRecord);

impl From<PaymentRecord> for Payment {
    fn from(r: PaymentRecord) -> Payment {
        trail::order(r.order);
        Payment(r)
    }
}

#[Object]
impl Payment {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn channel(&self) -> GqlChannel {
        self.0.channel.into()
    }

    /// The channel's transaction id.
    async fn external_ref(&self) -> &str {
        &self.0.external_ref
    }

    async fn batch_ref(&self) -> Option<&str> {
        self.0.batch_ref.as_deref()
    }

    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    async fn refunded(&self) -> Decimal {
        self.0.refunded.into()
    }

    async fn paid_at(&self) -> DateTime<Utc> {
        time(self.0.paid_at)
    }

    /// The working day it settles (T+1) into escrow.
    async fn settle_date(&self) -> NaiveDate {
        self.0.settle_date
    }

    /// `settleDate` was counted through a year whose holiday calendar the bank has not loaded
    /// yet (by the statutory holidays alone): it may move when that year is loaded.
    async fn settle_date_provisional(&self) -> bool {
        self.0.settle_provisional
    }

    async fn status(&self) -> GqlPaymentStatus {
        self.0.status.into()
    }
}

/// Made only by [`Refund::from`], which notes its order on a supervised read's trail.
pub struct Refund(RefundRecord);

impl From<RefundRecord> for Refund {
    fn from(r: RefundRecord) -> Refund {
        trail::order(r.order);
        Refund(r)
    }
}

#[Object]
impl Refund {
    async fn id(&self) -> ID {
        ID(format!("rfd_{}", self.0.id))
    }

    async fn order_id(&self) -> ID {
        gid(self.0.order)
    }

    async fn status(&self) -> GqlRefundStatus {
        self.0.status.into()
    }

    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// Who asked: PAYER, MERCHANT, BANK, EXPIRY, REGULATOR.
    async fn requested_by(&self) -> &str {
        &self.0.requested_by
    }

    async fn deduction(&self) -> Decimal {
        self.0.deduction.into()
    }

    async fn deduction_approved(&self) -> bool {
        self.0.deduction_approved
    }

    /// What went back to the payer (once executed).
    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    /// A partial refund's amount, as asked for; absent when all the unreleased money was asked.
    async fn requested_amount(&self) -> Option<Decimal> {
        self.0.requested.map(Into::into)
    }

    async fn requested_at(&self) -> DateTime<Utc> {
        time(self.0.requested_at)
    }

    /// The deadline (the policy's working days after the request).
    async fn due_at(&self) -> DateTime<Utc> {
        time(self.0.due_at)
    }

    /// `dueAt` was counted through a year whose holiday calendar the bank has not loaded yet
    /// (by the statutory holidays alone): it may move when that year is loaded.
    async fn due_at_provisional(&self) -> bool {
        self.0.due_provisional
    }

    async fn executed_at(&self) -> Option<DateTime<Utc>> {
        self.0.executed_at.map(time)
    }
}

/// Loads, in one query per kind, the nested rows a page of orders asked for (the request's
/// look-ahead says which), so that the nodes' fields come from the loaders' cache: a page costs
/// the same few queries whatever its size or the machine's speed.
async fn prime(ctx: &Context<'_>, orders: &[OrderRecord]) -> async_graphql::Result<()> {
    let node = ctx.look_ahead().field("edges").field("node");
    let l = loaders(ctx)?;
    let ids: Vec<OrderId> = orders.iter().map(|o| o.id).collect();
    let mut parties = Vec::new();
    if node.field("merchant").exists() {
        parties.extend(orders.iter().map(|o| o.merchant));
    }
    if node.field("payer").exists() {
        parties.extend(orders.iter().map(|o| o.payer));
    }
    if !parties.is_empty() {
        l.by_id.load_many(parties).await?;
    }
    if node.field("merchant").field("riskScore").exists() {
        l.risk.load_many(orders.iter().map(|o| o.merchant)).await?;
    }
    if node.field("scheme").exists() {
        l.by_id.load_many(orders.iter().map(|o| o.scheme)).await?;
    }
    if node.field("escrowAccount").exists() {
        l.by_id
            .load_many(orders.iter().map(|o| o.escrow_account))
            .await?;
    }
    if node.field("milestones").exists() {
        l.milestones.load_many(ids.iter().copied()).await?;
    }
    if node.field("payments").exists() {
        l.payments.load_many(ids).await?;
    }
    Ok(())
}

/// Parses `rfd_12`.
fn refund_id(id: &ID) -> async_graphql::Result<i64> {
    id.as_str()
        .strip_prefix("rfd_")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            lvyue_domain::DomainError::not_found(
                "refund",
                id.as_str().chars().take(40).collect::<String>(),
            )
            .into()
        })
}

#[derive(InputObject, Default)]
pub struct OrderFilterInput {
    pub merchant: Option<ID>,
    pub payer: Option<ID>,
    pub scheme: Option<ID>,
    pub status: Option<GqlOrderStatus>,
    pub industry: Option<GqlIndustry>,
    /// A region code prefix (2, 4 or 6 digits).
    pub region_prefix: Option<String>,
}

#[derive(Default)]
pub struct OrderQuery;

#[Object]
impl OrderQuery {
    /// Orders in your scope, newest first: the bank all, a merchant its own, a payer its own, a
    /// regulator those of its regions and industries.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Payer, Role::Regulator])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrderFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, Order>> {
        let page = Page::new(first, after)?;
        let f = filter.unwrap_or_default();
        let filter = OrderFilter {
            merchant: f.merchant.as_ref().map(id::<PartyId>).transpose()?,
            payer: f.payer.as_ref().map(id::<PartyId>).transpose()?,
            scheme: f.scheme.as_ref().map(id).transpose()?,
            status: f.status.map(Into::into),
            industry: f.industry.map(Into::into),
            region_prefix: f.region_prefix,
        };
        let rows = queries::orders(
            ctx.escrow()?.db(),
            ctx.principal()?,
            &filter,
            DPage {
                after: page.after,
                first: page.first as u64,
            },
        )
        .await?;
        prime(ctx, &rows.items).await?;
        Ok(connection::of_paged(
            page,
            rows.items.into_iter().map(Order::from).collect(),
            rows.has_next,
            |o| o.0.id.0,
        ))
    }

    /// An order you may see, by id.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Payer, Role::Regulator])")]
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Order> {
        Ok(Order::from(
            queries::order_visible(
                ctx.escrow()?.db(),
                ctx.principal()?,
                self::id::<OrderId>(&id)?,
            )
            .await?,
        ))
    }

    /// An order you may see, by its order number.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Payer, Role::Regulator])")]
    async fn order_by_no(
        &self,
        ctx: &Context<'_>,
        order_no: String,
    ) -> async_graphql::Result<Order> {
        Ok(Order::from(
            queries::order_by_no(ctx.escrow()?.db(), ctx.principal()?, &order_no).await?,
        ))
    }
}

#[derive(InputObject)]
pub struct OpenOrderInput {
    pub scheme: ID,
    pub merchant: ID,
    pub payer: ID,
    pub total: Decimal,
    #[graphql(default)]
    pub description: String,
    /// The merchant's own order number; generated when absent.
    pub order_no: Option<String>,
    /// Required exactly when the scheme splits orders (platforms): the platform's commission
    /// and each sub-merchant's weight, fixed from now on. Every release is divided by them.
    pub split: Option<SplitTermsInput>,
}

#[derive(InputObject)]
pub struct CollectInput {
    pub order: ID,
    pub channel: GqlChannel,
    pub amount: Decimal,
    /// The channel's transaction id.
    pub external_ref: String,
    /// The channel's batch id when one transfer paid several orders.
    pub batch_ref: Option<String>,
}

/// What a settlement run did.
#[derive(SimpleObject)]
pub struct SettlePayload {
    pub date: NaiveDate,
    pub payments: u32,
    pub amount: Decimal,
    /// More were due than one run settles; the scheduler continues at once.
    pub more: bool,
}

/// A released tranche.
#[derive(SimpleObject)]
pub struct Tranche {
    pub milestone_id: ID,
    pub index: i32,
    pub amount: Decimal,
    pub entry_id: ID,
}

/// An order and what a command released of it.
#[derive(SimpleObject)]
pub struct OrderPayload {
    pub order: Order,
    pub released: Vec<Tranche>,
}

fn payload(order: OrderRecord, released: Vec<dorder::ReleasedTranche>) -> OrderPayload {
    OrderPayload {
        order: Order::from(order),
        released: released
            .into_iter()
            .map(|t| Tranche {
                milestone_id: gid(t.milestone),
                index: t.index,
                amount: t.amount.into(),
                entry_id: gid(t.entry),
            })
            .collect(),
    }
}

#[derive(InputObject)]
pub struct SplitShareInput {
    pub merchant: ID,
    /// A positive weight: the part after the commission is divided in proportion.
    pub weight: u32,
}

/// How a platform order's releases are divided: fixed when it is opened.
#[derive(InputObject)]
pub struct SplitTermsInput {
    /// The platform's commission in basis points, at most the scheme's cap.
    pub commission_bp: u32,
    /// Each sub-merchant (enrolled in the scheme and active) and its weight.
    pub shares: Vec<SplitShareInput>,
}

impl SplitTermsInput {
    fn terms(&self) -> Result<SplitTerms, lvyue_domain::DomainError> {
        Ok(SplitTerms {
            commission_bp: Bp::new(self.commission_bp)?,
            shares: self
                .shares
                .iter()
                .map(|s| {
                    Ok(SplitShare {
                        merchant: id(&s.merchant)?,
                        weight: u64::from(s.weight),
                    })
                })
                .collect::<Result<_, lvyue_domain::DomainError>>()?,
        })
    }
}

/// A platform order's split terms, fixed at opening.
#[derive(SimpleObject)]
pub struct SplitTermsView {
    pub commission_bp: u32,
    pub shares: Vec<SplitShareView>,
}

#[derive(SimpleObject)]
pub struct SplitShareView {
    pub merchant_id: ID,
    pub weight: u64,
}

#[derive(Default)]
pub struct OrderMutation;

#[Object]
impl OrderMutation {
    /// Opens an order under the scheme's current policy version (the bank, or a merchant for
    /// itself). Milestone amounts are fixed now. A merchant's order waits for its payer's
    /// consent (`acceptOrder`, or a payment) before the merchant sees who the payer is.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant])")]
    async fn open_order(
        &self,
        ctx: &Context<'_>,
        input: OpenOrderInput,
        idempotency_key: String,
    ) -> async_graphql::Result<Order> {
        let cmd = dorder::OpenOrder {
            scheme: id(&input.scheme)?,
            merchant: id(&input.merchant)?,
            payer: id(&input.payer)?,
            total: input.total.money()?,
            description: input.description,
            order_no: input.order_no,
            split: input
                .split
                .as_ref()
                .map(SplitTermsInput::terms)
                .transpose()?,
        };
        Ok(Order::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// The payer consents to an order a merchant opened for it (the payer with its own token,
    /// or the bank at its counter). Until then — or until the payer pays — the merchant sees no
    /// one as the order's payer.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Payer])")]
    async fn accept_order(
        &self,
        ctx: &Context<'_>,
        order: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<Order> {
        let cmd = dorder::AcceptOrder { order: id(&order)? };
        Ok(Order::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Records money received through a channel (the bank, from the channel's notification):
    /// toward an order not yet running; an instalment of a running order paid in stages
    /// (`payment.staged`), up to its total; or a top-up of a running prepaid card, which raises
    /// its total. `INVALID_STATE` for any other order.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn collect(
        &self,
        ctx: &Context<'_>,
        input: CollectInput,
        idempotency_key: String,
    ) -> async_graphql::Result<Payment> {
        let cmd = dorder::Collect {
            order: id(&input.order)?,
            channel: input.channel.into(),
            amount: input.amount.money()?,
            external_ref: input.external_ref,
            batch_ref: input.batch_ref,
        };
        Ok(Payment::from(
            run(ctx, &idempotency_key, cmd).await?.payment,
        ))
    }

    /// Settles every payment due on or before `date` (the scheduler does this each working
    /// day; the bank may run it by hand).
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn settle(
        &self,
        ctx: &Context<'_>,
        date: NaiveDate,
        idempotency_key: String,
    ) -> async_graphql::Result<SettlePayload> {
        let o = run(ctx, &idempotency_key, dorder::Settle { date }).await?;
        Ok(SettlePayload {
            date: o.date,
            payments: o.payments,
            amount: o.amount.into(),
            more: o.more,
        })
    }

    /// Confirms (or, for a regulator, rejects) a milestone in the capacity the policy names:
    /// PAYER (the payer itself), REGULATOR (within its jurisdiction), EVIDENCE (a third-party
    /// confirmer registered for the scheme, or the bank entering its record, with the record's
    /// reference; the merchant only where the milestone says `self_certify`). Releases what
    /// becomes releasable.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Payer, Role::Regulator, Role::Confirmer])"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn confirm_milestone(
        &self,
        ctx: &Context<'_>,
        order: ID,
        index: i32,
        #[graphql(name = "as")] as_: GqlConfirmer,
        #[graphql(default = true)] approve: bool,
        #[graphql(default)] evidence: String,
        idempotency_key: String,
    ) -> async_graphql::Result<OrderPayload> {
        let o = run(
            ctx,
            &idempotency_key,
            dorder::ConfirmMilestone {
                order: id(&order)?,
                index,
                as_: as_.into(),
                approve,
                evidence,
            },
        )
        .await?;
        Ok(payload(o.order, o.released))
    }

    /// Releases the next confirmed milestone(s) now, or says exactly why not.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant])")]
    async fn release_milestone(
        &self,
        ctx: &Context<'_>,
        order: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<OrderPayload> {
        let o = run(
            ctx,
            &idempotency_key,
            dorder::ReleaseMilestone { order: id(&order)? },
        )
        .await?;
        Ok(payload(o.order, o.released))
    }

    /// Asks for the unreleased money back: the payer for itself, the merchant (with a proposed
    /// deduction) or the bank. With `amount`, only that part (a pupil's missed days, less than
    /// what is unreleased, no deduction): the order stays open and its later milestones shrink
    /// by it; without, all of it, and the order closes.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Payer])")]
    async fn request_refund(
        &self,
        ctx: &Context<'_>,
        order: ID,
        reason: String,
        deduction: Option<Decimal>,
        amount: Option<Decimal>,
        idempotency_key: String,
    ) -> async_graphql::Result<Refund> {
        let cmd = dorder::RequestRefund {
            order: id(&order)?,
            reason,
            deduction: deduction.map(Decimal::money).transpose()?,
            amount: amount.map(Decimal::money).transpose()?,
        };
        Ok(Refund::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// A regulator approves or rejects a proposed deduction.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator])")]
    async fn approve_deduction(
        &self,
        ctx: &Context<'_>,
        refund: ID,
        approve: bool,
        idempotency_key: String,
    ) -> async_graphql::Result<Refund> {
        Ok(Refund::from(
            run(
                ctx,
                &idempotency_key,
                dorder::ApproveDeduction {
                    refund: refund_id(&refund)?,
                    approve,
                },
            )
            .await?,
        ))
    }

    /// Executes a requested refund by the original channels.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant])")]
    async fn execute_refund(
        &self,
        ctx: &Context<'_>,
        refund: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<Refund> {
        Ok(Refund::from(
            run(
                ctx,
                &idempotency_key,
                dorder::ExecuteRefund {
                    refund: refund_id(&refund)?,
                },
            )
            .await?,
        ))
    }

    /// The regulator's decision on an order escalated at expiry.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator])")]
    async fn resolve_escalation(
        &self,
        ctx: &Context<'_>,
        order: ID,
        release: bool,
        #[graphql(default)] note: String,
        idempotency_key: String,
    ) -> async_graphql::Result<Order> {
        let decision = if release {
            dorder::EscalationDecision::Release
        } else {
            dorder::EscalationDecision::Refund
        };
        Ok(Order::from(
            run(
                ctx,
                &idempotency_key,
                dorder::ResolveEscalation {
                    order: id(&order)?,
                    decision,
                    note,
                },
            )
            .await?,
        ))
    }
}
