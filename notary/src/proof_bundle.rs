//! Self-contained offline proofs: C2SP tlog-proof (<https://c2sp.org/tlog-proof>), the file a
//! court or regulator receives with an event (extension `.tlog-proof`).
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>            (optional, unauthenticated)
//! index <decimal>
//! <base64 hash>             (the RFC 9162 audit path, leaf's sibling first; 0 or more lines)
//!
//! <the checkpoint note, verbatim, signatures included>
//! ```
//!
//! [`verify_bundle`] checks everything a verifier holding the entry bytes and the log's public
//! key needs: the checkpoint signature and origin, then the inclusion of `leaf_hash(entry)` at
//! the index in the checkpoint's tree, with the independent verifier of [`crate::verify`]. The
//! `extra` data is returned but never trusted.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checkpoint::{Checkpoint, parse_canonical_u64};
use crate::error::{NotaryError, Result};
use crate::hash::{Hash, leaf_hash};
use crate::note::{MAX_NOTE_BYTES, VerifierKey};
use crate::verify::verify_inclusion;

/// First line of every proof bundle.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Most audit-path lines accepted: a `u64` tree is at most 64 levels deep.
pub const MAX_PATH_HASHES: usize = 64;

/// Largest `extra` payload accepted, in bytes (decoded).
pub const MAX_EXTRA_BYTES: usize = 16 * 1024;

/// Largest bundle accepted, in bytes.
pub const MAX_BUNDLE_BYTES: usize = MAX_NOTE_BYTES + 4 * MAX_EXTRA_BYTES / 3 + 8 * 1024;

/// A parsed proof bundle. Nothing in it is trusted until [`ProofBundle::verify`] succeeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofBundle {
    /// Opaque application data; not authenticated.
    pub extra: Option<Vec<u8>>,
    /// Zero-based index of the entry in the log.
    pub index: u64,
    /// The audit path, leaf's sibling first, root's child last.
    pub path: Vec<Hash>,
    /// The checkpoint signed note, verbatim.
    pub checkpoint: String,
}

impl ProofBundle {
    /// A bundle for leaf `index`, its audit path in the checkpoint's tree, and the signed
    /// checkpoint note.
    pub fn new(index: u64, path: Vec<Hash>, checkpoint: String) -> Self {
        ProofBundle {
            extra: None,
            index,
            path,
            checkpoint,
        }
    }

    /// Parses the text of a `.tlog-proof` file (the form only; see [`ProofBundle::verify`]).
    ///
    /// # Errors
    /// [`NotaryError::BadProofBundle`] if the text is not a tlog-proof@v1 bundle.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: String| NotaryError::BadProofBundle { reason };
        if text.len() > MAX_BUNDLE_BYTES {
            return Err(bad(format!(
                "the bundle is {} bytes; at most {MAX_BUNDLE_BYTES} are accepted",
                text.len()
            )));
        }
        let mut rest = text;
        let mut next_line = || -> Result<&str> {
            let (line, tail) = rest
                .split_once('\n')
                .ok_or_else(|| bad("the bundle ends before its checkpoint".to_owned()))?;
            rest = tail;
            Ok(line)
        };

        if next_line()? != HEADER {
            return Err(bad(format!("the first line must be {HEADER}")));
        }
        let mut line = next_line()?;
        let extra = match line.strip_prefix("extra ") {
            Some(encoded) => {
                let bytes = BASE64
                    .decode(encoded)
                    .map_err(|e| bad(format!("the extra line is not standard base64: {e}")))?;
                if bytes.len() > MAX_EXTRA_BYTES {
                    return Err(bad(format!("extra data over {MAX_EXTRA_BYTES} bytes")));
                }
                line = next_line()?;
                Some(bytes)
            }
            None => None,
        };
        let index = line
            .strip_prefix("index ")
            .and_then(parse_canonical_u64)
            .ok_or_else(|| bad("expected \"index <decimal without leading zeros>\"".to_owned()))?;
        let mut path = Vec::new();
        loop {
            let line = next_line()?;
            if line.is_empty() {
                break;
            }
            if path.len() == MAX_PATH_HASHES {
                return Err(bad(format!("more than {MAX_PATH_HASHES} path hashes")));
            }
            let hash = Hash::from_base64(line)
                .map_err(|e| bad(format!("path line {}: {e}", path.len() + 1)))?;
            path.push(hash);
        }
        if rest.is_empty() {
            return Err(bad("the checkpoint is missing".to_owned()));
        }
        Ok(ProofBundle {
            extra,
            index,
            path,
            checkpoint: rest.to_owned(),
        })
    }

    /// Verifies the bundle for `entry` (the event's canonical bytes) against the log's key, and
    /// returns the checkpoint it is proven under.
    ///
    /// # Errors
    /// Any checkpoint error ([`Checkpoint::open`]) or inclusion error
    /// ([`crate::verify::verify_inclusion`]).
    pub fn verify(&self, entry: &[u8], key: &VerifierKey) -> Result<Checkpoint> {
        let checkpoint = Checkpoint::open(&self.checkpoint, key)?;
        verify_inclusion(
            &leaf_hash(entry),
            self.index,
            checkpoint.size,
            &self.path,
            &checkpoint.root,
        )?;
        Ok(checkpoint)
    }
}

