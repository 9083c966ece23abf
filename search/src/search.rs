//! Running a search: totals and facets over every match in scope, one page of hits with
//! highlights.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue, SortByString};
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::StrColumn;
use tantivy::schema::{Field, Value};
use tantivy::{DocAddress, DocId, Order, Score, SegmentOrdinal, SegmentReader, TantivyDocument};

use crate::doc::DocKind;
use crate::error::{Result, SearchError};
use crate::highlight;
use crate::index::SearchIndex;
use crate::query::{self, SearchRequest};
use crate::schema::{ID_FIELD, INDUSTRY_FIELD, REGION_CITY_FIELD, STATUS_FIELD, TIME_FIELD};

/// One matching document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Merchant, order or event.
    pub kind: DocKind,
    /// The document's id (`mer_12`).
    pub id: String,
    /// Relevance; 0 for a search without text (those are ordered by time).
    pub score: f32,
    /// Plain title: merchant name; `order_no · merchant name`; event type.
    pub title: String,
    /// The title, HTML-escaped, query words in `<b>…</b>`.
    pub title_html: String,
    /// Description / remark / summary (or the name when only it matched), HTML-escaped, query
    /// words in `<b>…</b>`, cut to [`crate::SNIPPET_MAX_CHARS`] characters.
    pub snippet_html: String,
    /// Merchant concerned (a merchant's own id for a merchant).
    pub merchant_id: Option<String>,
    /// Payer concerned (orders; events about a payer).
    pub payer_id: Option<String>,
    /// Order concerned (events about an order).
    pub order_id: Option<String>,
    /// Scheme (orders).
    pub scheme_id: Option<String>,
    /// Region code.
    pub region: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Status (merchants and orders).
    pub status: Option<String>,
    /// Order `opened_at` or event `at`, unix seconds.
    pub time: Option<i64>,
    /// Order amount in fen.
    pub amount_fen: Option<i64>,
    /// Event seq.
    pub seq: Option<u64>,
}

/// Counts over every match in scope (not just the page), largest first, then by key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facets {
    /// Per industry.
    pub by_industry: Vec<(String, u64)>,
    /// Per status.
    pub by_status: Vec<(String, u64)>,
    /// Per city (4-digit prefix + `00`, e.g. `320100`).
    pub by_region: Vec<(String, u64)>,
}

/// The answer to a [`SearchRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    /// Matching documents in scope.
    pub total: usize,
    /// The requested page: by relevance when text was given, else newest first (merchants,
    /// which carry no time, last); ties by id.
    pub hits: Vec<Hit>,
    /// Facet counts; empty when the request set `skip_facets`.
    pub facets: Facets,
}

impl SearchIndex {
    /// Searches within the request's scope. Synchronous CPU work, usually milliseconds; a
    /// server may call it directly or on `spawn_blocking` for broad searches on big indexes.
    ///
    /// # Errors
    /// [`crate::SearchError::PageTooLarge`], [`crate::SearchError::OffsetTooLarge`],
    /// [`crate::SearchError::QueryTooLong`], [`crate::SearchError::TooManyTerms`] for requests
    /// over the limits; [`crate::SearchError::Engine`] on I/O failure.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults> {
        let mut analyzer = crate::analysis::query_analyzer();
        let plan = query::plan(req, &self.fields, &mut analyzer)?;
        let searcher = self.reader.searcher();

        let (total, facets) = if req.skip_facets {
            (searcher.search(&*plan.query, &Count)?, Facets::default())
        } else {
            let (total, counts) = searcher.search(&*plan.query, &(Count, FacetCollector))?;
            (total, counts.into_facets())
        };

        // Ties are broken by id, so the order does not depend on how documents happen to be
        // spread over segments: paging is stable, and a rebuilt index answers the same.
        let by_id = (SortByString::for_field(ID_FIELD), Order::Asc);
        let page: Vec<(Score, DocAddress)> = if req.first == 0 {
            Vec::new()
        } else if plan.by_relevance {
            let top = TopDocs::with_limit(req.first).and_offset(req.offset);
            searcher
                .search(&*plan.query, &top.order_by((SortBySimilarityScore, by_id)))?
                .into_iter()
                .map(|((score, _), address)| (score, address))
                .collect()
        } else {
            let top = TopDocs::with_limit(req.first).and_offset(req.offset);
            let newest = (
                SortByStaticFastValue::<i64>::for_field(TIME_FIELD),
                Order::Desc,
            );
            searcher
                .search(&*plan.query, &top.order_by((newest, by_id)))?
                .into_iter()
                .map(|(_, address)| (0.0, address))
                .collect()
        };

