//! One institution's part of a patient's payment, and how much of it went back to the patient.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "medical_receipt_line")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub receipt_id: i64,
    pub merchant_id: i64,
    pub region: String,
    pub industry: String,
    pub amount_fen: i64,
    pub refunded_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
