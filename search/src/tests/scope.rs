//! The scope filter: who sees what.

use super::*;
use crate::*;

fn nanjing_driving_regulator() -> Scope {
    Scope::regulator(vec!["3201".into()], vec!["DRIVING_SCHOOL".into()])
}

#[test]
fn a_nanjing_driving_regulator_never_sees_a_suzhou_canteen() {
    let index = fixture();
    for text in [
        "",
        "食堂",
        "苏州某某餐饮管理有限公司",
        "有限公司",
        "午餐费",
        "91310115MA1K3BTP2B",
    ] {
        let r = run(&index, text, nanjing_driving_regulator());
        for hit in &r.hits {
            assert!(
                hit.region.as_deref().unwrap_or("").starts_with("3201"),
                "{text}: {hit:?}"
            );
            assert_eq!(
                hit.industry.as_deref(),
                Some("DRIVING_SCHOOL"),
                "{text}: {hit:?}"
            );
        }
        for facet in &r.facets.by_industry {
            assert_eq!(facet.0, "DRIVING_SCHOOL");
        }
    }
    let all = run(&index, "", nanjing_driving_regulator());
    assert_eq!(all.total, 9, "{:?}", ids(&all));
    // A province-wide canteen regulator does see it.
    let r = run(
        &index,
        "食堂",
        Scope::regulator(vec!["32".into()], vec!["CANTEEN".into()]),
    );
    assert!(ids(&r).contains(&"mer_3"));
}

#[test]
fn region_prefixes_match_exactly_not_by_substring() {
    let index = fixture();
    // "3205" must not match "320505"'s inner digits elsewhere, and "2010" is not a prefix.
    let r = run(
        &index,
        "",
        Scope::regulator(vec!["2010".into()], vec!["DRIVING_SCHOOL".into()]),
    );
    assert_eq!(r.total, 0);
    let r = run(
        &index,
        "",
        Scope::regulator(vec!["320102".into()], vec!["DRIVING_SCHOOL".into()]),
    );
    assert!(r.hits.iter().all(|h| h.region.as_deref() == Some("320102")));
    assert_eq!(r.total, 6);
}

#[test]
fn a_merchant_sees_only_its_own_documents() {
    let index = fixture();
    let r = run(&index, "", Scope::merchant("mer_1"));
    let mut found = ids(&r);
    found.sort_unstable();
    assert_eq!(found, vec!["evt_1", "mer_1", "ord_1", "ord_2"]);
    assert_eq!(run(&index, "苏州", Scope::merchant("mer_1")).total, 0);
    assert_eq!(
        run(&index, "LY20250302000003", Scope::merchant("mer_1")).total,
        0
    );
}

#[test]
fn a_payer_sees_only_its_own_orders_and_events() {
    let index = fixture();
    let r = run(&index, "", Scope::payer("pay_1"));
    let mut found = ids(&r);
    found.sort_unstable();
    assert_eq!(found, vec!["evt_1", "ord_1", "ord_3"]);
    assert!(
        r.hits
            .iter()
            .all(|h| h.payer_id.as_deref() == Some("pay_1"))
    );
    assert_eq!(run(&index, "驾校", Scope::payer("pay_1")).total, 0);
}

#[test]
fn an_empty_or_missing_scope_list_sees_nothing() {
    let index = fixture();
    let empty_merchants = Scope::Restricted {
        merchant_ids: Some(vec![]),
        payer_ids: None,
        region_prefixes: None,
        industries: None,
    };
    assert_eq!(run(&index, "", empty_merchants).total, 0);
    let nothing_listed = Scope::Restricted {
        merchant_ids: None,
        payer_ids: None,
        region_prefixes: None,
        industries: None,
    };
    assert_eq!(run(&index, "驾校", nothing_listed).total, 0);
    assert_eq!(
        run(&index, "", Scope::regulator(vec!["3201".into()], vec![])).total,
        0
    );
    assert_eq!(
        run(
            &index,
            "",
            Scope::regulator(vec![String::new()], vec!["CANTEEN".into()])
        )
        .total,
        0
    );
}
