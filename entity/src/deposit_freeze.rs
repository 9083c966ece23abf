//! A deposit frozen for a beneficiary (a developer's project, a market's trade): its hold, and
//! how it ended (unfrozen, converted into a payment, forfeited).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deposit_freeze")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub hold_id: i64,
    pub deposit_account_id: i64,
    pub account_id: i64,
    pub scheme_id: i64,
    pub policy_version: i32,
    pub owner_id: i64,
    pub beneficiary_id: i64,
    pub region: String,
    pub industry: String,
    pub amount_fen: i64,
    pub reference: String,
    pub status: String,
    pub frozen_at_us: i64,
    pub closed_at_us: Option<i64>,
    pub closing_ref: Option<String>,
    pub entry_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
