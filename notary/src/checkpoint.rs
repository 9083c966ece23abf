//! Signed tree heads as C2SP checkpoints (<https://c2sp.org/tlog-checkpoint>).
//!
//! The note text is exactly three lines:
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeros>
//! <root hash, standard padded base64>
//! ```
//!
//! signed with the log's Ed25519 key, whose name is the origin (the spec says the key name SHOULD
//! equal the origin; this log makes it a rule, so a checkpoint of one log can never pass as
//! another's). The spec allows optional extension lines after the root; this log writes none and
//! [`Checkpoint::open`] refuses them, so everything a verifier is shown is what the log signed
//! and what a witness would vouch for.
//!
//! Ed25519 signatures are deterministic: any node signing the same origin, size and root
//! produces the same checkpoint, byte for byte.

use serde::Serialize;

use crate::error::{NotaryError, Result};
use crate::hash::Hash;
use crate::note::{SigningKey, VerifierKey};

/// A tree head: which log, how many leaves, and the root over them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// The log's identity, e.g. `bank.example/escrow-log`; also the signing key's name.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 9162 root of the first `size` leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// A checkpoint for `origin` at `size` leaves with root `root`.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
        }
    }

    /// The note text that is signed: origin, size and base64 root, each ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        )
    }

    /// The signed note: the body, a blank line and `— <name> <base64(key ID ‖ signature)>`.
    ///
    /// # Errors
    /// [`NotaryError::OriginMismatch`] if the key's name is not the origin (which also keeps
    /// newlines and spaces out of the origin, since key names cannot hold them).
    pub fn sign(&self, key: &SigningKey) -> Result<String> {
        if self.origin != key.name() {
            return Err(NotaryError::OriginMismatch {
                expected: key.name().to_owned(),
                found: self.origin.clone(),
            });
        }
        key.sign_note(&self.body())
    }

    /// Verifies a checkpoint note with the log's verifier key and parses it.
    ///
    /// # Errors
    /// Any error of [`VerifierKey::open_note`] (malformed note, failing signature, no signature
    /// by this key); [`NotaryError::BadCheckpoint`] if the signed text is not three well-formed
    /// lines; [`NotaryError::OriginMismatch`] if it is another log's checkpoint.
    pub fn open(note: &str, key: &VerifierKey) -> Result<Checkpoint> {
        let text = key.open_note(note)?;
        let checkpoint = Checkpoint::parse_body(text)?;
        if checkpoint.origin != key.name() {
            return Err(NotaryError::OriginMismatch {
                expected: key.name().to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok(checkpoint)
    }

    /// Parses a checkpoint body *without* checking any signature. Only for text that
    /// [`VerifierKey::open_note`] has already verified, or for display.
    ///
    /// # Errors
    /// [`NotaryError::BadCheckpoint`] if the text is not exactly origin, size and root lines.
    pub fn parse_body(text: &str) -> Result<Checkpoint> {
        let bad = |reason: &str| NotaryError::BadCheckpoint {
            reason: reason.to_owned(),
        };
        let text = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("the text must end with a newline"))?;
        let lines: Vec<&str> = text.split('\n').collect();
        let [origin, size, root] = lines[..] else {
            return Err(bad(if lines.len() > 3 {
                "extension lines after the root hash are not used by this log"
            } else {
                "a checkpoint has an origin, a tree size and a root hash line"
            }));
        };
        if origin.is_empty() {
            return Err(bad("the origin line is empty"));
        }
        let size = parse_canonical_u64(size)
            .ok_or_else(|| bad("the tree size is not a decimal number without leading zeros"))?;
        let root = Hash::from_base64(root).map_err(|e| NotaryError::BadCheckpoint {
            reason: format!("the root hash line: {e}"),
        })?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// Parses ASCII decimal with no sign and no leading zeros (`0` itself is allowed), within `u64`.
pub(crate) fn parse_canonical_u64(text: &str) -> Option<u64> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let no_leading_zero = text == "0" || !text.starts_with('0');
    if digits_only && no_leading_zero {
        text.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CHECKPOINT: &str = include_str!("../testdata/checkpoint.txt");
    const VKEY: &str = include_str!("../testdata/vkey.txt");
    const ROOT8: &str = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";

    fn test_key() -> SigningKey {
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
        SigningKey::from_seed("example.bank/escrow-notary", seed).unwrap()
    }

    #[test]
    fn the_published_checkpoint_verifies() {
        let vkey = VerifierKey::parse(VKEY).unwrap();
        let checkpoint = Checkpoint::open(CHECKPOINT, &vkey).unwrap();
        assert_eq!(checkpoint.origin, "example.bank/escrow-notary");
        assert_eq!(checkpoint.size, 8);
        assert_eq!(checkpoint.root.to_hex(), ROOT8);
    }

    #[test]
    fn signing_with_the_test_seed_reproduces_it_byte_for_byte() {
        let checkpoint = Checkpoint::new("example.bank/escrow-notary", 8, ROOT8.parse().unwrap());
        assert_eq!(checkpoint.sign(&test_key()).unwrap(), CHECKPOINT);
    }

    #[test]
    fn sign_and_open_round_trip() {
        let key = SigningKey::generate("bank.example/escrow-log").unwrap();
        for size in [0, 1, 7, u64::MAX] {
            let checkpoint = Checkpoint::new(key.name(), size, crate::hash::leaf_hash(b"x"));
            let note = checkpoint.sign(&key).unwrap();
            assert_eq!(
                Checkpoint::open(&note, &key.verifier_key()).unwrap(),
                checkpoint
            );
        }
        let foreign = Checkpoint::new("other.example/log", 1, Hash::ZERO);
        assert!(matches!(
            foreign.sign(&key),
            Err(NotaryError::OriginMismatch { .. })
        ));
    }

    #[test]
    fn tampered_checkpoints_are_rejected() {
        let vkey = VerifierKey::parse(VKEY).unwrap();
        let (body, signature) = CHECKPOINT.split_once("\n\n").unwrap();
        let resign = |b: &str| format!("{b}\n\n{signature}");
        let other_root = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyk=";
        for tampered in [
            resign(&body.replacen("\n8\n", "\n9\n", 1)),
            resign(&body.replacen(
                "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
                other_root,
                1,
            )),
            resign(&format!("{body}\nextra line")),
            CHECKPOINT.replacen("5TxHzjksE8ww", "5TxHzjksE8wx", 1),
        ] {
            assert!(
                matches!(
                    Checkpoint::open(&tampered, &vkey),
                    Err(NotaryError::SignatureMismatch { .. })
                ),
                "{tampered}"
            );
        }
        // Another key (same name, other seed) has another key ID: no signature by the expected key.
        let other = SigningKey::from_seed("example.bank/escrow-notary", [1; 32]).unwrap();
        assert!(matches!(
            Checkpoint::open(CHECKPOINT, &other.verifier_key()),
            Err(NotaryError::UnknownKey { .. })
        ));
    }

    #[test]
    fn well_signed_but_malformed_bodies_are_rejected() {
        let key = test_key();
        let vkey = key.verifier_key();
        let root = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";
        for body in [
            format!("example.bank/escrow-notary\n08\n{root}\n"),
            format!("example.bank/escrow-notary\n+8\n{root}\n"),
            format!("example.bank/escrow-notary\n-0\n{root}\n"),
            format!("example.bank/escrow-notary\n18446744073709551616\n{root}\n"),
            format!("example.bank/escrow-notary\n8\n{}\n", &root[..43]),
            format!("example.bank/escrow-notary\n8\n{root}\nextension\n"),
            "example.bank/escrow-notary\n8\n".to_owned(),
            format!("example.bank/escrow-notary\n \n{root}\n"),
        ] {
            let note = key.sign_note(&body).unwrap();
            assert!(
                matches!(
                    Checkpoint::open(&note, &vkey),
                    Err(NotaryError::BadCheckpoint { .. })
                ),
                "{body:?}"
            );
        }
        let note = key
            .sign_note(&format!("other.example/log\n8\n{root}\n"))
            .unwrap();
        assert!(matches!(
            Checkpoint::open(&note, &vkey),
            Err(NotaryError::OriginMismatch { .. })
        ));
    }

    #[test]
    fn canonical_decimal() {
        assert_eq!(parse_canonical_u64("0"), Some(0));
        assert_eq!(parse_canonical_u64("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "00",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1e3",
            "18446744073709551616",
        ] {
            assert_eq!(parse_canonical_u64(bad), None, "{bad:?}");
        }
    }
}
