//! The accept loop: HTTP/1.1 connections, plain or TLS, served by hyper with the router.
//!
//! Why not `axum::serve`: it offers no header-read timeout, so a client could hold a
//! connection forever by sending headers one byte at a time. Here every connection has
//! hyper's header-read timeout (which also closes idle keep-alive connections), the number
//! of open connections is bounded ([`MAX_CONNECTIONS`]), and shutdown is graceful: stop
//! accepting, let each connection finish the request it is serving, then return.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;

use super::{ClientAddr, ShutdownHandle};

/// Connections served at once; further clients wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 4096;

/// Serves connections from `listener` until `stop`, then waits for every open connection to
/// finish its request in flight. WebSocket sessions end on `stop` by themselves.
pub(super) async fn serve_connections<L>(
    mut listener: L,
    app: Router,
    stop: ShutdownHandle,
    header_read_timeout: Duration,
) where
    L: Listener<Addr = SocketAddr>,
{
    // Every connection task holds a receiver; `closed()` resolves when the last one is gone.
    let (open_tx, open_rx) = watch::channel(());
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            biased;
            () = stop.stopped() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (io, addr) = tokio::select! {
            biased;
            () = stop.stopped() => break,
            conn = listener.accept() => conn,
        };
        let service = TowerToHyperService::new(app.clone().map_request(
            move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(ClientAddr(addr)));
                req
            },
        ));
        let stop = stop.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let conn = builder
                .serve_connection(TokioIo::new(io), service)
                .with_upgrades();
            tokio::pin!(conn);
            let mut draining = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    () = stop.stopped(), if !draining => {
                        // Finish the request in flight (if any), then close.
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(open);
            drop(permit);
        });
    }
    drop(listener);
    drop(open_rx);
    open_tx.closed().await;
}
