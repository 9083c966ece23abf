//! Witnesses (C2SP tlog-witness): two `lvyue witness` services follow the log; every checkpoint
//! is cosigned by both, served with their cosignatures and carried into evidence bundles, which
//! `lvyue verify --witness-key` checks. When the database is replaced by an older backup and
//! other events are appended, the node refuses to sign, and a witness shown the forked
//! checkpoint refuses it with its evidence.

use std::sync::Arc;

use serde_json::{Value, json};

use lvyue_api::config::WitnessEndpoint;
use lvyue_api::witness::Witness;
use lvyue_domain::clock::Clock as _;
use lvyue_domain::log::StoredCheckpoint;
use lvyue_domain::testing::Backend;
use lvyue_notary::witness::AddCheckpoint;
use lvyue_notary::{Checkpoint, CosignerKey, SigningKey};

use crate::harness::{TestServer, bank, run_lvyue};
use crate::world::{driving_school, monday, paid_order, shenzhen_policy};

/// A witness serving on a port of its own, for as long as the test holds it.
struct RunningWitness {
    witness: Arc<Witness>,
    url: String,
    _dir: tempfile::TempDir,
}

async fn start_witness(name: &str, log_key: &str) -> RunningWitness {
    let dir = tempfile::tempdir().unwrap();
    let witness = Arc::new(Witness::open(dir.path(), Some(name), &[log_key.to_owned()]).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, witness.clone().router()).into_future());
    RunningWitness {
        witness,
        url,
        _dir: dir,
    }
}

impl RunningWitness {
    fn key(&self) -> CosignerKey {
        self.witness.public_key()
    }

    fn endpoint(&self) -> WitnessEndpoint {
        format!("{} {}", self.url, self.key()).parse().unwrap()
    }
}

async fn served_checkpoint(srv: &TestServer) -> Value {
    TestServer::ok(
        srv.gql(None, "{ checkpoint { size note cosignatures } }", json!({}))
            .await,
    )["checkpoint"]
        .clone()
}

async fn cosign(srv: &TestServer) {
    srv.sync_log().await;
    let state = srv.running().state();
    state
        .witnesses
        .cosign_latest(&state.escrow, &state.log)
        .await
        .unwrap();
}

