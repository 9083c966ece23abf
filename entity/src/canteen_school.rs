//! The school a canteen serves in one scheme: the regulator party that approves the canteen's
//! purchase payments (阳光食堂, 商城采购模式).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "canteen_school")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub enrollment_id: i64,
    pub merchant_id: i64,
    pub scheme_id: i64,
    pub school_id: i64,
    pub assigned_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
