//! The bank's advance (垫资) of an insurer's share of a claim to a medical institution, and its
//! repayment from the insurer's settlement.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "medical_advance")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub claim_ref: String,
    pub merchant_id: i64,
    pub scheme_id: i64,
    pub region: String,
    pub industry: String,
    pub amount_fen: i64,
    pub repaid_fen: i64,
    pub status: String,
    pub entry_id: i64,
    pub advanced_at_us: i64,
    pub repaid_at_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
