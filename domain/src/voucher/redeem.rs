//! Redemption (兑付) against a home purchase, and the reward for early use.
//!
//! A redemption reuses the order machinery: the bank opens an escrow order of the developer
//! for the holder under the scheme's current milestones (e.g. 30% at contract, 60% at
//! handover, 10% a year later), and funds its escrow at once from the voucher instead of a
//! channel — no clearing, so the order is collected and settled in the same transaction and
//! the audit's order equations hold (`collected = settled`, escrow = settled − released −
//! refunded − deducted).
//!
//! The reward (docs/domain.md: "a subsidy posting") is `reward_bp` of the redeemed amount, by how
//! many months after the first issue the voucher is used, paid from the scheme's SUBSIDY pool
//! **into the same escrow**: it goes to the developer as part of the price, in the same
//! stages, and stays inside the closed loop (Xiamen: no cash-out of vouchers). If the purchase
//! is refunded, what goes back is split between the voucher and the pool in proportion to
//! what each paid in.

use std::sync::LazyLock;

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{escrow_order, voucher_redemption};

use super::{
    VoucherRecord, VoucherStatus, check_ref, get_voucher, plus_months, require_valid, set_status,
    subsidy_pool, successor_of, voucher_for_holder_or_bank, voucher_rule,
};
use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::gate::{self, Outflow};
use crate::ids::{OrderId, PartyId, VoucherId};
use crate::ledger::{EntryKind, Leg, get_account, post, post_cleared, system, transfer};
use crate::money::{Bp, Money};
use crate::order::{OpenOrder, ReleasedTranche, release_ready};
use crate::order_record::{OrderRecord, OrderStatus, get_order};
use crate::policy::VoucherRule;
use crate::principal::Principal;
use crate::scheme::{enrollment_of, get_scheme};

/// The bank's own processes: a redemption's order is opened by the bank on the holder's
/// instruction, whoever gave it.
static BANK: LazyLock<Principal> = LazyLock::new(Principal::system);

/// The reward rate for using a voucher first issued at `issued_at` at `now`: the first tier
/// whose `months` after issue have not yet passed (docs/domain.md: up to 5% in the first 12 months,
/// 2% in months 13–24), else none.
///
/// # Errors
/// Dates out of range.
pub fn reward_bp_at(rule: &VoucherRule, issued_at: Timestamp, now: Timestamp) -> DomainResult<Bp> {
    for tier in &rule.reward_tiers {
        if now < plus_months(issued_at, tier.months)? {
            return Ok(tier.reward_bp);
        }
    }
    Ok(Bp::new(0)?)
}

/// Redeems part or all of a voucher against a home purchase from a developer enrolled in the
/// scheme (the holder, or the bank at its counter).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedeemVoucher {
    pub voucher: VoucherId,
    pub developer: PartyId,
    pub amount: Money,
    /// The purchase contract (商品房买卖合同) number.
    pub contract_ref: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    pub voucher: VoucherRecord,
    pub order: OrderRecord,
    pub amount: Money,
    pub reward_bp: Bp,
    pub reward: Money,
    /// Stages released at once (the contract stage, when the policy releases it on signing).
    pub released: Vec<ReleasedTranche>,
}

