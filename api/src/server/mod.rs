//! The HTTP server: one [`AppState`], the router assembled in [`router`], and [`start`], which
//! binds, serves until told to stop, drains in-flight requests and runs the shutdown hooks.
//!
//! Routes: `GET /` the GraphQL console (and its files under `/console/`), `POST /graphql`, `/graphql/ws` (graphql-transport-ws),
//! `/healthz` (process alive), `/readyz` ([`Readiness`] checks), `/metrics` (OpenMetrics),
//! `/reports/<kind>.csv` (the regulator reports as streamed CSV, see `reports`), `/verify` (a
//! court's evidence bundle checked in the browser, see `verifier`).
//! Every response carries an `x-request-id` (the client's or a proxy's, else a new UUID), and
//! every log line written while serving the request names it. Every route is timed, counted and
//! logged (method, route pattern, status, latency; never headers, bodies or tokens) and bounded
//! by the request timeout; a panic in a handler is answered 500 and the server carries on.

mod access;
mod console;
mod graphql;
mod health;
mod listen;
mod middleware;
mod notary;
mod reports;
mod tls;
mod verifier;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::Config;
use crate::metrics::{self};

pub use crate::health::{Readiness, ReadinessCheck, ReadinessReport};
pub use crate::rate_limit::{RateKey, RateLimiter};
pub use crate::shutdown::{SHUTDOWN_HOOK_TIMEOUT, ShutdownHandle, ShutdownHooks};
pub use crate::state::AppState;
pub use listen::MAX_CONNECTIONS;
pub use tls::{ClientAddr, TlsListener};

/// How long shutdown waits for in-flight requests before closing the rest.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Assembles every route, in one place.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.limits.request_timeout();
    let routes = Router::new()
        .route("/", get(console::index))
        .route("/console/{file}", get(console::asset))
        .route("/graphql", post(graphql::graphql))
        .route("/graphql/ws", get(ws::graphql_ws))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/reports/{file}", get(reports::download))
        .route("/checkpoint", get(notary::checkpoint))
        .route("/verifier-key", get(notary::verifier_key))
        .route("/tile/{*rest}", get(notary::tile))
        .route("/verify", get(verifier::page))
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
        .layer(CatchPanicLayer::custom(middleware::panic_response));
    middleware::with_request_ids(routes).with_state(state)
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
