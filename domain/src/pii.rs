//! Personal data at rest: ID, phone and card numbers are stored encrypted (AES-256-GCM) beside
//! a keyed hash (HMAC-SHA-256) that allows exact lookup without decrypting. Shown to principals
//! only masked, except to a court (docs/domain.md, "Personal data").
//!
//! Keys: one master key from configuration derives the index key; encryption keys carry an id
//! so that a new key can be introduced while old ciphertexts still decrypt (rotation: add the
//! new key as current, keep the old ones as `previous`, re-encrypt at leisure). The index key is
//! derived from the first master key and never rotates, or every lookup hash would change.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::error::DomainError;

type HmacSha256 = Hmac<Sha256>;

/// A kind of personal identifier, part of its lookup hash so equal strings of different kinds
/// never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiKind {
    IdNumber,
    Phone,
    Card,
}

impl PiiKind {
    fn label(self) -> &'static [u8] {
        match self {
            PiiKind::IdNumber => b"id_number",
            PiiKind::Phone => b"phone",
            PiiKind::Card => b"card",
        }
    }
}

/// The keys for personal data.
pub struct PiiVault {
    current: (u8, Aes256Gcm),
    previous: Vec<(u8, Aes256Gcm)>,
    index_key: [u8; 32],
}

impl std::fmt::Debug for PiiVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PiiVault { keys: <redacted> }")
    }
}

impl PiiVault {
    /// A vault from the index master key and the encryption keys: `current` encrypts, all of
    /// them decrypt.
    pub fn new(
        index_master: [u8; 32],
        current: (u8, [u8; 32]),
        previous: &[(u8, [u8; 32])],
    ) -> PiiVault {
        let cipher = |k: &[u8; 32]| Aes256Gcm::new(k.into());
        PiiVault {
            current: (current.0, cipher(&current.1)),
            previous: previous.iter().map(|(id, k)| (*id, cipher(k))).collect(),
            index_key: derive(&index_master, b"lvyue pii index v1"),
        }
    }

    /// A vault with one key for both purposes (a new installation).
    pub fn single(master: [u8; 32]) -> PiiVault {
        PiiVault::new(master, (1, PiiVault::default_key(&master)), &[])
    }

    /// The encryption key a new installation derives from its master key, as key id 1: kept
    /// after a rotation so that what was written before it still decrypts.
    #[must_use]
    pub fn default_key(master: &[u8; 32]) -> [u8; 32] {
        derive(master, b"lvyue pii encryption v1")
    }

    /// `k<id>:<base64(nonce ‖ ciphertext)>`
    ///
    /// # Errors
    /// Only if the cipher fails (it does not for inputs of sane size).
    pub fn encrypt(&self, plaintext: &str) -> Result<String, DomainError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .current
            .1
            .encrypt(&Nonce::from(nonce), plaintext.as_bytes())
            .map_err(|_| DomainError::Internal("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("k{}:{}", self.current.0, STANDARD.encode(out)))
    }

    /// # Errors
    /// Unknown key id or a ciphertext that does not authenticate.
    pub fn decrypt(&self, stored: &str) -> Result<String, DomainError> {
        let bad = || DomainError::Internal("stored personal data does not decrypt".into());
        let (id, body) = stored
            .strip_prefix('k')
            .and_then(|s| s.split_once(':'))
            .ok_or_else(bad)?;
        let id: u8 = id.parse().map_err(|_| bad())?;
        let cipher = std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|(k, _)| *k == id)
            .map(|(_, c)| c)
            .ok_or_else(bad)?;
        let raw = STANDARD.decode(body).map_err(|_| bad())?;
        if raw.len() < 12 {
            return Err(bad());
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| bad())?;
        let pt = cipher.decrypt(&Nonce::from(nonce), ct).map_err(|_| bad())?;
        String::from_utf8(pt).map_err(|_| bad())
    }

    /// The lookup hash of an identifier: HMAC-SHA-256(index key, kind ‖ 0x00 ‖ value), hex.
    pub fn blind_index(&self, kind: PiiKind, value: &str) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.index_key)
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(kind.label());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// HMAC accepts keys of any length; this is never reached.
fn unreachable_hmac() -> HmacSha256 {
    unreachable!("HMAC-SHA-256 takes keys of any length")
}

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(master).unwrap_or_else(|_| unreachable_hmac());
    mac.update(label);
    mac.finalize().into_bytes().into()
}

/// `段**`: the first character and one star per further character (at least two).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count().max(2);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

/// `110105********002X`: first 6 and last 4 of an 18-character ID number.
pub fn mask_id_number(id: &str) -> String {
    mask_middle(id, 6, 4)
}

/// `138****5678`.
pub fn mask_phone(phone: &str) -> String {
    mask_middle(phone, 3, 4)
}

/// First 6 and last 4 digits of a card number.
pub fn mask_card(card: &str) -> String {
    mask_middle(card, 6, 4)
}

fn mask_middle(s: &str, keep_start: usize, keep_end: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= keep_start + keep_end {
        return "*".repeat(chars.len());
    }
    let middle = chars.len() - keep_start - keep_end;
    let mut out: String = chars[..keep_start].iter().collect();
    out.push_str(&"*".repeat(middle));
    out.extend(&chars[chars.len() - keep_end..]);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn masks_follow_the_bank_conventions() {
        assert_eq!(mask_name("段誉"), "段**");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_id_number("11010519491231002X"), "110105********002X");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_card("6216261000000000018"), "621626*********0018");
    }

    #[test]
    fn ciphertexts_round_trip_and_hide_the_plaintext() {
        let v = PiiVault::single([7; 32]);
        let c = v.encrypt("11010519491231002X").unwrap();
        assert!(!c.contains("1101051949"));
        assert_ne!(
            c,
            v.encrypt("11010519491231002X").unwrap(),
            "fresh nonce every time"
        );
        assert_eq!(v.decrypt(&c).unwrap(), "11010519491231002X");
        assert!(v.decrypt("k1:AAAA").is_err());
    }

    #[test]
    fn a_rotated_vault_still_reads_old_ciphertexts_and_keeps_lookups() {
        let old = PiiVault::new([1; 32], (1, [2; 32]), &[]);
        let c = old.encrypt("13812345678").unwrap();
        let new = PiiVault::new([1; 32], (2, [3; 32]), &[(1, [2; 32])]);
        assert_eq!(new.decrypt(&c).unwrap(), "13812345678");
        assert!(new.encrypt("x").unwrap().starts_with("k2:"));
        assert_eq!(
            old.blind_index(PiiKind::Phone, "13812345678"),
            new.blind_index(PiiKind::Phone, "13812345678")
        );
        assert_ne!(
            new.blind_index(PiiKind::Phone, "1"),
            new.blind_index(PiiKind::Card, "1")
        );
    }
}
