//! Third-party confirmers: nobody certifies their own delivery. A milestone that needs evidence
//! (an exam passed, training hours completed, an inspection done) is confirmed by a party the
//! bank registered for the scheme — a training association, an exam or timing system, a school,
//! an inspection body — acting under its own token (role `CONFIRMER`). The merchant confirms its
//! own order only where the policy says so on that milestone (`self_certify: true`), which every
//! reader of the policy sees (docs/confirmers.md).

use std::collections::BTreeSet;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_entity::confirmer_scheme;

use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::{PartyId, SchemeId};
use crate::party::{
    NewParty, PartyKind, PartyRecord, PartyStatus, check_name, get_party_of, insert_party,
};
use crate::principal::{Principal, RegionCode, Role};
use crate::scheme::get_scheme;

/// Most schemes one confirmer is registered for at once.
pub const MAX_SCHEMES: usize = 100;

pub use crate::policy::ConfirmerKind;

/// The bank registers a third-party confirmer and the schemes it may confirm for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterConfirmer {
    pub name: String,
    pub kind: ConfirmerKind,
    pub region: RegionCode,
    pub schemes: Vec<SchemeId>,
}

impl Command for RegisterConfirmer {
    type Output = PartyRecord;
    const NAME: &'static str = "registerConfirmer";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<PartyRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let schemes: BTreeSet<SchemeId> = self.schemes.iter().copied().collect();
        if schemes.is_empty() || schemes.len() > MAX_SCHEMES || schemes.len() != self.schemes.len()
        {
            return Err(DomainError::invalid(
                "schemes",
                format!("1 to {MAX_SCHEMES} schemes, each once"),
            ));
        }
        for s in &schemes {
            get_scheme(tx.db(), *s).await?;
        }
        let c = insert_party(
            tx,
            NewParty {
                kind: PartyKind::Confirmer,
                name: check_name(&self.name)?,
                region: Some(self.region.clone()),
                industry: None,
                uscc: None,
                status: PartyStatus::Active,
                attributes: json!({ "confirmer_kind": self.kind }),
                id_number: None,
                phone: None,
            },
        )
        .await?;
        confirmer_scheme::Entity::insert_many(schemes.iter().map(|s| {
            confirmer_scheme::ActiveModel {
                party_id: sea_orm::ActiveValue::Set(c.id.0),
                scheme_id: sea_orm::ActiveValue::Set(s.0),
            }
        }))
        .exec_without_returning(tx.db())
        .await?;
        tx.emit(NewEvent::new(
            "confirmer.registered",
            json!({
                "party_id": c.id,
                "name": c.name,
                "kind": self.kind,
                "region": c.region,
                "schemes": schemes,
            }),
        ));
        Ok(c)
    }
}

/// A confirmer as it stands: its party, its kind and the schemes it confirms for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfirmerRecord {
    pub party: PartyRecord,
    pub kind: ConfirmerKind,
    pub schemes: Vec<SchemeId>,
}

/// The confirmer `id`.
///
/// # Errors
/// `NOT_FOUND` when `id` is not a confirmer; `INVARIANT` when its stored kind is missing.
pub async fn get_confirmer<C: ConnectionTrait>(
    db: &C,
    id: PartyId,
) -> DomainResult<ConfirmerRecord> {
    let party = get_party_of(db, id, PartyKind::Confirmer).await?;
    let kind = party
        .attributes
        .get("confirmer_kind")
        .and_then(|k| k.as_str())
        .ok_or_else(|| DomainError::Invariant(format!("confirmer {id} has no kind")))?
        .parse()?;
    let schemes = confirmer_scheme::Entity::find()
        .select_only()
        .column(confirmer_scheme::Column::SchemeId)
        .filter(confirmer_scheme::Column::PartyId.eq(id.0))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .map(SchemeId)
        .collect();
    Ok(ConfirmerRecord {
        party,
        kind,
        schemes,
    })
}

/// The registered, active confirmer `p` acts for, if it may confirm in `scheme`.
///
/// # Errors
/// `FORBIDDEN` when `p` is not a confirmer's token, its party is not a registered confirmer, it
/// is not active, or it is not registered for `scheme`.
pub async fn acting_confirmer<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    scheme: SchemeId,
) -> DomainResult<ConfirmerRecord> {
    let refuse = |why: &str| DomainError::Forbidden(format!("this token cannot confirm: {why}"));
    if p.role != Role::Confirmer {
        return Err(refuse("only a registered confirmer gives evidence"));
    }
    let id = p
        .party_id
        .ok_or_else(|| refuse("the token names no confirmer party"))?;
    let c = match get_confirmer(db, id).await {
        Err(DomainError::NotFound { .. }) => {
            return Err(refuse("its party is not a registered confirmer"));
        }
        other => other?,
    };
    if c.party.status != PartyStatus::Active {
        return Err(refuse(&format!("the confirmer is {}", c.party.status)));
    }
    if !c.schemes.contains(&scheme) {
        return Err(refuse(
            "the confirmer is not registered for this order's scheme",
        ));
    }
    Ok(c)
}

/// The bank suspends, reinstates or closes a confirmer. A confirmer that is not active
/// confirms nothing and its token is not honoured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetConfirmerStatus {
    pub confirmer: PartyId,
    pub status: PartyStatus,
    pub reason: String,
}

impl Command for SetConfirmerStatus {
    type Output = PartyRecord;
    const NAME: &'static str = "setConfirmerStatus";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<PartyRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let c = get_confirmer(tx.db(), self.confirmer).await?;
        if !matches!(
            self.status,
            PartyStatus::Active | PartyStatus::Suspended | PartyStatus::Closed
        ) {
            return Err(DomainError::invalid(
                "status",
                "a confirmer is ACTIVE, SUSPENDED or CLOSED",
            ));
        }
        let reason = crate::text::required("reason", &self.reason, 500)?;
        lvyue_entity::party::ActiveModel {
            id: sea_orm::ActiveValue::Set(c.party.id.0),
            status: sea_orm::ActiveValue::Set(self.status.as_str().to_owned()),
            ..Default::default()
        }
        .update(tx.db())
        .await?;
        tx.emit(NewEvent::new(
            "confirmer.status_changed",
            json!({
                "party_id": c.party.id,
                "from": c.party.status,
                "to": self.status,
                "reason": reason,
            }),
        ));
        crate::party::get_party(tx.db(), c.party.id).await
    }
}
