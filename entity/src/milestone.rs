//! A milestone of an order's release schedule: its share, amount, who confirms it, and its release.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "milestone")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub idx: i32,
    pub name: String,
    pub share_bp: i32,
    pub amount_fen: i64,
    pub status: String,
    pub due_at_us: Option<i64>,
    pub confirmed_at_us: Option<i64>,
    pub released_entry_id: Option<i64>,
    pub released_at_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