impl Command for RedeemVoucher {
    type Output = Redemption;
    const NAME: &'static str = "redeemVoucher";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<Redemption> {
        let v = voucher_for_holder_or_bank(tx, self.voucher).await?;
        let contract = check_ref("contractRef", &self.contract_ref)?;
        let amount = self.amount.positive()?;
        if v.status == VoucherStatus::Frozen {
            return Err(DomainError::invalid_state(
                format!("voucher {}", v.number),
                "FROZEN",
                "be redeemed after it was reported lost",
            ));
        }
        if !v.status.is_usable() {
            return Err(DomainError::invalid_state(
                format!("voucher {}", v.number),
                v.status.as_str(),
                "be redeemed",
            ));
        }
        require_valid(tx, &v, "be redeemed")?;
        let available = v.balance.checked_sub(v.held)?;
        if amount > available {
            return Err(DomainError::InsufficientFunds {
                account: v.number.clone(),
                available,
                requested: amount,
            });
        }
        let project = super::get_project(tx.db(), v.project).await?;
        if project.developer.is_some_and(|d| d != self.developer) {
            return Err(DomainError::invalid(
                "developer",
                format!(
                    "vouchers of project {} are redeemed only with its developer",
                    project.name
                ),
            ));
        }
        let scheme = get_scheme(tx.db(), v.scheme).await?;
        enrollment_of(tx.db(), self.developer, scheme.id).await?;
        let rule = voucher_rule(tx.db(), v.scheme, v.policy_version).await?;
        let reward_bp = reward_bp_at(&rule, v.issued_at, tx.now)?;
        let reward = amount.share_floor(reward_bp);
        let pool = if reward.is_zero() {
            None
        } else {
            let pool = get_account(tx.db(), subsidy_pool(tx, &scheme).await?).await?;
            if pool.available_fen() < reward.fen() {
                let available = Money::from_fen(pool.available_fen().max(0))?;
                return Err(DomainError::InsufficientFunds {
                    account: pool.number,
                    available,
                    requested: reward,
                });
            }
            Some(pool.id)
        };
        let total = amount.checked_add(reward)?;

        let caller = tx.principal;
        tx.principal = &BANK;
        let opened = OpenOrder {
            scheme: scheme.id,
            merchant: self.developer,
            payer: v.holder,
            total,
            description: format!("房票 {} 购房 合同 {contract}", v.number),
            order_no: None,
            split: None,
        }
        .run(tx)
        .await;
        tx.principal = caller;
        let order = opened?;

