//! Accounts and the account tree: bank → scheme → merchant → order / sub-account, as deep as
//! vouchers need (a 房票 project sub-account is level 2, each voucher level 3).

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};

use lvyue_entity::account;

use crate::command::Tx;
use crate::error::DomainError;
use crate::ids::{AccountId, OrderId, PartyId, SchemeId};
use crate::money::Money;

/// Deepest level of the account tree (root = 0).
pub const MAX_ACCOUNT_LEVEL: i32 = 8;

use crate::enums::string_enum;

string_enum!(
    /// What an account is for.
    AccountKind {
        /// A node of the tree that groups others (the bank, a scheme, a merchant, a project).
        Group = "GROUP",
        /// A payment channel's clearing account: money collected, not yet settled (T+1).
        Clearing = "CLEARING",
        /// Supervised escrow: the payer's money, waiting for release.
        Escrow = "ESCROW",
        /// Released to a merchant, waiting for payout.
        Payable = "PAYABLE",
        /// Owed back to a payer, waiting to go out by the original route.
        Refundable = "REFUNDABLE",
        /// The outside world (a channel, a merchant's bank, a payer's card): may go negative.
        External = "EXTERNAL",
        /// The bank's advances (垫资): goes negative while an advance is outstanding.
        Advance = "ADVANCE",
        /// A subsidy pool (房票 rewards).
        Subsidy = "SUBSIDY",
        /// Fees and commissions earned.
        Fee = "FEE",
        /// A court's designated account for deductions (扣划).
        Court = "COURT",
        /// A deposit held in a customer's own account (认筹金, 保证金).
        Deposit = "DEPOSIT",
        /// A housing voucher's balance.
        Voucher = "VOUCHER",
    }
);

impl AccountKind {
    /// Only the outside world and the bank's own advances may go below zero.
    pub fn allows_negative(self) -> bool {
        matches!(self, AccountKind::External | AccountKind::Advance)
    }

    /// Money the bank holds for someone under supervision: it leaves only through the gate
    /// ([`crate::gate`]), never by a plain posting.
    pub fn is_supervised(self) -> bool {
        matches!(
            self,
            AccountKind::Escrow
                | AccountKind::Payable
                | AccountKind::Deposit
                | AccountKind::Voucher
                | AccountKind::Refundable
        )
    }
}

string_enum!(
    /// Whether an account takes postings.
    AccountStatus { Open = "OPEN", Closed = "CLOSED" }
);

/// An account to open.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewAccount {
    pub name: String,
    pub kind: AccountKind,
    pub parent: Option<AccountId>,
    pub owner: Option<PartyId>,
    pub scheme: Option<SchemeId>,
    pub order: Option<OrderId>,
    /// An external number (a merchant's settlement account); generated when absent.
    pub number: Option<String>,
}

impl NewAccount {
    pub fn new(name: impl Into<String>, kind: AccountKind) -> NewAccount {
        NewAccount {
            name: name.into(),
            kind,
            parent: None,
            owner: None,
            scheme: None,
            order: None,
            number: None,
        }
    }

    pub fn under(mut self, parent: AccountId) -> NewAccount {
        self.parent = Some(parent);
        self
    }

    pub fn owned_by(mut self, owner: PartyId) -> NewAccount {
        self.owner = Some(owner);
        self
    }

    pub fn in_scheme(mut self, scheme: SchemeId) -> NewAccount {
        self.scheme = Some(scheme);
        self
    }

    pub fn for_order(mut self, order: OrderId) -> NewAccount {
        self.order = Some(order);
        self
    }
}

/// An account as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub id: AccountId,
    pub number: String,
    pub name: String,
    pub kind: AccountKind,
    pub parent: Option<AccountId>,
    pub level: i32,
    pub owner: Option<PartyId>,
    pub scheme: Option<SchemeId>,
    pub order: Option<OrderId>,
    /// Signed: only `External` and `Advance` accounts can be negative.
    pub balance_fen: i64,
    pub held: Money,
    /// What queued court freezes still wait to freeze here, as money arrives.
    pub waiting: Money,
    pub status: AccountStatus,
}

