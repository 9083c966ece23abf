//! A housing-voucher project (房票项目): the level-2 sub-account that holds the money the
//! housing bureau put up for one resettlement project, under its scheme.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "voucher_project")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub account_id: i64,
    pub scheme_id: i64,
    pub name: String,
    /// When set, the project's vouchers are redeemed only with this developer.
    pub developer_id: Option<i64>,
    pub created_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
