//! Scoping through the API: another tenant's id is not found, lists return only one's own
//! rows, nested fields reveal nothing more, and every regulator read is on the record.

use serde_json::{Value, json};

use lvyue_domain::principal::{Industry, Role};
use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, bank, first_code};
use crate::world::{
    as_party, as_regulator, bank_do, driving_school, monday, paid_order, register_merchant,
    registered, shenzhen_policy,
};

async fn another_tenants_ids_are_not_found(backend: Backend) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let order = paid_order(&srv, &w, "500.00").await;
    let other = register_merchant(
        &srv,
        "南京另一家驾校",
        "91320104MA1ABC456",
        "320104",
        "DRIVING_SCHOOL",
        "m-2",
    )
    .await;
    let other_payer = bank_do(
        &srv,
        r#"mutation { registerPayer(input: {name: "乔峰"}, idempotencyKey: "p-2") { id } }"#,
        json!({}),
    )
    .await["registerPayer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let suzhou = registered(
        &srv,
        as_regulator("pty_999", &["3205"], &[Industry::DrivingSchool]),
    )
    .await;
    let canteens = registered(
        &srv,
        as_regulator("pty_998", &["3201"], &[Industry::Canteen]),
    )
    .await;
    let strangers = [
        as_party(Role::Merchant, &other),
        as_party(Role::Payer, &other_payer),
        suzhou.clone(),
        canteens,
    ];
    for who in &strangers {
        for (q, vars) in [
            (
                "query($id: ID!) { order(id: $id) { id } }",
                json!({"id": order}),
            ),
            (
                "query($id: ID!) { events(order: $id, first: 5) { edges { node { id } } } }",
                json!({"id": order}),
            ),
        ] {
            let body = srv.gql(Some(who), q, vars).await;
            let empty = body["data"]["events"]["edges"]
                .as_array()
                .is_some_and(Vec::is_empty);
            assert!(
                first_code(&body) == "NOT_FOUND" || empty,
                "{who:?} saw {body}"
            );
        }
        let list = TestServer::ok(
            srv.gql(
                Some(who),
                "{ orders(first: 50) { edges { node { id } } } }",
                json!({}),
            )
            .await,
        );
        assert_eq!(list["orders"]["edges"], json!([]), "{who:?}");
    }
    // The merchant's own account is its own; the other merchant's is not found.
    let acc = TestServer::ok(
        srv.gql(
            Some(&bank()),
            "query($id: ID!) { order(id: $id) { escrowAccount { id } } }",
            json!({"id": order}),
        )
        .await,
    )["order"]["escrowAccount"]["id"]
        .clone();
    let mine = srv
        .gql(
            Some(&w.merchant_principal()),
            "query($id: ID!) { account(id: $id) { balance } }",
            json!({"id": acc}),
        )
        .await;
    assert!(mine.get("errors").is_none(), "{mine}");
    let theirs = srv
        .gql(
            Some(&as_party(Role::Merchant, &other)),
            "query($id: ID!) { account(id: $id) { balance } }",
            json!({"id": acc}),
        )
        .await;
    assert_eq!(first_code(&theirs), "NOT_FOUND");
    // Payers do not list merchants; a Suzhou regulator lists none of Nanjing's.
    let m = srv
        .gql(
            Some(&w.payer_principal()),
            "{ merchants(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(first_code(&m), "FORBIDDEN");
    let m = TestServer::ok(
        srv.gql(
            Some(&suzhou),
            "{ merchants(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await,
    );
    assert_eq!(m["merchants"]["edges"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_ids_are_not_found_sqlite() {
    another_tenants_ids_are_not_found(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_ids_are_not_found_postgres() {
    another_tenants_ids_are_not_found(Backend::Postgres).await;
}

async fn every_regulator_read_is_on_the_record(backend: Backend) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let order = paid_order(&srv, &w, "500.00").await;
    let reg = w.regulator_principal();
    TestServer::ok(
        srv.gql(
            Some(&reg),
            "query ListForInspection { orders(first: 5) { edges { node { id orderNo } } } }",
            json!({}),
        )
        .await,
    );
    let events = bank_do(
        &srv,
        "query($o: ID!) { events(order: $o, first: 50) { edges { node { type opening canonical } } } }",
        json!({"o": order}),
    )
    .await;
    let on_order: Vec<_> = events["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["type"] == "access.order_read")
        .collect();
    assert_eq!(on_order.len(), 1, "{events}");
    // The bank reads who it was; the leaf only commits to it (and to the order).
    assert_eq!(on_order[0]["node"]["opening"]["role"], "REGULATOR");
    let leaf = on_order[0]["node"]["canonical"].as_str().unwrap();
    assert!(
        !leaf.contains(order.as_str()) && !leaf.contains("REGULATOR"),
        "{leaf}"
    );
    let all = bank_do(
        &srv,
        "{ events(first: 200) { edges { node { type opening } } } }",
        json!({}),
    )
    .await;
    let read = all["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["type"] == "access.read")
        .expect("access.read");
    assert_eq!(read["node"]["opening"]["operation"], "ListForInspection");
    assert_eq!(read["node"]["opening"]["subject"], reg.subject);

    // A court's evidence request is on the order's record for the bank, but the regulator
    // sees no access record at all: not the court's case number, not its own reads.
    TestServer::ok(
        srv.gql(
            Some(&w.court_principal()),
            "mutation($o: ID!) { evidenceBundle(caseNo: \"(2026)苏0102执9号\", orders: [$o]) }",
            json!({"o": order}),
        )
        .await,
    );
    let kinds = |body: &serde_json::Value| -> Vec<String> {
        body["events"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["type"].as_str().unwrap().to_owned())
            .collect()
    };
    let q = "query($o: ID!) { events(order: $o, first: 100) { edges { node { type } } } }";
    let for_bank = kinds(&bank_do(&srv, q, json!({"o": order})).await);
    assert_eq!(
        for_bank
            .iter()
            .filter(|k| *k == "access.order_read")
            .count(),
        2,
        "{for_bank:?}"
    );
    let for_regulator = kinds(&TestServer::ok(
        srv.gql(Some(&reg), q, json!({"o": order})).await,
    ));
    assert!(
        for_regulator.contains(&"order.opened".to_owned()),
        "{for_regulator:?}"
    );
    assert!(
        !for_regulator.iter().any(|k| k.starts_with("access.")),
        "{for_regulator:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_regulator_read_is_on_the_record_sqlite() {
    every_regulator_read_is_on_the_record(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_regulator_read_is_on_the_record_postgres() {
    every_regulator_read_is_on_the_record(Backend::Postgres).await;
}

/// A merchant cannot reach a person by naming them on an order: the payer of a merchant's
/// order stays hidden from it until the payer accepts the order (or pays it).
async fn a_merchant_sees_a_payer_only_with_the_payers_consent(backend: Backend) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let stranger = bank_do(
        &srv,
        r#"mutation { registerPayer(input: {name: "乔峰", idNumber: "110102198001010033", phone: "13912345678"}, idempotencyKey: "p-stranger") { id } }"#,
        json!({}),
    )
    .await["registerPayer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = w.merchant_principal();
    let opened = TestServer::ok(
        srv.gql(
            Some(&me),
            "mutation($i: OpenOrderInput!) { openOrder(input: $i, idempotencyKey: \"m-open-1\") { id payerAccepted payer { id } } }",
            json!({"i": {"scheme": w.scheme, "merchant": w.merchant, "payer": stranger, "total": "100.00"}}),
        )
        .await,
    );
    let order = opened["openOrder"]["id"].as_str().unwrap().to_owned();
    assert_eq!(opened["openOrder"]["payerAccepted"], false);
    assert_eq!(opened["openOrder"]["payer"], Value::Null, "{opened}");
    let probe = "query($p: ID!) { party(id: $p) { name idNumber phone } }";
    let body = srv.gql(Some(&me), probe, json!({"p": stranger})).await;
    assert_eq!(first_code(&body), "NOT_FOUND", "{body}");

    // The payer accepts with its own token: now the merchant sees it, masked.
    let payer = as_party(Role::Payer, &stranger);
    let accepted = TestServer::ok(
        srv.gql(
            Some(&payer),
            "mutation($o: ID!) { acceptOrder(order: $o, idempotencyKey: \"accept-1\") { payerAccepted } }",
            json!({"o": order}),
        )
        .await,
    );
    assert_eq!(accepted["acceptOrder"]["payerAccepted"], true);
    let seen = TestServer::ok(srv.gql(Some(&me), probe, json!({"p": stranger})).await);
    assert_ne!(seen["party"]["name"], "乔峰", "{seen}");
    let seen = TestServer::ok(
        srv.gql(
            Some(&me),
            "query($o: ID!) { order(id: $o) { payer { id } } }",
            json!({"o": order}),
        )
        .await,
    );
    assert_eq!(seen["order"]["payer"]["id"], stranger.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_sees_a_payer_only_with_the_payers_consent_sqlite() {
    a_merchant_sees_a_payer_only_with_the_payers_consent(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_sees_a_payer_only_with_the_payers_consent_postgres() {
    a_merchant_sees_a_payer_only_with_the_payers_consent(Backend::Postgres).await;
}
