//! This log's side of witnessing (C2SP tlog-witness): each new checkpoint goes to every
//! configured witness with a consistency proof from the last size that witness cosigned, and
//! the cosignature lines that come back, checked with the witness's key, are stored beside the
//! checkpoint. `/checkpoint`, `checkpoint { cosignatures }` and evidence bundles carry them.
//!
//! A witness that answers "inconsistent" (422) says this log forked: that is a CRITICAL alert
//! for the bank, and the witness is not asked again until the node restarts (an operator must
//! look first; asking every interval would only write an alarm event each time).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lvyue_domain::Escrow;
use lvyue_domain::alert::AlertKind;
use lvyue_domain::log::{self as dlog, StoredCheckpoint, TransparencyLog};
use lvyue_domain::principal::Principal;
use lvyue_domain::published::ReportLogAlarm;
use lvyue_notary::witness::AddCheckpoint;

use crate::config::WitnessEndpoint;

/// How long one witness may take to answer.
const WITNESS_TIMEOUT: Duration = Duration::from_secs(10);

/// The configured witnesses and what this node believes each last cosigned.
#[derive(Debug)]
pub struct Witnesses {
    endpoints: Vec<WitnessEndpoint>,
    client: reqwest::Client,
    /// Witness label → the size it last cosigned, as its last answer said.
    sizes: Mutex<HashMap<String, u64>>,
    /// Witnesses that refused a checkpoint as a fork: not asked again in this run (an
    /// operator must look first), and the alarm is raised once.
    refused: Mutex<HashSet<String>>,
    /// The largest checkpoint size every witness has cosigned: the follower offers the same
    /// checkpoint on every pass, and this spares the database the question.
    all_cosigned: AtomicU64,
}

/// Why one submission did not bring a cosignature.
#[derive(Debug, thiserror::Error)]
enum Missed {
    #[error("the witness has already cosigned size {0}, beyond this checkpoint")]
    Ahead(u64),
    #[error("the witness refused the checkpoint as inconsistent with what it cosigned: {0}")]
    Forked(String),
    #[error("{0}")]
    Failed(String),
}

