//! A payment collected through a channel into its clearing account, settled T+1 into escrow.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub channel: String,
    pub external_ref: String,
    pub batch_ref: Option<String>,
    pub amount_fen: i64,
    pub refunded_fen: i64,
    pub paid_at_us: i64,
    pub settle_date: String,
    /// The settle date fell in, or was reached through, a year whose calendar was not loaded.
    pub settle_provisional: bool,
    pub status: String,
    pub collect_entry_id: i64,
    pub settle_entry_id: Option<i64>,
    pub statement_line_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
