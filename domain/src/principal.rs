//! Who is asking: roles, regions, industries and the scope a principal may see.
//!
//! Every domain query takes a [`Principal`]; what it may not see is filtered in the query
//! itself (docs/design.md, "Who sees what"). The GraphQL guards are a second fence.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::PartyId;

/// The five roles of docs/domain.md ("Parties and roles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    Bank,
    Merchant,
    Payer,
    Regulator,
    Court,
    /// A third-party confirmer (training association, exam or timing system, school,
    /// inspection body): certifies milestones of the schemes it is registered for.
    Confirmer,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Bank,
        Role::Merchant,
        Role::Payer,
        Role::Regulator,
        Role::Court,
        Role::Confirmer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Bank => "BANK",
            Role::Merchant => "MERCHANT",
            Role::Payer => "PAYER",
            Role::Regulator => "REGULATOR",
            Role::Court => "COURT",
            Role::Confirmer => "CONFIRMER",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Role, DomainError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "role",
                    "must be BANK, MERCHANT, PAYER, REGULATOR, COURT or CONFIRMER",
                )
            })
    }
}

/// The industries of docs/domain.md, as the API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Industry {
    DrivingSchool,
    Canteen,
    PrepaidCard,
    HousingDeposit,
    HousingVoucher,
    MedicalInsurance,
    Platform,
    FlexibleEmployment,
    AgriMarket,
    RuralProperty,
}

impl Industry {
    pub const ALL: [Industry; 10] = [
        Industry::DrivingSchool,
        Industry::Canteen,
        Industry::PrepaidCard,
        Industry::HousingDeposit,
        Industry::HousingVoucher,
        Industry::MedicalInsurance,
        Industry::Platform,
        Industry::FlexibleEmployment,
        Industry::AgriMarket,
        Industry::RuralProperty,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Industry::DrivingSchool => "DRIVING_SCHOOL",
            Industry::Canteen => "CANTEEN",
            Industry::PrepaidCard => "PREPAID_CARD",
            Industry::HousingDeposit => "HOUSING_DEPOSIT",
            Industry::HousingVoucher => "HOUSING_VOUCHER",
            Industry::MedicalInsurance => "MEDICAL_INSURANCE",
            Industry::Platform => "PLATFORM",
            Industry::FlexibleEmployment => "FLEXIBLE_EMPLOYMENT",
            Industry::AgriMarket => "AGRI_MARKET",
            Industry::RuralProperty => "RURAL_PROPERTY",
        }
    }

    /// The Chinese name used in reports and the demo data.
    pub fn label_zh(self) -> &'static str {
        match self {
            Industry::DrivingSchool => "驾培",
            Industry::Canteen => "阳光食堂",
            Industry::PrepaidCard => "预付卡",
            Industry::HousingDeposit => "房e存",
            Industry::HousingVoucher => "房票",
            Industry::MedicalInsurance => "医保",
            Industry::Platform => "平台二清",
            Industry::FlexibleEmployment => "灵活用工",
            Industry::AgriMarket => "智慧农批",
            Industry::RuralProperty => "农村产权",
        }
    }
}

impl fmt::Display for Industry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Industry {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Industry, DomainError> {
        Industry::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "industry",
                    format!(
                        "unknown industry {:?}",
                        s.chars().take(40).collect::<String>()
                    ),
                )
            })
    }
}

/// A 6-digit administrative division code (GB/T 2260), e.g. `320100` Nanjing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

impl RegionCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits that name the area: `32` for a province (`320000`), `3201` for a city
    /// (`320100`), all six for a district. Everything in the area starts with them.
    pub fn significant_prefix(&self) -> &str {
        if self.0.ends_with("0000") {
            &self.0[..2]
        } else if self.0.ends_with("00") {
            &self.0[..4]
        } else {
            &self.0
        }
    }

    /// The city-level code (`320102` → `320100`), the granularity of facets and reports.
    pub fn city(&self) -> RegionCode {
        RegionCode(format!("{}00", &self.0[..4]))
    }
}

