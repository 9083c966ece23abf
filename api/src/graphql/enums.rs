//! GraphQL enums mirroring the domain's `Role` and `Industry` (the domain never sees
//! async-graphql). The conversions are exhaustive matches, so a variant added in the domain
//! fails to compile here until the API names it.

use async_graphql::Enum;

use lvyue_domain::principal::{Industry, Role};

/// A principal's role.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Role", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlRole {
    Bank,
    Merchant,
    Payer,
    Regulator,
    Court,
}

impl From<Role> for GqlRole {
    fn from(r: Role) -> GqlRole {
        match r {
            Role::Bank => GqlRole::Bank,
            Role::Merchant => GqlRole::Merchant,
            Role::Payer => GqlRole::Payer,
            Role::Regulator => GqlRole::Regulator,
            Role::Court => GqlRole::Court,
        }
    }
}

impl From<GqlRole> for Role {
    fn from(r: GqlRole) -> Role {
        match r {
            GqlRole::Bank => Role::Bank,
            GqlRole::Merchant => Role::Merchant,
            GqlRole::Payer => Role::Payer,
            GqlRole::Regulator => Role::Regulator,
            GqlRole::Court => Role::Court,
        }
    }
}

/// An industry under supervision (DOMAIN.md).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Industry", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlIndustry {
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

impl From<Industry> for GqlIndustry {
    fn from(i: Industry) -> GqlIndustry {
        match i {
            Industry::DrivingSchool => GqlIndustry::DrivingSchool,
            Industry::Canteen => GqlIndustry::Canteen,
            Industry::PrepaidCard => GqlIndustry::PrepaidCard,
            Industry::HousingDeposit => GqlIndustry::HousingDeposit,
            Industry::HousingVoucher => GqlIndustry::HousingVoucher,
            Industry::MedicalInsurance => GqlIndustry::MedicalInsurance,
            Industry::Platform => GqlIndustry::Platform,
            Industry::FlexibleEmployment => GqlIndustry::FlexibleEmployment,
            Industry::AgriMarket => GqlIndustry::AgriMarket,
            Industry::RuralProperty => GqlIndustry::RuralProperty,
        }
    }
}

impl From<GqlIndustry> for Industry {
    fn from(i: GqlIndustry) -> Industry {
        match i {
            GqlIndustry::DrivingSchool => Industry::DrivingSchool,
            GqlIndustry::Canteen => Industry::Canteen,
            GqlIndustry::PrepaidCard => Industry::PrepaidCard,
            GqlIndustry::HousingDeposit => Industry::HousingDeposit,
            GqlIndustry::HousingVoucher => Industry::HousingVoucher,
            GqlIndustry::MedicalInsurance => Industry::MedicalInsurance,
            GqlIndustry::Platform => Industry::Platform,
            GqlIndustry::FlexibleEmployment => Industry::FlexibleEmployment,
            GqlIndustry::AgriMarket => Industry::AgriMarket,
            GqlIndustry::RuralProperty => Industry::RuralProperty,
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::EnumType as _;

    use super::*;

    #[test]
    fn graphql_names_match_the_domain_names() {
        for r in Role::ALL {
            let item = GqlRole::from(r);
            let name = GqlRole::items()
                .iter()
                .find(|i| i.value == item)
                .map(|i| i.name);
            assert_eq!(name, Some(r.as_str()));
            assert_eq!(Role::from(item), r);
        }
        for i in Industry::ALL {
            let item = GqlIndustry::from(i);
            let name = GqlIndustry::items()
                .iter()
                .find(|it| it.value == item)
                .map(|it| it.name);
            assert_eq!(name, Some(i.as_str()));
            assert_eq!(Industry::from(item), i);
        }
    }
}
