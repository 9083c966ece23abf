//! Search in the schema: Chinese full-text search over merchants, orders and events
//! (`lvyue-search`, fed by [`crate::indexer`]), with the caller's scope always applied.
//!
//! The scope is built here from the principal, never from input, and mirrors the domain's
//! (`lvyue_domain::queries::{order_scope, merchant_scope, event_scope}`), so that every hit is
//! something the caller could open with `order`, `party` or `event`: the bank sees everything;
//! a merchant itself, its orders and the events naming it; a payer its own orders and the
//! events naming it; a regulator what lies in its regions AND its industries; a court nothing
//! (it reaches evidence through its cases, not by browsing).
//!
//! Results are ranked, not keyed, so a cursor is a position: the cursor of a hit is its 1-based
//! rank, and `after` a cursor continues below it. A forged cursor only moves the starting point.
//! An index may trail the log by a few events (`lvyue_search_index_lag`).

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use lvyue_domain::ids::{PartyId, SchemeId};
use lvyue_domain::principal::{Industry, Principal, RegionPrefix, Role};
use lvyue_search::{
    DocKind, Facets, Filter, Hit, MAX_OFFSET, Scope, SearchIndex, SearchRequest, SearchResults,
};

use super::common::{id, timestamp};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::enums::GqlIndustry;
use super::guard::RoleGuard;
use super::scalars::Decimal;
use crate::error;

/// Most values one filter list may hold.
pub const MAX_FILTER_VALUES: usize = 50;
/// Longest status accepted in a filter.
const MAX_STATUS_CHARS: usize = 32;

/// What a hit is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "SearchHitKind", rename_items = "SCREAMING_SNAKE_CASE")]
pub enum GqlSearchHitKind {
    Merchant,
    Order,
    Event,
}

impl From<DocKind> for GqlSearchHitKind {
    fn from(k: DocKind) -> GqlSearchHitKind {
        match k {
            DocKind::Merchant => GqlSearchHitKind::Merchant,
            DocKind::Order => GqlSearchHitKind::Order,
            DocKind::Event => GqlSearchHitKind::Event,
        }
    }
}

impl From<GqlSearchHitKind> for DocKind {
    fn from(k: GqlSearchHitKind) -> DocKind {
        match k {
            GqlSearchHitKind::Merchant => DocKind::Merchant,
            GqlSearchHitKind::Order => DocKind::Order,
            GqlSearchHitKind::Event => DocKind::Event,
        }
    }
}

/// Narrowing chosen by the caller, within its scope. Lists are "any of"; absent or empty lists
/// do not narrow. Conditions combine with AND.
#[derive(InputObject, Default)]
pub struct SearchFilterInput {
    #[graphql(default)]
    pub kinds: Vec<GqlSearchHitKind>,
    #[graphql(default)]
    pub industries: Vec<GqlIndustry>,
    /// Order statuses (`ACTIVE`) or merchant statuses (`SUSPENDED`).
    #[graphql(default)]
    pub statuses: Vec<String>,
    /// Region code prefixes of 2, 4 or 6 digits (`3201` is Nanjing).
    #[graphql(default)]
    pub regions: Vec<String>,
    /// One merchant: itself, its orders, events naming it.
    pub merchant: Option<ID>,
    /// One scheme's orders.
    pub scheme: Option<ID>,
    /// Orders opened, or events happened, at or after this time (merchants drop out).
    pub from: Option<DateTime<Utc>>,
    /// …and strictly before this time.
    pub to: Option<DateTime<Utc>>,
    /// Orders of at least this total (only orders carry an amount).
    pub min_amount: Option<Decimal>,
    /// Orders of at most this total.
    pub max_amount: Option<Decimal>,
}

/// One merchant, order or event found.
#[derive(SimpleObject)]
pub struct SearchHit {
    pub kind: GqlSearchHitKind,
    /// `pty_…` for a merchant, `ord_…` for an order, `evt_…` for an event: open it with
    /// `party`, `order` or `event`.
    pub id: ID,
    /// The merchant's name; `order number · merchant name`; the event type.
    pub title: String,
    /// The title, HTML-escaped, the words searched for in `<b>…</b>`.
    pub title_html: String,
    /// Description, remark or event summary around the first match, HTML-escaped, the words
    /// searched for in `<b>…</b>`.
    pub snippet_html: String,
    /// Relevance (higher first); 0 for an empty query, whose hits come newest first.
    pub score: f64,
    /// The merchant concerned (a merchant's own id for a merchant).
    pub merchant_id: Option<ID>,
    /// The order concerned (an order's own id for an order).
    pub order_id: Option<ID>,
    /// Merchant or order status.
    pub status: Option<String>,
    /// GB/T 2260 region code.
    pub region: Option<String>,
    pub industry: Option<GqlIndustry>,
    /// An order's total.
    pub amount: Option<Decimal>,
    /// When an order was opened or an event happened.
    pub time: Option<DateTime<Utc>>,
    /// An event's position in the log.
    pub seq: Option<u64>,
}

