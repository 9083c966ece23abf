//! The node's notary: its signing key, the follower that keeps the in-memory tree in step with
//! the event table and signs checkpoints, and the public C2SP tlog-tiles endpoints
//! (`/checkpoint`, `/tile/<L>/<N>[.p/<W>]`) that let standard tools and monitors follow the log.
//! Entry bundles (`/tile/entries/…`) carry event contents, so they are served only to the bank.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use lvyue_domain::Escrow;
use lvyue_domain::log::{TransparencyLog, latest_checkpoint};
use lvyue_domain::principal::Role;
use lvyue_notary::SigningKey;
use lvyue_notary::tiles::{TileKind, TilePath, encode_entry_bundle, encode_tile};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::server::AppState;

/// Reads the notary key, or generates it (mode 0600) on first start.
///
/// # Errors
/// The file cannot be read or written, is readable by others, holds no valid key, or names
/// another log than the configured origin.
pub fn load_or_create_key(config: &Config) -> anyhow::Result<SigningKey> {
    let path = config.notary.key_path(&config.data_dir);
    if !path.exists() {
        let key = SigningKey::generate(&config.notary.origin)
            .map_err(|e| anyhow::anyhow!("notary origin {:?}: {e}", config.notary.origin))?;
        write_private(&path, &key.to_private_text())?;
        tracing::warn!(path = %path.display(), "generated the notary key: back it up; every node of this log needs the same key");
        return Ok(key);
    }
    read_key(&path, &config.notary.origin)
}

/// Reads a notary key file, refusing one readable by others or for another origin.
///
/// # Errors
/// As [`load_or_create_key`].
pub fn read_key(path: &Path, origin: &str) -> anyhow::Result<SigningKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "{} is readable by other users; run `chmod 600` on it",
                path.display()
            );
        }
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let key = SigningKey::parse(text.trim())
        .map_err(|e| anyhow::anyhow!("{} holds no notary key: {e}", path.display()))?;
    if key.name() != origin {
        bail!(
            "the notary key in {} is for log {:?}, but this node is configured for {:?}",
            path.display(),
            key.name(),
            origin
        );
    }
    Ok(key)
}

/// Writes a new file readable only by its owner; refuses to overwrite.
///
/// # Errors
/// The file exists or cannot be written.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Follows the event table and signs checkpoints until the server stops: wakes on this node's
/// commits and at least every `interval` (for other nodes' commits).
pub async fn follow(
    escrow: Arc<Escrow>,
    log: Arc<TransparencyLog>,
    metrics: Arc<Metrics>,
    interval: Duration,
    stop: crate::server::ShutdownHandle,
) {
    let mut grown = escrow.subscribe_log_size();
    loop {
        if let Err(e) = step(&escrow, &log, &metrics).await {
            tracing::warn!(error = %e, "notary follower step failed; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = grown.changed() => {
                // Batch a burst of commits into one checkpoint per interval at most.
                tokio::time::sleep(interval / 4).await;
            }
            () = stop.stopped() => {
                let _ = step(&escrow, &log, &metrics).await;
                return;
            }
        }
    }
}

/// One sync and checkpoint.
///
/// # Errors
/// Database errors.
pub async fn step(
    escrow: &Escrow,
    log: &TransparencyLog,
    metrics: &Metrics,
) -> Result<(), lvyue_domain::DomainError> {
    log.sync(escrow.db()).await?;
    if let Some(c) = log.checkpoint(escrow.db(), escrow.clock().now()).await? {
        metrics
            .checkpoint_size
            .set(i64::try_from(c.size).unwrap_or(i64::MAX));
    }
    Ok(())
}

/// `GET /checkpoint`: the newest signed checkpoint note.
pub async fn checkpoint(State(state): State<AppState>) -> Response {
    match latest_checkpoint(&state.db).await {
        Ok(Some(c)) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            c.note,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "the log is empty\n").into_response(),
        Err(e) => {
            tracing::error!(error = ?e, "reading the checkpoint");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// `GET /verifier-key`: the log's public key in C2SP vkey form.
pub async fn verifier_key(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}\n", state.log.verifier_key()),
    )
        .into_response()
}

/// `GET /tile/*path`: hash tiles (public) and entry bundles (bank only), C2SP tlog-tiles.
pub async fn tile(
    State(state): State<AppState>,
    UrlPath(rest): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(path) = TilePath::parse(&format!("tile/{rest}")) else {
        return (StatusCode::NOT_FOUND, "no such tile\n").into_response();
    };
    let width = (!path.is_full()).then_some(path.width);
    match path.kind {
        TileKind::Hashes { level } => match state.log.tile(level, path.index, width) {
            Some(hashes) => octets(encode_tile(&hashes), width.is_none()),
            None => (StatusCode::NOT_FOUND, "no such tile\n").into_response(),
        },
        TileKind::Entries => {
            let principal = headers
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok())
                .map(|h| state.auth.authenticate_header(Some(h)));
            match principal {
                Some(Ok(Some(p))) if p.role == Role::Bank => {}
                Some(Ok(Some(_))) => {
                    return (
                        StatusCode::FORBIDDEN,
                        "entry bundles carry event contents: bank only\n",
                    )
                        .into_response();
                }
                _ => {
                    return (
                        StatusCode::UNAUTHORIZED,
                        "entry bundles carry event contents: send a bank token\n",
                    )
                        .into_response();
                }
            }
            entries(&state, path.index, path.width).await
        }
    }
}

async fn entries(state: &AppState, index: u64, width: u16) -> Response {
    let first = index * 256;
    let count = u64::from(width);
    if first + count > state.log.size() {
        return (StatusCode::NOT_FOUND, "no such tile\n").into_response();
    }
    let rows = lvyue_entity::event::Entity::find()
        .filter(lvyue_entity::event::Column::Seq.gte(first as i64))
        .filter(lvyue_entity::event::Column::Seq.lt((first + count) as i64))
        .order_by_asc(lvyue_entity::event::Column::Seq)
        .all(&state.db)
        .await;
    match rows {
        Ok(rows) if rows.len() as u64 == count => {
            let bodies: Vec<&[u8]> = rows.iter().map(|r| r.canonical.as_bytes()).collect();
            match encode_entry_bundle(&bodies) {
                Ok(b) => octets(b, width == 256),
                Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response(),
            }
        }
        _ => (StatusCode::NOT_FOUND, "no such tile\n").into_response(),
    }
}

fn octets(bytes: Vec<u8>, immutable: bool) -> Response {
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response()
}

/// Readiness: the node's tree holds every committed event, or is within one follower interval
/// of it. Behind by more than [`CAUGHT_UP_SLACK`] events, the node is not ready.
pub fn caught_up_check(
    escrow: Arc<Escrow>,
    log: Arc<TransparencyLog>,
) -> impl crate::server::health::ReadinessCheck {
    move || {
        let escrow = escrow.clone();
        let log = log.clone();
        async move {
            let head = lvyue_entity::log_head::Entity::find_by_id(1)
                .one(escrow.db())
                .await
                .map_err(|e| e.to_string())?
                .map(|h| h.size)
                .unwrap_or(0);
            let behind = u64::try_from(head).unwrap_or(0).saturating_sub(log.size());
            if behind > CAUGHT_UP_SLACK {
                Err(format!("the notary is {behind} events behind the log"))
            } else {
                Ok(())
            }
        }
    }
}

/// Events a follower may trail by between two of its passes and still count as caught up.
pub const CAUGHT_UP_SLACK: u64 = 1_000;
