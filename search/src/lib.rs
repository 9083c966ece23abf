//! Chinese-aware full-text search over Lvyue's merchants, orders and events.
//!
//! A pure library over a tantivy index: it never touches the database. The `api` crate feeds it
//! [`Doc`]s from the event log through the one [`SearchWriter`] (recording the last event seq at
//! each commit, for resume), and answers GraphQL searches with [`SearchIndex::search`], always
//! passing the asking principal's [`Scope`].
//!
//! Not here: deciding who may see what (the caller builds the [`Scope`]), masking personal data
//! (documents arrive masked), and persistence of anything but the index itself.
//!
//! Text is cut by jieba, with a 1–2-gram field beside it for words jieba hides inside longer
//! words; queries are an order-free AND of words, and exact identifiers or names rank first.
//! See `analysis` and `query` for the details, and `docs/design.md` § Search.

mod analysis;
mod doc;
mod error;
mod highlight;
mod index;
mod query;
mod schema;
mod search;

#[cfg(test)]
mod tests;

pub use doc::{
    Doc, DocKind, EventDoc, MAX_ID_BYTES, MAX_REGION_CHARS, MAX_TEXT_CHARS, MerchantDoc, OrderDoc,
};
pub use error::{Result, SchemaVersionFound, SearchError};
pub use highlight::SNIPPET_MAX_CHARS;
pub use index::{SearchIndex, SearchWriter, WRITER_MEMORY_BUDGET_BYTES};
pub use query::{
    Filter, MAX_OFFSET, MAX_PAGE_SIZE, MAX_QUERY_CHARS, MAX_QUERY_TERMS, Scope, SearchRequest,
};
pub use schema::SCHEMA_VERSION;
pub use search::{Facets, Hit, SearchResults};
