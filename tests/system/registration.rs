//! The registration is the authority: a token names a party, and the party as the bank
//! registered it decides what the caller may do. A token for a missing, wrong-kind or
//! suspended party is refused; a regulator's token cannot widen its registered jurisdiction.

use serde_json::json;

use lvyue_domain::principal::{Industry, Role};
use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, first_code};
use crate::subscriptions::{connect, next, over_socket, send};
use crate::world::{
    as_party, as_regulator, bank_do, driving_school, monday, paid_order, register_merchant,
    shenzhen_policy,
};

async fn tokens_are_honoured_only_as_far_as_the_registration_goes(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let order = paid_order(&srv, &w, "1000.00").await;
    clock.advance_days(1);
    srv.tick().await;
    // A Suzhou school the Nanjing regulator must not see.
    let suzhou = register_merchant(
        &srv,
        "苏州市某某驾驶培训有限公司",
        "91320505MA1XHT001",
        "320505",
        "DRIVING_SCHOOL",
        "m-sz",
    )
    .await;

    // A court token for no registered court gets nothing, not the payer's ID number.
    let evidence =
        "mutation($o: ID!) { evidenceBundle(caseNo: \"(2026)苏0102执1号\", orders: [$o]) }";
    for who in [
        as_party(Role::Court, "pty_99999"),
        // A registered party of another kind.
        as_party(Role::Court, &w.merchant),
    ] {
        let body = srv.gql(Some(&who), evidence, json!({"o": order})).await;
        assert_eq!(first_code(&body), "UNAUTHENTICATED", "{body}");
        let hold = srv
            .gql(
                Some(&who),
                "mutation($o: ID!) { courtFreeze(order: $o, amount: \"1.00\", caseNo: \"(2026)苏0102执1号\", idempotencyKey: \"f\") { id } }",
                json!({"o": order}),
            )
            .await;
        assert_eq!(first_code(&hold), "UNAUTHENTICATED", "{hold}");
    }
    // A merchant token naming a payer reads nothing of the payer's.
    let body = srv
        .gql(
            Some(&as_party(Role::Merchant, &w.payer)),
            "{ myParty { name idNumber } }",
            json!({}),
        )
        .await;
    assert_eq!(first_code(&body), "UNAUTHENTICATED", "{body}");

    // A regulator registered for Nanjing with a token for the whole province sees Nanjing.
    let province = as_regulator(&w.regulator, &["32"], &[Industry::DrivingSchool]);
    let body = TestServer::ok(
        srv.gql(
            Some(&province),
            "{ me { jurisdiction { regions industries } } merchants(first: 50) { edges { node { id } } } }",
            json!({}),
        )
        .await,
    );
    assert_eq!(
        body["me"]["jurisdiction"],
        json!({"regions": ["3201"], "industries": ["DRIVING_SCHOOL"]})
    );
    let seen: Vec<&str> = body["merchants"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert!(seen.contains(&w.merchant.as_str()), "{body}");
    assert!(!seen.contains(&suzhou.as_str()), "{body}");
    // A token for an industry it was not registered for sees nothing.
    let canteens = as_regulator(&w.regulator, &["3201"], &[Industry::Canteen]);
    let body = TestServer::ok(
        srv.gql(
            Some(&canteens),
            "{ merchants(first: 50) { edges { node { id } } } }",
            json!({}),
        )
        .await,
    );
    assert_eq!(body["merchants"]["edges"], json!([]), "{body}");

    // A suspended merchant's token is refused until it is reinstated, over HTTP and on a
    // socket it opened before.
    let mut socket = connect(&srv).await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", srv.token(&w.merchant_principal())) } })).await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    let mine = "{ merchantBalances { escrow } }";
    let before = over_socket(&mut socket, "1", mine, json!({})).await;
    assert!(before.get("errors").is_none(), "{before}");
    let status = "mutation($m: ID!, $s: PartyStatus!, $k: String!) { setMerchantStatus(merchant: $m, status: $s, reason: \"核查\", idempotencyKey: $k) { status } }";
    bank_do(
        &srv,
        status,
        json!({"m": w.merchant, "s": "SUSPENDED", "k": "s-1"}),
    )
    .await;
    let body = srv
        .gql(Some(&w.merchant_principal()), mine, json!({}))
        .await;
    assert_eq!(first_code(&body), "UNAUTHENTICATED", "{body}");
    let after = over_socket(&mut socket, "2", mine, json!({})).await;
    assert_eq!(first_code(&after), "UNAUTHENTICATED", "{after}");
    bank_do(
        &srv,
        status,
        json!({"m": w.merchant, "s": "ACTIVE", "k": "s-2"}),
    )
    .await;
    TestServer::ok(
        srv.gql(Some(&w.merchant_principal()), mine, json!({}))
            .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_honoured_only_as_far_as_the_registration_goes_sqlite() {
    tokens_are_honoured_only_as_far_as_the_registration_goes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_honoured_only_as_far_as_the_registration_goes_postgres() {
    tokens_are_honoured_only_as_far_as_the_registration_goes(Backend::Postgres).await;
}
