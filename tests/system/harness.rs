//! The system-test harness: a real server in this process on `127.0.0.1:0`, on a fresh
//! database (SQLite always, PostgreSQL when `LVYUE_TEST_POSTGRES_URL` is set), spoken to over
//! real HTTP with reqwest; tokens minted with the server's own key; and the real `lvyue`
//! program for CLI tests.
//!
//! ```ignore
//! let srv = TestServer::start().await;
//! let (status, body) = srv.graphql(Some(&srv.token(&bank())), "{ me { role } }").await;
//! ```

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use lvyue_api::auth::Minter;
use lvyue_api::config::{Config, DatabaseUrl};
use lvyue_api::server::RunningServer;
use std::sync::Arc;

use lvyue_domain::clock::{ManualClock, Timestamp};
use lvyue_domain::ids::PartyId;
use lvyue_domain::principal::{Industry, Jurisdiction, Principal, Role};
use lvyue_domain::testing::{Backend, TestDb};
use serde_json::Value;

/// A running server with its own database and data directory, dropped with the test.
pub struct TestServer {
    running: Option<RunningServer>,
    pub config: Config,
    pub db: TestDb,
    pub client: reqwest::Client,
    _data_dir: tempfile::TempDir,
}

impl TestServer {
    /// A server on SQLite with the default configuration.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// A server on SQLite, with `tweak` applied to its configuration.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let db = TestDb::sqlite().await;
        TestServer::start_on_db(db, tweak).await
    }

    /// A server on `backend` with `tweak` applied to its configuration, or `None` for
    /// PostgreSQL when it is not configured.
    pub async fn start_on_with(
        backend: Backend,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        let db = match backend {
            Backend::Sqlite => TestDb::sqlite().await,
            Backend::Postgres => TestDb::postgres().await?,
        };
        Some(TestServer::start_on_db(db, tweak).await)
    }

    async fn start_on_db(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestServer {
        TestServer::start_on_db_with_clock(db, tweak, None).await
    }

    /// A server on `backend` whose clock stands still at `start` until the test moves it; the
    /// background scheduler is slowed down so that the test fires jobs itself ([`tick`]).
    ///
    /// [`tick`]: TestServer::tick
    pub async fn start_at(
        backend: Backend,
        start: Timestamp,
    ) -> Option<(TestServer, Arc<ManualClock>)> {
        TestServer::start_at_with(backend, start, |_| {}).await
    }

    /// [`start_at`](TestServer::start_at), with `tweak` applied to the configuration.
    pub async fn start_at_with(
        backend: Backend,
        start: Timestamp,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<(TestServer, Arc<ManualClock>)> {
        let db = match backend {
            Backend::Sqlite => TestDb::sqlite().await,
            Backend::Postgres => TestDb::postgres().await?,
        };
        let clock = Arc::new(ManualClock::new(start));
        let srv = TestServer::start_on_db_with_clock(
            db,
            |c| {
                c.workers.scheduler_interval_ms = 3_600_000;
                tweak(c);
            },
            Some(clock.clone()),
        )
        .await;
        Some((srv, clock))
    }

    async fn start_on_db_with_clock(
        db: TestDb,
        tweak: impl FnOnce(&mut Config),
        clock: Option<Arc<ManualClock>>,
    ) -> TestServer {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new(data_dir.path().join("data"));
        config.bind = "127.0.0.1:0".parse().expect("address");
        config.database_url = Some(DatabaseUrl::new(db.url.clone()));
        config.log.filter = "warn".into();
        tweak(&mut config);
        let running = match clock {
            None => lvyue_api::start(config.clone())
                .await
                .expect("server starts"),
            Some(clock) => {
                let state = lvyue_api::AppState::build_with_clock(config.clone(), clock)
                    .await
                    .expect("state builds");
                lvyue_api::server::serve(state)
                    .await
                    .expect("server starts")
            }
        };
        // The scheduler's first pass warns the bank when the loaded holiday calendar ends
        // within 60 days of today (a real clock late in the last loaded year). That warning is
        // idempotent per day, so taking it here means a test starts after it was written and
        // never races it when it counts the log.
        lvyue_domain::calendar::store::warn_if_ending(&running.state().escrow)
            .await
            .expect("calendar check");
        let client = client_for(&config);
        TestServer {
            running: Some(running),
            config,
            db,
            client,
            _data_dir: data_dir,
        }
    }

    /// Fires every job that is due now, until none is left, as the scheduler would.
    pub async fn tick(&self) -> u32 {
        let escrow = &self.running().state().escrow;
        let mut fired = 0;
        loop {
            let r = lvyue_domain::jobs::tick(escrow)
                .await
                .expect("scheduler tick");
            fired += r.fired;
            if r.fired == 0 {
                return fired;
            }
        }
    }

    /// Brings the node's tree up to date and signs a checkpoint, as the follower would.
    pub async fn sync_log(&self) {
        let state = self.running().state();
        lvyue_api::notary::step(&state.escrow, &state.log, &state.metrics)
            .await
            .expect("notary step");
    }

    /// POSTs a query with variables as `principal`.
    pub async fn gql(&self, principal: Option<&Principal>, query: &str, variables: Value) -> Value {
        let token = principal.map(|p| self.token(p));
        let (status, body) = self
            .graphql_with(
                token.as_deref(),
                serde_json::json!({ "query": query, "variables": variables }),
            )
            .await;
        assert!(
            status == 200 || body.get("errors").is_some(),
            "status {status}: {body}"
        );
        body
    }

    /// Like [`gql`](TestServer::gql), but the answer must have no errors; returns `data`.
    #[track_caller]
    pub fn ok(body: Value) -> Value {
        assert!(
            body.get("errors")
                .is_none_or(|e| e.as_array().is_some_and(Vec::is_empty)),
            "errors: {body}"
        );
        body["data"].clone()
    }

    pub fn running(&self) -> &RunningServer {
        self.running.as_ref().expect("server is running")
    }

    pub fn url(&self, path: &str) -> String {
        self.running().url(path)
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// The minter that signs with the server's own HS256 key.
    pub fn minter(&self) -> Minter {
        Minter::from_config(&self.config.jwt, &self.config.data_dir, None).expect("minter")
    }

    /// A valid token for `principal`, for an hour.
    pub fn token(&self, principal: &Principal) -> String {
        self.minter()
            .mint(principal, Duration::from_secs(3600))
            .expect("token")
    }

    /// POSTs `{"query": query}` with an optional bearer token.
    pub async fn graphql(&self, token: Option<&str>, query: &str) -> (u16, Value) {
        self.graphql_with(token, serde_json::json!({ "query": query }))
            .await
    }

    /// POSTs a JSON body with an optional bearer token.
    pub async fn graphql_with(&self, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.client.post(self.url("/graphql")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.expect("request sent")).await
    }

    /// POSTs raw bytes to `/graphql` with the given `Authorization` header value.
    pub async fn post_raw(&self, authorization: Option<&str>, body: Vec<u8>) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        read(req.send().await.expect("request sent")).await
    }

    /// GETs `path`: status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown();
            r.wait().await.expect("clean shutdown");
        }
    }

    /// Takes the running server out (to drive its shutdown by hand).
    pub fn take_running(&mut self) -> RunningServer {
        self.running.take().expect("server is running")
    }

    /// Stops the server (if running) and starts a new one on the same database and data
    /// directory, with `tweak` applied to the configuration and `clock` as its clock.
    pub async fn restart_with(&mut self, clock: Arc<ManualClock>, tweak: impl FnOnce(&mut Config)) {
        self.stop().await;
        tweak(&mut self.config);
        let state = lvyue_api::AppState::build_with_clock(self.config.clone(), clock)
            .await
            .expect("state builds");
        self.running = Some(
            lvyue_api::server::serve(state)
                .await
                .expect("server starts"),
        );
    }
}

