//! Lvyue's transparency log: the tamper-evident record of every event in an escrow fund's life.
//!
//! This crate is the notary's pure logic, with no database and no I/O: RFC 8785 canonical event
//! bytes, the RFC 9162 Merkle tree (append, roots, inclusion and consistency proofs for any past
//! size), an independent RFC 9162 verifier, C2SP signed checkpoints (Ed25519), C2SP tiles and
//! entry bundles, and C2SP `.tlog-proof` bundles that a court or regulator verifies offline with
//! nothing but the event, the bundle and the bank's public key; and the witness side: cosignatures
//! and the rules a witness cosigns by.
//!
//! It is not the event store (the domain crate stores events and their canonical bytes, and
//! feeds leaf hashes to a [`Tree`] in index order), not an HTTP server (the api crate serves
//! checkpoints, tiles and proofs), and not a key store (key files are the caller's).
//!
//! | module | owns | specification |
//! |---|---|---|
//! | [`hash`] | leaf, node and empty-tree hashes | RFC 9162 §2.1.1 |
//! | [`canonical`] | event bytes | RFC 8785 (JCS) |
//! | [`tree`] | append-only tree, roots, proofs, tile hashes | RFC 9162 §2.1, C2SP tlog-tiles |
//! | [`verify`] | inclusion and consistency verification | RFC 9162 §2.1.3.2, §2.1.4.2 |
//! | [`note`] | Ed25519 keys, signed notes | C2SP signed-note |
//! | [`checkpoint`] | signed tree heads | C2SP tlog-checkpoint |
//! | [`tiles`] | tile paths, tile bytes, entry bundles | C2SP tlog-tiles |
//! | [`proof_bundle`] | offline proof files | C2SP tlog-proof |
//! | [`cosignature`] | witness keys, cosignature lines | C2SP tlog-cosignature (Ed25519) |
//! | [`witness`] | the add-checkpoint request, a witness's rules | C2SP tlog-witness |
//! | [`error`] | [`NotaryError`] | |

pub mod canonical;
pub mod checkpoint;
pub mod cosignature;
pub mod error;
pub mod hash;
pub mod note;
pub mod proof_bundle;
pub mod tiles;
pub mod tree;
pub mod verify;
pub mod witness;

pub use canonical::canonical_json;
pub use checkpoint::Checkpoint;
pub use cosignature::{Cosigner, CosignerKey};
pub use error::{NotaryError, Result};
pub use hash::{Hash, empty_root, leaf_hash, node_hash};
pub use note::{SigningKey, VerifierKey};
pub use proof_bundle::{ProofBundle, verify_bundle};
pub use tiles::{TileKind, TilePath};
pub use tree::Tree;
pub use verify::{verify_consistency, verify_inclusion};
