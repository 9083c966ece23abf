//! `lvyue witness`: a witness that a court or a regulator runs, apart from the bank, so that the
//! bank's log cannot show one history to some and another to others (C2SP tlog-witness,
//! cosignatures per C2SP tlog-cosignature; docs/operations.md, "Witnesses").
//!
//! It has its own Ed25519 key (generated into its directory on first start) and a list of the
//! logs it follows, each by its verifier key. For each log it keeps, in a file, the last
//! checkpoint it cosigned; it cosigns a new one only when a consistency proof shows that it
//! extends that one, and otherwise refuses — with the checkpoint it holds, the evidence of a
//! fork. `POST /add-checkpoint` is the whole interface.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use clap::Args;
use sha2::{Digest as _, Sha256};

use lvyue_notary::witness::{self, AddCheckpoint, Refusal, Witnessed};
use lvyue_notary::{Checkpoint, Cosigner, CosignerKey, VerifierKey};

/// The witness's key file in its directory.
pub const KEY_FILE: &str = "witness.key";

/// Largest request accepted: a checkpoint note with room for many signatures, and the proof.
const MAX_REQUEST_BYTES: usize = lvyue_notary::note::MAX_NOTE_BYTES + 8 * 1024;

#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// Where the witness keeps its key and what it cosigned (created 0700).
    #[arg(long = "witness-dir", default_value = "./witness")]
    pub dir: PathBuf,
    /// The witness's name (its key name), e.g. `court.example/witness`: needed on first start,
    /// when the key is created.
    #[arg(long)]
    pub name: Option<String>,
    /// The logs to witness, by their verifier keys (`lvyue keygen` or `GET /verifier-key` of the
    /// log), separated by commas.
    #[arg(
        long = "follow",
        env = "LVYUE_WITNESS_LOGS",
        value_delimiter = ',',
        required = true
    )]
    pub logs: Vec<String>,
}

/// A witness: its key, the logs it follows and its record of each.
#[derive(Debug)]
pub struct Witness {
    cosigner: Cosigner,
    logs: BTreeMap<String, VerifierKey>,
    dir: PathBuf,
    /// Checking a request against the record and updating the record are one step: two
    /// requests interleaved could otherwise roll the record back (the spec's warning).
    record: tokio::sync::Mutex<()>,
}