impl From<Hit> for SearchHit {
    fn from(h: Hit) -> SearchHit {
        let order_id = match h.kind {
            DocKind::Order => Some(h.id.clone()),
            DocKind::Merchant | DocKind::Event => h.order_id,
        };
        super::trail::object("search hit", &h.id);
        if let Some(o) = order_id.as_deref().and_then(|o| o.parse().ok()) {
            super::trail::order(o);
        }
        SearchHit {
            kind: h.kind.into(),
            id: ID(h.id),
            title: h.title,
            title_html: h.title_html,
            snippet_html: h.snippet_html,
            score: f64::from(h.score),
            merchant_id: h.merchant_id.map(ID),
            order_id: order_id.map(ID),
            status: h.status,
            region: h.region,
            industry: h
                .industry
                .and_then(|i| i.parse::<Industry>().ok())
                .map(GqlIndustry::from),
            amount: h.amount_fen.map(Decimal::from_fen),
            time: h.time.and_then(|s| DateTime::from_timestamp(s, 0)),
            seq: h.seq,
        }
    }
}

/// How many hits have one value.
#[derive(SimpleObject)]
pub struct FacetCount {
    pub value: String,
    pub count: i32,
}

/// Counts over every hit in scope (not just the page), largest first.
#[derive(SimpleObject, Default)]
pub struct SearchFacets {
    /// By industry (`DRIVING_SCHOOL`).
    pub by_industry: Vec<FacetCount>,
    /// By merchant or order status.
    pub by_status: Vec<FacetCount>,
    /// By city: the first four digits of the region code and `00` (`320100`).
    pub by_region: Vec<FacetCount>,
}

impl From<Facets> for SearchFacets {
    fn from(f: Facets) -> SearchFacets {
        let counts = |v: Vec<(String, u64)>| {
            v.into_iter()
                .map(|(value, count)| FacetCount {
                    value,
                    count: i32::try_from(count).unwrap_or(i32::MAX),
                })
                .collect()
        };
        SearchFacets {
            by_industry: counts(f.by_industry),
            by_status: counts(f.by_status),
            by_region: counts(f.by_region),
        }
    }
}

/// What a search found besides its page of hits.
#[derive(SimpleObject)]
pub struct SearchSummary {
    /// Hits in scope and filter.
    pub total_count: i32,
    pub facets: SearchFacets,
}

#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Merchants, orders and events matching `query` (Chinese or Latin words, an order number,
    /// a USCC; words in any order, all required; empty: everything, newest first), within
    /// your scope and `filter`, best first, with highlighted snippets and facet counts.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Payer, Role::Regulator])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        filter: Option<SearchFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, SearchHit, SearchSummary>> {
        let scope = scope_of(ctx.principal()?)?;
        let page = Page::new(first, after)?;
        let offset = match page.after {
            None => 0,
            Some(a) => {
                usize::try_from(a).map_err(|_| error::validation("after is not a valid cursor"))?
            }
        };
        if offset > MAX_OFFSET {
            return Err(error::limit_exceeded(format!(
                "a search pages at most {MAX_OFFSET} hits deep; narrow it instead"
            )));
        }
        let (kinds, filter) = filter_of(filter.unwrap_or_default())?;
        let req = SearchRequest {
            text: query,
            kinds,
            filter,
            scope,
            first: page.first,
            offset,
            skip_facets: !ctx.look_ahead().field("facets").exists(),
        };
        let index = ctx.data_opt::<SearchIndex>().cloned().ok_or_else(|| {
            tracing::error!("schema built without the search index");
            error::coded(error::ErrorCode::Internal, error::INTERNAL_MESSAGE)
        })?;
        // Counting facets over every match is CPU work: off the async workers.
        let results = tokio::task::spawn_blocking(move || index.search(&req))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "search task failed");
                error::coded(error::ErrorCode::Internal, error::INTERNAL_MESSAGE)
            })?
            .map_err(error::from_search)?;
        Ok(connection_of(results, offset))
    }
}

