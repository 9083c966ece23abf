//! The newest checkpoint this node has published, kept in a file outside the database, and
//! the halt that follows when the database disagrees with it (docs/operations.md, "A log that
//! must not fork").
//!
//! A signed checkpoint is a promise about every leaf up to its size. The database alone cannot
//! keep that promise: restored from an older backup and written to again, it would lead the
//! node to sign a different root for a size it had already published, with the same key, and
//! the log would fork. So the node writes each checkpoint to this file before it stores or
//! serves it, and before signing compares its tree with the file: the tree must reach the
//! published size and have the published root there. When it does not, the node stops
//! signing for as long as it runs, says why on `/readyz` and raises a CRITICAL alert; only an
//! operator who has put the published history back (docs/operations.md) can start it again.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::json;

use lvyue_notary::{Checkpoint, Hash, VerifierKey};

use crate::alert::{AlertKind, NewAlert, Severity};
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;

/// The file, in the data directory, that holds the newest checkpoint note this node published.
pub const PUBLISHED_CHECKPOINT_FILE: &str = "published-checkpoint";

/// What this node has promised, and whether it has stopped signing.
#[derive(Debug)]
pub struct PublishedCheckpoint {
    path: PathBuf,
    key: VerifierKey,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last: Option<Checkpoint>,
    halted: Option<String>,
}

