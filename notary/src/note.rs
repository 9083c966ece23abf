//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, and the text forms of
//! the keys (the Go `golang.org/x/mod/sumdb/note` formats).
//!
//! A note is UTF-8 text ending in a newline, a blank line, then one or more lines
//! `— <key name> <base64(4-byte key ID ‖ signature)>`. The signed message is the text including
//! its final newline. Key ID = `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]`, big-endian.
//!
//! - verifier key: `<name>+<8 hex digits key ID>+<base64(0x01 ‖ 32-byte public key)>`
//! - signing key: `PRIVATE+KEY+<name>+<8 hex digits key ID>+<base64(0x01 ‖ 32-byte seed)>`
//!
//! Opening a note follows the spec's verifier rules: signatures by unknown keys (another name,
//! or the same name with another key ID) are ignored; a signature by the expected key that fails
//! rejects the whole note; a note with no verified signature is rejected. Notes larger than
//! [`MAX_NOTE_BYTES`] or with more than [`MAX_SIGNATURES`] signature lines are refused before any
//! signature is checked.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _};
use sha2::{Digest as _, Sha256};

use crate::error::{NotaryError, Result};

/// Largest note accepted, in bytes. A checkpoint with its log signature is about 200 bytes; this
/// leaves room for many witness cosignatures, post-quantum ones included (about 3.3 KB each in
/// base64).
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

/// Most signature lines accepted in a note (the spec asks verifiers to accept at least 16).
pub const MAX_SIGNATURES: usize = 32;

/// Signature type byte of plain Ed25519 note signatures (c2sp.org/signed-note).
const ALG_ED25519: u8 = 0x01;

/// The start of every signature line: U+2014 EM DASH and a space.
pub(crate) const SIGNATURE_PREFIX: &str = "\u{2014} ";

const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// True if `name` may name a key: non-empty, no Unicode whitespace, no `+`, no control
/// characters.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// The C2SP key ID of an Ed25519 key: `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    key_id_of(name, ALG_ED25519, public_key)
}

/// The C2SP key ID of a key of signature type `alg`: `SHA-256(name ‖ 0x0A ‖ alg ‖ key)[:4]`.
pub(crate) fn key_id_of(name: &str, alg: u8, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', alg]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

pub(crate) fn check_name(name: &str) -> Result<()> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(NotaryError::BadKey {
            reason: format!(
                "key name {name:?} must be non-empty, without spaces, '+' or control characters"
            ),
        })
    }
}

pub(crate) fn parse_key_id(text: &str) -> Result<u32> {
    let well_formed = text.len() == 8
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Err(NotaryError::BadKey {
            reason: format!("key ID {text:?} is not 8 lowercase hex digits"),
        });
    }
    u32::from_str_radix(text, 16).map_err(|e| NotaryError::BadKey {
        reason: format!("key ID {text:?}: {e}"),
    })
}

/// Decodes `base64(0x01 ‖ 32 bytes)`.
fn parse_typed_key(text: &str, what: &str) -> Result<[u8; 32]> {
    parse_typed_key_of(text, what, ALG_ED25519)
}

/// Decodes `base64(alg ‖ 32 bytes)`.
pub(crate) fn parse_typed_key_of(text: &str, what: &str, alg: u8) -> Result<[u8; 32]> {
    let bytes = BASE64.decode(text).map_err(|e| NotaryError::BadKey {
        reason: format!("{what} is not standard base64: {e}"),
    })?;
    match bytes.split_first() {
        Some((&found, key)) if found == alg => key.try_into().map_err(|_| NotaryError::BadKey {
            reason: format!("{what} is {} bytes, expected 32", key.len()),
        }),
        Some((found, _)) => Err(NotaryError::BadKey {
            reason: format!("{what} has signature type {found:#04x}; expected {alg:#04x}"),
        }),
        None => Err(NotaryError::BadKey {
            reason: format!("{what} is empty"),
        }),
    }
}

