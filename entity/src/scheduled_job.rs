//! A job the scheduler runs once when due (expiry, auto-confirmation, settlement); survives restarts.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scheduled_job")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub target_id: i64,
    pub due_at_us: i64,
    pub status: String,
    pub attempts: i32,
    pub last_error: String,
    pub fired_at_us: Option<i64>,
    pub created_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
