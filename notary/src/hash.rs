//! SHA-256 hashes and the Merkle hashing rules of RFC 9162 §2.1.1.
//!
//! - leaf hash: `SHA-256(0x00 ‖ entry bytes)`
//! - interior node hash: `SHA-256(0x01 ‖ left ‖ right)`
//! - root of the empty tree: `SHA-256("")`
//!
//! The distinct prefixes make a leaf impossible to pass off as an interior node (the
//! second-preimage weakness of unprefixed trees). [`struct@Hash`] prints as lowercase hex; checkpoints,
//! proof bundles and the transparency-dev vectors carry hashes in standard padded base64
//! (RFC 4648 §4), which [`Hash::to_base64`] and [`Hash::from_base64`] handle strictly.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest as _, Sha256};

use crate::error::{NotaryError, Result};

/// Length of a SHA-256 hash in bytes.
pub const HASH_LEN: usize = 32;

/// Domain-separation prefix of a leaf hash (RFC 9162 §2.1.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior node hash (RFC 9162 §2.1.1).
const NODE_PREFIX: u8 = 0x01;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; HASH_LEN]);

impl Hash {
    /// The all-zero hash; a placeholder, never the hash of anything in practice.
    pub const ZERO: Hash = Hash([0; HASH_LEN]);

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Takes exactly 32 bytes.
    ///
    /// # Errors
    /// [`NotaryError::BadHash`] if `bytes` is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let array: [u8; HASH_LEN] = bytes.try_into().map_err(|_| NotaryError::BadHash {
            reason: format!("a hash is {HASH_LEN} bytes, got {}", bytes.len()),
        })?;
        Ok(Hash(array))
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 64 lowercase hex digits.
    ///
    /// # Errors
    /// [`NotaryError::BadHash`] on any other input (uppercase included: one hash, one spelling).
    pub fn from_hex(text: &str) -> Result<Self> {
        let well_formed = text.len() == 2 * HASH_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !well_formed {
            return Err(NotaryError::BadHash {
                reason: format!("expected {} lowercase hex digits", 2 * HASH_LEN),
            });
        }
        let bytes = hex::decode(text).map_err(|e| NotaryError::BadHash {
            reason: e.to_string(),
        })?;
        Hash::from_slice(&bytes)
    }

    /// Standard padded base64 (RFC 4648 §4), 44 characters.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Parses standard padded base64 of exactly 32 bytes, in its canonical spelling only.
    ///
    /// # Errors
    /// [`NotaryError::BadHash`] if the text is not canonical base64 or not 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self> {
        let bytes = BASE64.decode(text).map_err(|e| NotaryError::BadHash {
            reason: format!("not standard padded base64: {e}"),
        })?;
        let hash = Hash::from_slice(&bytes)?;
        // The engine already rejects non-zero trailing bits and missing padding; re-encoding makes
        // the "one hash, one spelling" rule explicit.
        if hash.to_base64() != text {
            return Err(NotaryError::BadHash {
                reason: "base64 is not in canonical form".to_owned(),
            });
        }
        Ok(hash)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = NotaryError;

    fn from_str(text: &str) -> Result<Self> {
        Hash::from_hex(text)
    }
}

impl From<[u8; HASH_LEN]> for Hash {
    fn from(bytes: [u8; HASH_LEN]) -> Self {
        Hash(bytes)
    }
}

impl From<Hash> for [u8; HASH_LEN] {
    fn from(hash: Hash) -> Self {
        hash.0
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = NotaryError;

    fn try_from(bytes: &[u8]) -> Result<Self> {
        Hash::from_slice(bytes)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Serialized as its lowercase hex string.
impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

/// Deserialized from its lowercase hex string.
impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Hash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// RFC 9162 §2.1.1: the hash of a leaf, `SHA-256(0x00 ‖ bytes)`.
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_PREFIX]);
    hasher.update(bytes);
    Hash(hasher.finalize().into())
}

/// RFC 9162 §2.1.1: the hash of an interior node, `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut block = [0u8; 1 + 2 * HASH_LEN];
    block[0] = NODE_PREFIX;
    block[1..=HASH_LEN].copy_from_slice(&left.0);
    block[1 + HASH_LEN..].copy_from_slice(&right.0);
    Hash(Sha256::digest(block).into())
}

/// RFC 9162 §2.1.1: the root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// RFC 6962 reference leaves (transparency-dev/merkle `testonly/constants.go`).
    const LEAF_INPUTS: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const LEAF_HASHES: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ];

    #[test]
    fn leaf_hashes_match_the_rfc_6962_reference_tree() {
        for (input, want) in LEAF_INPUTS.iter().zip(LEAF_HASHES) {
            let got = leaf_hash(&hex::decode(input).unwrap());
            assert_eq!(got.to_hex(), want, "leaf {input:?}");
        }
    }

    #[test]
    fn node_hash_prefixes_0x01() {
        let l: Hash = LEAF_HASHES[0].parse().unwrap();
        let r: Hash = LEAF_HASHES[1].parse().unwrap();
        assert_eq!(
            node_hash(&l, &r).to_hex(),
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
        );
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_and_base64_round_trip() {
        let h: Hash = LEAF_HASHES[5].parse().unwrap();
        assert_eq!(h.to_string(), LEAF_HASHES[5]);
        assert_eq!(
            h.to_base64(),
            "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg="
        );
        assert_eq!(Hash::from_base64(&h.to_base64()).unwrap(), h);
        assert_eq!(format!("{h:?}"), format!("Hash({})", LEAF_HASHES[5]));
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", LEAF_HASHES[5]));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
    }

    #[test]
    fn malformed_hash_text_is_rejected() {
        let upper = LEAF_HASHES[0].to_uppercase();
        assert!(Hash::from_hex(&upper).is_err());
        assert!(Hash::from_hex(&LEAF_HASHES[0][..62]).is_err());
        assert!(Hash::from_hex(&format!("{}00", LEAF_HASHES[0])).is_err());
        assert!(Hash::from_hex(&format!("+{}", &LEAF_HASHES[0][1..])).is_err());
        // Unpadded, too short, non-canonical trailing bits.
        assert!(Hash::from_base64("QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg").is_err());
        assert!(Hash::from_base64("ZG9uJ3QgY2FyZSAx").is_err());
        assert!(Hash::from_base64("QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlh=").is_err());
        assert!(Hash::from_base64("").is_err());
    }
}
