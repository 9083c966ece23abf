//! A real `lvyue serve` process (the binary, not the library in this process): started on a
//! data directory and a database URL, spoken to over HTTP, stopped with SIGTERM or killed
//! with SIGKILL. The crash, two-node and data-at-rest tests run the program exactly as an
//! operator would.
//!
//! ```ignore
//! let env = NodeEnv::new(srv.data_dir(), &srv.db.url);
//! let node = Node::start(&env).await;
//! let body = node.post(Some(&env.token(&bank())), "{ me { role } }", json!({})).await?;
//! node.kill().await;
//! ```

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;

use lvyue_api::auth::Minter;
use lvyue_api::config::Config;
use lvyue_domain::principal::Principal;

use crate::harness::{lvyue_binary, run_lvyue};

/// How long a node may take to start listening (migrations and the tree load included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one HTTP request to a node may take before the test calls it lost.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Log lines kept per node, shown when something fails.
const KEPT_LOG_LINES: usize = 200;

/// Where a node keeps its state and which database it uses, plus any other `LVYUE_*` settings.
#[derive(Clone, Debug)]
pub struct NodeEnv {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub extra: Vec<(String, String)>,
}

impl NodeEnv {
    /// A node on `database_url` keeping its keys in `data_dir`. Rate limiting is off (the tests
    /// drive thousands of requests as one principal) and checkpoints are signed every 100 ms, so
    /// that kills land between, during and after signing.
    pub fn new(data_dir: &Path, database_url: &str) -> NodeEnv {
        NodeEnv {
            data_dir: data_dir.to_owned(),
            database_url: database_url.to_owned(),
            extra: vec![
                ("LVYUE_RATE_LIMIT_PER_MINUTE".into(), "0".into()),
                ("LVYUE_CHECKPOINT_INTERVAL_MS".into(), "100".into()),
            ],
        }
    }

    /// The variables the node runs with.
    pub fn vars(&self) -> Vec<(String, String)> {
        let mut v = vec![
            (
                "LVYUE_DATA_DIR".to_owned(),
                self.data_dir.display().to_string(),
            ),
            ("LVYUE_DATABASE_URL".to_owned(), self.database_url.clone()),
        ];
        v.extend(self.extra.iter().cloned());
        v
    }

    /// A token for `principal`, signed with the secret in the data directory (as `lvyue token`
    /// would sign it).
    pub fn token(&self, principal: &Principal) -> String {
        let config = Config::new(&self.data_dir);
        Minter::from_config(&config.jwt, &self.data_dir, None)
            .expect("minter from the data directory")
            .mint(principal, Duration::from_secs(24 * 3600))
            .expect("token")
    }

    /// Runs `lvyue audit --json` on this node's database and data directory (so stored
    /// checkpoints are checked with the notary key too): the breaches, empty when clean.
    pub async fn audit(&self) -> Vec<Value> {
        let vars = self.vars();
        let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = run_lvyue(&["audit", "--json"], &env).await;
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "lvyue audit printed no report ({e}); exit {:?}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let breaches = report["breaches"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            out.status.code(),
            Some(if breaches.is_empty() { 0 } else { 1 }),
            "lvyue audit exit code disagrees with its report: {report}"
        );
        breaches
    }
}

/// A running `lvyue serve`.
pub struct Node {
    child: tokio::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    client: reqwest::Client,
    logs: Arc<Mutex<VecDeque<String>>>,
}

impl Node {
    /// Starts `lvyue serve` and waits until it listens.
    pub async fn start(env: &NodeEnv) -> Node {
        let mut cmd = tokio::process::Command::new(lvyue_binary());
        cmd.arg("serve")
            .env_clear()
            .env("LVYUE_BIND", "127.0.0.1:0")
            .env("LVYUE_LOG", "warn,lvyue_api::server=info")
            .env("LVYUE_LOG_FORMAT", "json")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env.vars() {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("lvyue serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let kept = logs.clone();
        // Drain stderr for the node's whole life (a full pipe would block the server), keep the
        // last lines, and report the address from the "listening" line.
        tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && event["fields"]["message"] == "listening"
                    && let Some(addr) = event["fields"]["address"].as_str()
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.to_owned());
                }
                let mut kept = kept.lock().expect("log lock");
                if kept.len() == KEPT_LOG_LINES {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        let addr = match tokio::time::timeout(START_TIMEOUT, rx).await {
            Ok(Ok(addr)) => addr,
            _ => {
                let _ = child.start_kill();
                let status = child.wait().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!(
                    "lvyue serve did not start listening ({status:?}); its log:\n{}",
                    logs.lock()
                        .expect("log lock")
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        };
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("client");
        Node {
            child,
            base: format!("http://{addr}"),
            client,
            logs,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs a GraphQL request: the JSON body of whatever HTTP answer came back, or the
    /// transport error (the node is gone, or never answered).
    pub async fn post(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Result<Value, reqwest::Error> {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .json(&serde_json::json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let text = resp.text().await?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Like [`post`](Node::post) for a request that must succeed: its `data`.
    #[track_caller]
    pub fn ok(body: Value) -> Value {
        crate::harness::TestServer::ok(body)
    }

    /// GETs `path`: status and text.
    pub async fn get(&self, path: &str) -> Result<(u16, String), reqwest::Error> {
        let resp = self.client.get(self.url(path)).send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await?))
    }

    /// The last lines the node logged.
    pub fn recent_logs(&self) -> String {
        self.logs
            .lock()
            .expect("log lock")
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the node has not been reaped")
    }

    /// SIGKILL: no shutdown, no flush, no goodbye. Returns once the process is gone (it may
    /// have been killed by pid already).
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        self.child.wait().await.expect("killed node reaped");
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop(mut self) {
        let pid = self.child.id().expect("node is running").to_string();
        let sent = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill runs");
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the node stops in time")
            .expect("node reaped");
        assert!(
            status.success(),
            "{status:?}; its log:\n{}",
            self.recent_logs()
        );
    }
}
