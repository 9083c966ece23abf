//! Hostile requests: deep, costly, aliased and fragment-bombed queries, oversized and
//! malformed bodies, floods and stalls. Each is answered with its code, and the server stays
//! healthy.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::harness::{TestServer, bank, first_code, merchant};
use crate::world::registered;

async fn assert_healthy(srv: &TestServer) {
    let (status, body) = srv.get("/healthz").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = srv.graphql(None, "{ apiVersion }").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_bombs_are_limit_exceeded() {
    let srv = TestServer::start().await;
    let token = srv.token(&bank());

    // Depth: introspection types nest without end.
    let deep = format!(
        "{{ __schema {{ types {{ {} name {} }} }} }}",
        "fields { type { ".repeat(10),
        "} } ".repeat(10)
    );
    // Complexity: 6,000 selections of one field (no aliases, so they merge in the response but
    // each costs).
    let costly = format!("{{ {} }}", "apiVersion ".repeat(6_000));
    let aliases = format!(
        "{{ {} }}",
        (0..200)
            .map(|i| format!("a{i}: apiVersion"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut fragments = String::from("{ ...F0 }\n");
    for i in 0..40 {
        fragments.push_str(&format!(
            "fragment F{i} on Query {{ ...F{} ...F{} }}\n",
            i + 1,
            i + 1
        ));
    }
    fragments.push_str("fragment F40 on Query { apiVersion }\n");
    let brackets = "{".repeat(100_000);
    let directives = format!("{{ apiVersion {} }}", "@include(if: true) ".repeat(100));

    for (name, q) in [
        ("depth", deep),
        ("complexity", costly),
        ("aliases", aliases),
        ("fragments", fragments),
        ("brackets", brackets),
        ("directives", directives),
    ] {
        let (status, body) = srv.graphql(Some(&token), &q).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(first_code(&body), "LIMIT_EXCEEDED", "{name}: {body}");
        assert!(body["data"].is_null(), "{name}: {body}");
    }
    assert_healthy(&srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_limit_exceeded() {
    // The default limit (1 MiB), refused from the declared length before any body is read.
    let srv = TestServer::start().await;
    let (status, body) = raw_exchange(&srv, |w| {
        w.extend_from_slice(b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2097152\r\nconnection: close\r\n\r\n");
    })
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("LIMIT_EXCEEDED"), "{body}");
    assert_healthy(&srv).await;

    // A small limit, so the whole request fits in socket buffers and the answer is never lost
    // to a reset: without Content-Length (chunked), refused while streaming.
    let srv = TestServer::start_with(|c| c.limits.max_body_bytes = 4096).await;
    let (status, body) = raw_exchange(&srv, |w| {
        w.extend_from_slice(b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n");
        for _ in 0..2 {
            w.extend_from_slice(format!("{:x}\r\n", 3000).as_bytes());
            w.extend_from_slice(&[b' '; 3000]);
            w.extend_from_slice(b"\r\n");
        }
        w.extend_from_slice(b"0\r\n\r\n");
    })
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("LIMIT_EXCEEDED"), "{body}");
    // Just under the limit is fine.
    let padded = format!("{{\"query\":\"{{ apiVersion }}\"{}}}", " ".repeat(4000));
    let (status, body) = srv.post_raw(None, padded.into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert_healthy(&srv).await;
}

/// Sends raw bytes on a fresh connection and reads the whole answer: (status, body text).
async fn raw_exchange(srv: &TestServer, build: impl FnOnce(&mut Vec<u8>)) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(srv.running().local_addr())
        .await
        .unwrap();
    let mut bytes = Vec::new();
    build(&mut bytes);
    // The server may answer and close before reading everything: ignore write errors.
    let _ = stream.write_all(&bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut out)).await;
    parse_response(&out)
}

fn parse_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_and_the_server_stays_healthy() {
    let srv = TestServer::start().await;
    let deep_json = format!(
        "{{\"query\":\"{{ apiVersion }}\",\"variables\":{{\"v\":{}1{}}}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    // (case, body, status): bodies that are not one JSON GraphQL request are HTTP 400; a
    // request without a query is a well-formed request for an empty document.
    for (name, body, expected) in [
        ("not json", b"{ this is not json".to_vec(), 400),
        ("empty", Vec::new(), 400),
        ("truncated", br#"{"query": "{ apiV"#.to_vec(), 400),
        ("query not a string", br#"{"query": 42}"#.to_vec(), 400),
        (
            "batch",
            br#"[{"query":"{ apiVersion }"},{"query":"{ apiVersion }"}]"#.to_vec(),
            400,
        ),
        ("invalid utf-8", vec![b'{', 0xff, 0xfe, b'}'], 400),
        ("deeply nested variables", deep_json.into_bytes(), 400),
        ("no query", br#"{"variables": {}}"#.to_vec(), 200),
    ] {
        let (status, resp) = srv.post_raw(None, body).await;
        assert_eq!(status, expected, "{name}: {resp}");
        assert_eq!(first_code(&resp), "VALIDATION", "{name}: {resp}");
    }
    // Strings a scanner would love: they are data, never SQL or markup.
    let (status, resp) = srv
        .graphql_with(None, serde_json::json!({ "query": "query($x: String) { apiVersion }", "variables": { "x": "'; DROP TABLE event; -- \u{0000}\u{202e}𝕏" } }))
        .await;
    assert_eq!(status, 200, "{resp}");
    assert_healthy(&srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_client_is_rate_limited_per_principal() {
    let srv = TestServer::start_with(|c| {
        c.limits.rate_limit_per_minute = 1;
        c.limits.rate_limit_burst = 3;
    })
    .await;
    let alice = srv.token(&registered(&srv, merchant()).await);
    for _ in 0..3 {
        let (status, body) = srv.graphql(Some(&alice), "{ apiVersion }").await;
        assert_eq!(status, 200, "{body}");
    }
    let resp = srv
        .client
        .post(srv.url("/graphql"))
        .bearer_auth(&alice)
        .json(&serde_json::json!({ "query": "{ apiVersion }" }))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("retry-after").is_some());
    let (status, body) = crate::harness::read(resp).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(first_code(&body), "LIMIT_EXCEEDED", "{body}");

    // Another principal has a bucket of its own.
    let (status, body) = srv
        .graphql(Some(&srv.token(&bank())), "{ apiVersion }")
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_times_out_with_limit_exceeded() {
    let srv = TestServer::start_with(|c| c.limits.request_timeout_ms = 300).await;
    // Promise 100 bytes of body, send 10, then wait.
    let (status, body) = raw_exchange(&srv, |w| {
        w.extend_from_slice(b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{\"query\":");
    })
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("LIMIT_EXCEEDED"), "{body}");
    assert_healthy(&srv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let srv = TestServer::start_with(|c| c.limits.request_timeout_ms = 300).await;
    let mut stream = tokio::net::TcpStream::connect(srv.running().local_addr())
        .await
        .unwrap();
    stream
        .write_all(b"POST /graphql HTTP/1.1\r\nhost: x\r\nx-slow: ")
        .await
        .unwrap();
    let mut out = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    assert!(closed.is_ok(), "the connection is still open");
    assert_healthy(&srv).await;
}
