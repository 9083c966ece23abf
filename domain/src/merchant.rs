//! A merchant's admission and standing: registering one (with the onboarding checks of
//! [`crate::onboarding`] recorded as evidence) and changing its status, which raises an alert
//! for its regulators. Above `party`, which only holds and reads registrations, so that alerts
//! and onboarding can read parties without depending on the commands that change them.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::party;

use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::identity::{UsccCheck, check_uscc};
use crate::ids::PartyId;
use crate::party::{
    Licence, NewParty, PartyKind, PartyRecord, PartyStatus, check_name, get_party, get_party_of,
    insert_party,
};
use crate::principal::{Industry, RegionCode, Role};

/// Registers a merchant. A USCC that is well formed but fails its checksum sends the merchant
/// to manual review; onboarding checks (licence, lists) are recorded as evidence by
/// [`crate::onboarding`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterMerchant {
    pub name: String,
    pub uscc: String,
    pub region: RegionCode,
    pub industry: Industry,
    pub description: String,
    pub licence: Option<Licence>,
}

impl Command for RegisterMerchant {
    type Output = PartyRecord;
    const NAME: &'static str = "registerMerchant";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<PartyRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let name = check_name(&self.name)?;
        let description = crate::text::optional("description", &self.description, 500)?;
        let uscc = self.uscc.trim().to_owned();
        let uscc_check = check_uscc(&uscc);
        if uscc_check == UsccCheck::Malformed {
            return Err(DomainError::invalid(
                "uscc",
                "must be 18 characters of 0-9 and A-Y without I, O, S, V, Z",
            ));
        }
        let exists = party::Entity::find()
            .filter(party::Column::Uscc.eq(uscc.as_str()))
            .one(tx.db())
            .await?;
        if exists.is_some() {
            return Err(DomainError::Conflict(format!(
                "a merchant with USCC {uscc} is already registered"
            )));
        }
        let onboarding =
            crate::onboarding::check(tx, &name, &uscc, uscc_check, self.licence.as_ref()).await?;
        let merchant = insert_party(
            tx,
            NewParty {
                kind: PartyKind::Merchant,
                name,
                region: Some(self.region.clone()),
                industry: Some(self.industry),
                uscc: Some(uscc),
                status: onboarding.status,
                attributes: json!({ "description": description, "licence": self.licence }),
                id_number: None,
                phone: None,
            },
        )
        .await?;
        tx.emit(
            NewEvent::new(
                "merchant.registered",
                json!({
                    "party_id": merchant.id,
                    "name": merchant.name,
                    "uscc": merchant.uscc,
                    "region": merchant.region,
                    "industry": merchant.industry,
                    "status": merchant.status,
                }),
            )
            .merchant(merchant.id),
        );
        crate::onboarding::record(tx, merchant.id, &onboarding);
        Ok(merchant)
    }
}

/// Sets a merchant's status: a regulator suspends a merchant of its jurisdiction, the bank any.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetMerchantStatus {
    pub merchant: PartyId,
    pub status: PartyStatus,
    pub reason: String,
}

impl Command for SetMerchantStatus {
    type Output = PartyRecord;
    const NAME: &'static str = "setMerchantStatus";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<PartyRecord> {
        tx.principal.require_role(&[Role::Bank, Role::Regulator])?;
        let m = get_party_of(tx.db(), self.merchant, PartyKind::Merchant).await?;
        let reason = crate::text::optional("reason", &self.reason, 500)?;
        if tx.principal.role == Role::Regulator {
            let (Some(region), Some(industry)) = (&m.region, m.industry) else {
                return Err(DomainError::not_found("merchant", self.merchant));
            };
            if !tx.principal.jurisdiction.covers(region.as_str(), industry) {
                return Err(DomainError::not_found("merchant", self.merchant));
            }
            if !matches!(self.status, PartyStatus::Suspended | PartyStatus::Active) {
                return Err(DomainError::Forbidden(
                    "a regulator may only suspend or reinstate a merchant".into(),
                ));
            }
        }
        party::ActiveModel {
            id: Set(m.id.0),
            status: Set(self.status.as_str().to_owned()),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        tx.emit(
            NewEvent::new(
                "merchant.status_changed",
                json!({ "party_id": m.id, "from": m.status, "to": self.status, "reason": reason, "by": tx.principal.role }),
            )
            .merchant(m.id),
        );
        crate::alert::raise(
            tx,
            crate::alert::NewAlert::merchant_status_changed(&m, self.status, &reason),
        )
        .await?;
        get_party(tx.db(), m.id).await
    }
}
