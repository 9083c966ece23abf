//! What a regulator's read leaves on the record does not depend on how the client words it:
//! aliases, operation names, the fields selected, a refused probe, a search whose hits are
//! read without ids, report rows and CSV downloads are all recorded from what the server read
//! and produced.

use serde_json::{Value, json};

use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, first_code};
use crate::world::{bank_do, driving_school, monday, paid_order, shenzhen_policy};

/// The `access.read` events so far, oldest first, as the bank sees them.
async fn reads(srv: &TestServer) -> Vec<Value> {
    let all = bank_do(
        srv,
        "{ events(first: 200) { edges { node { type opening } } } }",
        json!({}),
    )
    .await;
    all["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["type"] == "access.read")
        .map(|e| e["node"]["opening"].clone())
        .collect()
}

/// The one record a read added.
async fn added(srv: &TestServer, before: usize) -> Value {
    let after = reads(srv).await;
    assert_eq!(after.len(), before + 1, "{after:#?}");
    after[before].clone()
}

/// How many `access.order_read` records the order's history holds.
async fn order_reads(srv: &TestServer, order: &str) -> usize {
    let ev = bank_do(
        srv,
        "query($o: ID!) { events(order: $o, first: 200) { edges { node { type } } } }",
        json!({"o": order}),
    )
    .await;
    ev["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["type"] == "access.order_read")
        .count()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

async fn what_is_recorded_is_what_was_read(backend: Backend) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let order = paid_order(&srv, &w, "500.00").await;
    let reg = w.regulator_principal();

    // An alias for the field and for the id, and a reassuring operation name.
    let n = reads(&srv).await.len();
    let r = TestServer::ok(
        srv.gql(
            Some(&reg),
            "query RoutineHealthCheck($o: ID!) { health: order(id: $o) { ref: id status } }",
            json!({"o": order}),
        )
        .await,
    );
    assert_eq!(r["health"]["ref"], order.as_str());
    let rec = added(&srv, n).await;
    assert_eq!(
        strings(&rec["asked"]),
        [format!("order(id: \"{order}\")")],
        "{rec}"
    );
    assert_eq!(strings(&rec["orders"]), [order.as_str()], "{rec}");
    assert_eq!(rec["operation"], "RoutineHealthCheck");
    assert_eq!(order_reads(&srv, &order).await, 1);

    // No id selected at all: the orders listed are still on the record.
    let n = reads(&srv).await.len();
    TestServer::ok(
        srv.gql(
            Some(&reg),
            "{ orders(first: 5) { edges { node { status } } } }",
            json!({}),
        )
        .await,
    );
    let rec = added(&srv, n).await;
    assert_eq!(strings(&rec["orders"]), [order.as_str()], "{rec}");
    assert_eq!(order_reads(&srv, &order).await, 2);

    // A refused probe is recorded with what it asked and how it was answered.
    let n = reads(&srv).await.len();
    let probe = srv
        .gql(
            Some(&reg),
            "{ order(id: \"ord_999999\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(first_code(&probe), "NOT_FOUND");
    let rec = added(&srv, n).await;
    assert_eq!(
        strings(&rec["asked"]),
        ["order(id: \"ord_999999\")"],
        "{rec}"
    );
    assert_eq!(strings(&rec["refused"]), ["NOT_FOUND"], "{rec}");

    // A search whose hits are read without ids: the hits are listed, the words only committed.
    srv.running().state().catch_up_search().await.unwrap();
    let n = reads(&srv).await.len();
    let found = TestServer::ok(
        srv.gql(
            Some(&reg),
            "{ search(query: \"驾驶培训\", first: 5) { totalCount edges { node { title } } } }",
            json!({}),
        )
        .await,
    );
    assert!(
        found["search"]["totalCount"].as_i64().unwrap() > 0,
        "{found}"
    );
    let rec = added(&srv, n).await;
    assert_eq!(
        strings(&rec["asked"]),
        ["search(query: \"…\", first: 5)"],
        "{rec}"
    );
    assert!(
        strings(&rec["objects"])
            .iter()
            .any(|o| o.starts_with("search hit ")),
        "{rec}"
    );
    assert!(!rec.to_string().contains("驾驶培训"), "{rec}");
    assert!(rec["commitments"]["asked_text"].is_string(), "{rec}");

    // Report rows are listed by what they are, whatever the client selected of them.
    let (from, to) = ("2026-03-01T00:00:00+08:00", "2026-04-01T00:00:00+08:00");
    let n = reads(&srv).await.len();
    TestServer::ok(
        srv.gql(
            Some(&reg),
            "query($f: DateTime!, $t: DateTime!) { fundFlows(from: $f, to: $t, groupBy: [MERCHANT]) { rows(first: 10) { edges { node { collected } } } } }",
            json!({"f": from, "t": to}),
        )
        .await,
    );
    let rec = added(&srv, n).await;
    assert!(
        strings(&rec["objects"])
            .iter()
            .any(|o| o == &format!("fund flows row {}", w.merchant)),
        "{rec}"
    );

    // A CSV download is on the record with its rows before its first byte is sent.
    let n = reads(&srv).await.len();
    let resp = srv
        .client
        .get(srv.url("/reports/fund-flows.csv?from=2026-03-01&to=2026-04-01&groupBy=MERCHANT"))
        .bearer_auth(srv.token(&reg))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.text().await.unwrap();
    assert!(body.contains(&w.merchant), "{body}");
    let rec = added(&srv, n).await;
    assert_eq!(rec["operation"], "report");
    let objects = strings(&rec["objects"]);
    assert!(objects.iter().any(|o| o == "rows 1"), "{rec}");
    assert!(
        objects.iter().any(|o| o.starts_with("rows sha256 ")),
        "{rec}"
    );
    assert!(objects.contains(&format!("party {}", w.merchant)), "{rec}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_recorded_is_what_was_read_sqlite() {
    what_is_recorded_is_what_was_read(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_recorded_is_what_was_read_postgres() {
    what_is_recorded_is_what_was_read(Backend::Postgres).await;
}

/// The attack the access log must resist: an anonymous caller takes the public leaf hash of an
/// order-read record and tries every order id in it — here even knowing the record's exact
/// seq, time and reader role. The leaf commits to all of them under a secret salt: no guess
/// matches.
async fn nobody_outside_can_tell_which_order_was_read(backend: Backend) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let mut orders = Vec::new();
    for _ in 0..5 {
        orders.push(paid_order(&srv, &w, "500.00").await);
    }
    let read = &orders[3];
    TestServer::ok(
        srv.gql(
            Some(&w.regulator_principal()),
            "query($o: ID!) { order(id: $o) { status } }",
            json!({"o": read}),
        )
        .await,
    );
    srv.sync_log().await;
    let events = bank_do(
        &srv,
        "query($o: ID!) { events(order: $o, first: 100) { edges { node { id type canonical } } } }",
        json!({"o": read}),
    )
    .await;
    let record = events["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .find(|e| e["type"] == "access.order_read")
        .expect("the read is on the order's record");
    let public = TestServer::ok(
        srv.gql(
            None,
            "query($e: ID!) { inclusionProofByEvent(event: $e) { leafHash } }",
            json!({"e": record["id"]}),
        )
        .await,
    );
    let leaf_hash = public["inclusionProofByEvent"]["leafHash"]
        .as_str()
        .unwrap()
        .to_owned();
    // The attacker's best knowledge: the exact seq, time and type (taken here from the bank's
    // copy of the leaf), the reader's role, and every order id there is.
    let real: Value = serde_json::from_str(record["canonical"].as_str().unwrap()).unwrap();
    let seq = real["seq"].as_u64().unwrap();
    for guess in &orders {
        for data in [
            json!({"access_seq": seq - 1, "role": "REGULATOR", "case_no": null}),
            json!({"role": "REGULATOR"}),
        ] {
            let leaf = json!({"seq": seq, "type": "access.order_read", "at": real["at"], "order_id": guess, "data": data});
            let bytes = lvyue_notary::canonical_json(&leaf).unwrap();
            assert_ne!(
                lvyue_notary::leaf_hash(&bytes).to_string(),
                leaf_hash,
                "the public leaf hash gives away that {guess} was read"
            );
        }
    }
    assert!(!real.to_string().contains(read.as_str()), "{real}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_outside_can_tell_which_order_was_read_sqlite() {
    nobody_outside_can_tell_which_order_was_read(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_outside_can_tell_which_order_was_read_postgres() {
    nobody_outside_can_tell_which_order_was_read(Backend::Postgres).await;
}

/// The recorded part of an access record: what was asked, the objects and the orders.
fn recorded(rec: &Value) -> (Vec<String>, Vec<String>, Vec<String>) {
    (
        strings(&rec["asked"]),
        strings(&rec["objects"]),
        strings(&rec["orders"]),
    )
}

/// The same reads over HTTP and over the WebSocket, worded with aliases, fragments and
/// variables, leave the same records, and every order an answer shows is in its record.
async fn the_same_reads_leave_the_same_records_on_either_transport(backend: Backend) {
    use crate::subscriptions::{connect, next, over_socket, send};
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let mut orders = Vec::new();
    for _ in 0..3 {
        orders.push(paid_order(&srv, &w, "500.00").await);
    }
    let reg = w.regulator_principal();
    let reads = [
        (
            "query Inspect($n: Int) { list: orders(first: $n) { edges { node { ...O } } } } fragment O on Order { ref: id status }",
            json!({"n": 2}),
        ),
        (
            "query($o: ID!) { ... on Query { one: order(id: $o) { payments { amount } events(first: 5) { edges { node { type } } } } } }",
            json!({"o": orders[2]}),
        ),
        (
            "{ merchants(first: 5) { edges { node { name } } } }",
            json!({}),
        ),
    ];
    let mut socket = connect(&srv).await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", srv.token(&reg)) } })).await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    for (i, (q, vars)) in reads.iter().enumerate() {
        let n = reads_of(&srv).await;
        let over_http = TestServer::ok(srv.gql(Some(&reg), q, vars.clone()).await);
        let by_http = added(&srv, n).await;
        let n = reads_of(&srv).await;
        let over_ws = over_socket(&mut socket, &format!("r{i}"), q, vars.clone()).await;
        assert!(over_ws.get("errors").is_none(), "{over_ws}");
        assert_eq!(over_ws["data"], over_http, "{q}");
        let by_ws = added(&srv, n).await;
        assert_eq!(recorded(&by_http), recorded(&by_ws), "{q}");
        // Every order id the answer shows, under whatever alias, is in the record.
        let shown: Vec<String> = orders
            .iter()
            .filter(|o| over_http.to_string().contains(o.as_str()))
            .cloned()
            .collect();
        let (_, _, recorded_orders) = recorded(&by_http);
        for o in &shown {
            assert!(
                recorded_orders.contains(o),
                "{o} shown but not recorded: {by_http}"
            );
        }
    }
}

async fn reads_of(srv: &TestServer) -> usize {
    reads(srv).await.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_reads_leave_the_same_records_on_either_transport_sqlite() {
    the_same_reads_leave_the_same_records_on_either_transport(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_reads_leave_the_same_records_on_either_transport_postgres() {
    the_same_reads_leave_the_same_records_on_either_transport(Backend::Postgres).await;
}
