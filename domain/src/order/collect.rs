//! Collect (收) and settle (T+1): a payer's money lands in the channel's clearing account, and
//! on the next working day moves in full into the order's escrow account. An order is paid in
//! full before it runs, or — under `payment.staged` — in instalments while it runs; a running
//! prepaid card takes top-ups that raise its total.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{escrow_order, milestone, payment};

use super::{MilestoneStatus, OrderRecord, OrderStatus, get_order};
use crate::calendar::Calendar;
use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{AccountId, EntryId, OrderId, PaymentId};
use crate::ledger::{EntryKind, Leg, MAX_LEGS_PER_ENTRY, post, system, transfer};
use crate::money::Money;
use crate::order_record::{PaymentStatus, settle_job_target};
use crate::policy::Policy;
use crate::principal::Role;
use crate::scheduler::{self, JobKind};
use crate::scheme::policy_at;

string_enum!(
    /// How a payer paid.
    Channel {
        WechatPay = "WECHAT_PAY",
        Alipay = "ALIPAY",
        UnionPay = "UNIONPAY",
        QrCode = "QR_CODE",
        BankTransfer = "BANK_TRANSFER",
        BatchRemittance = "BATCH_REMITTANCE",
    }
);

/// A payment as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub id: PaymentId,
    pub order: OrderId,
    pub channel: Channel,
    pub external_ref: String,
    pub batch_ref: Option<String>,
    pub amount: Money,
    pub refunded: Money,
    pub paid_at: Timestamp,
    pub settle_date: NaiveDate,
    /// The settle date was computed through a year whose holiday calendar is not loaded yet:
    /// it moves if that year's notice says otherwise.
    pub settle_provisional: bool,
    pub status: PaymentStatus,
    pub collect_entry: EntryId,
    pub settle_entry: Option<EntryId>,
}

impl TryFrom<payment::Model> for PaymentRecord {
    type Error = DomainError;
    fn try_from(m: payment::Model) -> DomainResult<PaymentRecord> {
        Ok(PaymentRecord {
            id: PaymentId(m.id),
            order: OrderId(m.order_id),
            channel: m.channel.parse()?,
            external_ref: m.external_ref,
            batch_ref: m.batch_ref,
            amount: Money::from_fen(m.amount_fen)?,
            refunded: Money::from_fen(m.refunded_fen)?,
            paid_at: Timestamp(m.paid_at_us),
            settle_date: m
                .settle_date
                .parse()
                .map_err(|_| DomainError::Invariant("stored settle date".into()))?,
            settle_provisional: m.settle_provisional,
            status: m.status.parse()?,
            collect_entry: EntryId(m.collect_entry_id),
            settle_entry: m.settle_entry_id.map(EntryId),
        })
    }
}

/// An order's payments, oldest first.
///
/// # Errors
/// Database errors.
pub async fn payments_of<C: ConnectionTrait>(
    db: &C,
    order: OrderId,
) -> DomainResult<Vec<PaymentRecord>> {
    payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order.0))
        .order_by_asc(payment::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(PaymentRecord::try_from)
        .collect()
}

/// What a payment is to its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PaymentKind {
    /// Toward the total of an order that does not run yet.
    Due,
    /// A later instalment of a running order paid in stages (`payment.staged`).
    Instalment,
    /// More money on a running prepaid card: its total grows by it.
    TopUp,
}

impl PaymentKind {
    /// What a payment to `order` now would be, or why the order takes none.
    fn of(order: &OrderRecord, policy: &Policy) -> DomainResult<PaymentKind> {
        let running = matches!(
            order.status,
            OrderStatus::Active | OrderStatus::Inspection | OrderStatus::Escalated
        );
        match order.status {
            OrderStatus::AwaitingPayment => Ok(PaymentKind::Due),
            _ if running && policy.payment.staged && order.collected < order.total => {
                Ok(PaymentKind::Instalment)
            }
            OrderStatus::Active if policy.release_on_usage => Ok(PaymentKind::TopUp),
            _ => Err(DomainError::invalid_state(
                format!("order {}", order.order_no),
                order.status.as_str(),
                if policy.payment.staged {
                    "collect payments (it is paid in full)"
                } else {
                    "collect payments (only a prepaid card is topped up once it runs)"
                },
            )),
        }
    }
}

