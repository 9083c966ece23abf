//! Parties: the bank, merchants, payers, regulators, courts and third-party confirmers, and
//! their registration.
//!
//! A payer's ID and phone numbers are stored encrypted with a lookup hash (see [`crate::pii`]);
//! their registration event carries only salted commitments to them.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use lvyue_entity::party;

use crate::clock::Timestamp;
use crate::command::{Command, Tx};
use crate::enums::string_enum;
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::identity::{is_valid_id_number, is_valid_mobile};
use crate::ids::PartyId;
use crate::pii::{PiiKind, mask_id_number, mask_name, mask_phone};
use crate::principal::{Industry, Jurisdiction, RegionCode, Role};

/// Longest party name accepted.
pub const MAX_NAME_CHARS: usize = 100;

string_enum!(
    /// What kind of party.
    PartyKind {
        Bank = "BANK",
        Merchant = "MERCHANT",
        Payer = "PAYER",
        Regulator = "REGULATOR",
        Court = "COURT",
        /// A third party that certifies delivery: a training association, an exam or timing
        /// system, a school, an inspection body (see [`crate::confirmer`]).
        Confirmer = "CONFIRMER",
    }
);

string_enum!(
    /// Whether a party may take part in new business.
    PartyStatus {
        Active = "ACTIVE",
        /// Onboarding found something a person must look at (e.g. a USCC checksum mismatch).
        ManualReview = "MANUAL_REVIEW",
        /// Suspended by a regulator or the bank: no releases or new orders.
        Suspended = "SUSPENDED",
        /// On a blocking list (dishonest debtor): releases stop.
        Blocked = "BLOCKED",
        Closed = "CLOSED",
    }
);

impl PartyKind {
    pub fn role(self) -> Role {
        match self {
            PartyKind::Bank => Role::Bank,
            PartyKind::Merchant => Role::Merchant,
            PartyKind::Payer => Role::Payer,
            PartyKind::Regulator => Role::Regulator,
            PartyKind::Court => Role::Court,
            PartyKind::Confirmer => Role::Confirmer,
        }
    }
}

/// A party as stored; personal identifiers stay encrypted here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartyRecord {
    pub id: PartyId,
    pub kind: PartyKind,
    pub name: String,
    pub region: Option<RegionCode>,
    pub industry: Option<Industry>,
    pub uscc: Option<String>,
    pub status: PartyStatus,
    pub attributes: Value,
    pub created_at: Timestamp,
    #[serde(skip)]
    pub id_number_enc: Option<String>,
    #[serde(skip)]
    pub phone_enc: Option<String>,
}

impl PartyRecord {
    /// The regulator's jurisdiction stored in its attributes.
    pub fn jurisdiction(&self) -> Jurisdiction {
        serde_json::from_value(
            self.attributes
                .get("jurisdiction")
                .cloned()
                .unwrap_or(Value::Null),
        )
        .unwrap_or_default()
    }

    /// The name as a principal may see it: masked for persons unless `unmasked`.
    pub fn display_name(&self, unmasked: bool) -> String {
        if self.kind == PartyKind::Payer && !unmasked {
            mask_name(&self.name)
        } else {
            self.name.clone()
        }
    }
}

impl TryFrom<party::Model> for PartyRecord {
    type Error = DomainError;
    fn try_from(m: party::Model) -> Result<PartyRecord, DomainError> {
        Ok(PartyRecord {
            id: PartyId(m.id),
            kind: m.kind.parse()?,
            name: m.name,
            region: m.region.map(|r| r.parse()).transpose()?,
            industry: m.industry.map(|i| i.parse()).transpose()?,
            uscc: m.uscc,
            status: m.status.parse()?,
            attributes: serde_json::from_str(&m.attributes).unwrap_or(Value::Null),
            created_at: Timestamp(m.created_at_us),
            id_number_enc: m.id_number_enc,
            phone_enc: m.phone_enc,
        })
    }
}

/// # Errors
/// `NOT_FOUND`.
pub async fn get_party<C: ConnectionTrait>(db: &C, id: PartyId) -> DomainResult<PartyRecord> {
    party::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::not_found("party", id))?
        .try_into()
}

/// A party of the expected kind.
///
/// # Errors
/// `NOT_FOUND` when there is no such party or it is of another kind (an id of the wrong kind
/// reveals nothing).
pub async fn get_party_of<C: ConnectionTrait>(
    db: &C,
    id: PartyId,
    kind: PartyKind,
) -> DomainResult<PartyRecord> {
    let p = get_party(db, id).await?;
    if p.kind != kind {
        return Err(DomainError::not_found(
            match kind {
                PartyKind::Merchant => "merchant",
                PartyKind::Payer => "payer",
                PartyKind::Regulator => "regulator",
                PartyKind::Court => "court",
                PartyKind::Bank => "bank",
                PartyKind::Confirmer => "confirmer",
            },
            id,
        ));
    }
    Ok(p)
}

/// A payer found by the lookup hash of its ID number.
///
/// # Errors
/// Database errors.
pub async fn find_payer_by_id_number<C: ConnectionTrait>(
    db: &C,
    index: &str,
) -> DomainResult<Option<PartyRecord>> {
    party::Entity::find()
        .filter(party::Column::IdNumberHash.eq(index))
        .filter(party::Column::Kind.eq(PartyKind::Payer.as_str()))
        .one(db)
        .await?
        .map(PartyRecord::try_from)
        .transpose()
}

pub(crate) fn check_name(name: &str) -> DomainResult<String> {
    crate::text::required("name", name, MAX_NAME_CHARS)
}

