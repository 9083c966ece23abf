//! The documented examples cannot rot: every query in `docs/queries/<role>/` runs against the
//! demo data as that role and succeeds; and the README's first command behaves as written.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use lvyue_api::demo::{self, Size};
use lvyue_domain::clock::Timestamp;
use lvyue_domain::principal::{Principal, Role};
use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, lvyue_binary};

fn queries_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/queries")
}

/// `(query, variables)` of every example in a role's directory, in file order.
fn examples(role_dir: &str) -> Vec<(String, String, Value)> {
    let dir = queries_dir().join(role_dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples in {}", dir.display());
    files
        .into_iter()
        .map(|f| {
            let vars = std::fs::read_to_string(f.with_extension("json"))
                .map(|t| serde_json::from_str(&t).unwrap())
                .unwrap_or(json!({}));
            (
                f.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&f).unwrap(),
                vars,
            )
        })
        .collect()
}

/// Every example in docs/queries, as its role, against the small demo.
async fn every_documented_query_runs_against_the_demo_as_its_role(backend: Backend) {
    // The demo replays its history (from 2026-06-01) on a clock of its own and fires its own
    // jobs. The server stands on a clock of its own before that history begins, and its
    // scheduler keeps still: on today's clock it would find the replay's jobs long due and fire
    // them in the middle of the replay (a day's settlement before that day's later payments,
    // which then never settle), and anything it wrote at today's time would push every later
    // command of the replay to today. `serve --demo` loads before the workers start.
    let before_the_demo = Timestamp::china_midnight("2026-05-31".parse().unwrap());
    let Some((srv, _clock)) = TestServer::start_at(backend, before_the_demo).await else {
        return;
    };
    let parties = demo::load(&srv.running().state().db, &srv.config, Size::Small)
        .await
        .unwrap();
    srv.sync_log().await;
    let principals = demo::principals(&parties).unwrap();
    let by_role = |role: Role| -> Principal {
        principals
            .iter()
            .find(|(_, p)| p.role == role)
            .unwrap()
            .1
            .clone()
    };
    let mut ran = 0;
    for (dir, who) in [
        ("public", None),
        ("bank", Some(by_role(Role::Bank))),
        ("merchant", Some(by_role(Role::Merchant))),
        ("payer", Some(by_role(Role::Payer))),
        ("regulator", Some(by_role(Role::Regulator))),
        ("court", Some(by_role(Role::Court))),
        ("confirmer", Some(by_role(Role::Confirmer))),
    ] {
        for (file, query, vars) in examples(dir) {
            let body = srv.gql(who.as_ref(), &query, vars).await;
            assert!(
                body.get("errors").is_none(),
                "docs/queries/{dir}/{file}: {body}"
            );
            let data = &body["data"];
            assert!(
                data.as_object()
                    .is_some_and(|o| o.values().all(|v| !v.is_null())),
                "docs/queries/{dir}/{file} returned nulls: {body}"
            );
            ran += 1;
        }
    }
    assert!(ran >= 10, "ran {ran} examples");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_query_runs_against_the_demo_as_its_role_sqlite() {
    every_documented_query_runs_against_the_demo_as_its_role(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_query_runs_against_the_demo_as_its_role_postgres() {
    every_documented_query_runs_against_the_demo_as_its_role(Backend::Postgres).await;
}

/// The README's first command, on a fresh data directory: the demo loads, the server answers,
/// each printed token works for its role; a second `--demo` on the same data refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_demo_command_works_on_a_fresh_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(lvyue_binary())
        .args(["serve", "--demo", "--demo-size", "small"])
        .env_clear()
        .env("LVYUE_DATA_DIR", &data)
        .env("LVYUE_BIND", format!("127.0.0.1:{port}"))
        .env("LVYUE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut line = String::new();
    use tokio::io::AsyncBufReadExt as _;
    // The banner ends with the hint to try docs/queries.
    while !line.starts_with("Try the queries") {
        line.clear();
        let n = tokio::time::timeout(Duration::from_secs(300), stdout.read_line(&mut line))
            .await
            .expect("demo loads")
            .unwrap();
        assert!(n > 0, "server exited early: {lines:?}");
        lines.push(line.trim_end().to_owned());
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("Console: http://127.0.0.1:{port}/"))),
        "{lines:?}"
    );
    let token_after = |label: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(label))
            .map(|i| lines[i + 1].clone())
            .unwrap()
    };
    let client = reqwest::Client::new();
    for (label, role) in [
        ("BANK", "BANK"),
        ("MERCHANT", "MERCHANT"),
        ("PAYER", "PAYER"),
        ("REGULATOR", "REGULATOR"),
        ("COURT", "COURT"),
    ] {
        let token = token_after(label);
        let body: Value = client
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .bearer_auth(&token)
            .json(&json!({"query": "{ me { role } }"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["data"]["me"]["role"], role, "{label}: {body}");
    }
    child.kill().await.unwrap();
    let again = crate::harness::run_lvyue(
        &["serve", "--demo"],
        &[
            ("LVYUE_DATA_DIR", data.to_str().unwrap()),
            ("LVYUE_BIND", "127.0.0.1:0"),
        ],
    )
    .await;
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
