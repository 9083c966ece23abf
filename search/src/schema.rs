//! The index's fields, and the version that names them.
//!
//! Every kind of document (merchant, order, event) lives in one index with one schema, so a
//! single query can search all kinds and the scope filter is written once.
//!
//! | field | analysis | holds |
//! |---|---|---|
//! | `id` | raw, stored, fast | the document's opaque id (`mer_12`); delete/upsert key; tie-break |
//! | `kind` | raw, stored | `merchant` / `order` / `event` |
//! | `name`, `name_ngram` | jieba / 1–2-gram | merchant name; order's merchant name; event type |
//! | `body`, `body_ngram` | jieba / 1–2-gram | description; remark + masked payer name; event summary |
//! | `ident` | whole value, lowercased | id, order number, USCC, event type: exact lookup |
//! | `name_exact` | whole value, lowercased | a merchant's full name: exact-name ranking |
//! | `merchant_id`, `payer_id`, `scheme_id`, `order_id` | raw | scope and filters |
//! | `region` | raw, stored | full region code |
//! | `region_prefix` | raw, multi-valued | every prefix of the region code: `3`, `32`, `320`, `3201`… |
//! | `region_city` | raw, fast | city-level code (`320100`): facet |
//! | `industry`, `status` | raw, fast, stored | filters and facets |
//! | `time` | i64, fast | order `opened_at` / event `at`, unix seconds; merchants have none |
//! | `amount_fen` | i64, fast | orders only |
//! | `seq` | u64, stored | events only |
//! | `title` | stored only | what a hit shows as its title |

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::analysis;

/// Version of the schema *and* of the text analysis, written in every commit record.
/// Bump it whenever documents would be indexed differently; old indexes then answer
/// [`crate::SearchError::SchemaMismatch`] and get rebuilt.
pub const SCHEMA_VERSION: u32 = 1;

/// Handles to every field, resolved once per open.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    pub id: Field,
    pub kind: Field,
    pub title: Field,
    pub name: Field,
    pub name_ngram: Field,
    pub body: Field,
    pub body_ngram: Field,
    pub ident: Field,
    pub name_exact: Field,
    pub merchant_id: Field,
    pub payer_id: Field,
    pub scheme_id: Field,
    pub order_id: Field,
    pub region: Field,
    pub region_prefix: Field,
    pub region_city: Field,
    pub industry: Field,
    pub status: Field,
    pub time: Field,
    pub amount_fen: Field,
    pub seq: Field,
}

/// Fast-field names, used by sorting and facet collection.
pub(crate) const ID_FIELD: &str = "id";
pub(crate) const TIME_FIELD: &str = "time";
pub(crate) const INDUSTRY_FIELD: &str = "industry";
pub(crate) const STATUS_FIELD: &str = "status";
pub(crate) const REGION_CITY_FIELD: &str = "region_city";

fn text(tokenizer: &str, stored: bool) -> TextOptions {
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            // No phrase queries are ever built (queries are order-free AND), so no positions.
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    if stored {
        options.set_stored()
    } else {
        options
    }
}

fn exact() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analysis::RAW_LOWER)
            .set_index_option(IndexRecordOption::Basic),
    )
}

/// Builds the schema of this version and the handles to its fields.
pub(crate) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_text_field(ID_FIELD, STRING | STORED | FAST),
        kind: b.add_text_field("kind", STRING | STORED),
        title: b.add_text_field("title", STORED),
        name: b.add_text_field("name", text(analysis::JIEBA, true)),
        name_ngram: b.add_text_field("name_ngram", text(analysis::NGRAM, false)),
        body: b.add_text_field("body", text(analysis::JIEBA, true)),
        body_ngram: b.add_text_field("body_ngram", text(analysis::NGRAM, false)),
        ident: b.add_text_field("ident", exact()),
        name_exact: b.add_text_field("name_exact", exact()),
        merchant_id: b.add_text_field("merchant_id", STRING | STORED),
        payer_id: b.add_text_field("payer_id", STRING | STORED),
        scheme_id: b.add_text_field("scheme_id", STRING | STORED),
        order_id: b.add_text_field("order_id", STRING | STORED),
        region: b.add_text_field("region", STRING | STORED),
        region_prefix: b.add_text_field("region_prefix", STRING),
        region_city: b.add_text_field(REGION_CITY_FIELD, STRING | FAST),
        industry: b.add_text_field(INDUSTRY_FIELD, STRING | FAST | STORED),
        status: b.add_text_field(STATUS_FIELD, STRING | FAST | STORED),
        time: b.add_i64_field(TIME_FIELD, INDEXED | FAST | STORED),
        amount_fen: b.add_i64_field("amount_fen", INDEXED | FAST | STORED),
        seq: b.add_u64_field("seq", STORED),
    };
    (b.build(), fields)
}
