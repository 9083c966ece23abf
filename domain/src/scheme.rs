//! Schemes (监管方案): an industry, a region, a regulator and a versioned policy; and the
//! enrollment of merchants in them, with the accounts a merchant holds in each scheme.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::{enrollment, scheme, scheme_policy};

use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{AccountId, PartyId, SchemeId};
use crate::ledger::{AccountKind, NewAccount, open_account, system};
use crate::party::{PartyKind, get_party_of};
use crate::policy::Policy;
use crate::principal::{Industry, Principal, RegionCode, Role};

string_enum!(
    /// A scheme's state.
    SchemeStatus {
        Active = "ACTIVE",
        /// Closing down (预付卡 停业): no new orders or releases; card balances are refunded.
        ClosingDown = "CLOSING_DOWN",
        Closed = "CLOSED",
    }
);

/// A scheme as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemeRecord {
    pub id: SchemeId,
    pub code: String,
    pub name: String,
    pub industry: Industry,
    pub region: RegionCode,
    pub regulator: Option<PartyId>,
    pub status: SchemeStatus,
    pub current_version: i32,
    pub account: AccountId,
    pub created_at: Timestamp,
}

impl TryFrom<scheme::Model> for SchemeRecord {
    type Error = DomainError;
    fn try_from(m: scheme::Model) -> Result<SchemeRecord, DomainError> {
        Ok(SchemeRecord {
            id: SchemeId(m.id),
            code: m.code,
            name: m.name,
            industry: m.industry.parse()?,
            region: m.region.parse()?,
            regulator: m.regulator_id.map(PartyId),
            status: m.status.parse()?,
            current_version: m.current_version,
            account: AccountId(m.account_id),
            created_at: Timestamp(m.created_at_us),
        })
    }
}

/// # Errors
/// `NOT_FOUND`.
pub async fn get_scheme<C: ConnectionTrait>(db: &C, id: SchemeId) -> DomainResult<SchemeRecord> {
    scheme::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("scheme", id))?
        .try_into()
}

/// The policy of a scheme at `version`.
///
/// # Errors
/// `NOT_FOUND`; a stored policy that no longer parses is an internal error.
pub async fn policy_at<C: ConnectionTrait>(
    db: &C,
    scheme: SchemeId,
    version: i32,
) -> DomainResult<Policy> {
    let row = scheme_policy::Entity::find()
        .filter(scheme_policy::Column::SchemeId.eq(scheme.0))
        .filter(scheme_policy::Column::Version.eq(version))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("policy version", format!("{scheme} v{version}")))?;
    serde_json::from_str(&row.policy)
        .map_err(|e| DomainError::Internal(format!("stored policy {scheme} v{version}: {e}")))
}

/// Every version of a scheme's policy, oldest first.
///
/// # Errors
/// Database errors.
pub async fn policy_versions<C: ConnectionTrait>(
    db: &C,
    scheme: SchemeId,
) -> DomainResult<Vec<(i32, Policy, Timestamp)>> {
    use sea_orm::QueryOrder;
    scheme_policy::Entity::find()
        .filter(scheme_policy::Column::SchemeId.eq(scheme.0))
        .order_by_asc(scheme_policy::Column::Version)
        .all(db)
        .await?
        .into_iter()
        .map(|r| {
            let p = serde_json::from_str(&r.policy)
                .map_err(|e| DomainError::Internal(format!("stored policy: {e}")))?;
            Ok((r.version, p, Timestamp(r.created_at_us)))
        })
        .collect()
}

async fn store_policy(
    tx: &Tx<'_>,
    scheme: SchemeId,
    version: i32,
    policy: &Policy,
) -> DomainResult<()> {
    scheme_policy::ActiveModel {
        scheme_id: Set(scheme.0),
        version: Set(version),
        policy: Set(
            serde_json::to_string(policy).map_err(|e| DomainError::Internal(e.to_string()))?
        ),
        created_at_us: Set(tx.now.0),
        ..Default::default()
    }
    .insert(tx.db())
    .await?;
    Ok(())
}

/// Creates a scheme with the first version of its policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateScheme {
    pub code: String,
    pub name: String,
    pub industry: Industry,
    pub region: RegionCode,
    pub regulator: Option<PartyId>,
    pub policy: serde_json::Value,
}