        let clearance = gate::clear(
            Outflow::VoucherRedemption,
            Some(order.id),
            v.account,
            amount,
        )?;
        let paid = post_cleared(
            tx,
            clearance,
            EntryKind::Transfer,
            &format!("voucher {} redeemed, contract {contract}", v.number),
            &transfer(v.account, order.escrow_account, amount),
        )
        .await?;
        let subsidy = match pool {
            Some(pool) => Some(
                post(
                    tx,
                    EntryKind::Subsidy,
                    Some(order.id),
                    &format!("voucher {} reward {} bp", v.number, reward_bp.get()),
                    &transfer(pool, order.escrow_account, reward),
                )
                .await?,
            ),
            None => None,
        };
        // Funded in full from inside the bank: collected and settled at once.
        escrow_order::ActiveModel {
            id: Set(order.id.0),
            collected_fen: Set(total.fen()),
            settled_fen: Set(total.fen()),
            status: Set(OrderStatus::Active.as_str().to_owned()),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        voucher_redemption::ActiveModel {
            voucher_id: Set(v.id.0),
            order_id: Set(order.id.0),
            developer_id: Set(self.developer.0),
            amount_fen: Set(amount.fen()),
            reward_bp: Set(reward_bp.get() as i32),
            reward_fen: Set(reward.fen()),
            contract_ref: Set(contract.clone()),
            refunded_fen: Set(0),
            redeemed_at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        let left = v.balance.checked_sub(amount)?;
        set_status(tx, v.id, usage(left, v.face), None).await?;
        tx.emit(
            NewEvent::new(
                "voucher.redeemed",
                json!({
                    "voucher_id": v.id,
                    "number": v.number,
                    "amount": amount,
                    "reward_bp": reward_bp,
                    "reward": reward,
                    "total": total,
                    "contract_ref": contract,
                    "balance_left": left,
                    "entry_id": paid.id,
                    "subsidy_entry_id": subsidy.map(|e| e.id),
                    "escrow_account_id": order.escrow_account,
                }),
            )
            .order(order.id)
            .merchant(self.developer)
            .payer(v.holder)
            .scheme(v.scheme),
        );
        let released = release_ready(tx, order.id).await?;
        Ok(Redemption {
            voucher: get_voucher(tx.db(), v.id).await?,
            order: get_order(tx.db(), order.id).await?,
            amount,
            reward_bp,
            reward,
            released,
        })
    }
}

/// The status of a usable voucher holding `balance` of its `face`.
pub(crate) fn usage(balance: Money, face: Money) -> VoucherStatus {
    if balance.is_zero() {
        VoucherStatus::UsedUp
    } else if balance >= face {
        VoucherStatus::Active
    } else {
        VoucherStatus::PartiallyUsed
    }
}

/// Where a refund of a voucher-funded order goes (原路退回 for a voucher): `None` when the
/// order was not paid from a voucher. The refund is split between the voucher and the
/// subsidy pool in proportion to what each paid in; the voucher's part goes to the voucher
/// that now carries its money (through reissue and inheritance), or — when that voucher can
/// no longer take money (expired, transferred) — where its expiry sends a balance: the holder
/// (cash-out) or the project.
pub(crate) async fn refund_route(
    tx: &mut Tx<'_>,
    order: &OrderRecord,
    to_payer: Money,
) -> DomainResult<Option<Vec<Leg>>> {
    let Some(r) = redemption_of_order(tx.db(), order.id).await? else {
        return Ok(None);
    };
    if to_payer.is_zero() {
        return Ok(Some(Vec::new()));
    }
    let weights = [r.amount_fen, r.reward_fen].map(|f| {
        u64::try_from(f).map_err(|_| DomainError::Invariant(format!("redemption of {f} fen")))
    });
    let [amount, reward] = weights;
    let weights = [amount?, reward?];
    let parts = to_payer.split_by_ratio(&weights)?;
    let (to_voucher, to_pool) = (parts[0], parts[1]);
    let mut v = get_voucher(tx.db(), VoucherId(r.voucher_id)).await?;
    while matches!(v.status, VoucherStatus::Reissued | VoucherStatus::Inherited) {
        match successor_of(tx.db(), v.id).await? {
            Some(next) => v = get_voucher(tx.db(), next).await?,
            None => break,
        }
    }
    let mut legs = Vec::new();
    let destination = if v.status.is_closed() || tx.now >= v.expires_at {
        let rule = voucher_rule(tx.db(), v.scheme, v.policy_version).await?;
        if rule.cash_out_on_expiry {
            (
                "HOLDER",
                system::external(tx, super::expiry::CASH_OUT).await?,
            )
        } else {
            ("PROJECT", v.project)
        }
    } else {
        if matches!(
            v.status,
            VoucherStatus::UsedUp | VoucherStatus::Active | VoucherStatus::PartiallyUsed
        ) {
            set_status(
                tx,
                v.id,
                usage(v.balance.checked_add(to_voucher)?, v.face),
                None,
            )
            .await?;
        }
        ("VOUCHER", v.account)
    };
    if !to_voucher.is_zero() {
        legs.push(Leg {
            account: destination.1,
            amount_fen: to_voucher.fen(),
        });
    }
    if !to_pool.is_zero() {
        let scheme = get_scheme(tx.db(), v.scheme).await?;
        legs.push(Leg {
            account: subsidy_pool(tx, &scheme).await?,
            amount_fen: to_pool.fen(),
        });
    }
    voucher_redemption::ActiveModel {
        id: Set(r.id),
        refunded_fen: Set(r.refunded_fen + to_payer.fen()),
        ..Default::default()
    }
    .update(tx.db())
    .await?;
    tx.emit(
        NewEvent::new(
            "voucher.purchase_refunded",
            json!({
                "voucher_id": v.id,
                "number": v.number,
                "redeemed_from_voucher_id": VoucherId(r.voucher_id),
                "to": destination.0,
                "to_voucher": to_voucher,
                "to_subsidy_pool": to_pool,
            }),
        )
        .order(order.id)
        .merchant(order.merchant)
        .payer(v.holder)
        .scheme(v.scheme),
    );
    Ok(Some(legs))
}

/// The redemption that funded an order, if a voucher did.
pub(crate) async fn redemption_of_order<C: sea_orm::ConnectionTrait>(
    db: &C,
    order: OrderId,
) -> DomainResult<Option<voucher_redemption::Model>> {
    Ok(voucher_redemption::Entity::find()
        .filter(voucher_redemption::Column::OrderId.eq(order.0))
        .one(db)
        .await?)
}
