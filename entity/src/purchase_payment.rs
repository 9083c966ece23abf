//! A canteen's payment to a food supplier from its payable, paid only once the school and the
//! education bureau (as the scheme's policy lists) have approved it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "purchase_payment")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub scheme_id: i64,
    pub region: String,
    pub industry: String,
    pub school_id: Option<i64>,
    pub supplier_name: String,
    pub supplier_account: String,
    pub amount_fen: i64,
    pub invoice_ref: String,
    pub status: String,
    pub needs_school: bool,
    pub needs_bureau: bool,
    pub school_approved: Option<bool>,
    pub school_decided_by: Option<String>,
    pub school_decided_at_us: Option<i64>,
    pub bureau_approved: Option<bool>,
    pub bureau_decided_by: Option<String>,
    pub bureau_decided_at_us: Option<i64>,
    pub note: String,
    pub requested_by: String,
    pub requested_at_us: i64,
    pub closed_at_us: Option<i64>,
    pub entry_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