impl Command for CreateScheme {
    type Output = SchemeRecord;
    const NAME: &'static str = "createScheme";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<SchemeRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let policy = Policy::from_json(&self.policy)?;
        let code = self.code.trim();
        if code.is_empty()
            || code.len() > 64
            || !code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(DomainError::invalid(
                "code",
                "must be 1 to 64 letters, digits, - or _",
            ));
        }
        if scheme::Entity::find()
            .filter(scheme::Column::Code.eq(code))
            .one(tx.db())
            .await?
            .is_some()
        {
            return Err(DomainError::Conflict(format!(
                "scheme code {code} is taken"
            )));
        }
        crate::text::required("name", &self.name, 200)?;
        if let Some(r) = self.regulator {
            let reg = get_party_of(tx.db(), r, PartyKind::Regulator).await?;
            if !reg
                .jurisdiction()
                .covers(self.region.as_str(), self.industry)
            {
                return Err(DomainError::invalid(
                    "regulator",
                    "the regulator's jurisdiction does not cover this scheme's region and industry",
                ));
            }
        }
        let root = system::bank_root(tx).await?;
        let account = open_account(
            tx,
            NewAccount::new(format!("{} ({code})", self.name.trim()), AccountKind::Group)
                .under(root),
        )
        .await?;
        let m = scheme::ActiveModel {
            code: Set(code.to_owned()),
            name: Set(self.name.trim().to_owned()),
            industry: Set(self.industry.as_str().to_owned()),
            region: Set(self.region.as_str().to_owned()),
            regulator_id: Set(self.regulator.map(|r| r.0)),
            status: Set(SchemeStatus::Active.as_str().to_owned()),
            current_version: Set(1),
            account_id: Set(account.id.0),
            created_at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        let s = SchemeRecord::try_from(m)?;
        store_policy(tx, s.id, 1, &policy).await?;
        tx.emit(
            NewEvent::new(
                "scheme.created",
                json!({ "scheme_id": s.id, "code": s.code, "name": s.name, "industry": s.industry, "region": s.region, "regulator_id": s.regulator, "policy_version": 1, "policy": policy }),
            )
            .scheme(s.id),
        );
        Ok(s)
    }
}

/// Adds a new version of a scheme's policy; orders already opened keep theirs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdatePolicy {
    pub scheme: SchemeId,
    pub policy: serde_json::Value,
}

impl Command for UpdatePolicy {
    type Output = SchemeRecord;
    const NAME: &'static str = "updatePolicy";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<SchemeRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let policy = Policy::from_json(&self.policy)?;
        let s = get_scheme(tx.db(), self.scheme).await?;
        let version = s.current_version + 1;
        store_policy(tx, s.id, version, &policy).await?;
        scheme::ActiveModel {
            id: Set(s.id.0),
            current_version: Set(version),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        tx.emit(
            NewEvent::new(
                "scheme.policy_changed",
                json!({ "scheme_id": s.id, "policy_version": version, "policy": policy }),
            )
            .scheme(s.id),
        );
        get_scheme(tx.db(), s.id).await
    }
}

/// A merchant's place in a scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub id: i64,
    pub merchant: PartyId,
    pub scheme: SchemeId,
    /// Group account holding the merchant's order escrow accounts in this scheme.
    pub group_account: AccountId,
    /// Released money waiting for payout.
    pub payable_account: AccountId,
    /// The merchant's own bank account outside (where payouts go).
    pub settlement_account: AccountId,
}

impl From<enrollment::Model> for Enrollment {
    fn from(m: enrollment::Model) -> Enrollment {
        Enrollment {
            id: m.id,
            merchant: PartyId(m.merchant_id),
            scheme: SchemeId(m.scheme_id),
            group_account: AccountId(m.group_account_id),
            payable_account: AccountId(m.payable_account_id),
            settlement_account: AccountId(m.settlement_account_id),
        }
    }
}

/// # Errors
/// `NOT_FOUND` when the merchant is not enrolled in the scheme.
pub async fn enrollment_of<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
    scheme: SchemeId,
) -> DomainResult<Enrollment> {
    enrollment::Entity::find()
        .filter(enrollment::Column::MerchantId.eq(merchant.0))
        .filter(enrollment::Column::SchemeId.eq(scheme.0))
        .one(db)
        .await?
        .map(Enrollment::from)
        .ok_or_else(|| DomainError::not_found("enrollment", format!("{merchant} in {scheme}")))
}

string_enum!(
    /// A merchant's standing in one scheme (its enrollment).
    EnrollmentStatus {
        Active = "ACTIVE",
        /// Closing down: no releases, no new orders or payments; its cards are refunded.
        ClosingDown = "CLOSING_DOWN",
    }
);

/// The gate of releases, new orders and payments: refused once the merchant is closing down in
/// the scheme.
///
/// # Errors
/// `INVALID_STATE` when closing down; `NOT_FOUND` when not enrolled.
pub(crate) async fn ensure_not_closing_down<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
    scheme: SchemeId,
    action: &'static str,
) -> DomainResult<()> {
    let e = enrollment::Entity::find()
        .filter(enrollment::Column::MerchantId.eq(merchant.0))
        .filter(enrollment::Column::SchemeId.eq(scheme.0))
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("enrollment", format!("{merchant} in {scheme}")))?;
    if e.status == EnrollmentStatus::ClosingDown.as_str() {
        return Err(DomainError::invalid_state(
            format!("merchant {merchant} in scheme {scheme}"),
            EnrollmentStatus::ClosingDown.as_str(),
            action,
        ));
    }
    Ok(())
}

