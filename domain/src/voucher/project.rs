//! Voucher projects and the money behind vouchers: the project sub-account the housing bureau
//! funds, and the scheme's subsidy pool that pays the rewards for early use.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{account, voucher_project};

use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{AccountId, EntryId, PartyId, SchemeId};
use crate::ledger::{
    AccountKind, EntryKind, NewAccount, get_account, open_account, post, system, transfer,
};
use crate::money::Money;
use crate::principal::{Industry, Role};
use crate::scheme::{SchemeRecord, SchemeStatus, enrollment_of, get_scheme};

/// The outside account the bureau's money arrives from (its fiscal account).
pub const FISCAL_SOURCE: &str = "FISCAL";

/// A project as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherProjectRecord {
    /// The project sub-account (level 2); the project's identity.
    pub account: AccountId,
    pub scheme: SchemeId,
    pub name: String,
    /// When set, its vouchers are redeemed only with this developer.
    pub developer: Option<PartyId>,
    /// Money not yet issued as vouchers (and what came back from expired ones).
    pub balance: Money,
    pub created_at: Timestamp,
}

pub(crate) fn project_record(
    m: voucher_project::Model,
    balance_fen: i64,
) -> DomainResult<VoucherProjectRecord> {
    Ok(VoucherProjectRecord {
        account: AccountId(m.account_id),
        scheme: SchemeId(m.scheme_id),
        name: m.name,
        developer: m.developer_id.map(PartyId),
        balance: Money::from_fen(balance_fen)?,
        created_at: Timestamp(m.created_at_us),
    })
}

/// # Errors
/// `NOT_FOUND`.
pub async fn get_project<C: ConnectionTrait>(
    db: &C,
    project: AccountId,
) -> DomainResult<VoucherProjectRecord> {
    let m = voucher_project::Entity::find()
        .filter(voucher_project::Column::AccountId.eq(project.0))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("voucher project", project))?;
    let acc = get_account(db, project).await?;
    project_record(m, acc.balance_fen)
}

/// The housing-voucher scheme as the principal may act on it: the bank any; a regulator (the
/// housing bureau) one in its jurisdiction — another is not found.
pub(crate) async fn voucher_scheme(tx: &Tx<'_>, scheme: SchemeId) -> DomainResult<SchemeRecord> {
    tx.principal.require_role(&[Role::Bank, Role::Regulator])?;
    let s = crate::queries::scheme_visible(tx.db(), tx.principal, scheme).await?;
    if s.industry != Industry::HousingVoucher {
        return Err(DomainError::invalid(
            "scheme",
            format!(
                "{} is a {} scheme, not a housing-voucher scheme",
                s.code, s.industry
            ),
        ));
    }
    if s.status != SchemeStatus::Active {
        return Err(DomainError::invalid_state(
            format!("scheme {}", s.code),
            s.status.as_str(),
            "issue housing vouchers",
        ));
    }
    Ok(s)
}

/// Opens a resettlement project's sub-account under a housing-voucher scheme (the bureau, or
/// the bank on its instruction).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateVoucherProject {
    pub scheme: SchemeId,
    pub name: String,
    /// Restricts redemption to one developer (a developer enrolled in the scheme).
    pub developer: Option<PartyId>,
}

impl Command for CreateVoucherProject {
    type Output = VoucherProjectRecord;
    const NAME: &'static str = "createVoucherProject";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<VoucherProjectRecord> {
        let s = voucher_scheme(tx, self.scheme).await?;
        super::voucher_rule(tx.db(), s.id, s.current_version).await?;
        let name = crate::text::required("name", &self.name, 100)?;
        let name = name.as_str();
        if let Some(d) = self.developer {
            enrollment_of(tx.db(), d, s.id).await?;
        }
        let acc = open_account(
            tx,
            NewAccount::new(format!("{name} (房票项目)"), AccountKind::Group)
                .under(s.account)
                .in_scheme(s.id),
        )
        .await?;
        let row = voucher_project::ActiveModel {
            account_id: Set(acc.id.0),
            scheme_id: Set(s.id.0),
            name: Set(name.to_owned()),
            developer_id: Set(self.developer.map(|d| d.0)),
            created_at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        let mut e = NewEvent::new(
            "voucher.project_created",
            json!({ "project_account_id": acc.id, "name": name, "level": acc.level, "developer_id": self.developer, "by": tx.principal.party_id }),
        )
        .scheme(s.id);
        if let Some(d) = self.developer {
            e = e.merchant(d);
        }
        tx.emit(e);
        project_record(row, 0)
    }
}