fn encode_typed_key(key: &[u8; 32]) -> String {
    encode_typed_key_of(key, ALG_ED25519)
}

/// `base64(alg ‖ key)`.
pub(crate) fn encode_typed_key_of(key: &[u8; 32], alg: u8) -> String {
    let mut bytes = Vec::with_capacity(33);
    bytes.push(alg);
    bytes.extend_from_slice(key);
    BASE64.encode(bytes)
}

/// The decoded payload of signature line `n` (key ID first): at least 5 bytes.
///
/// # Errors
/// [`NotaryError::BadNote`] when it is not base64 or too short.
pub(crate) fn signature_payload(n: usize, encoded: &str) -> Result<Vec<u8>> {
    let bad = |reason: String| NotaryError::BadNote { reason };
    let payload = BASE64
        .decode(encoded)
        .map_err(|_| bad(format!("signature line {} is not standard base64", n + 1)))?;
    if payload.len() < 5 {
        return Err(bad(format!("signature line {} is too short", n + 1)));
    }
    Ok(payload)
}

/// A note split at its last blank line: the signed text (with its final newline) and the
/// signature lines, each as `(key name, base64 payload)`.
///
/// # Errors
/// [`NotaryError::BadNote`] when the note is too large, holds a control character, or is not
/// text, a blank line and newline-terminated signature lines.
pub(crate) fn split_note(note: &str) -> Result<(&str, Vec<(&str, &str)>)> {
    let bad = |reason: String| NotaryError::BadNote { reason };
    if note.len() > MAX_NOTE_BYTES {
        return Err(bad(format!(
            "the note is {} bytes; at most {MAX_NOTE_BYTES} are accepted",
            note.len()
        )));
    }
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(bad("the note contains a control character".to_owned()));
    }
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| bad("no blank line separates the text from the signatures".to_owned()))?;
    let (text, signatures) = (&note[..=split], &note[split + 2..]);
    let signatures = signatures
        .strip_suffix('\n')
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("the note must end with a signature line and a newline".to_owned()))?;
    let mut lines = Vec::new();
    for (n, line) in signatures.split('\n').enumerate() {
        if n >= MAX_SIGNATURES {
            return Err(bad(format!(
                "the note has more than {MAX_SIGNATURES} signature lines"
            )));
        }
        let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(|| {
            bad(format!(
                "signature line {} does not start with \"— \"",
                n + 1
            ))
        })?;
        let (name, encoded) = rest
            .split_once(' ')
            .ok_or_else(|| bad(format!("signature line {} has no signature", n + 1)))?;
        if !is_valid_key_name(name) {
            return Err(bad(format!(
                "signature line {} has an invalid key name",
                n + 1
            )));
        }
        lines.push((name, encoded));
    }
    Ok((text, lines))
}

/// The log's Ed25519 signing key, with its name (the log origin) and key ID.
///
/// Its `Debug` form never shows the secret. The secret bytes are wiped when the key is dropped
/// (`ed25519-dalek` zeroizes); the text from [`SigningKey::to_private_text`] is the caller's to
/// protect.
#[derive(Clone)]
pub struct SigningKey {
    name: String,
    id: u32,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey({}+{:08x}, secret hidden)",
            self.name, self.id
        )
    }
}

impl SigningKey {
    /// A fresh key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`NotaryError::BadKey`] if `name` is not a valid key name.
    pub fn generate(name: &str) -> Result<Self> {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        Self::from_seed(name, seed)
    }

