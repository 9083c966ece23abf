//! The one error type of this crate.
//!
//! Every variant names what went wrong in words a log operator, an auditor or a court clerk can
//! act on. Messages never contain secret material (private keys are never echoed back).

use crate::hash::Hash;

/// Everything that can go wrong while building, proving, signing or verifying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotaryError {
    /// A leaf index is not inside the tree it was checked against.
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The size of the tree it was asked of.
        size: u64,
    },

    /// A tree size asked of the log is larger than the log.
    #[error("tree size {requested} is larger than the log, which has {available} leaves")]
    SizeOutOfRange {
        /// The size asked for.
        requested: u64,
        /// The number of leaves the log holds.
        available: u64,
    },

    /// A proof has the wrong number of hashes for its index and tree size(s).
    #[error(
        "the proof has {actual} hashes, but a proof for this index and tree size has exactly {expected}"
    )]
    WrongProofLength {
        /// The number of hashes RFC 9162 prescribes.
        expected: usize,
        /// The number of hashes supplied.
        actual: usize,
    },

    /// A proof is well formed but leads to a different root than the one it was checked against.
    #[error("the proof leads to root {computed}, not to the expected root {expected}")]
    RootMismatch {
        /// The root the proof leads to.
        computed: Hash,
        /// The root that was expected (from a checkpoint).
        expected: Hash,
    },

    /// A consistency proof does not lead back to the older tree's root.
    #[error(
        "the consistency proof leads to old root {computed}, not to the expected old root {expected}"
    )]
    OldRootMismatch {
        /// The old root the proof leads to.
        computed: Hash,
        /// The old root that was expected.
        expected: Hash,
    },

    /// A proof cannot be checked at all (sizes in the wrong order, nothing to prove, ...).
    #[error("invalid proof: {reason}")]
    InvalidProof {
        /// What is wrong with it.
        reason: String,
    },

    /// A hash in text form (hex or base64) is malformed.
    #[error("malformed hash: {reason}")]
    BadHash {
        /// What is wrong with it.
        reason: String,
    },

    /// A JSON value cannot be canonicalized without changing its meaning.
    #[error("cannot canonicalize the JSON value: {reason}")]
    NotCanonical {
        /// What is wrong with it.
        reason: String,
    },

    /// A key (signing or verifier key text, or a key name) is malformed.
    #[error("malformed key: {reason}")]
    BadKey {
        /// What is wrong with it.
        reason: String,
    },

    /// A signed note is malformed (see c2sp.org/signed-note).
    #[error("malformed signed note: {reason}")]
    BadNote {
        /// What is wrong with it.
        reason: String,
    },

    /// The text of a checkpoint is malformed (see c2sp.org/tlog-checkpoint).
    #[error("malformed checkpoint: {reason}")]
    BadCheckpoint {
        /// What is wrong with it.
        reason: String,
    },

    /// A signature by the expected key is present but does not verify: the note was altered or
    /// forged.
    #[error(
        "the signature by key {key} does not verify: the note was altered or was not signed by this key"
    )]
    SignatureMismatch {
        /// The key, as `<name>+<hex key id>`.
        key: String,
    },

    /// The note carries no signature by the expected key.
    #[error("the note carries no signature by the expected key {key}")]
    UnknownKey {
        /// The expected key, as `<name>+<hex key id>`.
        key: String,
    },

    /// A checkpoint names a different log than the one expected.
    #[error("the checkpoint is for log {found:?}, not for {expected:?}")]
    OriginMismatch {
        /// The origin that was expected (the key's name).
        expected: String,
        /// The origin the checkpoint names.
        found: String,
    },

    /// A tile path is malformed (see c2sp.org/tlog-tiles).
    #[error("malformed tile path {path:?}: {reason}")]
    BadTilePath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The bytes of a hash tile are malformed.
    #[error("malformed tile: {reason}")]
    BadTile {
        /// What is wrong with it.
        reason: String,
    },

    /// An entry is too large for a C2SP entry bundle.
    #[error(
        "entry {index} is {len} bytes, but an entry bundle holds entries of at most 65535 bytes"
    )]
    EntryTooLarge {
        /// Position of the entry in the bundle.
        index: usize,
        /// Its length in bytes.
        len: usize,
    },

    /// An entry bundle is malformed.
    #[error("malformed entry bundle: {reason}")]
    BadEntryBundle {
        /// What is wrong with it.
        reason: String,
    },

    /// A proof bundle (c2sp.org/tlog-proof) is malformed.
    #[error("malformed proof bundle: {reason}")]
    BadProofBundle {
        /// What is wrong with it.
        reason: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = NotaryError> = std::result::Result<T, E>;
