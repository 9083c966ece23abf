//! What a caller asks ([`SearchRequest`]) and the tantivy query built from it.
//!
//! The query is `Must(text) ∧ Must(scope) ∧ Must(filters…)`; scope and filters score nothing
//! (constant 0), so ranking comes from the text alone.
//!
//! Text: `Should(exact identifier) ∨ Should(exact merchant name) ∨ Should(AND of words)`.
//! Each word matches the jieba `name` field (boosted), the jieba `body` field, the identifier
//! field, or — for a word with CJK characters — all of its bigrams in one n-gram field. That is
//! an order-free AND of words, never a phrase (docs/design.md, "Search"). The two exact clauses carry a
//! constant score far above any BM25 sum, so an exact order number, USCC or full name ranks first.

use std::ops::Bound;

use serde::{Deserialize, Serialize};
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, Occur, Query, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;

use crate::analysis;
use crate::doc::DocKind;
use crate::error::{Result, SearchError};
use crate::schema::Fields;

/// Largest page a search returns.
pub const MAX_PAGE_SIZE: usize = 200;
/// Deepest offset a search accepts: paging further means the search is too broad.
pub const MAX_OFFSET: usize = 10_000;
/// Longest query text, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words a query text may split into.
pub const MAX_QUERY_TERMS: usize = 32;

/// Score added for an exact identifier match (id, order number, USCC, event type).
const EXACT_IDENT_SCORE: f32 = 10_000.0;
/// Score added for an exact full merchant-name match.
const EXACT_NAME_SCORE: f32 = 5_000.0;
/// Weight of a word found in a name over one found in body text.
const NAME_BOOST: f32 = 3.0;
/// Weight of a word found only through bigrams (substring recall, weaker evidence).
const NGRAM_BOOST: f32 = 0.5;

/// Who is asking, as far as search is concerned. Always applied; the `api` crate derives it
/// from the principal and never from user input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// The bank: everything.
    All,
    /// Everyone else. Each list that is `Some` must match (they combine with AND); a `Some`
    /// empty list matches nothing; if every list is `None` nothing matches either (fail closed).
    Restricted {
        /// A merchant: documents carrying one of these merchant ids.
        merchant_ids: Option<Vec<String>>,
        /// A payer: documents carrying one of these payer ids (its orders and events).
        payer_ids: Option<Vec<String>>,
        /// A regulator: documents whose region code starts with one of these prefixes
        /// (`3201` = Nanjing, `32` = Jiangsu). An empty prefix matches nothing.
        region_prefixes: Option<Vec<String>>,
        /// A regulator: documents in one of these industries (`DRIVING_SCHOOL`).
        industries: Option<Vec<String>>,
    },
}

impl Scope {
    /// A merchant's scope.
    pub fn merchant(merchant_id: impl Into<String>) -> Self {
        Self::Restricted {
            merchant_ids: Some(vec![merchant_id.into()]),
            payer_ids: None,
            region_prefixes: None,
            industries: None,
        }
    }

    /// A payer's scope.
    pub fn payer(payer_id: impl Into<String>) -> Self {
        Self::Restricted {
            merchant_ids: None,
            payer_ids: Some(vec![payer_id.into()]),
            region_prefixes: None,
            industries: None,
        }
    }

    /// A regulator's scope: its region prefixes AND its industries.
    pub fn regulator(region_prefixes: Vec<String>, industries: Vec<String>) -> Self {
        Self::Restricted {
            merchant_ids: None,
            payer_ids: None,
            region_prefixes: Some(region_prefixes),
            industries: Some(industries),
        }
    }
}

/// Narrowing chosen by the user. Unlike [`Scope`], an empty list here means "no narrowing".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Any of these industries.
    pub industries: Vec<String>,
    /// Any of these statuses.
    pub statuses: Vec<String>,
    /// Region code prefixes; any of them.
    pub regions: Vec<String>,
    /// This merchant only.
    pub merchant_id: Option<String>,
    /// This scheme only (orders carry a scheme).
    pub scheme_id: Option<String>,
    /// Time at or after (unix seconds). Merchants carry no time and drop out.
    pub time_from: Option<i64>,
    /// Time strictly before (unix seconds).
    pub time_to: Option<i64>,
    /// Amount at least (fen, inclusive). Only orders carry an amount.
    pub amount_min_fen: Option<i64>,
    /// Amount at most (fen, inclusive).
    pub amount_max_fen: Option<i64>,
}

