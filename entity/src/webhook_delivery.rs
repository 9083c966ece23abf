//! One alert to deliver to one endpoint, with its attempts.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_delivery")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub endpoint_id: i64,
    pub alert_id: i64,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at_us: i64,
    pub last_status_code: Option<i32>,
    pub last_error: String,
    pub created_at_us: i64,
    pub delivered_at_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
