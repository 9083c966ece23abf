//! The HTTP server: one [`AppState`], the router assembled in [`router`], and [`start`], which
//! binds, serves until told to stop, drains in-flight requests and runs the shutdown hooks.
//!
//! Routes: `GET /` GraphiQL, `POST /graphql`, `/graphql/ws` (graphql-transport-ws),
//! `/healthz` (process alive), `/readyz` ([`Readiness`] checks), `/metrics` (OpenMetrics),
//! `/reports/<kind>.csv` (the regulator reports as streamed CSV, see `reports`).
//! Every route is timed, counted and logged (method, route pattern, status, latency; never
//! headers, bodies or tokens) and bounded by the request timeout; a panic in a handler is
//! answered 500 and the server carries on.

mod access;
mod graphql;
pub mod health;
mod listen;
mod middleware;
mod rate_limit;
mod reports;
mod tls;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use futures_util::future::BoxFuture;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;

use lvyue_domain::Escrow;
use lvyue_domain::clock::SystemClock;
use lvyue_domain::log::TransparencyLog;
use lvyue_migration::MigratorTrait as _;

use crate::auth::Authenticator;
use crate::config::{Config, DatabaseUrl};
use crate::graphql::limits::QueryLimits;
use crate::graphql::schema::{self, AppSchema};
use crate::graphql::system::ServerInfo;
use crate::metrics::{self, Metrics};

pub use health::{Readiness, ReadinessCheck, ReadinessReport};
pub use listen::MAX_CONNECTIONS;
pub use rate_limit::{RateKey, RateLimiter};
pub use tls::{ClientAddr, TlsListener};

/// How long shutdown waits for in-flight requests before closing the rest.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// How long each shutdown hook may run.
pub const SHUTDOWN_HOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a handler needs, built once at start. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub escrow: Arc<Escrow>,
    /// This node's view of the transparency log.
    pub log: Arc<TransparencyLog>,
    pub db: DatabaseConnection,
    pub metrics: Arc<Metrics>,
    /// This node's search indexer (its index is in the schema data for `search`).
    pub indexer: Arc<crate::indexer::Indexer>,
    pub schema: AppSchema,
    pub auth: Arc<Authenticator>,
    pub rate_limiter: Arc<RateLimiter>,
    /// Report downloads rendering at once (`GET /reports/…`).
    pub report_downloads: Arc<tokio::sync::Semaphore>,
    pub readiness: Arc<Readiness>,
    pub shutdown: ShutdownHandle,
    pub shutdown_hooks: Arc<ShutdownHooks>,
}