/// All schemes a merchant is enrolled in.
///
/// # Errors
/// Database errors.
pub async fn enrollments_of<C: ConnectionTrait>(
    db: &C,
    merchant: PartyId,
) -> DomainResult<Vec<Enrollment>> {
    Ok(enrollment::Entity::find()
        .filter(enrollment::Column::MerchantId.eq(merchant.0))
        .all(db)
        .await?
        .into_iter()
        .map(Enrollment::from)
        .collect())
}

/// Enrolls a merchant in a scheme of its industry and region, opening its accounts there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollMerchant {
    pub scheme: SchemeId,
    pub merchant: PartyId,
    /// The merchant's settlement account number at its own bank (payouts go there).
    pub settlement_account_number: String,
}

impl Command for EnrollMerchant {
    type Output = Enrollment;
    const NAME: &'static str = "enrollMerchant";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<Enrollment> {
        tx.principal.require_role(&[Role::Bank])?;
        let s = get_scheme(tx.db(), self.scheme).await?;
        let m = get_party_of(tx.db(), self.merchant, PartyKind::Merchant).await?;
        if m.industry != Some(s.industry) {
            return Err(DomainError::invalid(
                "merchant",
                format!(
                    "a {} merchant cannot join a {} scheme",
                    m.industry.map(|i| i.as_str()).unwrap_or("?"),
                    s.industry
                ),
            ));
        }
        if !m
            .region
            .as_ref()
            .is_some_and(|r| r.as_str().starts_with(s.region.significant_prefix()))
        {
            return Err(DomainError::invalid(
                "merchant",
                "the merchant is outside the scheme's region",
            ));
        }
        if enrollment_of(tx.db(), m.id, s.id).await.is_ok() {
            return Err(DomainError::Conflict(format!(
                "{} is already enrolled in {}",
                m.id, s.code
            )));
        }
        let number = self.settlement_account_number.trim();
        if number.is_empty()
            || number.len() > 40
            || !number
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(DomainError::invalid(
                "settlementAccountNumber",
                "must be 1 to 40 letters, digits or -",
            ));
        }
        let group = open_account(
            tx,
            NewAccount::new(m.name.clone(), AccountKind::Group)
                .under(s.account)
                .owned_by(m.id)
                .in_scheme(s.id),
        )
        .await?;
        let payable = open_account(
            tx,
            NewAccount::new(format!("{} payable", m.name), AccountKind::Payable)
                .under(group.id)
                .owned_by(m.id)
                .in_scheme(s.id),
        )
        .await?;
        let mut settlement = NewAccount::new(
            format!("{} settlement account", m.name),
            AccountKind::External,
        )
        .under(group.id)
        .owned_by(m.id)
        .in_scheme(s.id);
        settlement.number = Some(format!("{}:{number}", s.code));
        let settlement = open_account(tx, settlement).await?;
        let e = enrollment::ActiveModel {
            merchant_id: Set(m.id.0),
            scheme_id: Set(s.id.0),
            group_account_id: Set(group.id.0),
            payable_account_id: Set(payable.id.0),
            settlement_account_id: Set(settlement.id.0),
            status: Set("ACTIVE".into()),
            created_at_us: Set(tx.now.0),
            ..Default::default()
        }
        .insert(tx.db())
        .await?;
        tx.emit(
            NewEvent::new(
                "merchant.enrolled",
                json!({ "scheme_id": s.id, "party_id": m.id, "payable_account_id": payable.id }),
            )
            .merchant(m.id)
            .scheme(s.id),
        );
        Ok(e.into())
    }
}
/// A merchant's money in one scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemeBalance {
    pub scheme: SchemeId,
    /// Settled prepaid money in escrow across the merchant's orders.
    pub escrow_fen: i64,
    /// Of which held (court freezes and other holds).
    pub held_fen: i64,
    /// Released and waiting for payout.
    pub payable_fen: i64,
}

impl SchemeBalance {
    /// Escrow not held.
    pub fn available_fen(&self) -> i64 {
        self.escrow_fen - self.held_fen
    }
}

/// A merchant's balances per scheme it is enrolled in: the merchant itself or the bank.
///
/// # Errors
/// `NOT_FOUND` when another merchant asks.
pub async fn merchant_balances<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    merchant: PartyId,
) -> DomainResult<Vec<SchemeBalance>> {
    if !(p.role == Role::Bank || (p.role == Role::Merchant && p.party_id == Some(merchant))) {
        return Err(DomainError::not_found("merchant", merchant));
    }
    let mut out = Vec::new();
    for e in enrollments_of(db, merchant).await? {
        let children = lvyue_entity::account::Entity::find()
            .filter(lvyue_entity::account::Column::ParentId.eq(e.group_account.0))
            .all(db)
            .await?;
        let mut b = SchemeBalance {
            scheme: e.scheme,
            escrow_fen: 0,
            held_fen: 0,
            payable_fen: 0,
        };
        for a in children {
            match a.kind.parse::<AccountKind>()? {
                AccountKind::Escrow => {
                    b.escrow_fen += a.balance_fen;
                    b.held_fen += a.held_fen;
                }
                AccountKind::Payable => b.payable_fen += a.balance_fen,
                _ => {}
            }
        }
        out.push(b);
    }
    Ok(out)
}
