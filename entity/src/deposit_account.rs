//! A supervised deposit account (认筹金, 保证金): the depositor's own account under a scheme, with
//! the card bound to it (inflows from it are unlimited; from anywhere else capped per day).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deposit_account")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub account_id: i64,
    pub scheme_id: i64,
    pub owner_id: i64,
    pub region: String,
    pub industry: String,
    /// Keyed hash of the bound card number, for exact comparison.
    pub bound_card_index: String,
    pub bound_card_enc: String,
    pub bound_card_masked: String,
    pub status: String,
    pub opened_at_us: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
