//! A listed day of a loaded year: a holiday, or a weekend day that is a make-up workday.
//! Days not listed follow the week (Saturday and Sunday off).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "holiday_day")]
pub struct Model {
    /// `YYYY-MM-DD`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub date: String,
    pub year: i32,
    pub name: String,
    pub is_off_day: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