/// The connection of one page of results that starts `offset` hits down.
fn connection_of(r: SearchResults, offset: usize) -> Connection<Cursor, SearchHit, SearchSummary> {
    let has_next = offset + r.hits.len() < r.total;
    let mut conn = Connection::with_additional_fields(
        offset > 0,
        has_next,
        SearchSummary {
            total_count: i32::try_from(r.total).unwrap_or(i32::MAX),
            facets: r.facets.into(),
        },
    );
    conn.edges
        .extend(r.hits.into_iter().enumerate().map(|(i, h)| {
            let rank = i64::try_from(offset + i + 1).unwrap_or(i64::MAX);
            Edge::new(Cursor(rank), SearchHit::from(h))
        }));
    conn
}

/// What `p` may find. Never taken from input.
///
/// # Errors
/// `FORBIDDEN` for a court or a confirmer.
pub fn scope_of(p: &Principal) -> async_graphql::Result<Scope> {
    // A merchant or payer principal without a party sees nothing: an empty list matches
    // nothing (fail closed).
    let own = || {
        p.party_id
            .map(|id| vec![id.to_string()])
            .unwrap_or_default()
    };
    Ok(match p.role {
        Role::Bank => Scope::All,
        Role::Merchant => Scope::Restricted {
            merchant_ids: Some(own()),
            payer_ids: None,
            region_prefixes: None,
            industries: None,
        },
        Role::Payer => Scope::Restricted {
            merchant_ids: None,
            payer_ids: Some(own()),
            region_prefixes: None,
            industries: None,
        },
        Role::Regulator => Scope::regulator(
            p.jurisdiction
                .regions
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            p.jurisdiction
                .industries
                .iter()
                .map(|i| i.as_str().to_owned())
                .collect(),
        ),
        Role::Court => {
            return Err(error::forbidden(
                "courts reach evidence through their cases, not through search",
            ));
        }
        Role::Confirmer => {
            return Err(error::forbidden(
                "confirmers certify the milestones they are given, they do not search",
            ));
        }
    })
}

fn at_most<T>(what: &str, values: &[T]) -> async_graphql::Result<()> {
    if values.len() > MAX_FILTER_VALUES {
        return Err(error::limit_exceeded(format!(
            "filter.{what} takes at most {MAX_FILTER_VALUES} values"
        )));
    }
    Ok(())
}

