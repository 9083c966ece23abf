//! TLS served directly: with `LVYUE_TLS_CERT` and `LVYUE_TLS_KEY` the server speaks HTTPS only.

use crate::harness::{TestServer, bank};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_over_https_with_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();

    let srv = TestServer::start_with(|c| {
        c.tls.cert = Some(cert.clone());
        c.tls.key = Some(key.clone());
    })
    .await;
    assert!(srv.url("/").starts_with("https://"));

    let (status, body) = srv.get("/healthz").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = srv
        .graphql(Some(&srv.token(&bank())), "{ me { role } }")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["role"], "BANK");

    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(srv.url("/healthz").replace("https://", "http://"))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}
