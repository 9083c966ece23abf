//! Prepaid cards (预付卡) in the schema: a card is an order released as it is used, through the
//! custody rule of the scheme's policy (`custody.ratio_by_issuer_bp` by the issuer type the bank
//! records, Shanghai's `custody.warning_lines`); closing down refunds every card in one batch.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use lvyue_domain::ids::{OrderId, PartyId, SchemeId};
use lvyue_domain::money::Money;
use lvyue_domain::party::PartyRecord;
use lvyue_domain::policy::WarningTrigger;
use lvyue_domain::prepaid::{self as dprepaid, CardUsageRecord};
use lvyue_domain::principal::{Principal, Role};
use lvyue_domain::scheme::{enrollment_of, get_scheme, policy_at};
use lvyue_domain::{custody, queries, risk};

use super::common::{gid, id, run, time};
use super::context::ContextExt;
use super::enums::{GqlDeferralReason, GqlEnrollmentStatus, GqlIssuerType};
use super::guard::RoleGuard;
use super::order::Order;
use super::party::Party;
use super::scalars::Decimal;

crate::noted!(
    /// One use of a card: exactly its amount was released to the issuer.
    CardUsage(CardUsageRecord), "card usage", |r| r.id, order: |r| Some(r.order));

#[Object]
impl CardUsage {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn order_id(&self) -> ID {
        gid(self.0.order)
    }

    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    /// The issuer's record of the use (POS receipt, booking).
    async fn reference(&self) -> &str {
        &self.0.reference
    }

    /// PAYER (the cardholder confirmed it) or BANK.
    async fn recorded_by(&self) -> &str {
        &self.0.recorded_by
    }

    async fn entry_id(&self) -> ID {
        gid(self.0.entry)
    }

    async fn at(&self) -> DateTime<Utc> {
        time(self.0.at)
    }
}

/// A recorded use: the use, the card after it, and what is left on it.
#[derive(SimpleObject)]
pub struct CardUsagePayload {
    pub usage: CardUsage,
    pub order: Order,
    pub unused: Decimal,
}

/// What the custody rules read about a merchant, as the bank recorded it.
#[derive(SimpleObject)]
pub struct MerchantProfile {
    pub merchant: Party,
    /// Absent while the bank has not recorded it: the highest ratio of the policy's table then
    /// applies.
    pub issuer_type: Option<GqlIssuerType>,
    /// Last year's main-business revenue (Shanghai's revenue warning line reads it).
    pub last_year_revenue: Option<Decimal>,
}

impl MerchantProfile {
    fn of(record: PartyRecord, viewer: &Principal) -> MerchantProfile {
        let issuer_type = record
            .attributes
            .get("issuer_type")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<dprepaid::IssuerType>().ok())
            .map(Into::into);
        let last_year_revenue = record
            .attributes
            .get("last_year_revenue")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<Money>().ok())
            .map(Into::into);
        MerchantProfile {
            merchant: Party::for_viewer(record, viewer),
            issuer_type,
            last_year_revenue,
        }
    }
}

/// What a scheme's custody rule asks of a merchant now.
#[derive(SimpleObject)]
pub struct CustodyStatus {
    /// The balance the ratio applies to (for prepaid cards: the previous quarter's).
    pub reference: Decimal,
    pub ratio_bp: i32,
    /// Rounded up to the fen.
    pub required: Decimal,
    /// What the merchant holds in escrow in the scheme now.
    pub actual: Decimal,
    pub shortfall: Decimal,
    /// The ratio of the warning line that set the ratio, if one did.
    pub warning_line_ratio_bp: Option<i32>,
    /// That line's trigger, in words (`BALANCE_OVER 200000.00`,
    /// `SHARE_OF_REVENUE_OVER 2000 FLOOR 200000.00 CAP 50000000.00`).
    pub warning_line: Option<String>,
}

/// A card whose refund waits, and its refund request.
#[derive(SimpleObject)]
pub struct DeferredCard {
    pub order_id: ID,
    pub reason: GqlDeferralReason,
    pub refund_id: ID,
}

/// What one closing-down batch did.
#[derive(SimpleObject)]
pub struct ClosingDownPayload {
    pub merchant_id: ID,
    pub scheme_id: ID,
    /// Cards refunded in this batch.
    pub refunded_cards: u32,
    /// What went back to cardholders in this batch.
    pub refunded_total: Decimal,
    /// Orders closed with nothing paid on them.
    pub closed_unpaid: u32,
    pub deferred: Vec<DeferredCard>,
    /// More cards than one transaction holds: the rest follow at once, in further batches.
    pub more: bool,
}

#[derive(Default)]
pub struct PrepaidQuery;

#[Object]
impl PrepaidQuery {
    /// A card's uses, oldest first (its holder's transaction history).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Payer, Role::Regulator])")]
    async fn card_usages(
        &self,
        ctx: &Context<'_>,
        order: ID,
    ) -> async_graphql::Result<Vec<CardUsage>> {
        Ok(
            dprepaid::usages_of(ctx.escrow()?.db(), ctx.principal()?, id::<OrderId>(&order)?)
                .await?
                .into_iter()
                .map(CardUsage::from)
                .collect(),
        )
    }

    /// A merchant's standing in a scheme: ACTIVE or CLOSING_DOWN.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Regulator])")]
    async fn enrollment_status(
        &self,
        ctx: &Context<'_>,
        merchant: ID,
        scheme: ID,
    ) -> async_graphql::Result<GqlEnrollmentStatus> {
        let db = ctx.escrow()?.db();
        let m = queries::merchant_visible(db, ctx.principal()?, id(&merchant)?).await?;
        Ok(dprepaid::closing_down_status(db, m.id, id(&scheme)?)
            .await?
            .into())
    }