async fn every_checkpoint_is_cosigned_and_a_fork_is_refused(backend: Backend) {
    // The log's key exists before the node starts, so that the witnesses can be told of it.
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("notary.key");
    let origin = lvyue_api::config::Config::new(keys.path()).notary.origin;
    let log_key = SigningKey::generate(&origin).unwrap();
    lvyue_api::notary::write_private(&key_file, &log_key.to_private_text()).unwrap();
    let vkey = log_key.verifier_key().to_string();
    let w1 = start_witness("court.example/witness", &vkey).await;
    let w2 = start_witness("regulator.example/witness", &vkey).await;
    let Some((mut srv, clock)) = TestServer::start_at_with(backend, monday(), |c| {
        c.notary.key_file = Some(key_file.clone());
        c.notary.witnesses = vec![w1.endpoint(), w2.endpoint()];
    })
    .await
    else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    cosign(&srv).await;
    let first = served_checkpoint(&srv).await;
    assert_eq!(
        first["cosignatures"].as_array().unwrap().len(),
        2,
        "{first}"
    );

    // The log grows: each witness checks a consistency proof from what it cosigned before.
    srv.stop().await;
    let backup = srv.db.backup().await;
    srv.restart_with(clock.clone(), |_| {}).await;
    let order = paid_order(&srv, &w, "100.00").await;
    cosign(&srv).await;
    let second = served_checkpoint(&srv).await;
    assert!(second["size"].as_u64() > first["size"].as_u64());
    let (_, cosigned) = srv.get("/checkpoint").await;
    assert!(cosigned.starts_with(second["note"].as_str().unwrap()));
    for witness in [&w1, &w2] {
        witness.key().verify(&cosigned).unwrap();
    }

    // Evidence carries the cosignatures; `lvyue verify` counts the witnesses it is given.
    let court = w.court_principal();
    let bundle = TestServer::ok(
        srv.gql(
            Some(&court),
            "mutation($o: ID!) { evidenceBundle(caseNo: \"(2026)苏0102执123号\", orders: [$o]) }",
            json!({"o": order}),
        )
        .await,
    )["evidenceBundle"]
        .clone();
    assert_eq!(
        bundle["cosignatures"].as_array().unwrap().len(),
        2,
        "{bundle}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, bundle.to_string()).unwrap();
    let (k1, k2) = (w1.key().to_string(), w2.key().to_string());
    let stranger = lvyue_notary::Cosigner::from_seed("other.example/witness", [8; 32])
        .unwrap()
        .public_key()
        .to_string();
    let verify = |extra: Vec<String>| {
        let mut args = vec![
            "verify".to_owned(),
            "--bundle".to_owned(),
            file.display().to_string(),
            "--key".to_owned(),
            vkey.clone(),
        ];
        args.extend(extra);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_lvyue(&args, &[]).await
        }
    };
    let both = verify(vec![
        "--witness-key".into(),
        k1.clone(),
        "--witness-key".into(),
        k2.clone(),
    ])
    .await;
    let said = String::from_utf8_lossy(&both.stdout).into_owned();
    assert!(both.status.success(), "{said}");
    assert!(said.contains("cosigned by court.example/witness"), "{said}");
    let three = verify(vec![
        "--witness-key".into(),
        k1.clone(),
        "--witness-key".into(),
        k2.clone(),
        "--witness-key".into(),
        stranger.clone(),
    ])
    .await;
    assert_eq!(three.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&three.stdout).contains("2 of the 3 witnesses"),
        "{}",
        String::from_utf8_lossy(&three.stdout)
    );
    let two_of_three = verify(vec![
        "--witness-key".into(),
        k1,
        "--witness-key".into(),
        stranger,
        "--min-witnesses".into(),
        "1".into(),
    ])
    .await;
    assert!(two_of_three.status.success());

    // The same in the clerk's browser.
    if let Some(browser) = crate::browser::Browser::start().await {
        browser.client.goto(&srv.url("/verify")).await.unwrap();
        let text = bundle.to_string();
        let (outcome, summary) = crate::verifier::verify_witnessed_in_page(
            &browser,
            &text,
            &vkey,
            &format!("{}\n{}", w1.key(), w2.key()),
        )
        .await;
        assert_eq!(outcome, "verified", "{summary}");
        assert!(summary.contains("court.example/witness"), "{summary}");
        let (outcome, summary) = crate::verifier::verify_witnessed_in_page(
            &browser,
            &text,
            &vkey,
            &format!(
                "{}\n{}",
                w1.key(),
                lvyue_notary::Cosigner::from_seed("other.example/witness", [8; 32])
                    .unwrap()
                    .public_key()
            ),
        )
        .await;
        assert_eq!(outcome, "failed", "{summary}");
        assert!(summary.contains("1 of the 2 witnesses"), "{summary}");
        browser.screenshot("verifier-witnessed").await;
        browser.close().await;
    }

    // What the witnesses last cosigned (the bundle's own checkpoint, or a later one).
    cosign(&srv).await;
    let last = served_checkpoint(&srv).await;
    assert_eq!(last["cosignatures"].as_array().unwrap().len(), 2, "{last}");

    // An older backup, and other events after it: the node does not sign them.
    let _newer = srv.restart_on(backup, clock.clone()).await;
    for total in ["210.00", "320.00", "430.00", "540.00", "650.00"] {
        paid_order(&srv, &w, total).await;
    }
    let state = srv.running().state();
    let step = lvyue_api::notary::step(&state.escrow, &state.log, &state.metrics).await;
    assert!(step.is_err(), "the node signed a second history");
    // Signed anyway (a node that lost its record of what it published): the witness refuses
    // the fork, and answers with the checkpoint it cosigned.
    let witnessed = last["size"].as_u64().unwrap();
    let size = state.log.size();
    assert!(size > witnessed);
    let forked = Checkpoint::new(&origin, size, state.log.root_at(size).unwrap())
        .sign(&log_key)
        .unwrap();
    let request = AddCheckpoint {
        old: witnessed,
        proof: state.log.consistency_proof(witnessed, size).unwrap(),
        checkpoint: forked.clone(),
    };
    let refused = reqwest::Client::new()
        .post(format!("{}/add-checkpoint", w1.url))
        .body(request.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let evidence = refused.text().await.unwrap();
    assert!(evidence.contains("forked"), "{evidence}");
    assert!(
        evidence.contains(last["note"].as_str().unwrap()),
        "{evidence}"
    );

    // The node, shown that refusal, tells the bank.
    let fork = StoredCheckpoint {
        size,
        root: state.log.root_at(size).unwrap(),
        note: forked,
        created_at: clock.now(),
    };
    state
        .witnesses
        .cosign(&state.escrow, &state.log, &fork)
        .await
        .unwrap();
    let alerts = TestServer::ok(
        srv.gql(
            Some(&bank()),
            "{ alerts(first: 50) { edges { node { kind severity } } } }",
            json!({}),
        )
        .await,
    );
    let kinds: Vec<&Value> = alerts["alerts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["kind"])
        .collect();
    assert!(kinds.contains(&&json!("WITNESS_REFUSED")), "{alerts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_checkpoint_is_cosigned_and_a_fork_is_refused_sqlite() {
    every_checkpoint_is_cosigned_and_a_fork_is_refused(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_checkpoint_is_cosigned_and_a_fork_is_refused_postgres() {
    every_checkpoint_is_cosigned_and_a_fork_is_refused(Backend::Postgres).await;
}

/// `lvyue witness` as an operator runs it: it creates its key, prints it and where it listens,
/// and cosigns a first checkpoint of the log it follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_witness_command_cosigns_a_log_it_follows() {
    use tokio::io::AsyncBufReadExt as _;

    let dir = tempfile::tempdir().unwrap();
    let log = SigningKey::from_seed("bank.example/escrow-log", [4; 32]).unwrap();
    let mut child = tokio::process::Command::new(crate::harness::lvyue_binary())
        .args([
            "witness",
            "--witness-dir",
            &dir.path().join("w").display().to_string(),
            "--name",
            "court.example/witness",
            "--listen",
            "127.0.0.1:0",
            "--follow",
            &log.verifier_key().to_string(),
        ])
        .env_clear()
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut key, mut url) = (None, None);
    while url.is_none() {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("the witness printed where it listens");
        if let Some(k) = line.strip_prefix("witness key: ") {
            key = Some(k.parse::<CosignerKey>().unwrap());
        }
        if let Some(u) = line.strip_prefix("listening on ") {
            url = Some(u.to_owned());
        }
    }
    let root = lvyue_notary::leaf_hash(b"first event");
    let note = Checkpoint::new("bank.example/escrow-log", 1, root)
        .sign(&log)
        .unwrap();
    let request = AddCheckpoint {
        old: 0,
        proof: vec![],
        checkpoint: note.clone(),
    };
    let resp = reqwest::Client::new()
        .post(format!("{}/add-checkpoint", url.unwrap()))
        .body(request.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let line = resp.text().await.unwrap();
    key.expect("the witness printed its key")
        .verify(&format!("{note}{line}"))
        .unwrap();
    child.kill().await.unwrap();
}
