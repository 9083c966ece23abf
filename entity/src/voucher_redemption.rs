//! A redemption of a housing voucher against a home purchase: the escrow order it funded and
//! the reward subsidy paid into it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "voucher_redemption")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub voucher_id: i64,
    #[sea_orm(unique)]
    pub order_id: i64,
    pub developer_id: i64,
    pub amount_fen: i64,
    pub reward_bp: i32,
    pub reward_fen: i64,
    pub contract_ref: String,
    /// What a refund of the order gave back to the voucher side (voucher and reward pool).
    pub refunded_fen: i64,
    pub redeemed_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
