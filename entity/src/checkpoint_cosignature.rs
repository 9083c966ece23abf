//! A witness's cosignature (C2SP tlog-cosignature) on a stored checkpoint.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "checkpoint_cosignature")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub size: i64,
    /// The witness's `<name>+<key ID>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub witness: String,
    /// The signature line, with its newline.
    pub line: String,
    /// The witness's timestamp (POSIX seconds).
    pub cosigned_at: i64,
    pub received_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
