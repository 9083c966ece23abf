//! A refund of an order's unreleased money to the payer by the original route.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refund")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub requested_by: String,
    pub reason: String,
    pub status: String,
    pub deduction_fen: i64,
    pub deduction_approved: bool,
    pub amount_fen: i64,
    pub requested_at_us: i64,
    pub due_at_us: i64,
    /// The deadline was counted through a year whose calendar was not loaded.
    pub due_provisional: bool,
    pub executed_at_us: Option<i64>,
    pub entry_id: Option<i64>,
    /// A partial refund's amount; `None` asks for all the unreleased money.
    pub requested_fen: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
