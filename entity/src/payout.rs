//! Money leaving the bank: a merchant payout, or one line of an all-or-nothing batch.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payout")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub batch_ref: Option<String>,
    pub source_account_id: i64,
    pub merchant_id: Option<i64>,
    pub recipient_name: String,
    pub recipient_account_masked: String,
    pub recipient_account_enc: String,
    pub amount_fen: i64,
    pub status: String,
    pub entry_id: i64,
    pub created_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
