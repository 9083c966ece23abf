//! The witness protocol (<https://c2sp.org/tlog-witness>): the `add-checkpoint` request a log
//! sends, and the rules a witness applies before it cosigns. Storage and HTTP are the caller's;
//! [`decide`] is the whole judgement, so that the witness server and the tests share it.
//!
//! ```text
//! old <size>
//! <base64 consistency proof hash>      (0 to 63 lines)
//!
//! <checkpoint note>
//! ```

use std::fmt;

use crate::checkpoint::{Checkpoint, parse_canonical_u64};
use crate::error::{NotaryError, Result};
use crate::hash::{Hash, empty_root};
use crate::note::VerifierKey;
use crate::verify::verify_consistency;

/// Most consistency-proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;

/// The content type of a 409 answer: the witness's latest size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// An `add-checkpoint` request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the log believes the witness last cosigned.
    pub old: u64,
    /// RFC 9162 consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

impl fmt::Display for AddCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "old {}", self.old)?;
        for hash in &self.proof {
            writeln!(f, "{}", hash.to_base64())?;
        }
        writeln!(f)?;
        f.write_str(&self.checkpoint)
    }
}

impl AddCheckpoint {
    /// Parses a request body.
    ///
    /// # Errors
    /// [`NotaryError::BadProofBundle`] naming what is malformed.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: &str| NotaryError::BadProofBundle {
            reason: format!("add-checkpoint: {reason}"),
        };
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .and_then(parse_canonical_u64)
            .ok_or_else(|| bad("the first line must be `old <size>`"))?;
        let proof = lines
            .map(|l| Hash::from_base64(l).map_err(|_| bad("a proof line is not a base64 hash")))
            .collect::<Result<Vec<_>>>()?;
        if proof.len() > MAX_PROOF_LINES {
            return Err(bad("more than 63 proof lines"));
        }
        Ok(AddCheckpoint {
            old,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }
}

/// What a witness last cosigned of a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witnessed {
    pub size: u64,
    pub root: Hash,
    /// The checkpoint note as submitted: the evidence if the log later forks.
    pub note: String,
}

/// Why a witness refuses, with the HTTP status the protocol gives each reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 403: no valid signature by the log's key.
    #[error("the checkpoint carries no valid signature by the log's key: {0}")]
    Unsigned(String),
    /// 400: malformed, or the old size is beyond the checkpoint's.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 409: the old size is not the size the witness last cosigned (the body is that size).
    #[error("the witness last cosigned size {0}")]
    SizeMismatch(u64),
    /// 422: the checkpoint is not consistent with what the witness cosigned before: a fork.
    /// The witness's own record is the evidence.
    #[error("{reason}")]
    Inconsistent {
        reason: String,
        evidence: Option<Witnessed>,
    },
}

impl Refusal {
    /// The protocol's HTTP status for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Unsigned(_) => 403,
            Refusal::BadRequest(_) => 400,
            Refusal::SizeMismatch(_) => 409,
            Refusal::Inconsistent { .. } => 422,
        }
    }
}