/// The kinds and filter of the search crate, checked.
fn filter_of(f: SearchFilterInput) -> async_graphql::Result<(Option<Vec<DocKind>>, Filter)> {
    at_most("kinds", &f.kinds)?;
    at_most("industries", &f.industries)?;
    at_most("statuses", &f.statuses)?;
    at_most("regions", &f.regions)?;
    for s in &f.statuses {
        if s.is_empty()
            || s.len() > MAX_STATUS_CHARS
            || !s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        {
            return Err(error::validation(
                "filter.statuses holds status names such as ACTIVE",
            ));
        }
    }
    let regions = f
        .regions
        .iter()
        .map(|r| {
            r.parse::<RegionPrefix>()
                .map(|p| p.as_str().to_owned())
                .map_err(|_| error::validation("filter.regions holds 2, 4 or 6 digit region codes"))
        })
        .collect::<async_graphql::Result<Vec<_>>>()?;
    let merchant = f
        .merchant
        .as_ref()
        .map(|m| {
            id::<PartyId>(m)
                .map(|p| p.to_string())
                .map_err(|_| error::validation("filter.merchant is not a party id"))
        })
        .transpose()?;
    let scheme = f
        .scheme
        .as_ref()
        .map(|s| {
            id::<SchemeId>(s)
                .map(|s| s.to_string())
                .map_err(|_| error::validation("filter.scheme is not a scheme id"))
        })
        .transpose()?;
    let seconds = |t: DateTime<Utc>| crate::indexer::docs::unix_seconds(timestamp(t));
    let kinds = (!f.kinds.is_empty()).then(|| f.kinds.into_iter().map(DocKind::from).collect());
    Ok((
        kinds,
        Filter {
            industries: f
                .industries
                .into_iter()
                .map(|i| Industry::from(i).as_str().to_owned())
                .collect(),
            statuses: f.statuses,
            regions,
            merchant_id: merchant,
            scheme_id: scheme,
            time_from: f.from.map(seconds),
            time_to: f.to.map(seconds),
            amount_min_fen: f.min_amount.map(|d| d.0),
            amount_max_fen: f.max_amount.map(|d| d.0),
        },
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use lvyue_domain::principal::Jurisdiction;

    use super::*;

    fn principal(role: Role, party: Option<i64>) -> Principal {
        Principal {
            subject: "t".into(),
            role,
            party_id: party.map(PartyId),
            jurisdiction: Jurisdiction::default(),
        }
    }

    #[test]
    fn each_role_gets_its_own_scope_and_courts_none() {
        assert_eq!(scope_of(&Principal::bank("ops")).unwrap(), Scope::All);
        assert_eq!(
            scope_of(&principal(Role::Merchant, Some(11))).unwrap(),
            Scope::merchant("pty_11")
        );
        assert_eq!(
            scope_of(&principal(Role::Payer, Some(12))).unwrap(),
            Scope::payer("pty_12")
        );
        let mut reg = principal(Role::Regulator, Some(13));
        reg.jurisdiction = Jurisdiction {
            regions: vec!["3201".parse().unwrap()],
            industries: vec![Industry::DrivingSchool],
        };
        assert_eq!(
            scope_of(&reg).unwrap(),
            Scope::regulator(vec!["3201".into()], vec!["DRIVING_SCHOOL".into()])
        );
        let court = scope_of(&principal(Role::Court, Some(14))).unwrap_err();
        assert_eq!(
            court.extensions.unwrap().get("code"),
            Some(&async_graphql::Value::from("FORBIDDEN"))
        );
    }

    #[test]
    fn a_partyless_merchant_or_payer_matches_nothing() {
        for role in [Role::Merchant, Role::Payer] {
            match scope_of(&principal(role, None)).unwrap() {
                Scope::Restricted {
                    merchant_ids,
                    payer_ids,
                    ..
                } => {
                    let list = merchant_ids.or(payer_ids).unwrap();
                    assert!(list.is_empty(), "{role:?}");
                }
                Scope::All => panic!("{role:?} got everything"),
            }
        }
    }

    #[test]
    fn filters_are_checked() {
        let bad = [
            SearchFilterInput {
                regions: vec!["32A".into()],
                ..Default::default()
            },
            SearchFilterInput {
                statuses: vec!["active; drop".into()],
                ..Default::default()
            },
            SearchFilterInput {
                merchant: Some(ID("ord_1".into())),
                ..Default::default()
            },
            SearchFilterInput {
                statuses: vec!["ACTIVE".into(); MAX_FILTER_VALUES + 1],
                ..Default::default()
            },
        ];
        for f in bad {
            assert!(filter_of(f).is_err());
        }
        let (kinds, f) = filter_of(SearchFilterInput {
            kinds: vec![GqlSearchHitKind::Order],
            industries: vec![GqlIndustry::Canteen],
            regions: vec!["3205".into()],
            merchant: Some(ID("pty_3".into())),
            min_amount: Some(Decimal::from_fen(100)),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(kinds, Some(vec![DocKind::Order]));
        assert_eq!(f.industries, vec!["CANTEEN".to_owned()]);
        assert_eq!(f.regions, vec!["3205".to_owned()]);
        assert_eq!(f.merchant_id.as_deref(), Some("pty_3"));
        assert_eq!(f.amount_min_fen, Some(100));
    }

    #[test]
    fn cursors_are_ranks_and_pages_know_what_follows() {
        let hit = |id: &str| Hit {
            kind: DocKind::Order,
            id: id.into(),
            score: 1.0,
            title: String::new(),
            title_html: String::new(),
            snippet_html: String::new(),
            merchant_id: None,
            payer_id: None,
            order_id: None,
            scheme_id: None,
            region: None,
            industry: None,
            status: None,
            time: None,
            amount_fen: None,
            seq: None,
        };
        let results = SearchResults {
            total: 5,
            hits: vec![hit("ord_3"), hit("ord_4")],
            facets: Facets::default(),
        };
        let conn = connection_of(results, 2);
        assert!(conn.has_previous_page && conn.has_next_page);
        assert_eq!(conn.edges[0].cursor, Cursor(3));
        assert_eq!(conn.edges[1].cursor, Cursor(4));
        assert_eq!(conn.edges[0].node.order_id, Some(ID("ord_3".into())));
    }
}
