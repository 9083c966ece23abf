//! Risk, compliance and the regulator reports through the public interfaces (docs/domain.md,
//! "Checks on merchants" and "What regulators ask for"), on SQLite and PostgreSQL:
//!
//! - [`checks`]: onboarding checks (USCC, licence, lists) and list imports;
//! - [`alerts`]: every alert trigger, seen through `alerts` and the `alerts` subscription by
//!   the bank and by the regulators whose scope it falls in, and alert handling;
//! - [`delivery`]: signed webhook deliveries with retries, and the on-call notifier's log;
//! - [`reports`]: each report's totals reconciled with the ledger;
//! - [`downloads`]: the streamed CSV downloads with their notarized watermark.

mod alerts;
mod checks;
mod delivery;
mod downloads;
mod reports;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use lvyue_api::config::Config;
use lvyue_domain::clock::ManualClock;
use lvyue_domain::principal::Principal;
use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, bank};
use crate::world::{World, bank_do, monday};

/// `name::sqlite` and `name::postgres` running `async fn name(backend)`.
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(lvyue_domain::testing::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(lvyue_domain::testing::Backend::Postgres).await;
            }
        }
    };
}
pub(crate) use on_both;

/// A server on `backend` whose clock stands at Monday 2026-03-02 10:00 China time, without
/// rate limiting (the tests drive hundreds of requests), with `tweak` applied; `None` for
/// PostgreSQL when it is not configured.
async fn start(
    backend: Backend,
    tweak: impl FnOnce(&mut Config),
) -> Option<(TestServer, Arc<ManualClock>)> {
    let started = TestServer::start_at_with(backend, monday(), |c| {
        c.limits.rate_limit_per_minute = 0;
        tweak(c);
    })
    .await;
    if started.is_none() {
        eprintln!(
            "skipped: {} is not set",
            lvyue_domain::testing::POSTGRES_ENV
        );
    }
    started
}

/// The data of a query that must succeed.
async fn ok(srv: &TestServer, who: &Principal, query: &str, vars: Value) -> Value {
    TestServer::ok(srv.gql(Some(who), query, vars).await)
}

/// An amount as the API prints it (`"1280.00"`, maybe negative), in fen.
fn fen(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not an amount: {v}"));
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (yuan, cents) = s.split_once('.').expect("two decimals");
    assert_eq!(cents.len(), 2, "{s}");
    let f = yuan.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap();
    if neg { -f } else { f }
}

/// The nodes of a connection.
fn nodes(conn: &Value) -> Vec<Value> {
    conn["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {conn}"))
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

const ALERT_FIELDS: &str = "id kind severity status merchantId orderId schemeId region industry message createdAt acknowledgedBy acknowledgedAt resolvedBy resolvedAt";

/// Every alert `who` may see, oldest first.
async fn alerts_of(srv: &TestServer, who: &Principal) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let d = ok(
            srv,
            who,
            &format!("query($a: String) {{ alerts(first: 200, after: $a) {{ edges {{ node {{ {ALERT_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"),
            json!({ "a": after }),
        )
        .await;
        out.extend(nodes(&d["alerts"]));
        if d["alerts"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = d["alerts"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    out.reverse();
    out
}

/// Every event the bank can read of `kind`, oldest first.
async fn events_of(srv: &TestServer, kind: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let d = ok(
            srv,
            &bank(),
            "query($a: String) { events(first: 200, after: $a) { edges { node { id type at merchantId orderId data } } pageInfo { hasNextPage endCursor } } }",
            json!({ "a": after }),
        )
        .await;
        out.extend(
            nodes(&d["events"])
                .into_iter()
                .filter(|e| e["type"] == kind),
        );
        if d["events"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = d["events"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    out
}

/// Opens an order of `merchant` in `scheme` for the world's payer and collects it.
async fn paid(srv: &TestServer, w: &World, scheme: &str, merchant: &str, total: &str) -> String {
    let order = bank_do(
        srv,
        "mutation($i: OpenOrderInput!, $k: String!) { openOrder(input: $i, idempotencyKey: $k) { id } }",
        json!({"k": w.key("open"), "i": {"scheme": scheme, "merchant": merchant, "payer": w.payer, "total": total}}),
    )
    .await["openOrder"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    bank_do(
        srv,
        "mutation($i: CollectInput!, $k: String!) { collect(input: $i, idempotencyKey: $k) { id } }",
        json!({"k": w.key("collect"), "i": {"order": order, "channel": "WECHAT_PAY", "amount": total, "externalRef": w.key("wx")}}),
    )
    .await;
    order
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A live `alerts` subscription over `/graphql/ws` (graphql-transport-ws).
struct AlertFeed {
    socket: Socket,
}

impl AlertFeed {
    /// Connects as `who` and subscribes; returns once the server is known to run the
    /// subscription (a `logSize` subscription opened after it has answered).
    async fn open(srv: &TestServer, who: &Principal) -> AlertFeed {
        let mut req = srv
            .url("/graphql/ws")
            .replace("http://", "ws://")
            .into_client_request()
            .unwrap();
        req.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (socket, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        let mut feed = AlertFeed { socket };
        feed.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", srv.token(who)) } })).await;
        assert_eq!(feed.next_message().await["type"], "connection_ack");
        feed.send(json!({ "id": "alerts", "type": "subscribe", "payload": { "query": format!("subscription {{ alerts {{ {ALERT_FIELDS} }} }}") } })).await;
        feed.send(json!({ "id": "sync", "type": "subscribe", "payload": { "query": "subscription { logSize }" } })).await;
        loop {
            let m = feed.next_message().await;
            assert_ne!(m["id"], "alerts", "an alert before any was raised: {m}");
            if m["id"] == "sync" {
                break;
            }
        }
        feed.send(json!({ "id": "sync", "type": "complete" })).await;
        feed
    }

    async fn send(&mut self, msg: Value) {
        self.socket
            .send(Message::Text(msg.to_string().into()))
            .await
            .unwrap();
    }

    async fn next_message(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .expect("a message in time");
            match msg {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
                Some(Ok(Message::Ping(p))) => {
                    self.socket.send(Message::Pong(p)).await.unwrap();
                }
                Some(Ok(_)) => {}
                other => panic!("the subscription ended: {other:?}"),
            }
        }
    }

    /// The next alert pushed.
    async fn next_alert(&mut self) -> Value {
        loop {
            let m = self.next_message().await;
            if m["id"] == "alerts" {
                assert_eq!(m["type"], "next", "{m}");
                return m["payload"]["data"]["alerts"].clone();
            }
        }
    }
}