impl AppState {
    /// Opens and migrates the database and builds every shared service.
    ///
    /// The lead's additions (notary, search, demo data) belong here: add a readiness check with
    /// `Readiness::with`, a flush with `shutdown_hooks.add`, and data for resolvers in
    /// [`schema::build`].
    ///
    /// # Errors
    /// Invalid configuration, an unreachable database, a failed migration, unusable JWT keys.
    pub async fn build(config: Config) -> anyhow::Result<AppState> {
        AppState::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`AppState::build`] with another clock (tests move time forward to see settlement,
    /// expiry and deadlines; the demo loader replays months of history).
    ///
    /// # Errors
    /// As [`AppState::build`].
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn lvyue_domain::clock::Clock>,
    ) -> anyhow::Result<AppState> {
        config.validate()?;
        config.ensure_data_dir()?;
        let url = config.database_url();
        tracing::info!(
            bind = %config.bind,
            data_dir = %config.data_dir.display(),
            database = %DatabaseUrl::new(url.clone()).redacted(),
            jwt_alg = config.jwt.alg.as_str(),
            tls = config.tls.files().is_some(),
            "starting"
        );
        let db = lvyue_domain::db::connect(&url).await.with_context(|| {
            format!(
                "cannot open database {}",
                DatabaseUrl::new(url.clone()).redacted()
            )
        })?;
        lvyue_migration::Migrator::up(&db, None)
            .await
            .context("database migration failed")?;
        let vault = crate::keys::pii_vault(&config)?;
        let escrow = Arc::new(
            Escrow::new(db.clone(), clock, vault)
                .await
                .context("cannot read the log head")?,
        );
        let auth = Arc::new(Authenticator::from_config(&config.jwt, &config.data_dir)?);
        let notary_key = crate::notary::load_or_create_key(&config)?;
        let log = Arc::new(
            TransparencyLog::load(&db, notary_key)
                .await
                .context("cannot load the transparency log")?,
        );
        let metrics = Arc::new(Metrics::new());
        let indexer = Arc::new(open_indexer(&config).await?);
        metrics::set_gauge(
            &metrics.search_index_lag,
            crate::indexer::log_size(&db)
                .await?
                .saturating_sub(indexer.indexed_through()),
        );
        let info = ServerInfo {
            started_at: chrono::Utc::now(),
        };
        let schema = schema::build_with_search(
            escrow.clone(),
            log.clone(),
            info,
            QueryLimits::from(&config.limits),
            metrics.clone(),
            indexer.index().clone(),
        );
        let rate_limiter = Arc::new(RateLimiter::new(
            config.limits.rate_limit_per_minute,
            config.limits.rate_limit_burst,
        ));
        let readiness = Arc::new(
            Readiness::new()
                .with("database", health::database_check(db.clone()))
                .with(
                    "notary",
                    crate::notary::caught_up_check(escrow.clone(), log.clone()),
                ),
        );
        let shutdown_hooks = Arc::new(ShutdownHooks::default());
        // Releases the index's writer lock, so that `lvyue reindex` (or a restarted server)
        // can take it as soon as this one has stopped.
        shutdown_hooks.add("search index", {
            let indexer = indexer.clone();
            async move { indexer.close().await }
        });
        Ok(AppState {
            config: Arc::new(config),
            escrow,
            log,
            db,
            metrics,
            indexer,
            schema,
            auth,
            rate_limiter,
            report_downloads: Arc::new(tokio::sync::Semaphore::new(
                reports::MAX_CONCURRENT_DOWNLOADS,
            )),
            readiness,
            shutdown: ShutdownHandle::new(),
            shutdown_hooks,
        })
    }
}

/// Opens this node's search index and takes its writer (blocking I/O, off the async workers).
async fn open_indexer(config: &Config) -> anyhow::Result<crate::indexer::Indexer> {
    let dir = config.workers.search_path(&config.data_dir);
    tokio::task::spawn_blocking(move || crate::indexer::Indexer::open(&dir))
        .await
        .context("opening the search index failed")?
}

/// Assembles every route, in one place.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.limits.request_timeout();
    Router::new()
        .route("/", get(graphql::graphiql))
        .route("/graphql", post(graphql::graphql))
        .route("/graphql/ws", get(ws::graphql_ws))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/reports/{file}", get(reports::download))
        .route("/checkpoint", get(crate::notary::checkpoint))
        .route("/verifier-key", get(crate::notary::verifier_key))
        .route("/tile/{*rest}", get(crate::notary::tile))
        // route_layer: these see the matched route pattern (bounded metric labels).
        .route_layer(axum::middleware::from_fn_with_state(
            timeout,
            middleware::timeout,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            middleware::observe,
        ))
        .layer(DefaultBodyLimit::max(state.config.limits.max_body_bytes))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .with_state(state)
}

/// A running server: its address, a handle to stop it, and its task.
pub struct RunningServer {
    local_addr: SocketAddr,
    tls: bool,
    state: AppState,
    join: JoinHandle<()>,
}

impl RunningServer {
    /// The address actually bound (port 0 resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http(s)://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}://{}{}",
            if self.tls { "https" } else { "http" },
            self.local_addr,
            path
        )
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A handle that stops the server from anywhere (a signal handler, a test).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.state.shutdown.clone()
    }

    /// Stops accepting connections; in-flight requests finish (see [`RunningServer::wait`]).
    pub fn shutdown(&self) {
        self.state.shutdown.shutdown();
    }

    /// Waits until the server has stopped: every in-flight request answered (or
    /// [`SHUTDOWN_GRACE`] passed) and the shutdown hooks run.
    ///
    /// # Errors
    /// The server task panicked.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.join.await.context("server task failed")
    }
}

