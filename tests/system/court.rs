//! A court through GraphQL: freeze, blocked release, deduction, and an evidence bundle that the
//! real `lvyue verify` accepts offline (and refuses once tampered with).

use serde_json::json;

use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, bank, first_code, run_lvyue};
use crate::world::{driving_school, monday, paid_order, shenzhen_policy};

async fn a_court_freezes_deducts_and_verifies_its_evidence(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let order = paid_order(&srv, &w, "1000.00").await;
    clock.advance_days(1);
    srv.tick().await;
    let court = w.court_principal();
    let hold = TestServer::ok(
        srv.gql(Some(&court), "mutation($o: ID!) { courtFreeze(order: $o, amount: \"700.00\", caseNo: \"(2026)苏0102执123号\", priority: 1, idempotencyKey: \"f1\") { id status remaining } }", json!({"o": order})).await,
    )["courtFreeze"]
        .clone();
    assert_eq!(hold["status"], "ACTIVE");
    // 750.00 in escrow, 700.00 frozen: the 150.00 tranche cannot go out.
    TestServer::ok(srv.gql(Some(&w.confirmer_principal()), "mutation($o: ID!) { confirmMilestone(order: $o, index: 1, as: EVIDENCE, evidence: \"科目一\", idempotencyKey: \"e1\") { released { amount } } }", json!({"o": order})).await);
    let blocked = srv.gql(Some(&bank()), "mutation($o: ID!) { releaseMilestone(order: $o, idempotencyKey: \"rel\") { released { amount } } }", json!({"o": order})).await;
    assert_eq!(first_code(&blocked), "INSUFFICIENT_FUNDS");
    // A merchant cannot unfreeze; the court deducts 200.00 to its account.
    let nope = srv
        .gql(
            Some(&w.merchant_principal()),
            "mutation($h: ID!) { courtUnfreeze(hold: $h, idempotencyKey: \"u0\") { id } }",
            json!({"h": hold["id"]}),
        )
        .await;
    assert_eq!(first_code(&nope), "FORBIDDEN");
    let after = TestServer::ok(srv.gql(Some(&court), "mutation($h: ID!) { courtDeduct(hold: $h, amount: \"200.00\", idempotencyKey: \"d1\") { remaining } }", json!({"h": hold["id"]})).await);
    assert_eq!(after["courtDeduct"]["remaining"], "500.00");

    srv.sync_log().await;
    let bundle = TestServer::ok(
        srv.gql(
            Some(&court),
            "mutation($o: ID!) { evidenceBundle(caseNo: \"(2026)苏0102执123号\", orders: [$o]) }",
            json!({"o": order}),
        )
        .await,
    )["evidenceBundle"]
        .clone();
    let kinds: Vec<&str> = bundle["orders"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for k in [
        "order.opened",
        "payment.collected",
        "order.settled",
        "milestone.released",
        "court.freeze",
        "court.deduct",
    ] {
        assert!(kinds.contains(&k), "{k} not in {kinds:?}");
    }
    assert_eq!(
        bundle["orders"][0]["payer_name"], "段誉",
        "a court sees the person's data"
    );
    let key = TestServer::ok(srv.gql(None, "{ notaryKey }", json!({})).await)["notaryKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
    let out = run_lvyue(
        &["verify", "--bundle", file.to_str().unwrap(), "--key", &key],
        &[],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("verified"), "{stdout}");
    // One changed amount in one event, and the bundle no longer verifies.
    let tampered = serde_json::to_string(&bundle)
        .unwrap()
        .replacen("1000.00", "100.00", 1);
    std::fs::write(&file, tampered).unwrap();
    let out = run_lvyue(
        &["verify", "--bundle", file.to_str().unwrap(), "--key", &key],
        &[],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("FAILED"));

    // Each event's tlog-proof also verifies on its own.
    let ev = &bundle["orders"][0]["events"][0];
    std::fs::write(
        dir.path().join("entry.json"),
        ev["canonical"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("entry.tlog-proof"),
        ev["tlog_proof"].as_str().unwrap(),
    )
    .unwrap();
    let out = run_lvyue(
        &[
            "verify",
            "--entry",
            dir.path().join("entry.json").to_str().unwrap(),
            "--proof",
            dir.path().join("entry.tlog-proof").to_str().unwrap(),
            "--key",
            &key,
        ],
        &[],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_freezes_deducts_and_verifies_its_evidence_sqlite() {
    a_court_freezes_deducts_and_verifies_its_evidence(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_freezes_deducts_and_verifies_its_evidence_postgres() {
    a_court_freezes_deducts_and_verifies_its_evidence(Backend::Postgres).await;
}