    /// What the custody rules read about a merchant (the bank, regulators over it, the merchant
    /// itself).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Regulator])")]
    async fn merchant_profile(
        &self,
        ctx: &Context<'_>,
        merchant: ID,
    ) -> async_graphql::Result<MerchantProfile> {
        let p = ctx.principal()?;
        let m = queries::merchant_visible(ctx.escrow()?.db(), p, id(&merchant)?).await?;
        Ok(MerchantProfile::of(m, p))
    }

    /// The custody a scheme's policy requires of a merchant now and what it holds (the bank,
    /// regulators over it, the merchant itself); absent when the policy has no custody rule.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Regulator])")]
    async fn custody_status(
        &self,
        ctx: &Context<'_>,
        merchant: ID,
        scheme: ID,
    ) -> async_graphql::Result<Option<CustodyStatus>> {
        let escrow = ctx.escrow()?;
        let db = escrow.db();
        let m = queries::merchant_visible(db, ctx.principal()?, id::<PartyId>(&merchant)?).await?;
        let s = get_scheme(db, id::<SchemeId>(&scheme)?).await?;
        let e = enrollment_of(db, m.id, s.id).await?;
        let Some(rule) = policy_at(db, s.id, s.current_version).await?.custody else {
            return Ok(None);
        };
        let grade = risk::latest_grade(db, m.id).await?;
        let c = custody::status(
            db,
            &rule,
            e.group_account,
            &m,
            grade.as_deref(),
            escrow.clock().now(),
        )
        .await?;
        Ok(Some(CustodyStatus {
            reference: c.reference.into(),
            ratio_bp: c.ratio.get() as i32,
            required: c.required.into(),
            actual: c.actual.into(),
            shortfall: c.shortfall.into(),
            warning_line_ratio_bp: c.warning_line.map(|l| l.ratio_bp.get() as i32),
            warning_line: c.warning_line.map(|l| match l.when {
                WarningTrigger::BalanceOver(m) => format!("BALANCE_OVER {m}"),
                WarningTrigger::ShareOfRevenueOver(r) => {
                    let mut s = format!("SHARE_OF_REVENUE_OVER {}", r.share_bp.get());
                    if let Some(f) = r.floor {
                        s.push_str(&format!(" FLOOR {f}"));
                    }
                    if let Some(c) = r.cap {
                        s.push_str(&format!(" CAP {c}"));
                    }
                    s
                }
            }),
        }))
    }
}

#[derive(Default)]
pub struct PrepaidMutation;

#[Object]
impl PrepaidMutation {
    /// Records what the custody rules read about a merchant (the bank): its issuer type and
    /// last year's revenue. A field left out keeps its value.
    #[graphql(guard = "RoleGuard(&[Role::Bank])")]
    async fn set_merchant_profile(
        &self,
        ctx: &Context<'_>,
        merchant: ID,
        issuer_type: Option<GqlIssuerType>,
        last_year_revenue: Option<Decimal>,
        idempotency_key: String,
    ) -> async_graphql::Result<MerchantProfile> {
        let cmd = dprepaid::SetMerchantProfile {
            merchant: id(&merchant)?,
            issuer_type: issuer_type.map(Into::into),
            last_year_revenue: last_year_revenue.map(Decimal::money).transpose()?,
        };
        let m = run(ctx, &idempotency_key, cmd).await?;
        Ok(MerchantProfile::of(m, ctx.principal()?))
    }

    /// The cardholder confirms a use of the card (or the bank records it): exactly `amount` is
    /// released to the issuer, through the release gates and the custody rule.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Payer])")]
    async fn record_card_usage(
        &self,
        ctx: &Context<'_>,
        order: ID,
        amount: Decimal,
        reference: String,
        idempotency_key: String,
    ) -> async_graphql::Result<CardUsagePayload> {
        let cmd = dprepaid::RecordUsage {
            order: id(&order)?,
            amount: amount.money()?,
            reference,
        };
        let o = run(ctx, &idempotency_key, cmd).await?;
        Ok(CardUsagePayload {
            usage: CardUsage::from(o.usage),
            order: Order::from(o.order),
            unused: o.unused.into(),
        })
    }

    /// Puts a merchant into closing-down mode in a scheme — no release goes out, nothing new
    /// comes in — and refunds every open card balance by the original route in one batch (the
    /// bank, or a regulator over the merchant).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Regulator])")]
    async fn start_closing_down(
        &self,
        ctx: &Context<'_>,
        merchant: ID,
        scheme: ID,
        reason: String,
        idempotency_key: String,
    ) -> async_graphql::Result<ClosingDownPayload> {
        let cmd = dprepaid::StartClosingDown {
            merchant: id(&merchant)?,
            scheme: id(&scheme)?,
            reason,
        };
        let o = run(ctx, &idempotency_key, cmd).await?;
        Ok(ClosingDownPayload {
            merchant_id: gid(o.merchant),
            scheme_id: gid(o.scheme),
            refunded_cards: o.refunded_cards,
            refunded_total: o.refunded_total.into(),
            closed_unpaid: o.closed_unpaid,
            deferred: o
                .deferred
                .into_iter()
                .map(|d| DeferredCard {
                    order_id: gid(d.order),
                    reason: d.reason.into(),
                    refund_id: ID(format!("rfd_{}", d.refund)),
                })
                .collect(),
            more: o.more,
        })
    }
}
