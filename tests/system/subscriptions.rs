//! Subscriptions over `/graphql/ws` (graphql-transport-ws), with the token in
//! `connection_init`.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, bank};
use crate::world::monday;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(srv: &TestServer) -> Socket {
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

async fn send(socket: &mut Socket, msg: serde_json::Value) {
    socket
        .send(Message::Text(msg.to_string().into()))
        .await
        .unwrap();
}

/// The next message: a JSON text, or the close code.
async fn next(socket: &mut Socket) -> Result<serde_json::Value, u16> {
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
