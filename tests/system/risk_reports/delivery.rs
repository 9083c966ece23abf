//! Alert delivery (docs/domain.md, "Checks on merchants"): webhook endpoints receiving signed deliveries from the
//! node's delivery worker over real HTTP, retried with backoff (visible in `webhookDeliveries`)
//! and given up after a day; and the on-call notifier's texts and calls, in its log.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use lvyue_domain::clock::Clock as _;
use lvyue_domain::testing::Backend;

use super::{alerts_of, events_of, nodes, ok, on_both, start};
use crate::harness::{TestServer, bank, first_code};
use crate::world::{bank_do, driving_school, shenzhen_policy};

const SECRET: &str = "whsec_lvyue_test_0123456789abcdefghij";

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    signature: String,
    delivery: String,
    content_type: String,
    body: String,
}

#[derive(Clone, Default)]
struct ReceiverState {
    seen: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer `/hook` with, in turn; then 200.
    answers: Arc<Mutex<VecDeque<u16>>>,
}

/// A small HTTP receiver on 127.0.0.1: `/hook` answers from its script, `/down` always 500.
struct Receiver {
    addr: SocketAddr,
    state: ReceiverState,
}

impl Receiver {
    async fn start(answers: &[u16]) -> Receiver {
        let state = ReceiverState::default();
        state.answers.lock().unwrap().extend(answers);
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .route("/down", axum::routing::post(down))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self, path: &str) -> Vec<Received> {
        self.state
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

fn record(state: &ReceiverState, path: &str, headers: &HeaderMap, body: String) {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    state.seen.lock().unwrap().push(Received {
        path: path.to_owned(),
        signature: h("x-lvyue-signature"),
        delivery: h("x-lvyue-delivery"),
        content_type: h("content-type"),
        body,
    });
}

async fn hook(State(s): State<ReceiverState>, headers: HeaderMap, body: String) -> StatusCode {
    record(&s, "/hook", &headers, body);
    let answer = s.answers.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(answer).unwrap()
}

async fn down(State(s): State<ReceiverState>, headers: HeaderMap, body: String) -> StatusCode {
    record(&s, "/down", &headers, body);
    StatusCode::INTERNAL_SERVER_ERROR
}

/// Polls the delivery of `alert` to `endpoint` until `done` holds (the worker runs on its own),
/// for at most a minute.
async fn wait_delivery(
    srv: &TestServer,
    alert: &str,
    endpoint: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..1200 {
        let d = delivery_of(srv, alert, endpoint).await;
        if done(&d) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen");
}

const DELIVERIES: &str = "query($a: ID, $e: ID) { webhookDeliveries(filter: {alert: $a, endpoint: $e}) { edges { node { id endpointId alertId payload status attempts nextAttemptAt lastStatusCode lastError createdAt deliveredAt } } } }";

async fn delivery_of(srv: &TestServer, alert: &str, endpoint: &str) -> Value {
    let d = ok(srv, &bank(), DELIVERIES, json!({"a": alert, "e": endpoint})).await;
    let mut all = nodes(&d["webhookDeliveries"]);
    assert_eq!(all.len(), 1, "{d}");
    all.remove(0)
}

fn hmac_hex(secret: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn register(srv: &TestServer, url: &str, secret: &str, key: &str) -> Value {
    srv.gql(
        Some(&bank()),
        "mutation($i: RegisterWebhookEndpointInput!, $k: String!) { registerWebhookEndpoint(input: $i, idempotencyKey: $k) { id url description active createdAt } }",
        json!({"i": {"url": url, "secret": secret, "description": "值班系统"}, "k": key}),
    )
    .await
}

async fn suspend(srv: &TestServer, merchant: &str, to: &str, key: &str) -> Value {
    bank_do(
        srv,
        "mutation($m: ID!, $s: PartyStatus!, $k: String!) { setMerchantStatus(merchant: $m, status: $s, reason: \"检查\", idempotencyKey: $k) { status } }",
        json!({"m": merchant, "s": to, "k": key}),
    )
    .await;
    alerts_of(srv, &bank()).await.pop().unwrap()
}

async fn a_webhook_receives_signed_alerts_retried_until_delivered(backend: Backend) {
    let Some((srv, clock)) = start(backend, |c| c.workers.delivery_interval_ms = 50).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    // The first attempt is answered 503; the receiver is fine after that.
    let rx = Receiver::start(&[503]).await;

    // Only https, or plain http to this machine; a real secret; only the bank.
    for (url, secret) in [
        ("http://example.com/hook", SECRET),
        ("ftp://127.0.0.1/hook", SECRET),
        (rx.url("/hook").as_str(), "short"),
    ] {
        let r = register(&srv, url, secret, &format!("bad-{url}-{secret}")).await;
        assert_eq!(first_code(&r), "VALIDATION", "{url}: {r}");
    }
    let r = srv
        .gql(
            Some(&w.regulator_principal()),
            "{ webhookEndpoints { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(first_code(&r), "FORBIDDEN");

    let hook = TestServer::ok(register(&srv, &rx.url("/hook"), SECRET, "wh-1").await)
        ["registerWebhookEndpoint"]
        .clone();
    assert_eq!(hook["active"], true);
    // A replay returns the same endpoint; the secret is never shown.
    let again = TestServer::ok(register(&srv, &rx.url("/hook"), SECRET, "wh-1").await);
    assert_eq!(again["registerWebhookEndpoint"]["id"], hook["id"]);
    let down = TestServer::ok(register(&srv, &rx.url("/down"), SECRET, "wh-2").await)
        ["registerWebhookEndpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let listed = ok(
        &srv,
        &bank(),
        "{ webhookEndpoints { edges { node { id url active } } } }",
        json!({}),
    )
    .await;
    assert_eq!(nodes(&listed["webhookEndpoints"]).len(), 2);
    assert!(!listed.to_string().contains(SECRET));

    // An alert: the worker sends it to both endpoints at once.
    let alert = suspend(&srv, &w.merchant, "SUSPENDED", "s-1").await;
    let alert_id = alert["id"].as_str().unwrap().to_owned();
    let first = wait_delivery(&srv, &alert_id, &hook_id, "a failed first attempt", |d| {
        d["attempts"] == 1
    })
    .await;
    assert_eq!(
        (
            &first["status"],
            &first["lastStatusCode"],
            &first["lastError"]
        ),
        (&json!("PENDING"), &json!(503), &json!("HTTP 503"))
    );
    // Retried a minute later (the worker's clock is the server's).
    assert_eq!(
        first["nextAttemptAt"],
        json!(clock.now().plus_seconds(60).to_utc().to_rfc3339())
    );
    clock.advance_seconds(61);
    let delivered = wait_delivery(&srv, &alert_id, &hook_id, "the retry", |d| {
        d["status"] == "DELIVERED"
    })
    .await;
    assert_eq!(
        (
            &delivered["attempts"],
            &delivered["lastStatusCode"],
            &delivered["lastError"]
        ),
        (&json!(2), &json!(200), &json!(""))
    );
    assert!(delivered["deliveredAt"].is_string());

    // Both attempts carried the same body, signed with the shared secret.
    let got = rx.seen("/hook");
    assert_eq!(got.len(), 2, "{got:?}");
    for r in &got {
        assert_eq!(r.signature, format!("sha256={}", hmac_hex(SECRET, &r.body)));
        assert_eq!(r.delivery, delivered["id"].as_str().unwrap());
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.body, delivered["payload"].as_str().unwrap());
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["type"], "alert.raised");
        assert_eq!(body["alert"]["id"], alert_id.as_str());
        assert_eq!(body["alert"]["kind"], "MERCHANT_STATUS_CHANGED");
    }
    assert_ne!(
        got[0].signature,
        format!(
            "sha256={}",
            hmac_hex("another-secret-of-enough-length-000", &got[0].body)
        )
    );
    let delivered_events = events_of(&srv, "webhook.delivered").await;
    assert!(
        delivered_events
            .iter()
            .any(|e| e["data"]["delivery_id"] == delivered["id"])
    );

    // The endpoint that never answers well is retried with backoff, and given up after a day.
    let failing = wait_delivery(&srv, &alert_id, &down, "a second attempt", |d| {
        d["attempts"] == 2
    })
    .await;
    assert_eq!(failing["status"], "PENDING");
    clock.advance_days(1);
    clock.advance_seconds(3600);
    let failed = wait_delivery(&srv, &alert_id, &down, "giving up", |d| {
        d["status"] == "FAILED"
    })
    .await;
    assert_eq!(
        (&failed["attempts"], &failed["lastStatusCode"]),
        (&json!(3), &json!(500))
    );
    assert_eq!(rx.seen("/down").len(), 3);
    assert!(
        events_of(&srv, "webhook.failed")
            .await
            .iter()
            .any(|e| e["data"]["delivery_id"] == failed["id"])
    );

    // Deactivated, an endpoint receives nothing more.
    let d = bank_do(
        &srv,
        "mutation($e: ID!) { deactivateWebhookEndpoint(endpoint: $e, idempotencyKey: \"off-1\") { active } }",
        json!({"e": hook_id}),
    )
    .await;
    assert_eq!(d["deactivateWebhookEndpoint"]["active"], false);
    let later = suspend(&srv, &w.merchant, "ACTIVE", "s-2").await;
    let d = ok(
        &srv,
        &bank(),
        DELIVERIES,
        json!({"a": later["id"], "e": hook_id}),
    )
    .await;
    assert!(nodes(&d["webhookDeliveries"]).is_empty(), "{d}");
}
on_both!(a_webhook_receives_signed_alerts_retried_until_delivered);

async fn the_on_call_notifier_texts_and_calls_for_critical_alerts(backend: Backend) {
    let Some((srv, _clock)) = start(backend, |c| {
        c.workers.oncall_sms = vec!["+8613800000001".into()];
        c.workers.oncall_call = vec!["+8613800000002".into()];
        c.workers.delivery_interval_ms = 50;
    })
    .await
    else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let critical = suspend(&srv, &w.merchant, "SUSPENDED", "s-1").await;
    let info = suspend(&srv, &w.merchant, "ACTIVE", "s-2").await;
    assert_eq!(
        (&critical["severity"], &info["severity"]),
        (&json!("CRITICAL"), &json!("INFO"))
    );
    let m = ok(
        &srv,
        &bank(),
        "query($m: ID!) { party(id: $m) { uscc } }",
        json!({"m": w.merchant}),
    )
    .await;
    let csv = format!(
        "uscc,name,reason,listed_on\n{},某公司,未按时公示年报,2026-02-01\n",
        m["party"]["uscc"].as_str().unwrap()
    );
    bank_do(
        &srv,
        "mutation($c: String!) { importList(kind: ABNORMAL_OPERATION, csv: $c, idempotencyKey: \"l-1\") { applied } }",
        json!({"c": csv}),
    )
    .await;
    let warning = alerts_of(&srv, &bank()).await.pop().unwrap();
    assert_eq!(
        (&warning["kind"], &warning["severity"]),
        (&json!("LIST_HIT"), &json!("WARNING"))
    );

    // The node's pager texts and calls on its own.
    let mut logged = 0;
    for _ in 0..1200 {
        logged = nodes(&sent_for(&srv, &Value::Null).await.1["notifications"]).len();
        if logged >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(logged, 3, "the pager did not page");

    let (sent, d) = sent_for(&srv, &critical["id"]).await;
    assert_eq!(
        sent,
        [
            ("SMS".to_owned(), "+8613800000001".to_owned()),
            ("VOICE".to_owned(), "+8613800000002".to_owned())
        ]
    );
    let text = nodes(&d["notifications"])
        .into_iter()
        .find(|n| n["channel"] == "SMS")
        .unwrap();
    assert!(
        text["message"].as_str().unwrap().contains("CRITICAL"),
        "{text}"
    );
    assert_eq!(text["alertId"], critical["id"]);
    let (sent, _) = sent_for(&srv, &warning["id"]).await;
    assert_eq!(sent, [("SMS".to_owned(), "+8613800000001".to_owned())]);
    let (sent, _) = sent_for(&srv, &info["id"]).await;
    assert!(sent.is_empty(), "{sent:?}");

    // Once per alert, channel and number: a pass now (the worker's own) sends nothing more.
    let state = srv.running().state();
    let on_call = srv.config.workers.on_call().unwrap();
    let notifier = lvyue_api::workers::notifier(state);
    let report = lvyue_api::workers::page_pass(state, notifier.as_ref(), &on_call)
        .await
        .unwrap();
    assert_eq!((report.texts, report.calls, report.failed), (0, 0, 0));
    let (all, _) = sent_for(&srv, &Value::Null).await;
    assert_eq!(all.len(), 3);
    // The log is the bank's.
    let r = srv
        .gql(
            Some(&w.regulator_principal()),
            "{ notifications { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(first_code(&r), "FORBIDDEN");
}
on_both!(the_on_call_notifier_texts_and_calls_for_critical_alerts);

/// `(channel, recipient)` of every text and call about `alert` (all when null), sorted, and
/// the raw answer.
async fn sent_for(srv: &TestServer, alert: &Value) -> (Vec<(String, String)>, Value) {
    let d = ok(
        srv,
        &bank(),
        "query($a: ID) { notifications(alert: $a) { edges { node { id channel recipient message alertId createdAt } } } }",
        json!({"a": alert}),
    )
    .await;
    let mut sent: Vec<(String, String)> = nodes(&d["notifications"])
        .iter()
        .map(|n| {
            (
                n["channel"].as_str().unwrap().to_owned(),
                n["recipient"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    sent.sort();
    (sent, d)
}
