//! A housing voucher (房票): a level-3 sub-account under its project, and who holds it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "voucher")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub number: String,
    pub project_account_id: i64,
    pub account_id: i64,
    pub scheme_id: i64,
    pub holder_id: i64,
    pub face_fen: i64,
    pub status: String,
    pub transferable: bool,
    pub parent_id: Option<i64>,
    pub issued_at_us: i64,
    pub expires_at_us: i64,
    pub hold_id: Option<i64>,
    /// The scheme policy version the voucher was issued under (its reward and cash-out terms).
    pub policy_version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
