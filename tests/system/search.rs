//! Search through the API: Chinese words, names and numbers are found; every role sees only
//! its scope; personal data is found only masked; the background indexer catches up (the lag
//! in `/metrics` reaches 0); and `lvyue reindex`, or an index rebuilt from nothing after a
//! restart, answers as the index built event by event did.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use lvyue_domain::principal::{Industry, Principal, Role};
use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, bank, first_code, run_lvyue};
use crate::world::{
    World, as_party, as_regulator, bank_do, driving_school, monday, register_merchant, registered,
    shenzhen_policy,
};

const SEARCH: &str = "query($q: String!, $f: SearchFilterInput, $n: Int, $a: String) {
  search(query: $q, filter: $f, first: $n, after: $a) {
    totalCount
    facets { byIndustry { value count } byStatus { value count } byRegion { value count } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { kind id title titleHtml snippetHtml score merchantId orderId status region industry amount time seq } }
  } }";

/// A page of hits large enough for these worlds, yet within the query complexity limit.
const PAGE: i64 = 100;
/// How long the background indexer may take to catch up before the test calls it stuck.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);
const NUMBERED_ORDER: &str = "NJ-JP-2026-0001";

/// The driving-school world, plus: two more Nanjing driving schools (one named …驾校, one
/// with a Latin name), a Nanjing canteen, a Suzhou canteen (enrolled, with an order) and a
/// Suzhou driving school; a second payer; orders for both payers.
struct SearchWorld {
    w: World,
    /// 南京市某某驾驶培训有限公司's USCC.
    uscc_a: String,
    school_b: String,
    acme: String,
    nanjing_canteen: String,
    suzhou_canteen: String,
    suzhou_school: String,
    qiao: String,
    /// 段誉's orders (at the world's merchant): a plain one and [`NUMBERED_ORDER`].
    duan_orders: Vec<String>,
    /// 乔峰's orders: at 南京玄武驾校 and at the Suzhou canteen.
    qiao_orders: Vec<String>,
    canteen_order: String,
}

impl SearchWorld {
    fn qiao_principal(&self) -> Principal {
        as_party(Role::Payer, &self.qiao)
    }
}

fn uscc(body: &str) -> String {
    lvyue_domain::identity::uscc_with_check(body).expect("uscc")
}

async fn enroll(srv: &TestServer, w: &World, scheme: &str, merchant: &str) {
    // Settlement account numbers are unique.
    let account = format!("6222{:012}", w.n.fetch_add(1, Ordering::SeqCst));
    bank_do(
        srv,
        "mutation($s: ID!, $m: ID!, $a: String!, $k: String!) { enrollMerchant(scheme: $s, merchant: $m, settlementAccountNumber: $a, idempotencyKey: $k) { id } }",
        json!({"s": scheme, "m": merchant, "a": account, "k": w.key("search-enr")}),
    )
    .await;
}

