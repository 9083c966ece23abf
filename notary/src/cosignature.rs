//! Witness cosignatures (<https://c2sp.org/tlog-cosignature>), the Ed25519 kind: a witness
//! states that, at a time, the checkpoint is the largest consistent one it has seen of the log.
//!
//! A cosignature is one more signature line on the checkpoint note, by the witness's key:
//! `— <witness name> <base64(key ID ‖ u64 big-endian timestamp ‖ Ed25519 signature)>`, over
//! `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint's text. Key ID =
//! `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]`.
//!
//! - witness key: `<name>+<8 hex digits key ID>+<base64(0x04 ‖ 32-byte public key)>`
//! - witness signing key: `PRIVATE+KEY+<name>+<key ID>+<base64(0x04 ‖ 32-byte seed)>`
//!
//! The spec also defines ML-DSA-44 cosignatures and recommends them for new deployments. These
//! are Ed25519 because a court's browser can check Ed25519 with WebCrypto today (the `/verify`
//! page) and ML-DSA with nothing it ships; a cosigner may add ML-DSA lines later, which
//! verifiers that do not know them ignore.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _};

use crate::error::{NotaryError, Result};
use crate::note::{
    SIGNATURE_PREFIX, check_name, encode_typed_key_of, key_id_of, parse_key_id, parse_typed_key_of,
    signature_payload, split_note,
};

/// Signature type byte of timestamped Ed25519 cosignatures.
const ALG_COSIGNATURE: u8 = 0x04;

const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// The message a cosignature signs: the header, the time, then the checkpoint's text.
fn signed_message(time: u64, checkpoint_text: &str) -> String {
    format!("cosignature/v1\ntime {time}\n{checkpoint_text}")
}

/// A witness's signing key. Its `Debug` form never shows the secret.
#[derive(Clone)]
pub struct Cosigner {
    name: String,
    id: u32,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cosigner({}+{:08x}, secret hidden)", self.name, self.id)
    }
}

impl Cosigner {
    /// A fresh key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`NotaryError::BadKey`] if `name` is not a valid key name.
    pub fn generate(name: &str) -> Result<Self> {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        Self::from_seed(name, seed)
    }

    /// The key with the given 32-byte Ed25519 seed.
    ///
    /// # Errors
    /// [`NotaryError::BadKey`] if `name` is not a valid key name.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self> {
        check_name(name)?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let id = key_id_of(name, ALG_COSIGNATURE, key.verifying_key().as_bytes());
        Ok(Cosigner {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 ‖ seed)>`.
    ///
    /// # Errors
    /// [`NotaryError::BadKey`] if the text is malformed or its key ID does not match the key.
    pub fn parse(text: &str) -> Result<Self> {
        let rest = text
            .trim_end_matches(['\n', '\r'])
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or_else(|| NotaryError::BadKey {
                reason: "a witness key starts with PRIVATE+KEY+".to_owned(),
            })?;
        let (name, id, key) = three_parts(rest)?;
        let id = parse_key_id(id)?;
        let cosigner = Self::from_seed(
            name,
            parse_typed_key_of(key, "the witness key", ALG_COSIGNATURE)?,
        )?;
        if cosigner.id != id {
            return Err(NotaryError::BadKey {
                reason: format!("key ID {id:08x} does not match the witness key"),
            });
        }
        Ok(cosigner)
    }

    /// The key file's content. Secret.
    pub fn to_private_text(&self) -> String {
        format!(
            "{PRIVATE_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.id,
            encode_typed_key_of(self.key.as_bytes(), ALG_COSIGNATURE)
        )
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half, to give to the log and to verifiers.
    pub fn public_key(&self) -> CosignerKey {
        CosignerKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The cosignature line (with its newline) on a checkpoint whose text (the note's signed
    /// part, with its final newline) is `checkpoint_text`, at POSIX time `time`.
    pub fn cosign(&self, checkpoint_text: &str, time: u64) -> String {
        let signature = self
            .key
            .sign(signed_message(time, checkpoint_text).as_bytes());
        let mut payload = Vec::with_capacity(4 + 8 + 64);
        payload.extend_from_slice(&self.id.to_be_bytes());
        payload.extend_from_slice(&time.to_be_bytes());
        payload.extend_from_slice(&signature.to_bytes());
        format!(
            "{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(payload)
        )
    }
}

/// A witness's public key: `<name>+<hex key ID>+<base64(0x04 ‖ public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CosignerKey({self})")
    }
}

impl fmt::Display for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.id,
            encode_typed_key_of(self.key.as_bytes(), ALG_COSIGNATURE)
        )
    }
}

impl std::str::FromStr for CosignerKey {
    type Err = NotaryError;

    fn from_str(text: &str) -> Result<Self> {
        CosignerKey::parse(text)
    }
}

