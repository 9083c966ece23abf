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