impl Witnesses {
    /// # Errors
    /// The HTTP client cannot be built (no TLS backend).
    pub fn new(endpoints: Vec<WitnessEndpoint>) -> anyhow::Result<Witnesses> {
        Ok(Witnesses {
            endpoints,
            client: reqwest::Client::builder()
                .timeout(WITNESS_TIMEOUT)
                .build()?,
            sizes: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashSet::new()),
            all_cosigned: AtomicU64::new(0),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Asks every witness that has not cosigned the newest stored checkpoint to cosign it.
    ///
    /// # Errors
    /// Database errors.
    pub async fn cosign_latest(
        &self,
        escrow: &Escrow,
        log: &TransparencyLog,
    ) -> Result<(), lvyue_domain::DomainError> {
        if let Some(c) = dlog::latest_checkpoint(escrow.db()).await? {
            self.cosign(escrow, log, &c).await?;
        }
        Ok(())
    }

    /// Asks every witness that has not cosigned `checkpoint` to cosign it, concurrently, and
    /// stores what comes back.
    ///
    /// # Errors
    /// Database errors.
    pub async fn cosign(
        &self,
        escrow: &Escrow,
        log: &TransparencyLog,
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), lvyue_domain::DomainError> {
        if self.is_empty() || checkpoint.size <= self.all_cosigned.load(Ordering::Relaxed) {
            return Ok(());
        }
        let done = dlog::cosigners_at(escrow.db(), checkpoint.size).await?;
        let mut cosigned = done.len();
        let refused = self.refused.lock().map(|r| r.clone()).unwrap_or_default();
        let asks = self
            .endpoints
            .iter()
            .filter(|w| !done.contains(&w.key.label()) && !refused.contains(&w.key.label()))
            .map(|w| async move { (w, self.submit(w, log, checkpoint).await) });
        for (w, answer) in futures_util::future::join_all(asks).await {
            match answer {
                Ok((line, time)) => {
                    dlog::store_cosignature(
                        escrow.db(),
                        checkpoint.size,
                        &w.key.label(),
                        &line,
                        time,
                        escrow.clock().now(),
                    )
                    .await?;
                    cosigned += 1;
                }
                Err(Missed::Ahead(_)) => {}
                Err(Missed::Forked(reason)) => {
                    if let Ok(mut r) = self.refused.lock() {
                        r.insert(w.key.label());
                    }
                    tracing::error!(severity = "CRITICAL", witness = %w.url, reason = %reason, "a witness refused this log's checkpoint as a fork");
                    escrow
                        .execute(
                            &Principal::system(),
                            None,
                            &ReportLogAlarm {
                                kind: AlertKind::WitnessRefused,
                                reason: format!("witness {} ({}): {reason}", w.key.name(), w.url),
                            },
                        )
                        .await?;
                }
                Err(Missed::Failed(reason)) => {
                    tracing::warn!(witness = %w.url, reason = %reason, "no cosignature from a witness; trying again with the next checkpoint");
                }
            }
        }
        if cosigned == self.endpoints.len() {
            self.all_cosigned
                .fetch_max(checkpoint.size, Ordering::Relaxed);
        }
        Ok(())
    }

    /// One witness, one checkpoint: at most two requests (the second after the witness named
    /// the size it holds). Returns the checked cosignature line and its time.
    async fn submit(
        &self,
        w: &WitnessEndpoint,
        log: &TransparencyLog,
        checkpoint: &StoredCheckpoint,
    ) -> Result<(String, u64), Missed> {
        let label = w.key.label();
        let mut old = self.known(&label);
        for _ in 0..2 {
            if old > checkpoint.size {
                return Err(Missed::Ahead(old));
            }
            let proof = if old == 0 || old == checkpoint.size {
                Vec::new()
            } else {
                log.consistency_proof(old, checkpoint.size)
                    .map_err(|e| Missed::Failed(format!("no consistency proof from {old}: {e}")))?
            };
            let body = AddCheckpoint {
                old,
                proof,
                checkpoint: checkpoint.note.clone(),
            }
            .to_string();
            let resp = self
                .client
                .post(format!("{}/add-checkpoint", w.url))
                .body(body)
                .send()
                .await
                .map_err(|e| Missed::Failed(format!("unreachable: {e}")))?;
            let status = resp.status().as_u16();
            let text = resp
                .text()
                .await
                .map_err(|e| Missed::Failed(format!("unreadable answer: {e}")))?;
            match status {
                200 => {
                    let line = text
                        .lines()
                        .find(|l| l.starts_with(&format!("\u{2014} {} ", w.key.name())))
                        .map(|l| format!("{l}\n"))
                        .ok_or_else(|| Missed::Failed("no cosignature by its key".into()))?;
                    let time = w
                        .key
                        .verify(&format!("{}{line}", checkpoint.note))
                        .map_err(|e| Missed::Failed(format!("its cosignature: {e}")))?;
                    self.remember(&label, checkpoint.size);
                    return Ok((line, time));
                }
                409 => {
                    old = text.trim().parse().map_err(|_| {
                        Missed::Failed(format!("409 without a size: {:?}", text.trim()))
                    })?;
                    self.remember(&label, old);
                }
                422 => return Err(Missed::Forked(text)),
                other => return Err(Missed::Failed(format!("HTTP {other}: {}", text.trim()))),
            }
        }
        Err(Missed::Failed("the witness's size kept changing".into()))
    }

    fn known(&self, label: &str) -> u64 {
        self.sizes
            .lock()
            .map(|s| s.get(label).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    fn remember(&self, label: &str, size: u64) {
        if let Ok(mut s) = self.sizes.lock() {
            s.insert(label.to_owned(), size);
        }
    }
}