pub(crate) struct NewParty {
    pub(crate) kind: PartyKind,
    pub(crate) name: String,
    pub(crate) region: Option<RegionCode>,
    pub(crate) industry: Option<Industry>,
    pub(crate) uscc: Option<String>,
    pub(crate) status: PartyStatus,
    pub(crate) attributes: Value,
    pub(crate) id_number: Option<String>,
    pub(crate) phone: Option<String>,
}

pub(crate) async fn insert_party(tx: &Tx<'_>, p: NewParty) -> DomainResult<PartyRecord> {
    let vault = tx.escrow.vault();
    let enc = |v: &Option<String>| v.as_deref().map(|x| vault.encrypt(x)).transpose();
    let model = party::ActiveModel {
        kind: Set(p.kind.as_str().to_owned()),
        name: Set(p.name),
        region: Set(p.region.map(String::from)),
        industry: Set(p.industry.map(|i| i.as_str().to_owned())),
        uscc: Set(p.uscc),
        status: Set(p.status.as_str().to_owned()),
        id_number_enc: Set(enc(&p.id_number)?),
        id_number_hash: Set(p
            .id_number
            .as_deref()
            .map(|v| vault.blind_index(PiiKind::IdNumber, v))),
        phone_enc: Set(enc(&p.phone)?),
        phone_hash: Set(p
            .phone
            .as_deref()
            .map(|v| vault.blind_index(PiiKind::Phone, v))),
        attributes: Set(p.attributes.to_string()),
        created_at_us: Set(tx.now.0),
        ..Default::default()
    }
    .insert(tx.db())
    .await?;
    model.try_into()
}

/// A business licence's fields (营业执照), checked at onboarding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licence {
    pub registered_name: String,
    pub registered_address: String,
    pub legal_representative: String,
    /// Last day the licence is valid (`None`: long-term, 长期).
    pub valid_until: Option<chrono::NaiveDate>,
    /// Registration status as printed: 存续 or 在业 are active.
    pub status: String,
}

/// Registers a payer (a learner, a parent, a home buyer, a voucher holder).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterPayer {
    pub name: String,
    pub id_number: Option<String>,
    pub phone: Option<String>,
}

impl Command for RegisterPayer {
    type Output = PartyRecord;
    const NAME: &'static str = "registerPayer";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<PartyRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let name = check_name(&self.name)?;
        if let Some(id) = &self.id_number {
            if !is_valid_id_number(id) {
                return Err(DomainError::invalid(
                    "idNumber",
                    "is not a valid 18-character resident identity number",
                ));
            }
            let index = tx.escrow.vault().blind_index(PiiKind::IdNumber, id);
            if find_payer_by_id_number(tx.db(), &index).await?.is_some() {
                return Err(DomainError::Conflict(
                    "a payer with this ID number is already registered".into(),
                ));
            }
        }
        if let Some(p) = &self.phone
            && !is_valid_mobile(p)
        {
            return Err(DomainError::invalid(
                "phone",
                "is not an 11-digit mainland mobile number",
            ));
        }
        let payer = insert_party(
            tx,
            NewParty {
                kind: PartyKind::Payer,
                name: name.clone(),
                region: None,
                industry: None,
                uscc: None,
                status: PartyStatus::Active,
                attributes: json!({
                    "id_number_masked": self.id_number.as_deref().map(mask_id_number),
                    "phone_masked": self.phone.as_deref().map(mask_phone),
                }),
                id_number: self.id_number.clone(),
                phone: self.phone.clone(),
            },
        )
        .await?;
        let mut e = NewEvent::new("payer.registered", json!({ "party_id": payer.id }))
            .payer(payer.id)
            .personal("name", name);
        if let Some(id) = &self.id_number {
            e = e.personal("id_number", id.clone());
        }
        if let Some(p) = &self.phone {
            e = e.personal("phone", p.clone());
        }
        tx.emit(e);
        Ok(payer)
    }
}

/// Registers a regulator with its jurisdiction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterRegulator {
    pub name: String,
    pub jurisdiction: Jurisdiction,
}

impl Command for RegisterRegulator {
    type Output = PartyRecord;
    const NAME: &'static str = "registerRegulator";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<PartyRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        if self.jurisdiction.regions.is_empty() || self.jurisdiction.industries.is_empty() {
            return Err(DomainError::invalid(
                "jurisdiction",
                "needs at least one region prefix and one industry",
            ));
        }
        let r = insert_party(
            tx,
            NewParty {
                kind: PartyKind::Regulator,
                name: check_name(&self.name)?,
                region: None,
                industry: None,
                uscc: None,
                status: PartyStatus::Active,
                attributes: json!({ "jurisdiction": self.jurisdiction }),
                id_number: None,
                phone: None,
            },
        )
        .await?;
        tx.emit(NewEvent::new(
            "regulator.registered",
            json!({ "party_id": r.id, "name": r.name, "jurisdiction": self.jurisdiction }),
        ));
        Ok(r)
    }
}

/// Registers a court (its evidence platform's party).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterCourt {
    pub name: String,
    pub region: RegionCode,
}

impl Command for RegisterCourt {
    type Output = PartyRecord;
    const NAME: &'static str = "registerCourt";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<PartyRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let c = insert_party(
            tx,
            NewParty {
                kind: PartyKind::Court,
                name: check_name(&self.name)?,
                region: Some(self.region.clone()),
                industry: None,
                uscc: None,
                status: PartyStatus::Active,
                attributes: json!({}),
                id_number: None,
                phone: None,
            },
        )
        .await?;
        tx.emit(NewEvent::new(
            "court.registered",
            json!({ "party_id": c.id, "name": c.name, "region": c.region }),
        ));
        Ok(c)
    }
}