impl TestServer {
    /// Stops the server and starts it again on `db` instead of its database (as an operator
    /// restoring a backup would), keeping its data directory. Returns the database it had.
    pub async fn restart_on(&mut self, db: TestDb, clock: Arc<ManualClock>) -> TestDb {
        self.stop().await;
        self.config.database_url = Some(DatabaseUrl::new(db.url.clone()));
        let before = std::mem::replace(&mut self.db, db);
        self.restart_with(clock, |_| {}).await;
        before
    }
}

fn client_for(config: &Config) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(60));
    if let Some((cert, _)) = config.tls.files() {
        let pem = std::fs::read(cert).expect("certificate");
        builder = builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM certificate"));
    }
    builder.build().expect("client")
}

/// Status and JSON body (a body that is not JSON comes back as a JSON string).
pub async fn read(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The `extensions.code` of the first error.
pub fn first_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no code>")
}

pub fn bank() -> Principal {
    Principal::bank("test-bank-operator")
}

pub fn merchant() -> Principal {
    Principal {
        subject: "test-merchant".into(),
        role: Role::Merchant,
        party_id: Some(PartyId(11)),
        jurisdiction: Jurisdiction::default(),
    }
}

pub fn payer() -> Principal {
    Principal {
        subject: "test-payer".into(),
        role: Role::Payer,
        party_id: Some(PartyId(12)),
        jurisdiction: Jurisdiction::default(),
    }
}

