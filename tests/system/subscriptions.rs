//! Subscriptions over `/graphql/ws` (graphql-transport-ws), with the token in
//! `connection_init`.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, bank};
use crate::world::{driving_school, monday, paid_order, shenzhen_policy};

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(srv: &TestServer) -> Socket {
    let mut req = srv
        .url("/graphql/ws")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (socket, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "graphql-transport-ws"
    );
    socket
}

pub(crate) async fn send(socket: &mut Socket, msg: serde_json::Value) {
    socket
        .send(Message::Text(msg.to_string().into()))
        .await
        .unwrap();
}

/// The next message: a JSON text, or the close code.
pub(crate) async fn next(socket: &mut Socket) -> Result<serde_json::Value, u16> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message in time");
        match msg {
            Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Message::Close(frame))) => return Err(frame.map_or(0, |f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(0),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_streams_with_a_token_from_connection_init() {
    // On a fixed clock far from the end of the loaded holiday calendar, a fresh log is empty
    // (near that end the scheduler's first pass writes a warning).
    let (srv, _clock) = TestServer::start_at(Backend::Sqlite, monday())
        .await
        .expect("sqlite");
    let mut socket = connect(&srv).await;
    send(&mut socket, serde_json::json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", srv.token(&bank())) } })).await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    send(&mut socket, serde_json::json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { logSize }" } })).await;
    let msg = next(&mut socket).await.unwrap();
    assert_eq!(msg["type"], "next", "{msg}");
    assert_eq!(msg["payload"]["data"]["logSize"], 0, "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_in_connection_init_closes_the_connection() {
    let srv = TestServer::start().await;
    let mut socket = connect(&srv).await;
    send(&mut socket, serde_json::json!({ "type": "connection_init", "payload": { "Authorization": "Bearer not-a-token" } })).await;
    let closed = next(&mut socket).await;
    assert!(closed.is_err(), "{closed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_obey_the_query_limits() {
    let srv = TestServer::start().await;
    let mut socket = connect(&srv).await;
    send(
        &mut socket,
        serde_json::json!({ "type": "connection_init" }),
    )
    .await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    let aliases = (0..200)
        .map(|i| format!("a{i}: logSize"))
        .collect::<Vec<_>>()
        .join(" ");
    send(&mut socket, serde_json::json!({ "id": "1", "type": "subscribe", "payload": { "query": format!("subscription {{ {aliases} }}") } })).await;
    let msg = next(&mut socket).await.unwrap();
    assert!(msg.to_string().contains("LIMIT_EXCEEDED"), "{msg}");
}

/// Runs one operation over an open socket; the `next` payload (or the error payload).
pub(crate) async fn over_socket(
    socket: &mut Socket,
    id: &str,
    query: &str,
    vars: serde_json::Value,
) -> serde_json::Value {
    send(socket, serde_json::json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": vars } })).await;
    let msg = next(socket).await.unwrap();
    if msg["type"] == "next" {
        // A query's stream ends after its one answer.
        assert_eq!(next(socket).await.unwrap()["type"], "complete");
    }
    msg["payload"].clone()
}

async fn log_size(srv: &TestServer) -> u64 {
    TestServer::ok(
        srv.gql(
            Some(&bank()),
            "{ serverStatus { logSize } }",
            serde_json::json!({}),
        )
        .await,
    )["serverStatus"]["logSize"]
        .as_u64()
        .unwrap()
}

async fn a_regulators_reads_over_the_socket_are_recorded_and_limited_like_over_http(
    backend: Backend,
) {
    let Some((srv, _clock)) = TestServer::start_at_with(backend, monday(), |c| {
        c.limits.rate_limit_per_minute = 1;
        c.limits.rate_limit_burst = 20;
    })
    .await
    else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let order = paid_order(&srv, &w, "1000.00").await;
    let regulator = w.regulator_principal();
    let read = "query($o: ID!) { order(id: $o) { id status } }";
    let vars = serde_json::json!({ "o": order });

    // Over HTTP: the read and the order read are on the record.
    let before = log_size(&srv).await;
    let body = srv.gql(Some(&regulator), read, vars.clone()).await;
    assert_eq!(body["data"]["order"]["id"], order.as_str(), "{body}");
    let by_http = log_size(&srv).await - before;
    assert!(
        by_http >= 2,
        "an access.read and an access.order_read: {by_http}"
    );

    // The same read over the socket, aliased, under another operation name: the same record.
    let mut socket = connect(&srv).await;
    send(&mut socket, serde_json::json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", srv.token(&regulator)) } })).await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    let before = log_size(&srv).await;
    let answer = over_socket(&mut socket, "1", read, vars.clone()).await;
    assert_eq!(answer["data"]["order"]["id"], order.as_str(), "{answer}");
    assert_eq!(log_size(&srv).await - before, by_http);
    let events = TestServer::ok(
        srv.gql(
            Some(&bank()),
            "query($o: ID!) { events(order: $o, first: 100) { edges { node { type } } } }",
            vars.clone(),
        )
        .await,
    );
    let order_reads = events["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["type"] == "access.order_read")
        .count();
    assert_eq!(order_reads, 2, "{events}");

    // A socket is rate-limited per caller like HTTP: a burst of 20, then refusals.
    let mut socket = connect(&srv).await;
    send(&mut socket, serde_json::json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", srv.token(&w.merchant_principal())) } })).await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    let mut codes = Vec::new();
    for i in 0..25 {
        let answer = over_socket(
            &mut socket,
            &format!("m{i}"),
            "{ me { role } }",
            serde_json::json!({}),
        )
        .await;
        codes.push(
            answer["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("OK")
                .to_owned(),
        );
    }
    assert_eq!(codes.iter().filter(|c| *c == "OK").count(), 20, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| *c == "LIMIT_EXCEEDED").count(),
        5,
        "{codes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regulators_reads_over_the_socket_are_recorded_and_limited_like_over_http_sqlite() {
    a_regulators_reads_over_the_socket_are_recorded_and_limited_like_over_http(Backend::Sqlite)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regulators_reads_over_the_socket_are_recorded_and_limited_like_over_http_postgres() {
    a_regulators_reads_over_the_socket_are_recorded_and_limited_like_over_http(Backend::Postgres)
        .await;
}

/// A socket message is held to the same size limit as an HTTP body: a larger one ends the
/// connection instead of being read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_message_over_the_body_limit_ends_the_connection() {
    let srv = TestServer::start_with(|c| c.limits.max_body_bytes = 4096).await;
    let mut socket = connect(&srv).await;
    send(
        &mut socket,
        serde_json::json!({ "type": "connection_init", "payload": {} }),
    )
    .await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    // Well under the limit: answered.
    let small = over_socket(&mut socket, "s", "{ apiVersion }", serde_json::json!({})).await;
    assert!(small["data"]["apiVersion"].is_string(), "{small}");
    let padding = "#".repeat(8192);
    let big = serde_json::json!({ "id": "b", "type": "subscribe", "payload": { "query": format!("{{ apiVersion }}\n{padding}") } });
    // The send itself may fail once the server has closed the socket.
    let _ = socket.send(Message::Text(big.to_string().into())).await;
    assert!(
        next(&mut socket).await.is_err(),
        "an oversized message was answered"
    );
}
