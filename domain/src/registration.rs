//! The registration is the authority. A verified token only names a party and a role; what the
//! caller may do comes from the party as the bank registered it: it must exist, be of the
//! token's kind and not be suspended, blocked or closed, and a regulator's jurisdiction is the
//! registered one — a token may narrow it, never widen it (a token wholly outside it sees
//! nothing). A court token for no registered court, or a merchant token naming a payer, is
//! refused before anything is read.

use sea_orm::ConnectionTrait;

use crate::error::{DomainError, DomainResult};
use crate::party::{PartyStatus, get_party};
use crate::principal::{Industry, Jurisdiction, Principal, RegionPrefix, Role};

/// The principal a verified token stands for, as the registration allows.
///
/// # Errors
/// `UNAUTHENTICATED` for a token whose party is missing, of another kind or not in business;
/// database errors.
pub async fn registered<C: ConnectionTrait>(db: &C, token: Principal) -> DomainResult<Principal> {
    if token.role == Role::Bank {
        // Bank operators act for the bank itself, which is not a registered party.
        return Ok(token);
    }
    let refuse =
        |why: String| DomainError::Unauthenticated(format!("the token is not honoured: {why}"));
    let id = token
        .party_id
        .ok_or_else(|| refuse(format!("a {} token must name its party", token.role)))?;
    let party = match get_party(db, id).await {
        Ok(p) => p,
        Err(DomainError::NotFound { .. }) => {
            return Err(refuse(format!("{id} is not a registered party")));
        }
        Err(e) => return Err(e),
    };
    if party.kind.role() != token.role {
        return Err(refuse(format!(
            "{id} is registered as {}, not {}",
            party.kind, token.role
        )));
    }
    if matches!(
        party.status,
        PartyStatus::Suspended | PartyStatus::Blocked | PartyStatus::Closed
    ) {
        return Err(refuse(format!("{id} is {}", party.status)));
    }
    let jurisdiction = if token.role == Role::Regulator {
        narrow(&token.jurisdiction, &party.jurisdiction())
    } else {
        Jurisdiction::default()
    };
    Ok(Principal {
        jurisdiction,
        ..token
    })
}

/// What both the token and the registration allow: each region prefix of one that lies within
/// a prefix of the other (the narrower of the two), and the industries both name.
pub fn narrow(token: &Jurisdiction, registered: &Jurisdiction) -> Jurisdiction {
    let mut regions: Vec<RegionPrefix> = Vec::new();
    for t in &token.regions {
        for r in &registered.regions {
            let inner = if t.as_str().starts_with(r.as_str()) {
                Some(t)
            } else if r.as_str().starts_with(t.as_str()) {
                Some(r)
            } else {
                None
            };
            if let Some(p) = inner
                && !regions.contains(p)
            {
                regions.push(p.clone());
            }
        }
    }
    let industries: Vec<Industry> = token
        .industries
        .iter()
        .copied()
        .filter(|i| registered.industries.contains(i))
        .collect();
    Jurisdiction {
        regions,
        industries,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn j(regions: &[&str], industries: &[Industry]) -> Jurisdiction {
        Jurisdiction {
            regions: regions.iter().map(|r| r.parse().unwrap()).collect(),
            industries: industries.to_vec(),
        }
    }

    #[test]
    fn a_token_narrows_the_registered_jurisdiction_and_never_widens_it() {
        let reg = j(&["3201"], &[Industry::DrivingSchool, Industry::Canteen]);
        let as_str = |x: Jurisdiction| {
            (
                x.regions
                    .iter()
                    .map(|r| r.as_str().to_owned())
                    .collect::<Vec<_>>(),
                x.industries,
            )
        };
        // The whole province in the token: only the registered city remains.
        assert_eq!(
            as_str(narrow(&j(&["32"], &[Industry::DrivingSchool]), &reg)),
            (vec!["3201".to_owned()], vec![Industry::DrivingSchool])
        );
        // One district of the city: the district.
        assert_eq!(
            as_str(narrow(
                &j(&["320102"], &[Industry::Canteen, Industry::Platform]),
                &reg
            )),
            (vec!["320102".to_owned()], vec![Industry::Canteen])
        );
        // Another city, or no shared industry: nothing.
        assert!(
            narrow(&j(&["3205"], &[Industry::DrivingSchool]), &reg)
                .regions
                .is_empty()
        );
        assert!(
            narrow(&j(&["3201"], &[Industry::Platform]), &reg)
                .industries
                .is_empty()
        );
    }
}
