//! A scheme a third-party confirmer may certify milestones for.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "confirmer_scheme")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub party_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub scheme_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
