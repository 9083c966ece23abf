//! Stopping the node: the signal every background task and WebSocket session waits on, and the
//! work left to do after the last answer (flush the search index, write a final checkpoint).
//! A leaf of the API crate: everything that runs long imports it, it imports nothing of ours.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::watch;

/// How long each shutdown hook may run.
pub const SHUTDOWN_HOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// Tells the server (and its background tasks and WebSocket sessions) to stop.
#[derive(Clone, Debug)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    pub(crate) fn new() -> ShutdownHandle {
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

    pub(crate) async fn run(&self) {
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

/// Resolves on SIGINT or SIGTERM.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the server")
            }
        }
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::error!(error = %e, "cannot listen for SIGINT");
        std::future::pending::<()>().await;
    }
}