    /// The key with the given 32-byte Ed25519 seed (RFC 8032 private key).
    ///
    /// # Errors
    /// [`NotaryError::BadKey`] if `name` is not a valid key name.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self> {
        check_name(name)?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(SigningKey {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>`.
    ///
    /// # Errors
    /// [`NotaryError::BadKey`] if the text is malformed or its key ID does not match the key.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim_end_matches(['\n', '\r']);
        let rest = text
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or_else(|| NotaryError::BadKey {
                reason: "a signing key starts with PRIVATE+KEY+".to_owned(),
            })?;
        // The base64 key may itself contain '+'; the name and key ID cannot.
        let parts: Vec<&str> = rest.splitn(3, '+').collect();
        let [name, id, key] = parts[..] else {
            return Err(NotaryError::BadKey {
                reason: "a signing key is PRIVATE+KEY+<name>+<key ID>+<key>".to_owned(),
            });
        };
        check_name(name)?;
        let id = parse_key_id(id)?;
        let seed = parse_typed_key(key, "the signing key")?;
        let signing = Self::from_seed(name, seed)?;
        if signing.id != id {
            return Err(NotaryError::BadKey {
                reason: format!(
                    "key ID {id:08x} does not match the key, whose ID is {:08x}",
                    signing.id
                ),
            });
        }
        Ok(signing)
    }

    /// `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>`: the key file's content. Secret.
    pub fn to_private_text(&self) -> String {
        format!(
            "{PRIVATE_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.id,
            encode_typed_key(self.key.as_bytes())
        )
    }

    /// The key name (the log origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key ID.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The public half, to publish.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` as a note: the text, a blank line and this key's signature line.
    ///
    /// # Errors
    /// [`NotaryError::BadNote`] if `text` is empty, does not end with a newline, contains a
    /// blank line at its end or a control character other than newline, or is too large.
    pub fn sign_note(&self, text: &str) -> Result<String> {
        check_note_text(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut payload = Vec::with_capacity(4 + 64);
        payload.extend_from_slice(&self.id.to_be_bytes());
        payload.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(payload)
        ))
    }
}

fn check_note_text(text: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(NotaryError::BadNote {
            reason: reason.to_owned(),
        })
    };
    if text.is_empty() || !text.ends_with('\n') {
        return bad("the text must end with a newline");
    }
    if text.ends_with("\n\n") || text == "\n" {
        return bad("the text must not end with a blank line");
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return bad("the text contains a control character");
    }
    if text.len() > MAX_NOTE_BYTES / 2 {
        return bad("the text is too large");
    }
    Ok(())
}

/// A published Ed25519 verifier key: `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.id,
            encode_typed_key(self.key.as_bytes())
        )
    }
}

impl FromStr for VerifierKey {
    type Err = NotaryError;

    fn from_str(text: &str) -> Result<Self> {
        VerifierKey::parse(text)
    }
}