/// Records the bureau's money arriving in a project's sub-account from its fiscal account
/// (the bank, which sees the transfer arrive).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FundVoucherProject {
    pub project: AccountId,
    pub amount: Money,
    /// The bank transfer's reference.
    pub reference: String,
}

/// Money moved into a project or a subsidy pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funding {
    pub account: AccountId,
    pub amount: Money,
    pub balance: Money,
    pub entry: EntryId,
}

impl Command for FundVoucherProject {
    type Output = Funding;
    const NAME: &'static str = "fundVoucherProject";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<Funding> {
        tx.principal.require_role(&[Role::Bank])?;
        let reference = super::check_ref("reference", &self.reference)?;
        let p = get_project(tx.db(), self.project).await?;
        let fiscal = system::external(tx, FISCAL_SOURCE).await?;
        let entry = post(
            tx,
            EntryKind::Transfer,
            None,
            &format!("voucher project funding {reference}"),
            &transfer(fiscal, p.account, self.amount.positive()?),
        )
        .await?;
        let balance = Money::from_fen(get_account(tx.db(), p.account).await?.balance_fen)?;
        tx.emit(
            NewEvent::new(
                "voucher.project_funded",
                json!({ "project_account_id": p.account, "amount": self.amount, "reference": reference, "entry_id": entry.id, "balance": balance }),
            )
            .scheme(p.scheme),
        );
        Ok(Funding {
            account: p.account,
            amount: self.amount,
            balance,
            entry: entry.id,
        })
    }
}

/// The SUBSIDY pool of a housing-voucher scheme (level 2, under the scheme), opened on first use.
///
/// # Errors
/// Database errors.
pub async fn subsidy_pool(tx: &Tx<'_>, scheme: &SchemeRecord) -> DomainResult<AccountId> {
    let existing = account::Entity::find()
        .filter(account::Column::ParentId.eq(scheme.account.0))
        .filter(account::Column::SchemeId.eq(scheme.id.0))
        .filter(account::Column::Kind.eq(AccountKind::Subsidy.as_str()))
        .one(tx.db())
        .await?;
    if let Some(a) = existing {
        return Ok(AccountId(a.id));
    }
    let acc = open_account(
        tx,
        NewAccount::new(
            format!("{} reward subsidy pool", scheme.name),
            AccountKind::Subsidy,
        )
        .under(scheme.account)
        .in_scheme(scheme.id),
    )
    .await?;
    Ok(acc.id)
}

/// Records the bureau's money for rewards arriving in the scheme's subsidy pool (the bank).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FundVoucherSubsidy {
    pub scheme: SchemeId,
    pub amount: Money,
    pub reference: String,
}

impl Command for FundVoucherSubsidy {
    type Output = Funding;
    const NAME: &'static str = "fundVoucherSubsidy";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<Funding> {
        tx.principal.require_role(&[Role::Bank])?;
        let reference = super::check_ref("reference", &self.reference)?;
        let s = get_scheme(tx.db(), self.scheme).await?;
        if s.industry != Industry::HousingVoucher {
            return Err(DomainError::invalid(
                "scheme",
                "is not a housing-voucher scheme",
            ));
        }
        let pool = subsidy_pool(tx, &s).await?;
        let fiscal = system::external(tx, FISCAL_SOURCE).await?;
        let entry = post(
            tx,
            EntryKind::Subsidy,
            None,
            &format!("voucher reward subsidy funding {reference}"),
            &transfer(fiscal, pool, self.amount.positive()?),
        )
        .await?;
        let balance = Money::from_fen(get_account(tx.db(), pool).await?.balance_fen)?;
        tx.emit(
            NewEvent::new(
                "voucher.subsidy_funded",
                json!({ "pool_account_id": pool, "amount": self.amount, "reference": reference, "entry_id": entry.id, "balance": balance }),
            )
            .scheme(s.id),
        );
        Ok(Funding {
            account: pool,
            amount: self.amount,
            balance,
            entry: entry.id,
        })
    }
}