/// An answer: status, content type and body.
pub type Answer = (StatusCode, &'static str, String);

impl Witness {
    /// Opens the witness in `dir`, creating its key (named `name`) on first start.
    ///
    /// # Errors
    /// The key cannot be read or created, or a log key is malformed.
    pub fn open(dir: &Path, name: Option<&str>, logs: &[String]) -> anyhow::Result<Witness> {
        let key_path = dir.join(KEY_FILE);
        let cosigner = if key_path.exists() {
            let text = crate::notary::read_private(&key_path)?;
            let key = Cosigner::parse(text.trim())
                .map_err(|e| anyhow::anyhow!("{} holds no witness key: {e}", key_path.display()))?;
            if name.is_some_and(|n| n != key.name()) {
                bail!(
                    "{} is the key of witness {:?}, not {:?}",
                    key_path.display(),
                    key.name(),
                    name.unwrap_or_default()
                );
            }
            key
        } else {
            let Some(name) = name else {
                bail!(
                    "{} does not exist: give --name to create the witness's key",
                    key_path.display()
                );
            };
            let key = Cosigner::generate(name)
                .map_err(|e| anyhow::anyhow!("witness name {name:?}: {e}"))?;
            crate::notary::write_private(&key_path, &key.to_private_text())?;
            key
        };
        let logs = logs
            .iter()
            .map(|k| {
                let key: VerifierKey = k
                    .trim()
                    .parse()
                    .map_err(|e| anyhow::anyhow!("log key {k:?}: {e}"))?;
                Ok((key.name().to_owned(), key))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Witness {
            cosigner,
            logs,
            dir: dir.to_owned(),
            record: tokio::sync::Mutex::new(()),
        })
    }

    /// The key to give to the logs and to verifiers.
    pub fn public_key(&self) -> CosignerKey {
        self.cosigner.public_key()
    }

    /// Answers one `add-checkpoint` request body, at POSIX time `now`.
    pub async fn add_checkpoint(&self, body: &str, now: u64) -> Answer {
        let request = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
        };
        let origin = request.checkpoint.lines().next().unwrap_or_default();
        let Some(log) = self.logs.get(origin) else {
            return text(
                StatusCode::NOT_FOUND,
                format!("this witness does not follow the log {origin:?}"),
            );
        };
        let _held = self.record.lock().await;
        let last = match self.last(log) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "the witness cannot read its record");
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the witness cannot read its record".into(),
                );
            }
        };
        match witness::decide(log, last.as_ref(), &request) {
            Ok((_, checkpoint_text)) => {
                if let Err(e) = self.record(log.name(), &request.checkpoint) {
                    tracing::error!(error = %format!("{e:#}"), "the witness cannot write its record");
                    return text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the witness cannot write its record".into(),
                    );
                }
                (
                    StatusCode::OK,
                    "text/plain; charset=utf-8",
                    self.cosigner.cosign(&checkpoint_text, now.max(1)),
                )
            }
            Err(Refusal::SizeMismatch(size)) => (
                StatusCode::CONFLICT,
                witness::SIZE_CONTENT_TYPE,
                format!("{size}\n"),
            ),
            Err(Refusal::Inconsistent { reason, evidence }) => {
                tracing::error!(log = %log.name(), reason = %reason, "refused a checkpoint that forks the log");
                let evidence = evidence.map_or(String::new(), |w| {
                    format!(
                        "\nThe checkpoint this witness cosigned before:\n\n{}",
                        w.note
                    )
                });
                text(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{reason}\n{evidence}"),
                )
            }
            Err(refusal) => text(
                StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST),
                refusal.to_string(),
            ),
        }
    }

    /// The checkpoint last cosigned of `log`, read back and checked against the log's key.
    fn last(&self, log: &VerifierKey) -> anyhow::Result<Option<Witnessed>> {
        let path = self.record_path(log.name());
        let note = match std::fs::read_to_string(&path) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let c = Checkpoint::open(&note, log).map_err(|e| {
            anyhow::anyhow!("{} holds no checkpoint of the log: {e}", path.display())
        })?;
        Ok(Some(Witnessed {
            size: c.size,
            root: c.root,
            note,
        }))
    }

    fn record(&self, origin: &str, note: &str) -> anyhow::Result<()> {
        let path = self.record_path(origin);
        lvyue_domain::published::write_replacing(&path, note)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// One file per log, named by a hash of its origin (an origin holds `/`).
    fn record_path(&self, origin: &str) -> PathBuf {
        let name = hex::encode(&Sha256::digest(origin.as_bytes())[..16]);
        self.dir.join("logs").join(name)
    }

    /// `POST /add-checkpoint`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/add-checkpoint", post(add_checkpoint))
            .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
            .with_state(self)
    }
}

fn text(status: StatusCode, body: String) -> Answer {
    (status, "text/plain; charset=utf-8", body)
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: String) -> Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    let (status, content_type, body) = witness.add_checkpoint(&body, now).await;
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `lvyue witness`: serves until SIGINT or SIGTERM.
///
/// # Errors
/// The witness cannot be opened or the address cannot be bound.
pub async fn run(args: WitnessArgs) -> anyhow::Result<ExitCode> {
    let witness = Arc::new(Witness::open(&args.dir, args.name.as_deref(), &args.logs)?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!("witness key: {}", witness.public_key());
    for origin in witness.logs.keys() {
        println!("follows: {origin}");
    }
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, witness.router())
        .with_graceful_shutdown(crate::shutdown::signal())
        .await
        .context("the witness server failed")?;
    Ok(ExitCode::SUCCESS)
}
