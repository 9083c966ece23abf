//! An escrow order: a payer's prepayment to a merchant under a scheme's policy version.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "escrow_order")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub order_no: String,
    pub scheme_id: i64,
    pub policy_version: i32,
    pub merchant_id: i64,
    pub payer_id: i64,
    pub region: String,
    pub industry: String,
    pub total_fen: i64,
    pub collected_fen: i64,
    pub settled_fen: i64,
    pub released_fen: i64,
    pub refunded_fen: i64,
    pub deducted_fen: i64,
    pub status: String,
    pub escrow_account_id: i64,
    pub description: String,
    pub opened_at_us: i64,
    pub expires_at_us: Option<i64>,
    pub closed_at_us: Option<i64>,
    /// A platform order's split terms as JSON (commission and sub-merchant weights), fixed at
    /// opening; `None` for every other order.
    pub split_terms: Option<String>,
    /// When the payer consented to the order (the bank's counter, the payer's own token, or a
    /// payment); `None` while a merchant's order waits for its payer.
    pub payer_accepted_at_us: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
