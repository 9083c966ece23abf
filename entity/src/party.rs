//! A party: the bank, a merchant, a payer, a regulator, a court. Personal identifiers are stored encrypted beside a keyed hash for exact lookup.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "party")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub region: Option<String>,
    pub industry: Option<String>,
    #[sea_orm(unique)]
    pub uscc: Option<String>,
    pub status: String,
    pub id_number_enc: Option<String>,
    #[sea_orm(indexed)]
    pub id_number_hash: Option<String>,
    pub phone_enc: Option<String>,
    pub phone_hash: Option<String>,
    /// JSON object with the kind-specific attributes (licence fields, regulator scope, ...).
    pub attributes: String,
    pub created_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