/// Binds `config.bind` (TLS when configured) and serves until [`RunningServer::shutdown`].
/// Runs migrations first. Use port 0 to let the OS choose (tests).
///
/// # Errors
/// See [`AppState::build`]; also an address in use or unusable TLS files.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    let state = AppState::build(config).await?;
    serve(state).await
}

/// Serves an already-built state.
///
/// # Errors
/// The address cannot be bound, or the TLS files cannot be used.
pub async fn serve(state: AppState) -> anyhow::Result<RunningServer> {
    let config = state.config.clone();
    let tcp = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let local_addr = tcp.local_addr()?;
    spawn_log_size_gauge(&state);
    crate::workers::spawn(&state);
    let app = router(state.clone());
    let stop = state.shutdown.clone();
    let hooks = state.shutdown_hooks.clone();
    // hyper's header-read timeout bounds the headers, the route timeout the rest.
    let header_timeout = config.limits.request_timeout();
    let (join, tls) = match config.tls.files() {
        None => {
            let serve = listen::serve_connections(tcp, app, stop.clone(), header_timeout);
            (tokio::spawn(drive(serve, stop, hooks)), false)
        }
        Some((cert, key)) => {
            let listener = TlsListener::new(tcp, tls::server_config(cert, key)?);
            let serve = listen::serve_connections(listener, app, stop.clone(), header_timeout);
            (tokio::spawn(drive(serve, stop, hooks)), true)
        }
    };
    tracing::info!(address = %local_addr, tls, "listening");
    Ok(RunningServer {
        local_addr,
        tls,
        state,
        join,
    })
}

/// Runs the server until it has drained after a shutdown (or the grace period passed), then
/// runs the shutdown hooks.
async fn drive(serve: impl Future<Output = ()>, stop: ShutdownHandle, hooks: Arc<ShutdownHooks>) {
    let grace_over = async {
        stop.stopped().await;
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        () = serve => {}
        () = grace_over => {
            tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "requests still open after the grace period; closing them");
        }
    }
    hooks.run().await;
    tracing::info!("server stopped");
}

/// Keeps `lvyue_log_size` equal to what this node has committed.
fn spawn_log_size_gauge(state: &AppState) {
    let mut rx = state.escrow.subscribe_log_size();
    let metrics = state.metrics.clone();
    let stop = state.shutdown.clone();
    tokio::spawn(async move {
        loop {
            metrics::set_gauge(&metrics.log_size, *rx.borrow_and_update());
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { break },
                () = stop.stopped() => break,
            }
        }
    });
}

/// Tells the server (and its background tasks and WebSocket sessions) to stop.
#[derive(Clone, Debug)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    fn new() -> ShutdownHandle {
        ShutdownHandle(Arc::new(watch::channel(false).0))
    }

    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown has been requested.
    pub async fn stopped(&self) {
        let mut rx = self.0.subscribe();
        // Err only if the sender is gone, which cannot happen while `self` holds it.
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Work to do after the last request is answered and before the process exits (flush the
/// search index, write a final checkpoint…), run in the order added.
#[derive(Default)]
pub struct ShutdownHooks(Mutex<Vec<(&'static str, BoxFuture<'static, ()>)>>);

impl ShutdownHooks {
    /// Adds a hook; `work` runs at shutdown, bounded by [`SHUTDOWN_HOOK_TIMEOUT`].
    pub fn add(
        &self,
        name: &'static str,
        work: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((name, Box::pin(work)));
    }

    async fn run(&self) {
        let hooks = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        for (name, work) in hooks {
            match tokio::time::timeout(SHUTDOWN_HOOK_TIMEOUT, work).await {
                Ok(()) => tracing::info!(hook = name, "shutdown hook done"),
                Err(_) => tracing::error!(hook = name, "shutdown hook timed out"),
            }
        }
    }
}

impl std::fmt::Debug for ShutdownHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(n, _)| *n)
            .collect();
        f.debug_tuple("ShutdownHooks").field(&names).finish()
    }
}