/// One search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// What the user typed. Empty: everything in scope and filter, newest first.
    pub text: String,
    /// Kinds to search; `None` or an empty list: all kinds.
    pub kinds: Option<Vec<DocKind>>,
    /// User narrowing.
    pub filter: Filter,
    /// The asking principal's scope.
    pub scope: Scope,
    /// Page size, at most [`MAX_PAGE_SIZE`]. Zero returns only the total and facets.
    pub first: usize,
    /// Hits to skip, at most [`MAX_OFFSET`].
    pub offset: usize,
    /// Skip facet counting (saves a pass over every match; totals are still exact).
    pub skip_facets: bool,
}

impl SearchRequest {
    /// A request for `text` within `scope`: first page of 20, all kinds, no filter, with facets.
    pub fn new(text: impl Into<String>, scope: Scope) -> Self {
        Self {
            text: text.into(),
            kinds: None,
            filter: Filter::default(),
            scope,
            first: 20,
            offset: 0,
            skip_facets: false,
        }
    }
}

/// The built query, and what the result builder needs to know about it.
pub(crate) struct Plan {
    pub query: Box<dyn Query>,
    /// Words to highlight; empty for a query without text.
    pub words: Vec<String>,
    /// Rank by relevance (text given) or by time, newest first (no text).
    pub by_relevance: bool,
}

pub(crate) fn check_request(req: &SearchRequest) -> Result<()> {
    if req.first > MAX_PAGE_SIZE {
        return Err(SearchError::PageTooLarge {
            requested: req.first,
            max: MAX_PAGE_SIZE,
        });
    }
    if req.offset > MAX_OFFSET {
        return Err(SearchError::OffsetTooLarge {
            requested: req.offset,
            max: MAX_OFFSET,
        });
    }
    let chars = req.text.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(SearchError::QueryTooLong {
            chars,
            max: MAX_QUERY_CHARS,
        });
    }
    Ok(())
}

pub(crate) fn plan(req: &SearchRequest, f: &Fields, analyzer: &mut TextAnalyzer) -> Result<Plan> {
    check_request(req)?;
    let mut musts: Vec<Box<dyn Query>> = Vec::new();
    let text = req.text.trim();
    let mut words = Vec::new();
    if !text.is_empty() {
        words = analysis::query_terms(analyzer, text);
        if words.len() > MAX_QUERY_TERMS {
            return Err(SearchError::TooManyTerms {
                terms: words.len(),
                max: MAX_QUERY_TERMS,
            });
        }
        musts.push(text_query(text, &words, f));
    }
    let by_relevance = !musts.is_empty();
    musts.extend(scope_query(&req.scope, f).map(filter));
    musts.extend(filter_queries(req, f).into_iter().map(filter));
    let query: Box<dyn Query> = match musts.len() {
        0 => Box::new(AllQuery),
        _ => Box::new(BooleanQuery::intersection(musts)),
    };
    Ok(Plan {
        query,
        words,
        by_relevance,
    })
}

/// A clause that narrows without scoring.
fn filter(query: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(query, 0.0))
}

fn term(field: Field, text: &str) -> Term {
    Term::from_field_text(field, text)
}