pub fn regulator() -> Principal {
    Principal {
        subject: "test-regulator".into(),
        role: Role::Regulator,
        party_id: Some(PartyId(13)),
        jurisdiction: Jurisdiction {
            regions: vec!["3201".parse().expect("prefix")],
            industries: vec![Industry::DrivingSchool],
        },
    }
}

pub fn court() -> Principal {
    Principal {
        subject: "test-court".into(),
        role: Role::Court,
        party_id: Some(PartyId(14)),
        jurisdiction: Jurisdiction::default(),
    }
}

/// The `lvyue` program (built by cargo for this test binary), or the copy named by
/// `LVYUE_BINARY_UNDER_TEST` (a long run keeps its own copy while the tree is rebuilt).
pub fn lvyue_binary() -> PathBuf {
    std::env::var_os("LVYUE_BINARY_UNDER_TEST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_lvyue-under-test")))
}

/// Runs `lvyue args…` with only the given `LVYUE_*` variables (nothing inherited, so a
/// developer's environment cannot point a test at a real database).
pub async fn run_lvyue(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(lvyue_binary());
    cmd.args(args).env_clear().env("LVYUE_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("lvyue finished in time")
        .expect("lvyue runs")
}

/// Runs a test body against a server on SQLite, and again on PostgreSQL when configured:
/// `on_both_backends!(name, |srv| { … });` makes `name::sqlite` and `name::postgres`.
macro_rules! on_both_backends {
    ($name:ident, |$srv:ident| $body:block) => {
        $crate::harness::on_both_backends!($name, tweak = |_| {}, |$srv| $body);
    };
    ($name:ident, tweak = $tweak:expr, |$srv:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                #[allow(unused_mut)]
                let mut $srv = $crate::harness::TestServer::start_on_with(
                    lvyue_domain::testing::Backend::Sqlite,
                    $tweak,
                )
                .await
                .expect("sqlite");
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::harness::TestServer::start_on_with(
                    lvyue_domain::testing::Backend::Postgres,
                    $tweak,
                )
                .await
                {
                    #[allow(unused_mut)]
                    Some(mut $srv) => $body,
                    None => eprintln!(
                        "skipped: {} is not set",
                        lvyue_domain::testing::POSTGRES_ENV
                    ),
                }
            }
        }
    };
}
pub(crate) use on_both_backends;
