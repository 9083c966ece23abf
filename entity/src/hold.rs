//! A hold (court freeze, deposit freeze, loss report): reduces an account'\''s available balance without moving money.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hold")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: i64,
    pub kind: String,
    pub amount_fen: i64,
    pub remaining_fen: i64,
    /// Ordered but not yet frozen: queued behind earlier freezes or for money to arrive.
    pub waiting_fen: i64,
    pub status: String,
    pub case_no: Option<String>,
    pub court_id: Option<i64>,
    pub priority: i32,
    pub order_id: Option<i64>,
    pub reason: String,
    pub expires_at_us: Option<i64>,
    pub created_at_us: i64,
    pub closed_at_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