fn term_query(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        term(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn boosted(query: Box<dyn Query>, boost: f32) -> Box<dyn Query> {
    Box::new(BoostQuery::new(query, boost))
}

fn text_query(text: &str, words: &[String], f: &Fields) -> Box<dyn Query> {
    // Same normalisation as the RAW_LOWER analyzer: the whole value, lowercased.
    let whole = text.to_lowercase();
    let mut alternatives: Vec<(Occur, Box<dyn Query>)> = vec![
        (
            Occur::Should,
            Box::new(ConstScoreQuery::new(
                term_query(f.ident, &whole),
                EXACT_IDENT_SCORE,
            )),
        ),
        (
            Occur::Should,
            Box::new(ConstScoreQuery::new(
                term_query(f.name_exact, &whole),
                EXACT_NAME_SCORE,
            )),
        ),
    ];
    if !words.is_empty() {
        let all_words = words.iter().map(|w| word_query(w, f)).collect();
        alternatives.push((
            Occur::Should,
            Box::new(BooleanQuery::intersection(all_words)),
        ));
    }
    Box::new(BooleanQuery::new(alternatives))
}

/// One query word: found as a jieba word in the name or body, as an identifier, or (CJK only)
/// as a substring through its bigrams.
fn word_query(word: &str, f: &Fields) -> Box<dyn Query> {
    let mut ways: Vec<Box<dyn Query>> = vec![
        boosted(term_query(f.name, word), NAME_BOOST),
        term_query(f.body, word),
        term_query(f.ident, word),
    ];
    if analysis::has_cjk(word) {
        ways.push(boosted(
            grams_query(f.name_ngram, word),
            NAME_BOOST * NGRAM_BOOST,
        ));
        ways.push(boosted(grams_query(f.body_ngram, word), NGRAM_BOOST));
    }
    Box::new(BooleanQuery::union(ways))
}

/// All bigrams of `word` in one n-gram field (the unigram for a one-character word).
fn grams_query(field: Field, word: &str) -> Box<dyn Query> {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 2 {
        return term_query(field, word);
    }
    let mut grams: Vec<String> = chars.windows(2).map(|w| w.iter().collect()).collect();
    grams.sort_unstable();
    grams.dedup();
    let parts = grams.iter().map(|g| term_query(field, g)).collect();
    Box::new(BooleanQuery::intersection(parts))
}

fn any_of(field: Field, values: &[String]) -> Box<dyn Query> {
    let terms: Vec<Term> = values
        .iter()
        .filter(|v| !v.is_empty())
        .map(|v| term(field, v))
        .collect();
    if terms.is_empty() {
        Box::new(EmptyQuery)
    } else {
        Box::new(TermSetQuery::new(terms))
    }
}

/// The scope as one query, or `None` for [`Scope::All`].
fn scope_query(scope: &Scope, f: &Fields) -> Option<Box<dyn Query>> {
    let Scope::Restricted {
        merchant_ids,
        payer_ids,
        region_prefixes,
        industries,
    } = scope
    else {
        return None;
    };
    let parts: Vec<Box<dyn Query>> = [
        (f.merchant_id, merchant_ids),
        (f.payer_id, payer_ids),
        (f.region_prefix, region_prefixes),
        (f.industry, industries),
    ]
    .into_iter()
    .filter_map(|(field, values)| values.as_deref().map(|v| any_of(field, v)))
    .collect();
    if parts.is_empty() {
        // Restricted, yet nothing to restrict by: a malformed scope sees nothing.
        return Some(Box::new(EmptyQuery));
    }
    Some(Box::new(BooleanQuery::intersection(parts)))
}

fn filter_queries(req: &SearchRequest, f: &Fields) -> Vec<Box<dyn Query>> {
    let mut out: Vec<Box<dyn Query>> = Vec::new();
    if let Some(kinds) = req.kinds.as_deref().filter(|k| !k.is_empty()) {
        let names: Vec<String> = kinds.iter().map(|k| k.as_str().to_owned()).collect();
        out.push(any_of(f.kind, &names));
    }
    let filter = &req.filter;
    for (field, values) in [
        (f.industry, &filter.industries),
        (f.status, &filter.statuses),
        (f.region_prefix, &filter.regions),
    ] {
        if !values.is_empty() {
            out.push(any_of(field, values));
        }
    }
    if let Some(merchant_id) = &filter.merchant_id {
        out.push(any_of(f.merchant_id, std::slice::from_ref(merchant_id)));
    }
    if let Some(scheme_id) = &filter.scheme_id {
        out.push(any_of(f.scheme_id, std::slice::from_ref(scheme_id)));
    }
    out.extend(i64_range(
        f.time,
        filter.time_from.map(Bound::Included),
        filter.time_to.map(Bound::Excluded),
    ));
    out.extend(i64_range(
        f.amount_fen,
        filter.amount_min_fen.map(Bound::Included),
        filter.amount_max_fen.map(Bound::Included),
    ));
    out
}

/// A range over an i64 fast field, or nothing when neither bound is set (tantivy's range
/// query needs at least one bound).
fn i64_range(
    field: Field,
    lower: Option<Bound<i64>>,
    upper: Option<Bound<i64>>,
) -> Option<Box<dyn Query>> {
    if lower.is_none() && upper.is_none() {
        return None;
    }
    let to_term = |b: Option<Bound<i64>>| match b {
        Some(Bound::Included(v)) => Bound::Included(Term::from_field_i64(field, v)),
        Some(Bound::Excluded(v)) => Bound::Excluded(Term::from_field_i64(field, v)),
        Some(Bound::Unbounded) | None => Bound::Unbounded,
    };
    Some(Box::new(RangeQuery::new(to_term(lower), to_term(upper))))
}
