//! A patient's payment through a channel, split among the registers (登记簿) of the medical
//! institutions it pays.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "medical_receipt")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scheme_id: i64,
    pub channel: String,
    pub external_ref: String,
    pub payer_id: Option<i64>,
    pub total_fen: i64,
    pub collect_entry_id: i64,
    pub split_entry_id: i64,
    pub received_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
