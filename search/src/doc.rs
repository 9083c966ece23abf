//! The documents the `api` crate feeds in, and how each becomes an index entry.
//!
//! Text given here is indexed as is: personal data must already be masked (`张**`), as it is in
//! every read model a regulator sees. Ids are opaque strings, unique across kinds (`mer_12`,
//! `ord_7`, `evt_42`): an upsert replaces whatever document had the same id.

use serde::{Deserialize, Serialize};
use tantivy::TantivyDocument;

use crate::error::{Result, SearchError};
use crate::schema::Fields;

/// Longest id accepted, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Longest region code accepted, in characters (GB/T 2260 codes have 6).
pub const MAX_REGION_CHARS: usize = 12;
/// Text fields longer than this many characters are indexed truncated.
pub const MAX_TEXT_CHARS: usize = 4_000;

/// Which kind of thing a document or hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DocKind {
    /// A merchant (driving school, canteen operator, …).
    Merchant,
    /// A prepaid order.
    Order,
    /// An event of the evidence log.
    Event,
}

impl DocKind {
    /// The term stored in the `kind` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merchant => "merchant",
            Self::Order => "order",
            Self::Event => "event",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "merchant" => Some(Self::Merchant),
            "order" => Some(Self::Order),
            "event" => Some(Self::Event),
            _ => None,
        }
    }
}

/// A merchant as search sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantDoc {
    /// Opaque id, e.g. `mer_12`.
    pub id: String,
    /// Registered name, e.g. 南京市某某驾驶培训有限公司.
    pub name: String,
    /// Unified Social Credit Code (18 characters).
    pub uscc: String,
    /// GB/T 2260 region code, e.g. `320102`.
    pub region: String,
    /// Industry as the API names it, e.g. `DRIVING_SCHOOL`.
    pub industry: String,
    /// Merchant status, e.g. `ACTIVE`.
    pub status: String,
    /// Free text.
    pub description: String,
    /// Equal to `id`: a merchant principal's scope lists merchant ids, and sees its own record.
    pub merchant_id: String,
}

/// An order as search sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDoc {
    /// Opaque id, e.g. `ord_7`.
    pub id: String,
    /// Business order number, matched exactly.
    pub order_no: String,
    /// Merchant the order is with.
    pub merchant_id: String,
    /// That merchant's name (searchable).
    pub merchant_name: String,
    /// Payer who prepaid.
    pub payer_id: String,
    /// Payer's name, already masked (`张**`).
    pub payer_masked_name: String,
    /// Scheme governing the order.
    pub scheme_id: String,
    /// GB/T 2260 region code.
    pub region: String,
    /// Industry as the API names it.
    pub industry: String,
    /// Order status.
    pub status: String,
    /// Free text, e.g. 科目二培训费.
    pub remark: String,
    /// Order amount in fen.
    pub amount_fen: i64,
    /// When the order was opened, unix seconds.
    pub opened_at: i64,
}

/// An event of the evidence log as search sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDoc {
    /// Opaque id, e.g. `evt_42`.
    pub id: String,
    /// Position in the event log.
    pub seq: u64,
    /// Event type, e.g. `ORDER_PAID`.
    pub event_type: String,
    /// Order concerned, if any.
    pub order_id: Option<String>,
    /// Merchant concerned, if any.
    pub merchant_id: Option<String>,
    /// Payer concerned, if any.
    pub payer_id: Option<String>,
    /// Region, if any. An event without one is invisible to regional scopes.
    pub region: Option<String>,
    /// Industry, if any. An event without one is invisible to regulator scopes.
    pub industry: Option<String>,
    /// Human-readable summary, already masked.
    pub summary: String,
    /// When it happened, unix seconds.
    pub at: i64,
}

/// Anything that can be indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Doc {
    /// A merchant.
    Merchant(MerchantDoc),
    /// An order.
    Order(OrderDoc),
    /// An event.
    Event(EventDoc),
}

impl Doc {
    /// The document's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Merchant(m) => &m.id,
            Self::Order(o) => &o.id,
            Self::Event(e) => &e.id,
        }
    }

    /// The document's kind.
    pub fn kind(&self) -> DocKind {
        match self {
            Self::Merchant(_) => DocKind::Merchant,
            Self::Order(_) => DocKind::Order,
            Self::Event(_) => DocKind::Event,
        }
    }
}

pub(crate) fn check_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(SearchError::InvalidDocument {
            reason: "the id is empty",
        });
    }
    if id.len() > MAX_ID_BYTES {
        return Err(SearchError::InvalidDocument {
            reason: "the id is too long",
        });
    }
    Ok(())
}