impl PublishedCheckpoint {
    /// Reads `path` (absent: this node has published nothing yet).
    ///
    /// # Errors
    /// The file cannot be read, or does not hold a checkpoint note signed by `key` for its log:
    /// the node then refuses to start rather than guess what it promised.
    pub fn open(path: &Path, key: VerifierKey) -> DomainResult<PublishedCheckpoint> {
        let last = match std::fs::read_to_string(path) {
            Ok(note) => Some(Checkpoint::open(&note, &key).map_err(|e| {
                DomainError::Internal(format!(
                    "{} holds no checkpoint of this log signed by its key: {e}",
                    path.display()
                ))
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(DomainError::Internal(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        Ok(PublishedCheckpoint {
            path: path.to_owned(),
            key,
            state: Mutex::new(State { last, halted: None }),
        })
    }

    /// The size and root of the newest checkpoint published.
    pub fn last(&self) -> Option<(u64, Hash)> {
        self.lock().ok()?.last.as_ref().map(|c| (c.size, c.root))
    }

    /// Why the node stopped signing, once it has.
    pub fn halted(&self) -> Option<String> {
        self.lock().ok().and_then(|s| s.halted.clone())
    }

    /// Compares a tree of `size` leaves (whose root at any size `root_at` gives) with what was
    /// published. A disagreement halts the node for the rest of its run.
    ///
    /// # Errors
    /// [`DomainError::LogHalted`] when halted, now or before.
    pub fn check(
        &self,
        size: u64,
        root_at: impl FnOnce(u64) -> DomainResult<Hash>,
    ) -> DomainResult<()> {
        let mut state = self.lock()?;
        if let Some(reason) = &state.halted {
            return Err(DomainError::LogHalted(reason.clone()));
        }
        let Some(last) = &state.last else {
            return Ok(());
        };
        let reason = if size < last.size {
            format!(
                "the database holds {size} events, but this node has published a checkpoint of {} \
                 (in {}): the database may have been restored from an older backup",
                last.size,
                self.path.display()
            )
        } else {
            let root = root_at(last.size)?;
            if root == last.root {
                return Ok(());
            }
            format!(
                "the database's first {} events have root {}, but this node published root {} for \
                 that size (in {}): the events were changed or replaced",
                last.size,
                root.to_base64(),
                last.root.to_base64(),
                self.path.display()
            )
        };
        tracing::error!(
            severity = "CRITICAL",
            reason = %reason,
            "the log would fork: this node stops signing checkpoints"
        );
        state.halted = Some(reason.clone());
        Err(DomainError::LogHalted(reason))
    }

    /// Records `note` as published, durably, before anyone can be shown it. Older or equal
    /// sizes than the one on file are ignored.
    ///
    /// # Errors
    /// The note does not verify with this log's key; the file cannot be written.
    pub fn record(&self, note: &str) -> DomainResult<()> {
        let checkpoint = Checkpoint::open(note, &self.key)?;
        let mut state = self.lock()?;
        if state
            .last
            .as_ref()
            .is_some_and(|l| l.size >= checkpoint.size)
        {
            return Ok(());
        }
        write_replacing(&self.path, note).map_err(|e| {
            DomainError::Internal(format!("cannot write {}: {e}", self.path.display()))
        })?;
        state.last = Some(checkpoint);
        Ok(())
    }

    fn lock(&self) -> DomainResult<std::sync::MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| DomainError::Internal("published checkpoint lock poisoned".into()))
    }
}

/// Replaces `path` with `text` so that a crash leaves either the old file or the new one: a
/// temporary file beside it, synced, renamed over it, and the directory synced.
///
/// # Errors
/// The directory or file cannot be created, written or synced.
pub fn write_replacing(path: &Path, text: &str) -> std::io::Result<()> {
    // A name of its own per write: two writers (a node stopping while its successor starts)
    // must not rename each other's file away.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp.{}.{n}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Puts an alarm about the log on the record — this node stopped signing, or a witness refused
/// its checkpoint as a fork: a CRITICAL alert for the bank (once while it is open) and an
/// event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportLogAlarm {
    /// [`AlertKind::SigningHalted`] or [`AlertKind::WitnessRefused`].
    pub kind: AlertKind,
    pub reason: String,
}

impl Command for ReportLogAlarm {
    type Output = ();
    const NAME: &'static str = "reportLogAlarm";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<()> {
        let details = json!({ "reason": self.reason });
        let message = match self.kind {
            AlertKind::SigningHalted => "this node has stopped signing checkpoints",
            AlertKind::WitnessRefused => "a witness refused this log's checkpoint as a fork",
            other => {
                return Err(DomainError::Invariant(format!(
                    "{other} is not an alarm about the log"
                )));
            }
        };
        let raised = crate::alert::raise(
            tx,
            NewAlert::new(
                self.kind,
                Severity::Critical,
                format!("{message}: {}", self.reason),
            )
            .details(details.clone())
            .dedupe(format!("log-alarm:{}", self.kind)),
        )
        .await?;
        if raised.is_none() {
            tx.emit(NewEvent::new("notary.alarm", details));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use lvyue_notary::{SigningKey, Tree};

    use super::*;

    fn leaf(i: u8) -> Hash {
        lvyue_notary::leaf_hash(&[i])
    }

    fn tree(leaves: &[u8]) -> Tree {
        Tree::from_leaf_hashes(leaves.iter().map(|i| leaf(*i)).collect())
    }

    fn note(key: &SigningKey, t: &Tree) -> String {
        Checkpoint::new(key.name(), t.size(), t.root())
            .sign(key)
            .unwrap()
    }

    fn check(p: &PublishedCheckpoint, t: &Tree) -> DomainResult<()> {
        p.check(t.size(), |n| Ok(t.root_at(n)?))
    }

    #[test]
    fn a_tree_that_extends_what_was_published_may_be_signed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PUBLISHED_CHECKPOINT_FILE);
        let key = SigningKey::from_seed("lvyue.test/escrow-log", [3; 32]).unwrap();
        let p = PublishedCheckpoint::open(&path, key.verifier_key()).unwrap();
        assert_eq!(p.last(), None);
        p.record(&note(&key, &tree(&[1, 2, 3]))).unwrap();
        check(&p, &tree(&[1, 2, 3, 4])).unwrap();

        // Read back by the next run of the node, an older note changes nothing.
        let again = PublishedCheckpoint::open(&path, key.verifier_key()).unwrap();
        assert_eq!(again.last().map(|(s, _)| s), Some(3));
        again.record(&note(&key, &tree(&[1, 2]))).unwrap();
        assert_eq!(again.last().map(|(s, _)| s), Some(3));
        assert!(again.halted().is_none());
    }

    #[test]
    fn a_shorter_or_different_tree_halts_signing_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PUBLISHED_CHECKPOINT_FILE);
        let key = SigningKey::from_seed("lvyue.test/escrow-log", [3; 32]).unwrap();
        let p = PublishedCheckpoint::open(&path, key.verifier_key()).unwrap();
        p.record(&note(&key, &tree(&[1, 2, 3]))).unwrap();

        let behind = PublishedCheckpoint::open(&path, key.verifier_key()).unwrap();
        let err = check(&behind, &tree(&[1, 2])).unwrap_err();
        assert!(matches!(err, DomainError::LogHalted(ref r) if r.contains("older backup")));

        let forked = PublishedCheckpoint::open(&path, key.verifier_key()).unwrap();
        let err = check(&forked, &tree(&[1, 2, 9, 4])).unwrap_err();
        assert!(matches!(err, DomainError::LogHalted(ref r) if r.contains("changed or replaced")));
        // Even a tree that agrees again is refused: only a restart after repair clears it.
        assert!(check(&forked, &tree(&[1, 2, 3])).is_err());
        assert!(forked.halted().is_some());
    }

    #[test]
    fn a_file_not_signed_by_this_log_stops_the_node_from_starting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PUBLISHED_CHECKPOINT_FILE);
        let ours = SigningKey::from_seed("lvyue.test/escrow-log", [3; 32]).unwrap();
        let other = SigningKey::from_seed("lvyue.test/escrow-log", [4; 32]).unwrap();
        std::fs::write(&path, note(&other, &tree(&[1]))).unwrap();
        assert!(PublishedCheckpoint::open(&path, ours.verifier_key()).is_err());
    }
}
