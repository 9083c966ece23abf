//! An event: one leaf of the transparency log. Append-only; `seq` is the gap-free leaf index.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub event_type: String,
    pub at_us: i64,
    pub order_id: Option<i64>,
    pub merchant_id: Option<i64>,
    pub payer_id: Option<i64>,
    pub scheme_id: Option<i64>,
    /// The `data` object as JSON text (personal data only as salted commitments).
    pub data: String,
    /// RFC 8785 canonical JSON of `{seq, type, at, order_id?, merchant_id?, data}`: the leaf bytes.
    pub canonical: String,
    pub leaf_hash: String,
    /// Hex salt of the personal-data commitments in `data`; disclosed only to authorized readers.
    pub salt: Option<String>,
    /// A sealed event's clear `data` (JSON text), committed to in the leaf and kept off it.
    pub opening: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
