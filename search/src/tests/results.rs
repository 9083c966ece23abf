//! Shape of the results: highlights, facets, ordering, paging, filters, limits.

use super::*;
use crate::*;

#[test]
fn hits_carry_escaped_highlights() {
    let index = fixture();
    let r = run(&index, "驾驶培训", Scope::All);
    let hit = r.hits.iter().find(|h| h.id == "mer_1").unwrap();
    assert_eq!(hit.kind, DocKind::Merchant);
    assert_eq!(hit.title_html, "南京市某某<b>驾驶培训</b>有限公司");
    let r = run(&index, "合资", Scope::All);
    assert_eq!(r.hits[0].snippet_html, "&lt;外资&gt; &amp; <b>合资</b>");
    let r = run(&index, "午餐费", Scope::All);
    let order = r.hits.iter().find(|h| h.id == "ord_3").unwrap();
    assert!(
        order.snippet_html.contains("三月<b>午餐费</b>"),
        "{}",
        order.snippet_html
    );
    assert_eq!(order.amount_fen, Some(45_000));
    assert_eq!(order.merchant_id.as_deref(), Some("mer_3"));
}

#[test]
fn facets_count_every_match_in_scope_not_just_the_page() {
    let index = fixture();
    let mut req = SearchRequest::new("", Scope::All);
    req.kinds = Some(vec![DocKind::Order]);
    req.first = 1;
    let r = index.search(&req).unwrap();
    assert_eq!(r.total, 6);
    assert_eq!(r.hits.len(), 1);
    assert_eq!(
        r.facets.by_industry,
        vec![
            ("DRIVING_SCHOOL".to_string(), 4),
            ("CANTEEN".to_string(), 1),
            ("PREPAID_CARD".to_string(), 1)
        ]
    );
    assert_eq!(
        r.facets.by_status,
        vec![
            ("PAID".to_string(), 4),
            ("REFUNDED".to_string(), 1),
            ("RELEASED".to_string(), 1)
        ]
    );
    assert_eq!(
        r.facets.by_region,
        vec![("320100".to_string(), 5), ("320500".to_string(), 1)]
    );
    // first = 0: totals and facets only.
    req.first = 0;
    let r = index.search(&req).unwrap();
    assert_eq!((r.total, r.hits.len()), (6, 0));
    assert_eq!(r.facets.by_region.len(), 2);
    // Skipped on request.
    req.skip_facets = true;
    assert_eq!(index.search(&req).unwrap().facets, Facets::default());
}

#[test]
fn an_empty_query_lists_everything_in_scope_newest_first() {
    let index = fixture();
    let r = run(&index, "   ", Scope::All);
    assert_eq!(r.total, corpus().len());
    let times: Vec<i64> = r.hits.iter().filter_map(|h| h.time).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    // Merchants carry no time and come last.
    assert_eq!(r.hits[0].id, "ord_6");
    assert!(r.hits[r.hits.len() - 1].time.is_none());
}

#[test]
fn paging_by_offset_is_stable() {
    let index = fixture();
    for text in ["", "培训", "南京"] {
        let whole = ids(&run(&index, text, Scope::All))
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        assert!(whole.len() >= 3, "{text}: {whole:?}");
        let mut paged = Vec::new();
        for offset in (0..whole.len() + 2).step_by(2) {
            let mut req = SearchRequest::new(text, Scope::All);
            req.first = 2;
            req.offset = offset;
            let r = index.search(&req).unwrap();
            assert_eq!(r.total, whole.len());
            paged.extend(r.hits.into_iter().map(|h| h.id));
        }
        assert_eq!(paged, whole, "{text}");
    }
}

#[test]
fn filters_narrow_within_the_scope() {
    let index = fixture();
    let search = |filter: Filter| {
        let mut req = SearchRequest::new("", Scope::All);
        req.first = 100;
        req.filter = filter;
        let mut found: Vec<String> = index
            .search(&req)
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.id)
            .collect();
        found.sort_unstable();
        found
    };
    let amount = search(Filter {
        amount_min_fen: Some(300_000),
        amount_max_fen: Some(420_000),
        ..Filter::default()
    });
    assert_eq!(amount, vec!["ord_1", "ord_2", "ord_6"]);
    let time = search(Filter {
        time_from: Some(1_740_000_200),
        time_to: Some(1_740_000_400),
        ..Filter::default()
    });
    assert_eq!(time, vec!["evt_2", "ord_2", "ord_3"]);
    let status = search(Filter {
        statuses: vec!["REFUNDED".into(), "RELEASED".into()],
        ..Filter::default()
    });
    assert_eq!(status, vec!["ord_2", "ord_5"]);
    let region = search(Filter {
        regions: vec!["3205".into()],
        industries: vec!["CANTEEN".into()],
        ..Filter::default()
    });
    assert_eq!(region, vec!["evt_2", "mer_3", "mer_4", "ord_3"]);
    let merchant = search(Filter {
        merchant_id: Some("mer_3".into()),
        scheme_id: Some("sch_CANTEEN".into()),
        ..Filter::default()
    });
    assert_eq!(merchant, vec!["ord_3"]);
    let mut req = SearchRequest::new("培训", Scope::All);
    req.kinds = Some(vec![DocKind::Event]);
    assert_eq!(ids(&index.search(&req).unwrap()), vec!["evt_1"]);
}

#[test]
fn requests_over_the_limits_are_refused() {
    let index = fixture();
    let mut req = SearchRequest::new("驾校", Scope::All);
    req.first = MAX_PAGE_SIZE + 1;
    assert!(matches!(
        index.search(&req),
        Err(SearchError::PageTooLarge { .. })
    ));
    req.first = 10;
    req.offset = MAX_OFFSET + 1;
    assert!(matches!(
        index.search(&req),
        Err(SearchError::OffsetTooLarge { .. })
    ));
    let req = SearchRequest::new("驾".repeat(MAX_QUERY_CHARS + 1), Scope::All);
    assert!(matches!(
        index.search(&req),
        Err(SearchError::QueryTooLong { .. })
    ));
    let many = (0..MAX_QUERY_TERMS + 1)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let req = SearchRequest::new(many, Scope::All);
    assert!(matches!(
        index.search(&req),
        Err(SearchError::TooManyTerms { .. })
    ));
}
