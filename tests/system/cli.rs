//! The `lvyue` command, run as a user runs it.

use crate::harness::{TestServer, first_code, on_both_backends, run_lvyue};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lvyue_token_mints_a_token_the_server_accepts() {
    let srv = TestServer::start().await;
    // The server honours tokens for registered parties only.
    let party = crate::world::registered(
        &srv,
        crate::world::as_regulator(
            "pty_1",
            &["3201", "3205"],
            &[lvyue_domain::principal::Industry::DrivingSchool],
        ),
    )
    .await
    .party_id
    .expect("party")
    .to_string();
    let data_dir = srv.data_dir().to_str().unwrap().to_owned();
    let out = run_lvyue(
        &[
            "token",
            "--role",
            "REGULATOR",
            "--party",
            &party,
            "--regions",
            "3201,3205",
            "--industries",
            "DRIVING_SCHOOL",
            "--ttl",
            "1h",
        ],
        &[("LVYUE_DATA_DIR", &data_dir)],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (status, body) = srv
        .graphql(
            Some(&token),
            "{ me { role partyId jurisdiction { regions industries } } }",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["role"], "REGULATOR");
    assert_eq!(body["data"]["me"]["partyId"], party.as_str());
    assert_eq!(
        body["data"]["me"]["jurisdiction"]["regions"],
        serde_json::json!(["3201", "3205"])
    );

    // A token from another data directory (another secret) is refused.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = run_lvyue(
        &["token", "--role", "BANK"],
        &[("LVYUE_DATA_DIR", elsewhere.path().to_str().unwrap())],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stranger = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (status, body) = srv.graphql(Some(&stranger), "{ me { role } }").await;
    assert_eq!(
        (status, first_code(&body)),
        (401, "UNAUTHENTICATED"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lvyue_token_refuses_what_the_server_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("LVYUE_DATA_DIR", dir.path().to_str().unwrap())];
    for args in [
        &["token", "--role", "ADMIN"][..],
        &["token", "--role", "MERCHANT"],
        &["token", "--role", "REGULATOR", "--party", "pty_1"],
        &["token", "--role", "BANK", "--ttl", "400d"],
        &["token", "--role", "BANK", "--ttl", "soon"],
    ] {
        let out = run_lvyue(args, &env).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(out.stdout.is_empty(), "{args:?} printed a token");
    }
}

on_both_backends!(lvyue_audit_passes_on_a_clean_database, |srv| {
    let out = run_lvyue(&["audit"], &[("LVYUE_DATABASE_URL", &srv.db.url)]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("clean"), "{stdout}");

    let out = run_lvyue(&["audit", "--json"], &[("LVYUE_DATABASE_URL", &srv.db.url)]).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["breaches"], serde_json::json!([]));
    srv.stop().await;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lvyue_migrate_creates_the_embedded_database_and_audit_finds_it_clean() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [("LVYUE_DATA_DIR", data.to_str().unwrap())];
    let out = run_lvyue(&["migrate"], &env).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(data.join("lvyue.db").exists());
    let out = run_lvyue(&["audit"], &env).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lvyue_schema_prints_the_committed_sdl() {
    let out = run_lvyue(&["schema"], &[]).await;
    assert!(out.status.success());
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../api/schema.graphql"
    ))
    .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lvyue_serve_answers_and_stops_cleanly_on_sigterm() {
    use tokio::io::AsyncBufReadExt as _;

    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(crate::harness::lvyue_binary())
        .arg("serve")
        .env_clear()
        .env("LVYUE_DATA_DIR", dir.path().join("data"))
        .env("LVYUE_BIND", "127.0.0.1:0")
        .env("LVYUE_LOG", "info")
        .env("LVYUE_LOG_FORMAT", "json")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // The address is in the JSON "listening" log line.
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if event["fields"]["message"] == "listening" {
                return event["fields"]["address"].as_str().unwrap().to_owned();
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server listens in time");
    let logs = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            all.push(line);
        }
        all
    });

    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let pid = child.id().unwrap().to_string();
    let kill = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .expect("exits in time")
        .unwrap();
    assert!(status.success(), "{status:?}");
    let logs = logs.await.unwrap().join("\n");
    assert!(logs.contains("server stopped"), "{logs}");
    assert!(!logs.contains("Bearer"), "no token in the logs");
}

/// A long task shows where it is on a terminal and nothing when its output is piped: `lvyue
/// audit` under a pseudo-terminal (`script`, util-linux) names its steps on standard error;
/// piped, its standard error has none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_drawn_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = [("LVYUE_DATA_DIR", data.to_str().unwrap())];
    assert!(run_lvyue(&["migrate"], &env).await.status.success());
    let piped = run_lvyue(&["audit"], &env).await;
    assert!(piped.status.success());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("audit: ledger"), "{stderr}");
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped the terminal half: `script` (util-linux) is not installed");
        return;
    }
    let typed = tokio::process::Command::new("script")
        .args(["-qfec"])
        .arg(format!(
            "{} audit",
            crate::harness::lvyue_binary().display()
        ))
        .arg("/dev/null")
        .env_clear()
        .env("LVYUE_DATA_DIR", &data)
        .env("LVYUE_LOG", "warn")
        .env("TERM", "xterm")
        .output()
        .await
        .unwrap();
    let seen = String::from_utf8_lossy(&typed.stdout);
    assert!(typed.status.success(), "{seen}");
    assert!(seen.contains("audit: ledger"), "{seen}");
    assert!(seen.contains("clean"), "{seen}");
}
