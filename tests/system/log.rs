//! The public log over HTTP: checkpoints, the verifier key, proofs with no token, C2SP tiles;
//! entry bundles only for the bank; consistency checked offline with `lvyue verify`.

use serde_json::json;

use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, bank, run_lvyue};
use crate::world::{driving_school, monday, paid_order, shenzhen_policy};

async fn anyone_can_follow_and_check_the_log(backend: Backend) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    srv.sync_log().await;
    let first = TestServer::ok(
        srv.gql(
            None,
            "{ checkpoint { size rootHash note origin } }",
            json!({}),
        )
        .await,
    )["checkpoint"]
        .clone();
    paid_order(&srv, &w, "100.00").await;
    srv.sync_log().await;
    let second = TestServer::ok(
        srv.gql(
            None,
            "{ checkpoint { size rootHash note } notaryKey }",
            json!({}),
        )
        .await,
    );
    let (size, note, key) = (
        second["checkpoint"]["size"].as_u64().unwrap(),
        second["checkpoint"]["note"].as_str().unwrap(),
        second["notaryKey"].as_str().unwrap(),
    );
    assert!(size > first["size"].as_u64().unwrap());

    // Proofs by index, by event id and by leaf hash agree, with no token.
    let p = TestServer::ok(
        srv.gql(
            None,
            "{ inclusionProof(leafIndex: 3) { leafHash hashes rootHash treeSize tlogProof } }",
            json!({}),
        )
        .await,
    )["inclusionProof"]
        .clone();
    assert_eq!(p["treeSize"].as_u64(), Some(size));
    let by_event = TestServer::ok(
        srv.gql(
            None,
            "{ inclusionProofByEvent(event: \"evt_3\") { hashes } }",
            json!({}),
        )
        .await,
    );
    assert_eq!(by_event["inclusionProofByEvent"]["hashes"], p["hashes"]);
    let by_hash = TestServer::ok(
        srv.gql(
            None,
            "query($h: String!) { inclusionProofByLeafHash(leafHash: $h) { leafIndex hashes } }",
            json!({"h": p["leafHash"]}),
        )
        .await,
    );
    assert_eq!(by_hash["inclusionProofByLeafHash"]["leafIndex"], 3);
    // But event contents need a token.
    let body = srv
        .gql(None, "{ event(id: \"evt_3\") { canonical } }", json!({}))
        .await;
    assert_eq!(crate::harness::first_code(&body), "UNAUTHENTICATED");

    // The older checkpoint is consistent with the newer, checked offline.
    let c = TestServer::ok(
        srv.gql(
            None,
            "query($f: Int!) { consistencyProof(fromSize: $f) { hashes toSize } }",
            json!({"f": first["size"]}),
        )
        .await,
    )["consistencyProof"]
        .clone();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old"), first["note"].as_str().unwrap()).unwrap();
    std::fs::write(dir.path().join("new"), note).unwrap();
    let lines: Vec<&str> = c["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    std::fs::write(dir.path().join("proof"), lines.join("\n")).unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let out = run_lvyue(
        &[
            "verify",
            "--old",
            &path("old"),
            "--new",
            &path("new"),
            "--consistency",
            &path("proof"),
            "--key",
            key,
        ],
        &[],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // C2SP endpoints: the checkpoint note, hash tiles for anyone, entry bundles for the bank.
    let (status, text) = srv.get("/checkpoint").await;
    assert_eq!((status, text.as_str()), (200, note));
    let tile = srv
        .client
        .get(srv.url(&format!("/tile/0/000.p/{size}")))
        .send()
        .await
        .unwrap();
    assert_eq!(tile.status(), 200);
    assert_eq!(tile.bytes().await.unwrap().len() as u64, 32 * size);
    let anon = srv
        .client
        .get(srv.url(&format!("/tile/entries/000.p/{size}")))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let entries = srv
        .client
        .get(srv.url(&format!("/tile/entries/000.p/{size}")))
        .bearer_auth(srv.token(&bank()))
        .send()
        .await
        .unwrap();
    assert_eq!(entries.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_can_follow_and_check_the_log_sqlite() {
    anyone_can_follow_and_check_the_log(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_can_follow_and_check_the_log_postgres() {
    anyone_can_follow_and_check_the_log(Backend::Postgres).await;
}

/// The database is replaced by an older backup and written to again: the node must not sign a
/// second history under the key that signed the first. It says so on `/readyz`, on
/// `/metrics` and in a CRITICAL alert, signs nothing, and hands out no evidence.
async fn a_node_on_an_older_backup_refuses_to_sign_another_history(backend: Backend) {
    let Some((mut srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    srv.sync_log().await;
    srv.stop().await;
    let backup = srv.db.backup().await;
    srv.restart_with(clock.clone(), |_| {}).await;
    paid_order(&srv, &w, "100.00").await;
    srv.sync_log().await;
    let published = served_checkpoint(&srv).await;
    let published_size = published["size"].as_u64().unwrap();
    let (status, _) = srv.get("/readyz").await;
    assert_eq!(status, 200);

    let _newer = srv.restart_on(backup, clock).await;
    let (status, body) = srv.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let reason = body["reasons"]["notary"].as_str().unwrap();
    assert!(reason.contains("older backup"), "{reason}");
    assert!(reason.contains(&published_size.to_string()), "{reason}");

    // Different events, past the size that was published: still nothing is signed.
    let mut order = String::new();
    for total in ["200.00", "300.00", "400.00"] {
        order = paid_order(&srv, &w, total).await;
    }
    let state = srv.running().state();
    let step = lvyue_api::notary::step(&state.escrow, &state.log, &state.metrics).await;
    assert!(
        matches!(step, Err(lvyue_domain::DomainError::LogHalted(_))),
        "{step:?}"
    );
    assert!(state.log.size() > published_size);
    let served = served_checkpoint(&srv).await;
    assert!(
        served["size"].as_u64().unwrap() < published_size,
        "{served}"
    );
    let (_, metrics) = srv.get("/metrics").await;
    assert!(metrics.contains("lvyue_notary_halted 1"), "{metrics}");

    let alerts = TestServer::ok(
        srv.gql(
            Some(&bank()),
            "{ alerts(first: 50) { edges { node { kind severity message } } } }",
            json!({}),
        )
        .await,
    );
    let halted: Vec<_> = alerts["alerts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["kind"] == "SIGNING_HALTED")
        .collect();
    assert_eq!(halted.len(), 1, "{alerts}");
    assert_eq!(halted[0]["node"]["severity"], "CRITICAL");

    // Evidence needs a checkpoint signed now: refused with a code the clerk can act on.
    let refused = srv
        .gql(
            Some(&w.court_principal()),
            "mutation($o: ID!) { evidenceBundle(caseNo: \"(2026)苏0102执123号\", orders: [$o]) }",
            json!({"o": order}),
        )
        .await;
    assert_eq!(
        crate::harness::first_code(&refused),
        "INVALID_STATE",
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_an_older_backup_refuses_to_sign_another_history_sqlite() {
    a_node_on_an_older_backup_refuses_to_sign_another_history(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_on_an_older_backup_refuses_to_sign_another_history_postgres() {
    a_node_on_an_older_backup_refuses_to_sign_another_history(Backend::Postgres).await;
}

async fn served_checkpoint(srv: &TestServer) -> serde_json::Value {
    TestServer::ok(
        srv.gql(None, "{ checkpoint { size note } }", json!({}))
            .await,
    )["checkpoint"]
        .clone()
}
