//! The bank's well-known accounts, found by code and opened on first use: the root of the tree,
//! each channel's clearing and external accounts, each court's deduction account.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

use lvyue_entity::system_account;

use super::{AccountKind, NewAccount, open_account};
use crate::command::Tx;
use crate::error::DomainError;
use crate::ids::{AccountId, PartyId};

/// Codes of the tree's top nodes.
pub const BANK_ROOT: &str = "BANK_ROOT";
const CLEARING_GROUP: &str = "CLEARING";
const EXTERNAL_GROUP: &str = "EXTERNAL";
const COURT_GROUP: &str = "COURTS";

/// The account with `code`, opening it (and its parent) on first use.
async fn find_or_open(
    tx: &Tx<'_>,
    code: &str,
    make: impl FnOnce(Option<AccountId>) -> NewAccount,
    parent_code: Option<&str>,
) -> Result<AccountId, DomainError> {
    if let Some(row) = system_account::Entity::find_by_id(code.to_owned())
        .one(tx.db())
        .await?
    {
        return Ok(AccountId(row.account_id));
    }
    let parent = match parent_code {
        Some(p) => Some(Box::pin(group(tx, p)).await?),
        None => None,
    };
    let acc = open_account(tx, make(parent)).await?;
    system_account::ActiveModel {
        code: Set(code.to_owned()),
        account_id: Set(acc.id.0),
    }
    .insert(tx.db())
    .await?;
    Ok(acc.id)
}

async fn group(tx: &Tx<'_>, code: &str) -> Result<AccountId, DomainError> {
    let name = match code {
        BANK_ROOT => "履约宝 supervised funds",
        CLEARING_GROUP => "Channel clearing",
        EXTERNAL_GROUP => "Outside world",
        COURT_GROUP => "Court deduction accounts",
        other => other,
    };
    let parent = if code == BANK_ROOT {
        None
    } else {
        Some(BANK_ROOT)
    };
    find_or_open(
        tx,
        code,
        |p| {
            let a = NewAccount::new(name, AccountKind::Group);
            match p {
                Some(p) => a.under(p),
                None => a,
            }
        },
        parent,
    )
    .await
}

/// The root of the account tree.
///
/// # Errors
/// Database errors.
pub async fn bank_root(tx: &Tx<'_>) -> Result<AccountId, DomainError> {
    group(tx, BANK_ROOT).await
}

/// A channel's clearing account (money collected, not yet settled).
///
/// # Errors
/// Database errors.
pub async fn clearing_account(tx: &Tx<'_>, channel: &str) -> Result<AccountId, DomainError> {
    find_or_open(
        tx,
        &format!("CLEARING:{channel}"),
        |p| {
            with_parent(
                NewAccount::new(format!("{channel} clearing"), AccountKind::Clearing),
                p,
            )
        },
        Some(CLEARING_GROUP),
    )
    .await
}

/// A channel's external account (payers' money arriving through it, refunds leaving by it).
///
/// # Errors
/// Database errors.
pub async fn channel_external(tx: &Tx<'_>, channel: &str) -> Result<AccountId, DomainError> {
    find_or_open(
        tx,
        &format!("EXTERNAL:{channel}"),
        |p| {
            with_parent(
                NewAccount::new(format!("{channel} (outside)"), AccountKind::External),
                p,
            )
        },
        Some(EXTERNAL_GROUP),
    )
    .await
}

/// An outside account by purpose (`PAYROLL`, `SUPPLIERS`, `INSURER`, `BANK_FUNDS`…).
///
/// # Errors
/// Database errors.
pub async fn external(tx: &Tx<'_>, purpose: &str) -> Result<AccountId, DomainError> {
    find_or_open(
        tx,
        &format!("EXTERNAL:{purpose}"),
        |p| {
            with_parent(
                NewAccount::new(format!("{purpose} (outside)"), AccountKind::External),
                p,
            )
        },
        Some(EXTERNAL_GROUP),
    )
    .await
}

/// A bank-owned account of `kind` by purpose (the advance account, a subsidy pool).
///
/// # Errors
/// Database errors.
pub async fn bank_account(
    tx: &Tx<'_>,
    purpose: &str,
    kind: AccountKind,
) -> Result<AccountId, DomainError> {
    find_or_open(
        tx,
        &format!("BANK:{purpose}"),
        |p| with_parent(NewAccount::new(purpose, kind), p),
        Some(BANK_ROOT),
    )
    .await
}

/// A court's designated account for deductions.
///
/// # Errors
/// Database errors.
pub async fn court_account(tx: &Tx<'_>, court: PartyId) -> Result<AccountId, DomainError> {
    find_or_open(
        tx,
        &format!("COURT:{court}"),
        |p| {
            with_parent(
                NewAccount::new(format!("Court {court} deductions"), AccountKind::Court)
                    .owned_by(court),
                p,
            )
        },
        Some(COURT_GROUP),
    )
    .await
}

fn with_parent(a: NewAccount, parent: Option<AccountId>) -> NewAccount {
    match parent {
        Some(p) => a.under(p),
        None => a,
    }
}