#[allow(clippy::too_many_arguments)]
async fn open_order(
    srv: &TestServer,
    w: &World,
    scheme: &str,
    merchant: &str,
    payer: &str,
    total: &str,
    description: &str,
    order_no: Option<&str>,
    pay: bool,
) -> String {
    let order = bank_do(
        srv,
        "mutation($i: OpenOrderInput!, $k: String!) { openOrder(input: $i, idempotencyKey: $k) { id } }",
        json!({"k": w.key("open"), "i": {"scheme": scheme, "merchant": merchant, "payer": payer,
            "total": total, "description": description, "orderNo": order_no}}),
    )
    .await["openOrder"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    if pay {
        bank_do(
            srv,
            "mutation($i: CollectInput!, $k: String!) { collect(input: $i, idempotencyKey: $k) { id } }",
            json!({"k": w.key("collect"), "i": {"order": order, "channel": "WECHAT_PAY", "amount": total, "externalRef": w.key("wx")}}),
        )
        .await;
    }
    order
}

async fn search_world(srv: &TestServer) -> SearchWorld {
    let w = driving_school(srv, shenzhen_policy()).await;
    let school_b = register_merchant(
        srv,
        "南京玄武驾校",
        "91320102MA1BCD234",
        "320102",
        "DRIVING_SCHOOL",
        "m-b",
    )
    .await;
    let acme = register_merchant(
        srv,
        "南京Acme汽车驾驶培训有限公司",
        "91320104MA1CDE345",
        "320104",
        "DRIVING_SCHOOL",
        "m-acme",
    )
    .await;
    let nanjing_canteen = register_merchant(
        srv,
        "南京市某某中学食堂",
        "91320102MA1EFG567",
        "320102",
        "CANTEEN",
        "m-njc",
    )
    .await;
    let suzhou_canteen = register_merchant(
        srv,
        "苏州市某某餐饮管理有限公司",
        "91320505MA1DEF456",
        "320505",
        "CANTEEN",
        "m-szc",
    )
    .await;
    let suzhou_school = register_merchant(
        srv,
        "苏州某某驾校",
        "91320505MA1FGH678",
        "320505",
        "DRIVING_SCHOOL",
        "m-szs",
    )
    .await;
    enroll(srv, &w, &w.scheme, &school_b).await;
    enroll(srv, &w, &w.scheme, &acme).await;
    let canteen_scheme = bank_do(
        srv,
        "mutation($i: CreateSchemeInput!) { createScheme(input: $i, idempotencyKey: \"sch-sz\") { id } }",
        json!({"i": {"code": "SZ-ST", "name": "苏州阳光食堂资金监管", "industry": "CANTEEN", "region": "320500", "policy": shenzhen_policy()}}),
    )
    .await["createScheme"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    enroll(srv, &w, &canteen_scheme, &suzhou_canteen).await;
    let qiao = bank_do(
        srv,
        r#"mutation { registerPayer(input: {name: "乔峰"}, idempotencyKey: "p-qiao") { id } }"#,
        json!({}),
    )
    .await["registerPayer"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let scheme = w.scheme.clone();
    let (merchant, duan) = (w.merchant.clone(), w.payer.clone());
    let duan_orders = vec![
        open_order(
            srv,
            &w,
            &scheme,
            &merchant,
            &duan,
            "3000.00",
            "C1 学车套餐",
            None,
            true,
        )
        .await,
        open_order(
            srv,
            &w,
            &scheme,
            &merchant,
            &duan,
            "4200.00",
            "VIP C2 自动挡 training 周末班",
            Some(NUMBERED_ORDER),
            false,
        )
        .await,
    ];
    let canteen_order = open_order(
        srv,
        &w,
        &canteen_scheme,
        &suzhou_canteen,
        &qiao,
        "800.00",
        "学生午餐 春季学期",
        None,
        true,
    )
    .await;
    let qiao_orders = vec![
        open_order(
            srv,
            &w,
            &scheme,
            &school_b,
            &qiao,
            "2500.00",
            "科目二 陪练",
            None,
            true,
        )
        .await,
        canteen_order.clone(),
    ];
    SearchWorld {
        uscc_a: uscc("91320102MA1XYN123"),
        w,
        school_b,
        acme,
        nanjing_canteen,
        suzhou_canteen,
        suzhou_school,
        qiao,
        duan_orders,
        qiao_orders,
        canteen_order,
    }
}

/// Indexes everything written so far, as the background indexer would.
async fn caught_up(srv: &TestServer) {
    let lag = srv
        .running()
        .state()
        .catch_up_search()
        .await
        .expect("indexer catches up");
    assert_eq!(lag, 0);
}

/// One page of `search` as `who`; the `search` object.
async fn search(srv: &TestServer, who: &Principal, q: &str, filter: Value) -> Value {
    TestServer::ok(
        srv.gql(Some(who), SEARCH, json!({"q": q, "f": filter, "n": PAGE}))
            .await,
    )["search"]
        .clone()
}

/// Every hit of a search, page by page.
async fn search_all(srv: &TestServer, who: &Principal, q: &str, filter: Value) -> Vec<Value> {
    let mut hits = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = TestServer::ok(
            srv.gql(
                Some(who),
                SEARCH,
                json!({"q": q, "f": filter, "n": PAGE, "a": after}),
            )
            .await,
        )["search"]
            .clone();
        hits.extend(
            page["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"].clone()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return hits;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}

fn nodes(r: &Value) -> Vec<Value> {
    r["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn ids(hits: &[Value]) -> Vec<&str> {
    hits.iter().map(|h| h["id"].as_str().expect("id")).collect()
}

fn first_id(r: &Value) -> &str {
    r["edges"][0]["node"]["id"].as_str().unwrap_or("<no hit>")
}

async fn order_no(srv: &TestServer, order: &str) -> String {
    bank_do(
        srv,
        "query($id: ID!) { order(id: $id) { orderNo } }",
        json!({"id": order}),
    )
    .await["order"]["orderNo"]
        .as_str()
        .expect("orderNo")
        .to_owned()
}

async fn chinese_words_names_and_numbers_are_found(backend: Backend) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let sw = search_world(&srv).await;
    caught_up(&srv).await;
    let b = bank();

    // 驾驶培训 (a jieba word) finds 南京市某某驾驶培训有限公司, highlighted.
    let r = search(&srv, &b, "驾驶培训", json!({})).await;
    let hits = nodes(&r);
    let a = hits
        .iter()
        .find(|h| h["id"] == sw.w.merchant.as_str())
        .unwrap_or_else(|| panic!("驾驶培训 misses the school: {r}"));
    assert_eq!(a["kind"], "MERCHANT");
    assert_eq!(a["title"], "南京市某某驾驶培训有限公司");
    assert!(
        a["titleHtml"].as_str().unwrap().contains("<b>驾驶培训</b>"),
        "{a}"
    );

    // 驾校 (two characters) finds the schools named …驾校, and no other merchant.
    let hits = search_all(&srv, &b, "驾校", json!({"kinds": ["MERCHANT"]})).await;
    let found: BTreeSet<&str> = ids(&hits).into_iter().collect();
    assert_eq!(
        found,
        BTreeSet::from([sw.school_b.as_str(), sw.suzhou_school.as_str()]),
        "{hits:?}"
    );
    for h in &hits {
        assert!(
            h["titleHtml"].as_str().unwrap().contains("<b>驾校</b>"),
            "{h}"
        );
    }

    // Identifiers match exactly and rank first: a USCC, a merchant's order number, a
    // generated order number (in any case).
    let r = search(&srv, &b, &sw.uscc_a, json!({})).await;
    assert_eq!(first_id(&r), sw.w.merchant, "{r}");
    assert_eq!(r["edges"][0]["node"]["kind"], "MERCHANT");
    for q in [NUMBERED_ORDER.to_owned(), NUMBERED_ORDER.to_lowercase()] {
        let r = search(&srv, &b, &q, json!({})).await;
        assert_eq!(first_id(&r), sw.duan_orders[1], "{q}: {r}");
        assert_eq!(r["edges"][0]["node"]["kind"], "ORDER");
        assert_eq!(r["edges"][0]["node"]["amount"], "4200.00");
    }
    let generated = order_no(&srv, &sw.duan_orders[0]).await;
    let r = search(&srv, &b, &generated, json!({})).await;
    assert_eq!(first_id(&r), sw.duan_orders[0], "{generated}: {r}");
    assert_eq!(r["edges"][0]["node"]["orderId"], sw.duan_orders[0].as_str());

    // Mixed Chinese and Latin, in any order and case.
    for q in ["acme 驾驶", "Acme驾驶培训", "驾驶 ACME"] {
        let r = search(&srv, &b, q, json!({"kinds": ["MERCHANT"]})).await;
        assert_eq!(first_id(&r), sw.acme, "{q}: {r}");
    }
    for q in ["C2 自动挡", "training 周末班"] {
        let r = search(&srv, &b, q, json!({"kinds": ["ORDER"]})).await;
        assert_eq!(first_id(&r), sw.duan_orders[1], "{q}: {r}");
    }

    // An exact name ranks first, above the orders that carry it.
    let r = search(&srv, &b, "南京市某某驾驶培训有限公司", json!({})).await;
    assert_eq!(first_id(&r), sw.w.merchant, "{r}");
    assert!(
        r["totalCount"].as_u64().unwrap() > 1,
        "its orders match too"
    );

    // Words of the event summaries: what happened, in Chinese.
    let r = search(
        &srv,
        &b,
        "收款",
        json!({"kinds": ["EVENT"], "merchant": sw.suzhou_canteen}),
    )
    .await;
    let events = nodes(&r);
    assert_eq!(events.len(), 1, "{r}");
    assert_eq!(events[0]["title"], "payment.collected");
    assert_eq!(events[0]["orderId"], sw.canteen_order.as_str());
    assert!(
        events[0]["snippetHtml"]
            .as_str()
            .unwrap()
            .contains("800.00")
    );

    // Personal data is indexed only masked: the payer's name finds nothing; its masked form
    // is what an order shows.
    let r = search(&srv, &b, "段誉", json!({})).await;
    assert_eq!(r["totalCount"], 0, "{r}");
    let r = search(&srv, &b, NUMBERED_ORDER, json!({})).await;
    let snippet = r["edges"][0]["node"]["snippetHtml"].as_str().unwrap();
    assert!(!snippet.contains("段誉"), "{snippet}");

    // Filters narrow: the canteen industry's orders are the Suzhou canteen's one order.
    let r = search(
        &srv,
        &b,
        "",
        json!({"kinds": ["ORDER"], "industries": ["CANTEEN"]}),
    )
    .await;
    assert_eq!(ids(&nodes(&r)), vec![sw.canteen_order.as_str()], "{r}");
    let r = search(
        &srv,
        &b,
        "",
        json!({"kinds": ["ORDER"], "minAmount": "4000.00"}),
    )
    .await;
    assert_eq!(ids(&nodes(&r)), vec![sw.duan_orders[1].as_str()], "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_words_names_and_numbers_are_found_sqlite() {
    chinese_words_names_and_numbers_are_found(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_words_names_and_numbers_are_found_postgres() {
    chinese_words_names_and_numbers_are_found(Backend::Postgres).await;
}

async fn every_role_finds_only_what_it_may_see(backend: Backend) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let sw = search_world(&srv).await;
    caught_up(&srv).await;

    // The bank sees everything, facets included.
    let all = search(&srv, &bank(), "", json!({})).await;
    let industries: BTreeSet<&str> = all["facets"]["byIndustry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        industries,
        BTreeSet::from(["CANTEEN", "DRIVING_SCHOOL"]),
        "{all}"
    );

    // A Nanjing driving-school regulator: its regions AND its industry, whatever it types.
    let nanjing_schools = sw.w.regulator_principal();
    for q in ["", "有限公司", "苏州", "食堂", "餐饮"] {
        for h in search_all(&srv, &nanjing_schools, q, json!({})).await {
            assert!(
                h["region"].as_str().is_some_and(|r| r.starts_with("3201")),
                "{q}: {h}"
            );
            assert_eq!(h["industry"], "DRIVING_SCHOOL", "{q}: {h}");
        }
    }
    let r = search(&srv, &nanjing_schools, "", json!({})).await;
    for (facet, allowed) in [("byIndustry", "DRIVING_SCHOOL"), ("byRegion", "320100")] {
        for f in r["facets"][facet].as_array().unwrap() {
            assert_eq!(f["value"], allowed, "{facet}: {r}");
        }
    }
    let seen = search_all(&srv, &nanjing_schools, "", json!({})).await;
    let seen = ids(&seen);
    assert!(seen.contains(&sw.w.merchant.as_str()) && seen.contains(&sw.acme.as_str()));
    for hidden in [
        &sw.suzhou_canteen,
        &sw.suzhou_school,
        &sw.nanjing_canteen,
        &sw.canteen_order,
    ] {
        assert!(!seen.contains(&hidden.as_str()), "{hidden} leaked");
    }
    // A filter never widens the scope.
    let r = search(&srv, &nanjing_schools, "", json!({"regions": ["3205"]})).await;
    assert_eq!(r["totalCount"], 0, "{r}");

    // A Suzhou canteen regulator sees the Suzhou canteen, nothing of Nanjing.
    let suzhou_canteens = registered(
        &srv,
        as_regulator("pty_998", &["3205"], &[Industry::Canteen]),
    )
    .await;
    let seen = search_all(&srv, &suzhou_canteens, "", json!({})).await;
    let seen_ids = ids(&seen);
    assert!(seen_ids.contains(&sw.suzhou_canteen.as_str()));
    assert!(seen_ids.contains(&sw.canteen_order.as_str()));
    for h in &seen {
        assert!(h["region"].as_str().unwrap().starts_with("3205"), "{h}");
        assert_eq!(h["industry"], "CANTEEN", "{h}");
    }

    // A merchant: itself, its orders, the events naming it.
    let merchant = sw.w.merchant_principal();
    let seen = search_all(&srv, &merchant, "", json!({})).await;
    for h in &seen {
        assert_eq!(h["merchantId"], sw.w.merchant.as_str(), "{h}");
    }
    let seen = ids(&seen);
    for o in &sw.duan_orders {
        assert!(seen.contains(&o.as_str()), "{o} missing");
    }
    assert!(seen.contains(&sw.w.merchant.as_str()));
    let r = search(
        &srv,
        &as_party(Role::Merchant, &sw.school_b),
        "南京市某某驾驶培训有限公司",
        json!({}),
    )
    .await;
    assert_eq!(r["totalCount"], 0, "another school found it: {r}");
    let r = search(
        &srv,
        &as_party(Role::Merchant, &sw.school_b),
        "",
        json!({"merchant": sw.w.merchant}),
    )
    .await;
    assert_eq!(
        r["totalCount"], 0,
        "a filter widened a merchant's scope: {r}"
    );

    // A payer: its own orders and the events naming it; no merchant.
    for (payer, own) in [
        (sw.w.payer_principal(), &sw.duan_orders),
        (sw.qiao_principal(), &sw.qiao_orders),
    ] {
        let seen = search_all(&srv, &payer, "", json!({})).await;
        let mut orders = BTreeSet::new();
        for h in &seen {
            match h["kind"].as_str().unwrap() {
                "ORDER" => {
                    orders.insert(h["id"].as_str().unwrap().to_owned());
                }
                "EVENT" => assert!(
                    h["orderId"].is_null() || own.iter().any(|o| h["orderId"] == o.as_str()),
                    "{h}"
                ),
                other => panic!("a payer found a {other}: {h}"),
            }
        }
        assert_eq!(orders, own.iter().cloned().collect::<BTreeSet<_>>());
    }
    let r = search(&srv, &sw.qiao_principal(), NUMBERED_ORDER, json!({})).await;
    assert_eq!(r["totalCount"], 0, "another payer's order number: {r}");

    // A court does not browse; an anonymous caller is not let in.
    let body = srv
        .gql(Some(&sw.w.court_principal()), SEARCH, json!({"q": "驾校"}))
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    let body = srv.gql(None, SEARCH, json!({"q": "驾校"})).await;
    assert_eq!(first_code(&body), "UNAUTHENTICATED", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_finds_only_what_it_may_see_sqlite() {
    every_role_finds_only_what_it_may_see(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_finds_only_what_it_may_see_postgres() {
    every_role_finds_only_what_it_may_see(Backend::Postgres).await;
}

async fn pages_follow_their_cursors_within_limits(backend: Backend) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let _sw = search_world(&srv).await;
    caught_up(&srv).await;
    let b = bank();
    let page = |n: i64, after: Option<String>| {
        let srv = &srv;
        let b = &b;
        async move {
            TestServer::ok(
                srv.gql(Some(b), SEARCH, json!({"q": "", "n": n, "a": after}))
                    .await,
            )["search"]
                .clone()
        }
    };
    let four = page(4, None).await;
    let first = page(2, None).await;
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["pageInfo"]["hasPreviousPage"], false);
    let second = page(
        2,
        first["pageInfo"]["endCursor"].as_str().map(str::to_owned),
    )
    .await;
    assert_eq!(second["pageInfo"]["hasPreviousPage"], true);
    let two_pages: Vec<Value> = nodes(&first).into_iter().chain(nodes(&second)).collect();
    assert_eq!(ids(&two_pages), ids(&nodes(&four)));
    assert_eq!(first["totalCount"], four["totalCount"]);

    let body = srv.gql(Some(&b), SEARCH, json!({"q": "", "n": 201})).await;
    assert_eq!(first_code(&body), "LIMIT_EXCEEDED", "{body}");
    let body = srv
        .gql(Some(&b), SEARCH, json!({"q": "驾".repeat(201)}))
        .await;
    assert_eq!(first_code(&body), "LIMIT_EXCEEDED", "{body}");
    let body = srv
        .gql(Some(&b), SEARCH, json!({"q": "", "a": "not-a-cursor"}))
        .await;
    assert_eq!(first_code(&body), "VALIDATION", "{body}");
    let body = srv
        .gql(
            Some(&b),
            SEARCH,
            json!({"q": "", "f": {"regions": ["32x"]}}),
        )
        .await;
    assert_eq!(first_code(&body), "VALIDATION", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_follow_their_cursors_within_limits_sqlite() {
    pages_follow_their_cursors_within_limits(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_follow_their_cursors_within_limits_postgres() {
    pages_follow_their_cursors_within_limits(Backend::Postgres).await;
}

/// What a set of searches answers, in a form two indexes can be compared by: totals, facets
/// and the set of hits (scores depend on how documents happen to be spread over segments,
/// so ranks are compared only where an exact match must come first).
async fn answer(srv: &TestServer, who: &Principal, q: &str, exact: bool, filter: Value) -> Value {
    let r = search(srv, who, q, filter.clone()).await;
    let hits = search_all(srv, who, q, filter).await;
    let set: BTreeSet<&str> = ids(&hits).into_iter().collect();
    json!({
        "who": who.subject, "q": q, "total": r["totalCount"], "facets": r["facets"],
        "ids": set, "top": if exact { first_id(&r) } else { "" },
    })
}

const WORDS: [&str; 7] = [
    "",
    "驾校",
    "驾驶培训",
    "有限公司",
    "acme 驾驶",
    "收款",
    "学车",
];

/// Answers to the bank, a merchant and both payers (whose reads leave no trace in the log).
async fn answers(srv: &TestServer, sw: &SearchWorld) -> Vec<Value> {
    let generated = order_no(srv, &sw.duan_orders[0]).await;
    let exact = [
        sw.uscc_a.clone(),
        NUMBERED_ORDER.to_owned(),
        generated,
        "南京市某某驾驶培训有限公司".to_owned(),
    ];
    let mut out = Vec::new();
    for who in [
        bank(),
        sw.w.merchant_principal(),
        sw.w.payer_principal(),
        sw.qiao_principal(),
    ] {
        for q in &exact {
            out.push(answer(srv, &who, q, true, json!({})).await);
        }
        for q in WORDS {
            out.push(answer(srv, &who, q, false, json!({})).await);
        }
    }
    out
}

/// Answers to the Nanjing driving-school regulator, merchants and orders only: each of its
/// reads is itself logged (an `access.read` event, and one per order it saw), so the events
/// it may see grow with every query.
async fn regulator_answers(srv: &TestServer, sw: &SearchWorld) -> Vec<Value> {
    let who = sw.w.regulator_principal();
    let mut out = Vec::new();
    for q in WORDS {
        out.push(answer(srv, &who, q, false, json!({"kinds": ["MERCHANT", "ORDER"]})).await);
    }
    out
}

/// Polls `/metrics` until the index lag is 0 and the last event written so far is found, or
/// fails after [`CATCH_UP_TIMEOUT`]. Never asserts on how fast.
async fn background_indexer_catches_up(srv: &TestServer) {
    let log_size =
        bank_do(srv, "{ serverStatus { logSize } }", json!({})).await["serverStatus"]["logSize"]
            .as_u64()
            .expect("log size");
    assert!(log_size > 0);
    let last = format!("evt_{}", log_size - 1);
    let deadline = tokio::time::Instant::now() + CATCH_UP_TIMEOUT;
    loop {
        let (status, metrics) = srv.get("/metrics").await;
        assert_eq!(status, 200);
        // The gauge counts what the indexer saw; the last event being found proves it saw all.
        if metrics.lines().any(|l| l == "lvyue_search_index_lag 0")
            && first_id(&search(srv, &bank(), &last, json!({})).await) == last
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the indexer did not catch up to {last}:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_rebuilt_index_answers_as_the_followed_one(backend: Backend) {
    let Some((mut srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let sw = search_world(&srv).await;
    // The background indexer, not a test hook, brings the lag to 0.
    background_indexer_catches_up(&srv).await;
    let regulator_before = regulator_answers(&srv, &sw).await;
    // The regulator's reads are logged events: index them before taking the snapshot.
    caught_up(&srv).await;
    let before = answers(&srv, &sw).await;

    let data_dir = srv.data_dir().to_str().unwrap().to_owned();
    let database_url = srv.db.url.clone();
    let env = [
        ("LVYUE_DATA_DIR", data_dir.as_str()),
        ("LVYUE_DATABASE_URL", database_url.as_str()),
    ];
    // One writer per index: not while the server holds it.
    let out = run_lvyue(&["reindex"], &env).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("in use by another lvyue process"),
        "{stderr}"
    );

    srv.stop().await;
    let out = run_lvyue(&["reindex"], &env).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("reindexed "), "{stdout}");
    assert!(
        stdout.contains("documents for 6 merchants, 4 orders, "),
        "{stdout}"
    );

    // The same directories: the rebuilt index, already caught up.
    srv.restart_with(clock.clone(), |_| {}).await;
    assert_eq!(
        srv.running().state().indexer.indexed_through(),
        lvyue_api::indexer::log_size(&srv.running().state().db)
            .await
            .unwrap(),
        "the rebuilt index covers the whole log"
    );
    caught_up(&srv).await;
    assert_eq!(answers(&srv, &sw).await, before, "after lvyue reindex");

    // A node restarted on an empty search directory rebuilds by following the log from 0.
    let fresh = tempfile::tempdir().unwrap();
    let fresh_dir = fresh.path().join("search");
    srv.restart_with(clock, |c| c.workers.search_dir = Some(fresh_dir))
        .await;
    background_indexer_catches_up(&srv).await;
    caught_up(&srv).await;
    assert_eq!(answers(&srv, &sw).await, before, "after catching up from 0");
    assert_eq!(regulator_answers(&srv, &sw).await, regulator_before);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_index_answers_as_the_followed_one_sqlite() {
    a_rebuilt_index_answers_as_the_followed_one(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_index_answers_as_the_followed_one_postgres() {
    a_rebuilt_index_answers_as_the_followed_one(Backend::Postgres).await;
}
