//! A ledger account: a node of the account tree (bank → scheme → merchant → order / sub-account).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub number: String,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<i64>,
    pub level: i32,
    pub owner_id: Option<i64>,
    pub scheme_id: Option<i64>,
    pub order_id: Option<i64>,
    /// Cached balance, updated in the same transaction as every posting; `lvyue audit` recomputes it.
    pub balance_fen: i64,
    /// Cached sum of the active holds on this account.
    pub held_fen: i64,
    /// What active holds still wait to freeze here, summed (queued court freezes).
    pub waiting_fen: i64,
    pub allow_negative: bool,
    pub status: String,
    pub created_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