        let mut hits = Vec::with_capacity(page.len());
        for (score, address) in page {
            let stored: TantivyDocument = searcher.doc(address)?;
            hits.push(self.hit(&stored, score, &plan.words)?);
        }
        Ok(SearchResults {
            total,
            hits,
            facets,
        })
    }

    fn hit(&self, d: &TantivyDocument, score: Score, words: &[String]) -> Result<Hit> {
        let f = &self.fields;
        let text = |field: Field| {
            d.get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let title = text(f.title).unwrap_or_default();
        let (title_html, _) = highlight::snippet(&title, words);
        let body: Vec<&str> = d.get_all(f.body).filter_map(|v| v.as_str()).collect();
        let body = body.join(" · ");
        let (body_html, body_hit) = highlight::snippet(&body, words);
        let snippet_html = if body_hit {
            body_html
        } else {
            let name = text(f.name).unwrap_or_default();
            let (name_html, name_hit) = highlight::snippet(&name, words);
            if name_hit || body.is_empty() {
                name_html
            } else {
                body_html
            }
        };
        let kind = text(f.kind)
            .as_deref()
            .and_then(DocKind::parse)
            .ok_or(SearchError::CorruptDocument)?;
        Ok(Hit {
            kind,
            id: text(f.id).unwrap_or_default(),
            score,
            title,
            title_html,
            snippet_html,
            merchant_id: text(f.merchant_id),
            payer_id: text(f.payer_id),
            order_id: text(f.order_id),
            scheme_id: text(f.scheme_id),
            region: text(f.region),
            industry: text(f.industry),
            status: text(f.status),
            time: d.get_first(f.time).and_then(|v| v.as_i64()),
            amount_fen: d.get_first(f.amount_fen).and_then(|v| v.as_i64()),
            seq: d.get_first(f.seq).and_then(|v| v.as_u64()),
        })
    }
}

/// Fast fields counted by the facet collector, in [`FacetCounts`] order.
const FACET_FIELDS: [&str; 3] = [INDUSTRY_FIELD, STATUS_FIELD, REGION_CITY_FIELD];

/// Counts the values of [`FACET_FIELDS`] over every matching document.
struct FacetCollector;

/// Per facet field, value → count.
#[derive(Default)]
struct FacetCounts([HashMap<String, u64>; 3]);

impl FacetCounts {
    fn into_facets(self) -> Facets {
        let [industry, status, region] = self.0;
        Facets {
            by_industry: sorted(industry),
            by_status: sorted(status),
            by_region: sorted(region),
        }
    }
}

fn sorted(counts: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

impl Collector for FacetCollector {
    type Fruit = FacetCounts;
    type Child = FacetSegmentCollector;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<FacetSegmentCollector> {
        let mut columns = Vec::with_capacity(FACET_FIELDS.len());
        for name in FACET_FIELDS {
            let column = segment.fast_fields().str(name)?;
            let counts = column.as_ref().map_or(0, |c| c.num_terms());
            columns.push((column, vec![0u64; counts]));
        }
        Ok(FacetSegmentCollector { columns })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(
        &self,
        segment_fruits: Vec<tantivy::Result<FacetCounts>>,
    ) -> tantivy::Result<FacetCounts> {
        let mut total = FacetCounts::default();
        for fruit in segment_fruits {
            for (into, from) in total.0.iter_mut().zip(fruit?.0) {
                for (key, count) in from {
                    *into.entry(key).or_insert(0) += count;
                }
            }
        }
        Ok(total)
    }
}

struct FacetSegmentCollector {
    /// Per facet field: the segment's column (absent when no document has the field) and a
    /// count per term ordinal.
    columns: Vec<(Option<StrColumn>, Vec<u64>)>,
}

impl SegmentCollector for FacetSegmentCollector {
    type Fruit = tantivy::Result<FacetCounts>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        for (column, counts) in &mut self.columns {
            if let Some(column) = column {
                for ord in column.term_ords(doc) {
                    // Ordinals are below num_terms by construction of the column.
                    if let Some(count) = counts.get_mut(ord as usize) {
                        *count += 1;
                    }
                }
            }
        }
    }

    fn harvest(self) -> tantivy::Result<FacetCounts> {
        let mut out = FacetCounts::default();
        for ((column, counts), into) in self.columns.into_iter().zip(out.0.iter_mut()) {
            let Some(column) = column else { continue };
            let mut key = String::new();
            for (ord, &count) in counts.iter().enumerate() {
                if count > 0 && column.ord_to_str(ord as u64, &mut key)? {
                    into.insert(key.clone(), count);
                }
            }
        }
        Ok(out)
    }
}
