//! A journal entry: two or more postings that sum to zero, written in one transaction.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journal_entry")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Log position of the transaction that wrote this entry (the seq of its first event).
    pub log_seq: i64,
    pub kind: String,
    pub order_id: Option<i64>,
    pub memo: String,
    pub created_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
