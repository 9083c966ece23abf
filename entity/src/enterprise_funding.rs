//! An enterprise's transfer into its payroll account (灵活用工), credited to its payable.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enterprise_funding")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub scheme_id: i64,
    pub channel: String,
    pub external_ref: String,
    pub amount_fen: i64,
    pub entry_id: i64,
    pub funded_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