impl FromStr for RegionCode {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<RegionCode, DomainError> {
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with("00") {
            Ok(RegionCode(s.to_owned()))
        } else {
            Err(DomainError::invalid(
                "region",
                "must be a 6-digit GB/T 2260 code such as 320100",
            ))
        }
    }
}

impl TryFrom<String> for RegionCode {
    type Error = DomainError;
    fn try_from(s: String) -> Result<RegionCode, DomainError> {
        s.parse()
    }
}

impl From<RegionCode> for String {
    fn from(r: RegionCode) -> String {
        r.0
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A region prefix of a regulator's scope: 2 (province), 4 (city) or 6 (district) digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionPrefix(String);

impl RegionPrefix {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn covers(&self, region: &str) -> bool {
        region.starts_with(&self.0)
    }
}

impl FromStr for RegionPrefix {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<RegionPrefix, DomainError> {
        if matches!(s.len(), 2 | 4 | 6) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(RegionPrefix(s.to_owned()))
        } else {
            Err(DomainError::invalid(
                "region prefix",
                "must be 2, 4 or 6 digits, e.g. 32 or 3201",
            ))
        }
    }
}

impl TryFrom<String> for RegionPrefix {
    type Error = DomainError;
    fn try_from(s: String) -> Result<RegionPrefix, DomainError> {
        s.parse()
    }
}

impl From<RegionPrefix> for String {
    fn from(r: RegionPrefix) -> String {
        r.0
    }
}

/// A regulator's jurisdiction: the regions (prefixes) and industries it watches. A row is in
/// scope when its region starts with one of the prefixes AND its industry is listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jurisdiction {
    pub regions: Vec<RegionPrefix>,
    pub industries: Vec<Industry>,
}

impl Jurisdiction {
    pub fn covers(&self, region: &str, industry: Industry) -> bool {
        self.regions.iter().any(|p| p.covers(region)) && self.industries.contains(&industry)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token subject, recorded with every command and access-log entry.
    pub subject: String,
    pub role: Role,
    /// The party the principal acts for (its merchant, payer, regulator or court record).
    pub party_id: Option<PartyId>,
    /// For regulators: what they may see.
    pub jurisdiction: Jurisdiction,
}

impl Principal {
    /// The bank's own processes (scheduler, demo loader, CLI).
    pub fn system() -> Principal {
        Principal {
            subject: "system".into(),
            role: Role::Bank,
            party_id: None,
            jurisdiction: Jurisdiction::default(),
        }
    }

    pub fn bank(subject: &str) -> Principal {
        Principal {
            subject: subject.into(),
            role: Role::Bank,
            party_id: None,
            jurisdiction: Jurisdiction::default(),
        }
    }

    pub fn require_role(&self, allowed: &[Role]) -> Result<(), DomainError> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!(
                "role {} may not do this",
                self.role
            )))
        }
    }

    /// The party this principal acts for, required for merchant, payer, regulator and court
    /// principals.
    pub fn own_party(&self) -> Result<PartyId, DomainError> {
        self.party_id
            .ok_or_else(|| DomainError::Forbidden("token has no party_id".into()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_jurisdiction_needs_both_region_and_industry() {
        let j = Jurisdiction {
            regions: vec!["3201".parse().unwrap()],
            industries: vec![Industry::DrivingSchool],
        };
        assert!(j.covers("320102", Industry::DrivingSchool));
        assert!(!j.covers("320500", Industry::DrivingSchool));
        assert!(!j.covers("320102", Industry::Canteen));
    }

    #[test]
    fn region_codes_are_six_digits() {
        assert!("320100".parse::<RegionCode>().is_ok());
        for bad in ["3201", "32010a", "000000", "3201000"] {
            assert!(bad.parse::<RegionCode>().is_err(), "{bad}");
        }
        assert_eq!(
            "320102".parse::<RegionCode>().unwrap().city().as_str(),
            "320100"
        );
    }
}
