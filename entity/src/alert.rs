//! An alert for the regulator and the bank: what, about whom, and its handling.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    pub severity: String,
    pub status: String,
    pub merchant_id: Option<i64>,
    pub scheme_id: Option<i64>,
    pub order_id: Option<i64>,
    pub region: Option<String>,
    pub industry: Option<String>,
    pub message: String,
    pub details: String,
    #[sea_orm(unique)]
    pub dedupe_key: Option<String>,
    pub created_at_us: i64,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at_us: Option<i64>,
    pub resolved_by: Option<String>,
    pub resolved_at_us: Option<i64>,
    /// Until when one node is paging on-call for this alert (others leave it alone).
    pub page_lease_until_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