/// A card's top-up raises its last milestone that still waits, so the schedule adds up to the
/// new total (the milestones of a card only mark how far it has been used).
async fn top_up_last_milestone(
    tx: &Tx<'_>,
    order: &OrderRecord,
    amount: Money,
) -> DomainResult<()> {
    let last = super::milestones_of(tx.db(), order.id)
        .await?
        .into_iter()
        .rev()
        .find(|m| {
            matches!(
                m.status,
                MilestoneStatus::Pending | MilestoneStatus::Confirmed
            )
        })
        .ok_or_else(|| {
            DomainError::invalid_state(
                format!("order {}", order.order_no),
                "USED_UP",
                "be topped up",
            )
        })?;
    milestone::ActiveModel {
        id: Set(last.id.0),
        amount_fen: Set(last.amount.checked_add(amount)?.fen()),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    Ok(())
}

/// Records money received through a channel for an order (the bank, from the channel's
/// notification).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Collect {
    pub order: OrderId,
    pub channel: Channel,
    pub amount: Money,
    /// The channel's transaction id; a second notification with the same id is refused.
    pub external_ref: String,
    /// The channel's batch id when one transfer paid several orders (reconciled 1:N).
    pub batch_ref: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectOutcome {
    pub payment: PaymentRecord,
    pub order: OrderRecord,
}

impl Command for Collect {
    type Output = CollectOutcome;
    const NAME: &'static str = "collect";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<CollectOutcome> {
        tx.principal.require_role(&[Role::Bank])?;
        let amount = self.amount.positive()?;
        let reference = crate::text::external_ref("externalRef", &self.external_ref)?;
        let batch_ref = self
            .batch_ref
            .as_deref()
            .map(|b| crate::text::external_ref("batchRef", b))
            .transpose()?;
        let order = get_order(tx.db(), self.order).await?;
        let policy = policy_at(tx.db(), order.scheme, order.policy_version).await?;
        let kind = PaymentKind::of(&order, &policy)?;
        crate::scheme::ensure_not_closing_down(
            tx.db(),
            order.merchant,
            order.scheme,
            "collect payments",
        )
        .await?;
        let outstanding = order.total.checked_sub(order.collected)?;
        if kind != PaymentKind::TopUp && amount > outstanding {
            return Err(DomainError::invalid(
                "amount",
                format!("{amount} is more than the {outstanding} still owed on the order"),
            ));
        }
        let duplicate = payment::Entity::find()
            .filter(payment::Column::Channel.eq(self.channel.as_str()))
            .filter(payment::Column::ExternalRef.eq(reference))
            .one(tx.db())
            .await?;
        if duplicate.is_some() {
            return Err(DomainError::Conflict(format!(
                "{} payment {reference} was already recorded",
                self.channel
            )));
        }
        let today = tx.now.china_date();
        let settle = Calendar::read_from(tx.db(), today)
            .await?
            .next_working_day(today)?;
        let settle_date = settle.date;
        let outside = system::channel_external(tx, self.channel.as_str()).await?;
        let clearing = system::clearing_account(tx, self.channel.as_str()).await?;
        let entry = post(
            tx,
            EntryKind::Collect,
            Some(order.id),
            &format!("{} {reference}", self.channel),
            &transfer(outside, clearing, amount),
        )
        .await?;
        let p = payment::ActiveModel {
            order_id: Set(order.id.0),
            channel: Set(self.channel.as_str().to_owned()),
            external_ref: Set(reference.to_owned()),
            batch_ref: Set(batch_ref.map(str::to_owned)),
            amount_fen: Set(amount.fen()),
            refunded_fen: Set(0),
            paid_at_us: Set(tx.now.0),
            settle_date: Set(settle_date.to_string()),
            settle_provisional: Set(settle.provisional),
            status: Set(PaymentStatus::Clearing.as_str().to_owned()),
            collect_entry_id: Set(entry.id.0),
            settle_entry_id: Set(None),
            statement_line_id: Set(None),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        if order.payer_accepted_at.is_none() {
            // The payer paid: that is its consent to the order a merchant opened for it.
            super::open::accept(tx, &order, "PAID").await?;
        }
        let collected = order.collected.checked_add(amount)?;
        let total = if kind == PaymentKind::TopUp {
            top_up_last_milestone(tx, &order, amount).await?;
            order.total.checked_add(amount)?
        } else {
            order.total
        };
        // An order runs once paid in full; an order paid in instalments from its first payment.
        let status = match kind {
            PaymentKind::Due if collected == order.total || policy.payment.staged => {
                OrderStatus::Active
            }
            PaymentKind::Due => OrderStatus::AwaitingPayment,
            PaymentKind::Instalment | PaymentKind::TopUp => order.status,
        };
        escrow_order::ActiveModel {
            id: Set(order.id.0),
            collected_fen: Set(collected.fen()),
            total_fen: Set(total.fen()),
            status: Set(status.as_str().to_owned()),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        let target = settle_job_target(settle_date)?;
        scheduler::schedule(
            tx,
            JobKind::Settle,
            target,
            Timestamp::china_midnight(settle_date),
            format!("settle:{target}"),
        )
        .await?;
        let payment = PaymentRecord::try_from(p)?;
        let mut data = json!({
                    "payment_id": payment.id,
                    "channel": payment.channel,
                    "external_ref": payment.external_ref,
                    "batch_ref": payment.batch_ref,
                    "amount": amount,
                    "settle_date": settle_date.to_string(),
                    "settle_provisional": settle.provisional,
                    "entry_id": entry.id,
                    "order_status": status,
        });
        match kind {
            PaymentKind::Due => {}
            PaymentKind::Instalment => data["instalment"] = json!(true),
            PaymentKind::TopUp => {
                data["top_up"] = json!(true);
                data["order_total"] = json!(total);
            }
        }
        tx.emit(order.event("payment.collected", data));
        Ok(CollectOutcome {
            payment,
            order: get_order(tx.db(), order.id).await?,
        })
    }
}

/// Settles every payment due on or before `date`: clearing → escrow, in full, one entry per
/// channel; then releases whatever the settled money makes releasable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settle {
    pub date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleOutcome {
    pub date: NaiveDate,
    pub payments: u32,
    pub amount: Money,
    pub entries: Vec<EntryId>,
    /// More payments were due than one transaction settles; run again.
    pub more: bool,
}

/// Payments settled in one transaction: each settled order writes an event, and a
/// transaction writes at most `MAX_EVENTS_PER_TRANSACTION` of them.
pub const MAX_PAYMENTS_PER_SETTLEMENT: u64 = 400;

impl Command for Settle {
    type Output = SettleOutcome;
    const NAME: &'static str = "settle";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<SettleOutcome> {
        tx.principal.require_role(&[Role::Bank])?;
        if self.date > tx.now.china_date() {
            return Err(DomainError::invalid(
                "date",
                format!("{} has not come yet", self.date),
            ));
        }
        let mut due = payment::Entity::find()
            .filter(payment::Column::Status.eq(PaymentStatus::Clearing.as_str()))
            .filter(payment::Column::SettleDate.lte(self.date.to_string()))
            .order_by_asc(payment::Column::Id)
            .limit(MAX_PAYMENTS_PER_SETTLEMENT + 1)
            .all(tx.db())
            .await?;
        let more = due.len() as u64 > MAX_PAYMENTS_PER_SETTLEMENT;
        due.truncate(MAX_PAYMENTS_PER_SETTLEMENT as usize);
        let mut by_channel: BTreeMap<String, Vec<payment::Model>> = BTreeMap::new();
        for p in due {
            by_channel.entry(p.channel.clone()).or_default().push(p);
        }
        let mut outcome = SettleOutcome {
            date: self.date,
            payments: 0,
            amount: Money::ZERO,
            entries: Vec::new(),
            more,
        };
        let mut orders: BTreeMap<i64, i64> = BTreeMap::new();
        for (channel, payments) in by_channel {
            let clearing = system::clearing_account(tx, &channel).await?;
            // One escrow leg per payment plus the clearing leg must fit in an entry.
            for chunk in payments.chunks(MAX_LEGS_PER_ENTRY - 1) {
                let mut escrow_of: BTreeMap<i64, AccountId> = BTreeMap::new();
                let mut legs = Vec::with_capacity(chunk.len() + 1);
                let mut total = 0i64;
                for p in chunk {
                    let account = match escrow_of.get(&p.order_id) {
                        Some(a) => *a,
                        None => {
                            let o = get_order(tx.db(), OrderId(p.order_id)).await?;
                            escrow_of.insert(p.order_id, o.escrow_account);
                            o.escrow_account
                        }
                    };
                    legs.push(Leg {
                        account,
                        amount_fen: p.amount_fen,
                    });
                    total += p.amount_fen;
                    *orders.entry(p.order_id).or_default() += p.amount_fen;
                }
                legs.push(Leg {
                    account: clearing,
                    amount_fen: -total,
                });
                let entry = post(
                    tx,
                    EntryKind::Settle,
                    None,
                    &format!("T+1 settlement {} {channel}", self.date),
                    &legs,
                )
                .await?;
                for p in chunk {
                    payment::ActiveModel {
                        id: Set(p.id),
                        status: Set(PaymentStatus::Settled.as_str().to_owned()),
                        settle_entry_id: Set(Some(entry.id.0)),
                        ..Default::default()
                    }
                    .update(tx.db())
                    .await?;
                }
                outcome.entries.push(entry.id);
                outcome.payments += chunk.len() as u32;
                outcome.amount = outcome.amount.checked_add(Money::from_fen(total)?)?;
                tx.emit(NewEvent::new(
                    "settlement.completed",
                    json!({
                        "date": self.date.to_string(),
                        "channel": channel,
                        "entry_id": entry.id,
                        "total": Money::from_fen(total)?,
                        "payments": chunk.iter().map(|p| Ok(json!({"payment_id": PaymentId(p.id), "order_id": OrderId(p.order_id), "amount": Money::from_fen(p.amount_fen)?, "external_ref": p.external_ref}))).collect::<DomainResult<Vec<_>>>()?,
                    }),
                ));
            }
        }
        // The merchants whose escrow this settlement fills (see the retry below).
        let mut merchants = std::collections::BTreeSet::new();
        for (&order_id, &fen) in &orders {
            let o = get_order(tx.db(), OrderId(order_id)).await?;
            merchants.insert((o.merchant, o.scheme, o.policy_version));
            escrow_order::ActiveModel {
                id: Set(order_id),
                settled_fen: Set(o.settled.fen() + fen),
                ..Default::default()
            }
            .update(tx.db())
            .await?;
            // The order's own history (and a court's evidence of it) shows the money arriving.
            tx.emit(
                NewEvent::new("order.settled", json!({ "date": self.date.to_string(), "amount": Money::from_fen(fen)?, "escrow_account_id": o.escrow_account }))
                    .order(o.id)
                    .merchant(o.merchant)
                    .payer(o.payer)
                    .scheme(o.scheme),
            );
        }
        if more {
            // The rest settles in a transaction of its own, right away.
            let target = settle_job_target(self.date)?;
            scheduler::schedule(
                tx,
                JobKind::Settle,
                target,
                tx.now,
                format!("settle:{target}:{}", tx.log_seq),
            )
            .await?;
        }
        if outcome.payments == 0 {
            tx.emit(NewEvent::new(
                "settlement.completed",
                json!({ "date": self.date.to_string(), "payments": [], "total": Money::ZERO }),
            ));
        }
        for &order_id in orders.keys() {
            super::release_ready(tx, OrderId(order_id)).await?;
        }
        // Money arriving in a merchant's escrow may let its other orders' waiting tranches
        // pass the custody rule that held them back: they are tried again now.
        for (merchant, scheme, version) in merchants {
            if policy_at(tx.db(), scheme, version).await?.custody.is_none() {
                continue;
            }
            for other in waiting_releases(tx, merchant, scheme, orders.keys()).await? {
                super::release_ready(tx, other).await?;
            }
        }
        Ok(outcome)
    }
}

/// Most other orders of one merchant retried after a settlement; the rest wait for their
/// next trigger (a confirmation, a due date, a release asked for).
const MAX_RETRIED_PER_SETTLEMENT: u64 = 100;

/// A merchant's running orders in `scheme`, besides `settled`, with a tranche that could go
/// out now: confirmed, or past its due time.
async fn waiting_releases<'a>(
    tx: &Tx<'_>,
    merchant: crate::ids::PartyId,
    scheme: crate::ids::SchemeId,
    settled: impl Iterator<Item = &'a i64>,
) -> DomainResult<Vec<OrderId>> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let waiting = Query::select()
        .column(milestone::Column::OrderId)
        .from(milestone::Entity)
        .cond_where(
            sea_orm::Condition::any()
                .add(milestone::Column::Status.eq(MilestoneStatus::Confirmed.as_str()))
                .add(
                    sea_orm::Condition::all()
                        .add(milestone::Column::Status.eq(MilestoneStatus::Pending.as_str()))
                        .add(Expr::col(milestone::Column::DueAtUs).lte(tx.now.0)),
                ),
        )
        .to_owned();
    let settled: Vec<i64> = settled.copied().collect();
    let ids: Vec<i64> = escrow_order::Entity::find()
        .select_only()
        .column(escrow_order::Column::Id)
        .filter(escrow_order::Column::MerchantId.eq(merchant.0))
        .filter(escrow_order::Column::SchemeId.eq(scheme.0))
        .filter(escrow_order::Column::Status.is_in([
            OrderStatus::Active.as_str(),
            OrderStatus::Inspection.as_str(),
            OrderStatus::Escalated.as_str(),
        ]))
        .filter(escrow_order::Column::Id.in_subquery(waiting))
        .order_by_asc(escrow_order::Column::Id)
        .limit(MAX_RETRIED_PER_SETTLEMENT + settled.len() as u64)
        .into_tuple()
        .all(tx.db())
        .await?;
    Ok(ids
        .into_iter()
        .filter(|id| !settled.contains(id))
        .take(MAX_RETRIED_PER_SETTLEMENT as usize)
        .map(OrderId)
        .collect())
}