impl CosignerKey {
    /// Parses `<name>+<hex key ID>+<base64(0x04 ‖ public key)>`.
    ///
    /// # Errors
    /// [`NotaryError::BadKey`] if the text is malformed, not a cosignature key, or its key ID
    /// does not match the key.
    pub fn parse(text: &str) -> Result<Self> {
        let (name, id, key) = three_parts(text.trim_end_matches(['\n', '\r']))?;
        check_name(name)?;
        let id = parse_key_id(id)?;
        let public = parse_typed_key_of(key, "the witness key", ALG_COSIGNATURE)?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|_| NotaryError::BadKey {
                reason: "the witness key is not a valid Ed25519 point".to_owned(),
            })?;
        let want = key_id_of(name, ALG_COSIGNATURE, &public);
        if want != id {
            return Err(NotaryError::BadKey {
                reason: format!("key ID {id:08x} does not match the key, whose ID is {want:08x}"),
            });
        }
        Ok(CosignerKey {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<name>+<hex key ID>`.
    pub fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }

    /// Checks this witness's cosignature on a checkpoint note (its lines among the others) and
    /// returns the time it was made. Other keys' lines are ignored.
    ///
    /// # Errors
    /// [`NotaryError::BadNote`] for a malformed note; [`NotaryError::SignatureMismatch`] when a
    /// line by this witness does not verify; [`NotaryError::UnknownKey`] when there is none.
    pub fn verify(&self, note: &str) -> Result<u64> {
        let (text, lines) = split_note(note)?;
        let mut time = None;
        for (n, (name, encoded)) in lines.into_iter().enumerate() {
            let payload = signature_payload(n, encoded)?;
            let id = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
            if name != self.name || id != self.id {
                continue;
            }
            let mismatch = || NotaryError::SignatureMismatch { key: self.label() };
            let (stamp, signature) = payload[4..].split_at_checked(8).ok_or_else(mismatch)?;
            let stamp = u64::from_be_bytes(stamp.try_into().map_err(|_| mismatch())?);
            let signature = <[u8; 64]>::try_from(signature)
                .map(|bytes| Signature::from_bytes(&bytes))
                .map_err(|_| mismatch())?;
            if stamp == 0 || stamp > i64::MAX as u64 {
                return Err(mismatch());
            }
            self.key
                .verify_strict(signed_message(stamp, text).as_bytes(), &signature)
                .map_err(|_| mismatch())?;
            time = Some(stamp);
        }
        time.ok_or_else(|| NotaryError::UnknownKey { key: self.label() })
    }
}

/// `<name>+<key ID>+<key>`: the base64 key may itself hold `+`; the name and ID cannot.
fn three_parts(text: &str) -> Result<(&str, &str, &str)> {
    let parts: Vec<&str> = text.splitn(3, '+').collect();
    match parts[..] {
        [name, id, key] => Ok((name, id, key)),
        _ => Err(NotaryError::BadKey {
            reason: "a witness key is <name>+<key ID>+<key>".to_owned(),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{Checkpoint, Hash, SigningKey};

    fn log_note() -> (String, String) {
        let log = SigningKey::from_seed("bank.example/escrow-log", [1; 32]).unwrap();
        let root: Hash = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
            .parse()
            .unwrap();
        let cp = Checkpoint::new("bank.example/escrow-log", 8, root);
        (cp.sign(&log).unwrap(), cp.body())
    }

    #[test]
    fn a_cosignature_verifies_with_its_key_and_time() {
        let w = Cosigner::from_seed("court.example/witness", [2; 32]).unwrap();
        let (note, body) = log_note();
        let cosigned = format!("{note}{}", w.cosign(&body, 1_765_000_000));
        let key: CosignerKey = w.public_key().to_string().parse().unwrap();
        assert_eq!(key.verify(&cosigned).unwrap(), 1_765_000_000);
        // The log's own key still opens the note: the extra line is another key's.
        let log = SigningKey::from_seed("bank.example/escrow-log", [1; 32]).unwrap();
        assert!(log.verifier_key().open_note(&cosigned).is_ok());
        // Without the line, or for another checkpoint, it does not verify.
        assert!(matches!(
            key.verify(&note),
            Err(NotaryError::UnknownKey { .. })
        ));
        let other = cosigned.replacen("\n8\n", "\n9\n", 1);
        assert!(matches!(
            key.verify(&other),
            Err(NotaryError::SignatureMismatch { .. })
        ));
    }

    #[test]
    fn key_texts_round_trip_and_are_checked() {
        let w = Cosigner::from_seed("court.example/witness", [2; 32]).unwrap();
        let back = Cosigner::parse(&w.to_private_text()).unwrap();
        assert_eq!(back.public_key(), w.public_key());
        assert!(format!("{w:?}").contains("secret hidden"));
        // A log key is not a witness key: another signature type.
        let log = SigningKey::from_seed("court.example/witness", [2; 32]).unwrap();
        assert!(CosignerKey::parse(&log.verifier_key().to_string()).is_err());
        let text = w.public_key().to_string();
        let (head, tail) = text.split_at(text.find('+').unwrap() + 1);
        let wrong_id = format!("{head}00000000{}", &tail[8..]);
        assert!(CosignerKey::parse(&wrong_id).is_err());
    }
}