/// Decides a request for a log whose key is `log`, given what the witness last cosigned of it
/// (`None`: never). Returns the checkpoint (and its text, to cosign) to record and cosign.
///
/// # Errors
/// The [`Refusal`], per c2sp.org/tlog-witness.
pub fn decide(
    log: &VerifierKey,
    last: Option<&Witnessed>,
    request: &AddCheckpoint,
) -> std::result::Result<(Checkpoint, String), Refusal> {
    let text = log
        .open_note(&request.checkpoint)
        .map_err(|e| Refusal::Unsigned(e.to_string()))?
        .to_owned();
    let checkpoint =
        Checkpoint::parse_body(&text).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    if checkpoint.origin != log.name() {
        return Err(Refusal::Unsigned(format!(
            "the checkpoint is of {}, signed as {}",
            checkpoint.origin,
            log.name()
        )));
    }
    if request.old > checkpoint.size {
        return Err(Refusal::BadRequest(format!(
            "old size {} is beyond the checkpoint's size {}",
            request.old, checkpoint.size
        )));
    }
    let known = last.map_or(0, |l| l.size);
    if request.old != known {
        return Err(Refusal::SizeMismatch(known));
    }
    let inconsistent = |reason: String| Refusal::Inconsistent {
        reason,
        evidence: last.cloned(),
    };
    if checkpoint.size == 0 && checkpoint.root != empty_root() {
        return Err(inconsistent(
            "an empty tree must have the empty root".into(),
        ));
    }
    match last {
        None if !request.proof.is_empty() => Err(inconsistent(
            "from size 0 the consistency proof must be empty".into(),
        )),
        None => Ok(()),
        Some(l) if l.size == checkpoint.size => {
            if l.root == checkpoint.root && request.proof.is_empty() {
                Ok(())
            } else {
                Err(inconsistent(format!(
                    "the witness cosigned size {} with root {}, and this checkpoint has root {}: \
                     the log has forked",
                    l.size, l.root, checkpoint.root
                )))
            }
        }
        Some(l) => verify_consistency(
            l.size,
            checkpoint.size,
            &l.root,
            &checkpoint.root,
            &request.proof,
        )
        .map_err(|e| {
            inconsistent(format!(
                "the checkpoint of size {} is not consistent with the one of size {} the witness \
                 cosigned ({e}): the log has forked",
                checkpoint.size, l.size
            ))
        }),
    }?;
    Ok((checkpoint, text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{SigningKey, Tree, leaf_hash};

    fn tree(leaves: &[u8]) -> Tree {
        Tree::from_leaf_hashes(leaves.iter().map(|i| leaf_hash(&[*i])).collect())
    }

    fn key() -> SigningKey {
        SigningKey::from_seed("bank.example/escrow-log", [1; 32]).unwrap()
    }

    fn request(old: &Tree, new: &Tree, old_size: u64) -> AddCheckpoint {
        let proof = if old_size == 0 || old_size == new.size() {
            vec![]
        } else {
            old.consistency_proof(old_size, new.size()).unwrap()
        };
        let note = Checkpoint::new("bank.example/escrow-log", new.size(), new.root())
            .sign(&key())
            .unwrap();
        AddCheckpoint {
            old: old_size,
            proof,
            checkpoint: note,
        }
    }

    fn witnessed(t: &Tree) -> Witnessed {
        Witnessed {
            size: t.size(),
            root: t.root(),
            note: String::new(),
        }
    }

    #[test]
    fn a_request_round_trips_as_text() {
        let big = tree(&[1, 2, 3, 4, 5]);
        let r = request(&big, &big, 3);
        assert_eq!(AddCheckpoint::parse(&r.to_string()).unwrap(), r);
    }

    #[test]
    fn a_consistent_checkpoint_is_cosigned_and_anything_else_refused() {
        let log = key().verifier_key();
        let five = tree(&[1, 2, 3, 4, 5]);
        let three = tree(&[1, 2, 3]);
        // First contact: from 0, no proof.
        assert!(decide(&log, None, &request(&five, &three, 0)).is_ok());
        // Growth with a valid proof.
        assert!(decide(&log, Some(&witnessed(&three)), &request(&five, &five, 3)).is_ok());
        // The log thinks the witness is elsewhere: 409 with the witness's size.
        let wrong = decide(&log, Some(&witnessed(&three)), &request(&five, &five, 2));
        assert_eq!(wrong.unwrap_err(), Refusal::SizeMismatch(3));
        // A forked history of the same size, or one that does not extend the witnessed one.
        let forked = tree(&[1, 2, 9, 4, 5, 6]);
        let same_size = tree(&[1, 2, 9]);
        let e = decide(
            &log,
            Some(&witnessed(&three)),
            &request(&same_size, &same_size, 3),
        )
        .unwrap_err();
        assert_eq!(e.status(), 422);
        let e = decide(
            &log,
            Some(&witnessed(&three)),
            &request(&forked, &forked, 3),
        )
        .unwrap_err();
        assert!(
            matches!(&e, Refusal::Inconsistent { evidence: Some(w), .. } if w.size == 3),
            "{e:?}"
        );
        // Signed by another key.
        let stranger = SigningKey::from_seed("bank.example/escrow-log", [5; 32]).unwrap();
        let mut r = request(&five, &five, 0);
        r.checkpoint = Checkpoint::new("bank.example/escrow-log", 5, five.root())
            .sign(&stranger)
            .unwrap();
        assert_eq!(decide(&log, None, &r).unwrap_err().status(), 403);
    }
}