impl AccountRecord {
    /// Balance less holds, never negative for accounts that may not go negative.
    pub fn available_fen(&self) -> i64 {
        self.balance_fen - self.held.fen()
    }
}

impl TryFrom<account::Model> for AccountRecord {
    type Error = DomainError;
    fn try_from(m: account::Model) -> Result<AccountRecord, DomainError> {
        Ok(AccountRecord {
            id: AccountId(m.id),
            number: m.number,
            name: m.name,
            kind: m.kind.parse()?,
            parent: m.parent_id.map(AccountId),
            level: m.level,
            owner: m.owner_id.map(PartyId),
            scheme: m.scheme_id.map(SchemeId),
            order: m.order_id.map(OrderId),
            balance_fen: m.balance_fen,
            held: Money::from_fen(m.held_fen)?,
            waiting: Money::from_fen(m.waiting_fen)?,
            status: m.status.parse()?,
        })
    }
}

/// Opens an account in the tree under `parent` (a root when `None`).
///
/// # Errors
/// Unknown or closed parent; tree too deep; a duplicate external number.
pub async fn open_account(tx: &Tx<'_>, new: NewAccount) -> Result<AccountRecord, DomainError> {
    let name = crate::text::required("name", &new.name, 200)?;
    let name = name.as_str();
    let level = match new.parent {
        None => 0,
        Some(p) => {
            let parent = get_account(tx.db(), p).await?;
            if parent.status != AccountStatus::Open {
                return Err(DomainError::invalid_state(
                    format!("account {p}"),
                    "CLOSED",
                    "open a sub-account",
                ));
            }
            if parent.level >= MAX_ACCOUNT_LEVEL {
                return Err(DomainError::invalid(
                    "parent",
                    format!("the account tree is at most {MAX_ACCOUNT_LEVEL} levels deep"),
                ));
            }
            parent.level + 1
        }
    };
    let external_number = new.number.clone();
    // A unique placeholder until the id is known: the log seq of this transaction is unique
    // per transaction and the counter below per account within it.
    let placeholder = format!("pending-{}-{}", tx.log_seq, rand_suffix());
    let model = account::ActiveModel {
        number: Set(external_number.clone().unwrap_or(placeholder)),
        name: Set(name.to_owned()),
        kind: Set(new.kind.as_str().to_owned()),
        parent_id: Set(new.parent.map(|p| p.0)),
        level: Set(level),
        owner_id: Set(new.owner.map(|p| p.0)),
        scheme_id: Set(new.scheme.map(|s| s.0)),
        order_id: Set(new.order.map(|o| o.0)),
        balance_fen: Set(0),
        held_fen: Set(0),
        allow_negative: Set(new.kind.allows_negative()),
        status: Set(AccountStatus::Open.as_str().to_owned()),
        created_at_us: Set(tx.now.0),
        ..Default::default()
    }
    .insert(tx.db())
    .await?;
    let model = if external_number.is_none() {
        account::ActiveModel {
            id: Set(model.id),
            number: Set(account_number(AccountId(model.id))),
            ..Default::default()
        }
        .update(tx.db())
        .await?
    } else {
        model
    };
    AccountRecord::try_from(model)
}

/// The bank's internal account number: `LV` and twelve digits.
pub fn account_number(id: AccountId) -> String {
    format!("LV{:012}", id.0)
}

fn rand_suffix() -> u64 {
    use rand::RngCore;
    rand::rngs::OsRng.next_u64()
}

/// # Errors
/// `NOT_FOUND` when there is no such account.
pub async fn get_account<C: ConnectionTrait>(
    db: &C,
    id: AccountId,
) -> Result<AccountRecord, DomainError> {
    account::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("account", id))?
        .try_into()
}