impl fmt::Display for ProofBundle {
    /// The `.tlog-proof` text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{HEADER}")?;
        if let Some(extra) = &self.extra {
            writeln!(f, "extra {}", BASE64.encode(extra))?;
        }
        writeln!(f, "index {}", self.index)?;
        for hash in &self.path {
            writeln!(f, "{}", hash.to_base64())?;
        }
        writeln!(f)?;
        f.write_str(&self.checkpoint)
    }
}

/// Parses and verifies a `.tlog-proof` bundle for `entry`; returns the checkpoint.
///
/// # Errors
/// As [`ProofBundle::parse`] and [`ProofBundle::verify`].
pub fn verify_bundle(entry: &[u8], bundle_text: &str, key: &VerifierKey) -> Result<Checkpoint> {
    ProofBundle::parse(bundle_text)?.verify(entry, key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::note::SigningKey;
    use crate::tree::Tree;

    const BUNDLE: &str = include_str!("../testdata/leaf5.tlog-proof");
    const VKEY: &str = include_str!("../testdata/vkey.txt");
    const LEAF5: [u8; 4] = [0x40, 0x41, 0x42, 0x43];

    #[test]
    fn the_published_leaf_5_bundle_verifies() {
        let vkey = VerifierKey::parse(VKEY).unwrap();
        let checkpoint = verify_bundle(&LEAF5, BUNDLE, &vkey).unwrap();
        assert_eq!(checkpoint.size, 8);
        let bundle = ProofBundle::parse(BUNDLE).unwrap();
        assert_eq!(bundle.index, 5);
        assert_eq!(bundle.path.len(), 3);
        assert_eq!(bundle.to_string(), BUNDLE);
    }

    #[test]
    fn the_wrong_entry_index_or_key_fails() {
        let vkey = VerifierKey::parse(VKEY).unwrap();
        assert!(matches!(
            verify_bundle(&[0x40, 0x41, 0x42], BUNDLE, &vkey),
            Err(NotaryError::RootMismatch { .. })
        ));
        let moved = BUNDLE.replacen("index 5", "index 4", 1);
        assert!(verify_bundle(&LEAF5, &moved, &vkey).is_err());
        let beyond = BUNDLE.replacen("index 5", "index 8", 1);
        assert!(matches!(
            verify_bundle(&LEAF5, &beyond, &vkey),
            Err(NotaryError::IndexOutOfRange { .. })
        ));
        let other = SigningKey::generate("example.bank/escrow-notary").unwrap();
        assert!(verify_bundle(&LEAF5, BUNDLE, &other.verifier_key()).is_err());
        let flipped = BUNDLE.replacen("vBoGQ7Eu", "vBoGQ7Ev", 1);
        assert!(verify_bundle(&LEAF5, &flipped, &vkey).is_err());
        let dropped = BUNDLE.replacen("vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=\n", "", 1);
        assert!(matches!(
            verify_bundle(&LEAF5, &dropped, &vkey),
            Err(NotaryError::WrongProofLength { .. })
        ));
    }

    #[test]
    fn malformed_bundles_are_rejected() {
        for bad in [
            String::new(),
            BUNDLE.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
            BUNDLE.replacen("index 5", "index 05", 1),
            BUNDLE.replacen("index 5", "index  5", 1),
            BUNDLE.replacen("index 5", "extra !!\nindex 5", 1),
            BUNDLE.replacen(
                "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
                "vBoGQ7Eu",
                1,
            ),
            BUNDLE.split("\n\n").next().unwrap().to_owned(),
            format!("{}\n\n", BUNDLE.split("\n\n").next().unwrap()),
        ] {
            assert!(ProofBundle::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bundles_made_here_verify_with_extra_data() {
        let key = SigningKey::generate("bank.example/escrow-log").unwrap();
        let entries: Vec<Vec<u8>> = (0..21u8).map(|i| vec![i; i as usize]).collect();
        let mut tree = Tree::new();
        for e in &entries {
            tree.push(leaf_hash(e));
        }
        let checkpoint = Checkpoint::new(key.name(), tree.size(), tree.root());
        let note = checkpoint.sign(&key).unwrap();
        for (i, e) in entries.iter().enumerate() {
            let mut bundle = ProofBundle::new(
                i as u64,
                tree.inclusion_proof(i as u64, 21).unwrap(),
                note.clone(),
            );
            bundle.extra = Some(b"order ord_01".to_vec());
            let text = bundle.to_string();
            assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra b3JkZXIgb3JkXzAx\nindex "));
            assert_eq!(ProofBundle::parse(&text).unwrap(), bundle);
            assert_eq!(
                verify_bundle(e, &text, &key.verifier_key()).unwrap(),
                checkpoint
            );
        }
    }
}