impl VerifierKey {
    /// Parses `<name>+<hex key ID>+<base64(0x01 ‖ public key)>` (a trailing newline is allowed).
    ///
    /// # Errors
    /// [`NotaryError::BadKey`] if the text is malformed, the public key is not a valid Ed25519
    /// point, or the key ID does not match the name and key.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim_end_matches(['\n', '\r']);
        // The base64 key may itself contain '+'; the name and key ID cannot.
        let parts: Vec<&str> = text.splitn(3, '+').collect();
        let [name, id, key] = parts[..] else {
            return Err(NotaryError::BadKey {
                reason: "a verifier key is <name>+<key ID>+<key>".to_owned(),
            });
        };
        check_name(name)?;
        let id = parse_key_id(id)?;
        let public = parse_typed_key(key, "the public key")?;
        let key =
            ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|_| NotaryError::BadKey {
                reason: "the public key is not a valid Ed25519 point".to_owned(),
            })?;
        let want = key_id(name, &public);
        if want != id {
            return Err(NotaryError::BadKey {
                reason: format!("key ID {id:08x} does not match the key, whose ID is {want:08x}"),
            });
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The key name (the log origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key ID.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }

    /// Opens a signed note: checks its form and this key's signature, and returns the signed
    /// text (including its final newline). Signatures by other keys are ignored.
    ///
    /// # Errors
    /// [`NotaryError::BadNote`] if the note is malformed or too large;
    /// [`NotaryError::SignatureMismatch`] if a signature by this key does not verify;
    /// [`NotaryError::UnknownKey`] if no signature by this key is present.
    pub fn open_note<'a>(&self, note: &'a str) -> Result<&'a str> {
        let (text, lines) = split_note(note)?;
        let mut verified = false;
        for (n, (name, encoded)) in lines.into_iter().enumerate() {
            let payload = signature_payload(n, encoded)?;
            let id = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
            if name != self.name || id != self.id {
                continue; // Another key's signature: ignored, as the spec requires.
            }
            let signature = <[u8; 64]>::try_from(&payload[4..])
                .map(|bytes| Signature::from_bytes(&bytes))
                .map_err(|_| NotaryError::SignatureMismatch { key: self.label() })?;
            self.key
                .verify_strict(text.as_bytes(), &signature)
                .map_err(|_| NotaryError::SignatureMismatch { key: self.label() })?;
            verified = true;
        }
        if !verified {
            return Err(NotaryError::UnknownKey { key: self.label() });
        }
        Ok(text)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The example of c2sp.org/signed-note.
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    fn test_key() -> SigningKey {
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
        SigningKey::from_seed("example.bank/escrow-notary", seed).unwrap()
    }

    #[test]
    fn the_signed_note_spec_example_opens() {
        let key: VerifierKey = SPEC_VKEY.parse().unwrap();
        assert_eq!(key.to_string(), SPEC_VKEY);
        assert_eq!(key.key_id(), 0x530d903a);
        assert_eq!(
            key.open_note(SPEC_NOTE).unwrap(),
            "This is an example message.\n"
        );
    }

    #[test]
    fn the_test_seed_gives_the_published_verifier_key() {
        let key = test_key();
        assert_eq!(
            key.verifier_key().to_string(),
            "example.bank/escrow-notary+e53c47ce+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
        );
        assert!(format!("{key:?}").contains("secret hidden"));
        assert!(!format!("{key:?}").contains(&encode_typed_key(key.key.as_bytes())));
    }

    #[test]
    fn private_key_text_round_trips_and_is_checked() {
        let key = test_key();
        let text = key.to_private_text();
        assert!(text.starts_with("PRIVATE+KEY+example.bank/escrow-notary+e53c47ce+AQ"));
        let back = SigningKey::parse(&format!("{text}\n")).unwrap();
        assert_eq!(back.verifier_key(), key.verifier_key());
        let wrong_id = text.replace("+e53c47ce+", "+e53c47cf+");
        assert!(SigningKey::parse(&wrong_id).is_err());
        let renamed = text.replace("escrow-notary", "other-notary");
        assert!(
            SigningKey::parse(&renamed).is_err(),
            "the key ID binds the name"
        );
        assert!(SigningKey::parse(&text.replacen("PRIVATE", "PUBLIC", 1)).is_err());
        assert!(SigningKey::parse("PRIVATE+KEY+a+b").is_err());

        let fresh = SigningKey::generate("bank.example/log").unwrap();
        assert_ne!(fresh.verifier_key(), key.verifier_key());
        assert_eq!(
            SigningKey::parse(&fresh.to_private_text())
                .unwrap()
                .key_id(),
            fresh.key_id()
        );
    }

    #[test]
    fn malformed_verifier_keys_are_rejected() {
        assert!(VerifierKey::parse("example.com/foo+530d903a").is_err());
        assert!(
            VerifierKey::parse(
                "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
            )
            .is_err()
        );
        assert!(
            VerifierKey::parse(
                "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
            )
            .is_err()
        );
        assert!(
            VerifierKey::parse(
                "example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
            )
            .is_err()
        );
        assert!(
            VerifierKey::parse(
                "example.com/foo+530d903a+AkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
            )
            .is_err()
        );
        assert!(
            VerifierKey::parse("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k").is_err()
        );
        assert!(SigningKey::from_seed("has space", [0; 32]).is_err());
        assert!(SigningKey::from_seed("has+plus", [0; 32]).is_err());
        assert!(SigningKey::from_seed("", [0; 32]).is_err());
    }

    #[test]
    fn sign_then_open_round_trips_and_other_signers_are_ignored() {
        let key = test_key();
        let note = key.sign_note("hello\nworld\n").unwrap();
        assert_eq!(
            key.verifier_key().open_note(&note).unwrap(),
            "hello\nworld\n"
        );

        // A cosignature by some other key, before or after ours, is ignored.
        let other = SigningKey::from_seed("witness.example", [7; 32]).unwrap();
        let other_line = other.sign_note("hello\nworld\n").unwrap();
        let other_line = other_line.rsplit_once("\n\n").unwrap().1;
        let both = format!("{note}{other_line}");
        assert_eq!(
            key.verifier_key().open_note(&both).unwrap(),
            "hello\nworld\n"
        );
        // ... but a note signed only by the other key is refused for our key.
        let theirs = other.sign_note("hello\nworld\n").unwrap();
        assert!(matches!(
            key.verifier_key().open_note(&theirs),
            Err(NotaryError::UnknownKey { .. })
        ));
        // Same name, different key: its ID differs, so it is "unknown", not a failure.
        let impostor = SigningKey::from_seed(key.name(), [9; 32]).unwrap();
        let forged = impostor.sign_note("hello\nworld\n").unwrap();
        assert!(matches!(
            key.verifier_key().open_note(&forged),
            Err(NotaryError::UnknownKey { .. })
        ));
    }

    #[test]
    fn tampered_and_malformed_notes_are_rejected() {
        let key = test_key();
        let vkey = key.verifier_key();
        let note = key.sign_note("hello\n").unwrap();
        let tampered = note.replacen("hello", "hellO", 1);
        assert!(matches!(
            vkey.open_note(&tampered),
            Err(NotaryError::SignatureMismatch { .. })
        ));

        let (text, sig_line) = note.split_once("\n\n").unwrap();
        // Garbage after the key ID: a known key whose signature fails rejects the note.
        let payload = BASE64
            .decode(sig_line.trim_end().rsplit_once(' ').unwrap().1)
            .unwrap();
        let short = BASE64.encode(&payload[..40]);
        let bad_sig = format!("{text}\n\n\u{2014} {} {short}\n", key.name());
        assert!(matches!(
            vkey.open_note(&bad_sig),
            Err(NotaryError::SignatureMismatch { .. })
        ));

        for malformed in [
            "hello\n".to_owned(),                               // no signatures
            note.trim_end().to_owned(),                         // no final newline
            note.replace('\u{2014}', "-"),                      // not an em dash
            format!("{note}\n"),                                // trailing blank line
            note.replace("hello", "hel\rlo"),                   // control character
            note.replace(" 5", " !"),                           // not base64 (sig starts 5Tx…)
            format!("hello\n\n\u{2014} {} AAAA\n", key.name()), // too short
            format!("{}{}", "x".repeat(MAX_NOTE_BYTES), note),  // too large
        ] {
            assert!(
                matches!(vkey.open_note(&malformed), Err(NotaryError::BadNote { .. })),
                "accepted or misclassified: {malformed:?}"
            );
        }
        let mut many = key.sign_note("hello\n").unwrap();
        for _ in 0..MAX_SIGNATURES {
            many.push_str("\u{2014} other.example AAAAAAAA\n");
        }
        assert!(matches!(
            vkey.open_note(&many),
            Err(NotaryError::BadNote { .. })
        ));
    }

    #[test]
    fn signing_refuses_text_that_cannot_be_a_note() {
        let key = test_key();
        for bad in ["", "no newline", "a\n\n", "\n", "tab\there\n"] {
            assert!(key.sign_note(bad).is_err(), "{bad:?}");
        }
    }
}
