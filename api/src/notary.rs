//! The node's notary: its signing key, the follower that keeps the in-memory tree in step with
//! the event table, signs checkpoints and has its witnesses cosign them, and the public C2SP
//! tlog-tiles endpoints (`/checkpoint`, `/tile/<L>/<N>[.p/<W>]`) that let standard tools and
//! monitors follow the log.
//! Entry bundles (`/tile/entries/…`) carry event contents, so they are served only to the bank.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sea_orm::EntityTrait;

use lvyue_domain::Escrow;
use lvyue_domain::alert::AlertKind;
use lvyue_domain::log::{StoredCheckpoint, TransparencyLog};
use lvyue_domain::published::ReportLogAlarm;
use lvyue_notary::SigningKey;

use crate::config::Config;
use crate::metrics::Metrics;

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
    let text = read_private(path)?;
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

/// Reads a secret file, refusing one that other users may read.
///
/// # Errors
/// The file cannot be read, or its mode lets others read it.
pub fn read_private(path: &Path) -> anyhow::Result<String> {
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
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
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
    witnesses: Arc<crate::cosign::Witnesses>,
    interval: Duration,
    stop: crate::shutdown::ShutdownHandle,
) {
    let mut grown = escrow.subscribe_log_size();
    let mut last_failure = None;
    loop {
        let signed = match step(&escrow, &log, &metrics).await {
            Ok(Some(c)) => witnesses.cosign(&escrow, &log, &c).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        match signed {
            Ok(()) => last_failure = None,
            // A halt repeats on every pass: said once (it is also an alert and on `/readyz`).
            Err(e) => {
                let text = e.to_string();
                if last_failure.as_ref() != Some(&text) {
                    tracing::warn!(error = %text, "notary follower step failed; retrying");
                }
                last_failure = Some(text);
            }
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

/// One sync and checkpoint; returns the newest stored checkpoint. A node that has stopped
/// signing (its database disagrees with a checkpoint it published) reports it, once per run,
/// as a CRITICAL alert and on `lvyue_notary_halted`.
///
/// # Errors
/// Database errors; [`DomainError::LogHalted`](lvyue_domain::DomainError::LogHalted).
pub async fn step(
    escrow: &Escrow,
    log: &TransparencyLog,
    metrics: &Metrics,
) -> Result<Option<StoredCheckpoint>, lvyue_domain::DomainError> {
    log.sync(escrow.db()).await?;
    let signed = log.checkpoint(escrow.db(), escrow.clock().now()).await;
    if let Some(reason) = log.halted() {
        // The gauge doubles as "already reported": a halt lasts for the rest of the run.
        if metrics.notary_halted.get() == 0 {
            escrow
                .execute(
                    &lvyue_domain::principal::Principal::system(),
                    None,
                    &ReportLogAlarm {
                        kind: AlertKind::SigningHalted,
                        reason,
                    },
                )
                .await?;
            metrics.notary_halted.set(1);
        }
    }
    let signed = signed?;
    if let Some(c) = &signed {
        metrics
            .checkpoint_size
            .set(i64::try_from(c.size).unwrap_or(i64::MAX));
    }
    Ok(signed)
}

/// Readiness: the node signs (it has not halted on a disagreement with what it published), and
/// its tree holds every committed event, or is within one follower interval of it. Behind by
/// more than [`CAUGHT_UP_SLACK`] events, the node is not ready.
pub fn caught_up_check(
    escrow: Arc<Escrow>,
    log: Arc<TransparencyLog>,
) -> impl crate::health::ReadinessCheck {
    move || {
        let escrow = escrow.clone();
        let log = log.clone();
        async move {
            if let Some(reason) = log.halted() {
                return Err(format!("signing is halted: {reason}"));
            }
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