/// Builds the index entry for a document.
pub(crate) fn to_tantivy(doc: &Doc, f: &Fields) -> Result<TantivyDocument> {
    check_id(doc.id())?;
    let mut t = TantivyDocument::new();
    t.add_text(f.id, doc.id());
    t.add_text(f.kind, doc.kind().as_str());
    t.add_text(f.ident, doc.id());
    match doc {
        Doc::Merchant(m) => {
            if m.merchant_id != m.id {
                return Err(SearchError::InvalidDocument {
                    reason: "a merchant's merchant_id must equal its id",
                });
            }
            t.add_text(f.title, &m.name);
            add_name(&mut t, f, &m.name);
            t.add_text(f.name_exact, m.name.trim());
            add_body(&mut t, f, &m.description);
            add_ident(&mut t, f, &m.uscc);
            t.add_text(f.merchant_id, &m.merchant_id);
            add_region(&mut t, f, &m.region)?;
            add_keyword(&mut t, f.industry, &m.industry);
            add_keyword(&mut t, f.status, &m.status);
        }
        Doc::Order(o) => {
            t.add_text(f.title, format!("{} · {}", o.order_no, o.merchant_name));
            add_name(&mut t, f, &o.merchant_name);
            add_body(&mut t, f, &o.remark);
            add_body(&mut t, f, &o.payer_masked_name);
            add_ident(&mut t, f, &o.order_no);
            add_keyword(&mut t, f.merchant_id, &o.merchant_id);
            add_keyword(&mut t, f.payer_id, &o.payer_id);
            add_keyword(&mut t, f.scheme_id, &o.scheme_id);
            add_region(&mut t, f, &o.region)?;
            add_keyword(&mut t, f.industry, &o.industry);
            add_keyword(&mut t, f.status, &o.status);
            t.add_i64(f.amount_fen, o.amount_fen);
            t.add_i64(f.time, o.opened_at);
        }
        Doc::Event(e) => {
            t.add_text(f.title, &e.event_type);
            add_name(&mut t, f, &e.event_type);
            add_body(&mut t, f, &e.summary);
            add_ident(&mut t, f, &e.event_type);
            t.add_u64(f.seq, e.seq);
            if let Some(order_id) = &e.order_id {
                add_keyword(&mut t, f.order_id, order_id);
            }
            if let Some(merchant_id) = &e.merchant_id {
                add_keyword(&mut t, f.merchant_id, merchant_id);
            }
            if let Some(payer_id) = &e.payer_id {
                add_keyword(&mut t, f.payer_id, payer_id);
            }
            if let Some(region) = &e.region {
                add_region(&mut t, f, region)?;
            }
            if let Some(industry) = &e.industry {
                add_keyword(&mut t, f.industry, industry);
            }
            t.add_i64(f.time, e.at);
        }
    }
    Ok(t)
}

fn truncated(text: &str) -> &str {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

fn add_name(t: &mut TantivyDocument, f: &Fields, name: &str) {
    let name = truncated(name);
    t.add_text(f.name, name);
    t.add_text(f.name_ngram, name);
}

fn add_body(t: &mut TantivyDocument, f: &Fields, body: &str) {
    if body.trim().is_empty() {
        return;
    }
    let body = truncated(body);
    t.add_text(f.body, body);
    t.add_text(f.body_ngram, body);
}

fn add_ident(t: &mut TantivyDocument, f: &Fields, ident: &str) {
    let ident = ident.trim();
    if !ident.is_empty() && ident.len() <= MAX_ID_BYTES {
        t.add_text(f.ident, ident);
    }
}

/// Empty keywords are left out, so that an empty string never matches a filter for "".
fn add_keyword(t: &mut TantivyDocument, field: tantivy::schema::Field, value: &str) {
    if !value.is_empty() {
        t.add_text(field, value);
    }
}

/// Region code, all its prefixes (scope filter: exact term lookups, no prefix scans), and its
/// city-level code for the facet (`320102` → `320100`).
fn add_region(t: &mut TantivyDocument, f: &Fields, region: &str) -> Result<()> {
    if region.is_empty() {
        return Ok(());
    }
    if region.chars().count() > MAX_REGION_CHARS {
        return Err(SearchError::InvalidDocument {
            reason: "the region code is too long",
        });
    }
    t.add_text(f.region, region);
    for (end, c) in region.char_indices() {
        t.add_text(f.region_prefix, &region[..end + c.len_utf8()]);
    }
    if let Some(city) = city_code(region) {
        t.add_text(f.region_city, city);
    }
    Ok(())
}

/// docs/domain.md: a 6-digit GB/T 2260 code; its first four digits name the city.
pub(crate) fn city_code(region: &str) -> Option<String> {
    let head = region.get(..4)?;
    head.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| format!("{head}00"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn city_code_keeps_the_first_four_digits() {
        assert_eq!(city_code("320102").as_deref(), Some("320100"));
        assert_eq!(city_code("320500").as_deref(), Some("320500"));
        assert_eq!(city_code("32"), None);
        assert_eq!(city_code("32A1xx"), None);
    }

    #[test]
    fn long_text_is_truncated_on_a_char_boundary() {
        let long = "驾".repeat(MAX_TEXT_CHARS + 10);
        assert_eq!(truncated(&long).chars().count(), MAX_TEXT_CHARS);
        assert_eq!(truncated("短"), "短");
    }
}
