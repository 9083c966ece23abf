//! `lvyue verify`: offline checks a court, a regulator or anyone can run with nothing but files
//! — no network, no database. The verifier key should come from the bank independently (its
//! website, a letter), not only from the bundle being checked.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use lvyue_domain::evidence::{self, EvidenceBundle};
use lvyue_notary::{Checkpoint, CosignerKey, Hash, VerifierKey, verify_bundle, verify_consistency};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The log's verifier key (`name+hash+base64`), or a file holding it.
    #[arg(long = "key")]
    pub verifier_key: Option<String>,
    /// A court's evidence bundle (JSON from `evidenceBundle`). Without `--key`, the key inside
    /// the bundle is used, with a warning.
    #[arg(long, conflicts_with_all = ["entry", "old", "new"])]
    pub bundle: Option<PathBuf>,
    /// One event's canonical JSON (the leaf bytes), with `--proof`.
    #[arg(long, requires = "proof")]
    pub entry: Option<PathBuf>,
    /// A C2SP tlog-proof file for `--entry` (it contains the signed checkpoint).
    #[arg(long)]
    pub proof: Option<PathBuf>,
    /// An older checkpoint note, with `--new` and `--consistency`.
    #[arg(long, requires_all = ["new", "consistency"])]
    pub old: Option<PathBuf>,
    /// A newer checkpoint note.
    #[arg(long)]
    pub new: Option<PathBuf>,
    /// The consistency proof: one hash per line, hex or base64 (from `consistencyProof`).
    #[arg(long)]
    pub consistency: Option<PathBuf>,
    /// A witness's key (`<name>+<key ID>+<key>`, or a file holding it) whose cosignature on the
    /// bundle's checkpoint counts; repeat for several witnesses.
    #[arg(long = "witness-key", requires = "bundle")]
    pub witness_keys: Vec<String>,
    /// How many of the `--witness-key` witnesses must have cosigned (default: all of them).
    #[arg(long = "min-witnesses", requires = "bundle")]
    pub min_witnesses: Option<usize>,
}

/// Runs the check and reports: `verified` and exit 0, or what failed and exit 1 (2 for bad
/// usage or unreadable files).
pub fn run(args: &VerifyArgs) -> ExitCode {
    match check(args) {
        Ok(Outcome::Verified(what)) => {
            println!("verified: {what}");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Failed(why)) => {
            println!("FAILED: {why}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

enum Outcome {
    Verified(String),
    Failed(String),
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

fn key_from(arg: &str) -> anyhow::Result<VerifierKey> {
    let text = if Path::new(arg).is_file() {
        read(Path::new(arg))?
    } else {
        arg.to_owned()
    };
    VerifierKey::parse(text.trim()).map_err(|e| anyhow::anyhow!("--key is not a verifier key: {e}"))
}

fn check(args: &VerifyArgs) -> anyhow::Result<Outcome> {
    if let Some(path) = &args.bundle {
        let bundle: EvidenceBundle = serde_json::from_str(&read(path)?)
            .map_err(|e| anyhow::anyhow!("{} is not an evidence bundle: {e}", path.display()))?;
        let key = match &args.verifier_key {
            Some(k) => key_from(k)?,
            None => {
                eprintln!(
                    "warning: no --key given; trusting the key inside the bundle. Get the bank's key independently."
                );
                VerifierKey::parse(&bundle.verifier_key)
                    .map_err(|e| anyhow::anyhow!("the bundle's key: {e}"))?
            }
        };
        if bundle.verifier_key != key.to_string() {
            eprintln!(
                "note: the bundle names key {}, verifying with {}",
                bundle.verifier_key, key
            );
        }
        let witnesses = args
            .witness_keys
            .iter()
            .map(|k| {
                let text = if Path::new(k).is_file() {
                    read(Path::new(k))?
                } else {
                    k.clone()
                };
                text.trim()
                    .parse::<CosignerKey>()
                    .map_err(|e| anyhow::anyhow!("--witness-key {k}: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let min = args.min_witnesses.unwrap_or(witnesses.len());
        return Ok(
            match evidence::verify_witnessed(&bundle, &key, &witnesses, min) {
                Ok(v) => Outcome::Verified(format!(
                    "case {}: {} events of {} orders are in the log of {} at tree size {} (root {}){}",
                    bundle.case_no,
                    v.events,
                    bundle.orders.len(),
                    bundle.origin,
                    v.tree_size,
                    v.root_hash,
                    if v.witnesses.is_empty() {
                        String::new()
                    } else {
                        format!(", cosigned by {}", v.witnesses.join(", "))
                    }
                )),
                Err(e) => Outcome::Failed(e.to_string()),
            },
        );
    }
    let key = args
        .verifier_key
        .as_deref()
        .map(key_from)
        .transpose()?
        .ok_or_else(|| anyhow::anyhow!("--key is required"))?;
    if let (Some(entry), Some(proof)) = (&args.entry, &args.proof) {
        let bytes = std::fs::read(entry)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", entry.display()))?;
        // A trailing newline from an editor is not part of the leaf.
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        return Ok(match verify_bundle(bytes, &read(proof)?, &key) {
            Ok(c) => Outcome::Verified(format!(
                "the entry is leaf of the log {} at tree size {} (root {})",
                c.origin, c.size, c.root
            )),
            Err(e) => Outcome::Failed(e.to_string()),
        });
    }
    if let (Some(old), Some(new), Some(proof)) = (&args.old, &args.new, &args.consistency) {
        let old_cp = match Checkpoint::open(&read(old)?, &key) {
            Ok(c) => c,
            Err(e) => return Ok(Outcome::Failed(format!("older checkpoint: {e}"))),
        };
        let new_cp = match Checkpoint::open(&read(new)?, &key) {
            Ok(c) => c,
            Err(e) => return Ok(Outcome::Failed(format!("newer checkpoint: {e}"))),
        };
        let hashes = read(proof)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| l.parse::<Hash>().or_else(|_| Hash::from_base64(l)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("the consistency proof: {e}"))?;
        return Ok(
            match verify_consistency(
                old_cp.size,
                new_cp.size,
                &old_cp.root,
                &new_cp.root,
                &hashes,
            ) {
                Ok(()) => Outcome::Verified(format!(
                    "checkpoint {} is consistent with checkpoint {} of {}",
                    old_cp.size, new_cp.size, new_cp.origin
                )),
                Err(e) => Outcome::Failed(e.to_string()),
            },
        );
    }
    anyhow::bail!("give --bundle, or --entry with --proof, or --old with --new and --consistency")
}
