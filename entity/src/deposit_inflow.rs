//! Money paid into a supervised deposit account, and whether it came from the bound card.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deposit_inflow")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub deposit_account_id: i64,
    pub owner_id: i64,
    pub amount_fen: i64,
    pub bound: bool,
    pub source_masked: String,
    #[sea_orm(unique)]
    pub external_ref: String,
    pub entry_id: i64,
    /// The China calendar day of the inflow (`YYYY-MM-DD`), what daily caps count in.
    pub day: String,
    pub at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
