//! A small, independent RFC 9162 proof verifier: inclusion (§2.1.3.2) and consistency
//! (§2.1.4.2).
//!
//! This is the code a court or regulator runs. It shares nothing with [`crate::tree`] except the
//! two hash functions, and nothing at all with `rs_merkle` (whose `MerkleProof::verify` accepts
//! forged multiproofs and trailing junk). Beyond the RFC's algorithms it checks, up front and with
//! its own error, that the leaf index is inside the tree and that the proof has exactly the
//! number of hashes RFC 9162 prescribes for its index and size(s).
//!
//! A proof binds a leaf to a root; it does not bind the tree size (the same path can fit more
//! than one size). The size and root must come from a signed checkpoint
//! ([`crate::checkpoint::Checkpoint::open`]), which [`crate::proof_bundle::verify_bundle`] does.

use crate::error::{NotaryError, Result};
use crate::hash::{Hash, empty_root, node_hash};

/// Number of hashes in the audit path of leaf `index` in a tree of `size` leaves
/// (`index < size`).
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let (inner, border) = decompose(index, size);
    (inner + border) as usize
}

/// Number of hashes in the consistency proof from `old_size` to `new_size`
/// (`0 < old_size <= new_size`).
pub fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    if old_size == new_size {
        return 0;
    }
    let shift = old_size.trailing_zeros();
    let (inner, border) = decompose(old_size - 1, new_size);
    let seed = u32::from(!old_size.is_power_of_two());
    (seed + inner - shift + border) as usize
}

/// Splits the audit path of `index` in a tree of `size` leaves into the part below the level
/// where the paths to `index` and to the last leaf meet (`inner`) and the part above (`border`).
fn decompose(index: u64, size: u64) -> (u32, u32) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

/// RFC 9162 §2.1.3.2: checks that `leaf_hash` is leaf `index` of the tree of `size` leaves whose
/// root is `root`.
///
/// # Errors
/// [`NotaryError::IndexOutOfRange`] if `index >= size`; [`NotaryError::WrongProofLength`] if the
/// proof is truncated or extended; [`NotaryError::RootMismatch`] if it leads elsewhere.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<()> {
    let computed = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    if computed != *root {
        return Err(NotaryError::RootMismatch {
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// The root an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1–5, without the final
/// comparison).
///
/// # Errors
/// As [`verify_inclusion`], except [`NotaryError::RootMismatch`].
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash> {
    if index >= size {
        return Err(NotaryError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(NotaryError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if s_n == 0 {
            return Err(too_long());
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(too_short());
    }
    Ok(r)
}

/// RFC 9162 §2.1.4.2: checks that the tree of `new_size` leaves with root `new_root` extends the
/// tree of `old_size` leaves with root `old_root`.
///
/// Equal sizes need an empty proof and equal roots (and size 0 needs the empty-tree root).
/// `old_size == 0 < new_size` is refused: every tree extends the empty tree, RFC 9162 defines no
/// proof for it, and the transparency-dev vectors expect a refusal. A client with no previous
/// checkpoint has nothing to check.
///
/// # Errors
/// [`NotaryError::InvalidProof`] for sizes in the wrong order or an old size of 0;
/// [`NotaryError::WrongProofLength`] if the proof is truncated or extended;
/// [`NotaryError::OldRootMismatch`] / [`NotaryError::RootMismatch`] if it leads elsewhere.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<()> {
    if old_size > new_size {
        return Err(NotaryError::InvalidProof {
            reason: format!("old size {old_size} is larger than new size {new_size}"),
        });
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(NotaryError::WrongProofLength {
                expected: 0,
                actual: proof.len(),
            });
        }
        if old_size == 0 && *old_root != empty_root() {
            return Err(NotaryError::OldRootMismatch {
                computed: empty_root(),
                expected: *old_root,
            });
        }
        if old_root != new_root {
            return Err(NotaryError::RootMismatch {
                computed: *old_root,
                expected: *new_root,
            });
        }
        return Ok(());
    }
    if old_size == 0 {
        return Err(NotaryError::InvalidProof {
            reason: "every tree extends the empty tree; a consistency proof starts at size 1"
                .to_owned(),
        });
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(NotaryError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }

    // Step 2: if old_size is a power of two, the old root is the first node of the path.
    let (first, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => return Err(too_short()),
        }
    };
    // Steps 3–4.
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    // Steps 5–6.
    let (mut f_r, mut s_r) = (first, first);
    for c in rest {
        if s_n == 0 {
            return Err(too_long());
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 7.
    if s_n != 0 {
        return Err(too_short());
    }
    if f_r != *old_root {
        return Err(NotaryError::OldRootMismatch {
            computed: f_r,
            expected: *old_root,
        });
    }
    if s_r != *new_root {
        return Err(NotaryError::RootMismatch {
            computed: s_r,
            expected: *new_root,
        });
    }
    Ok(())
}

fn too_long() -> NotaryError {
    NotaryError::InvalidProof {
        reason: "the proof continues past the root".to_owned(),
    }
}

fn too_short() -> NotaryError {
    NotaryError::InvalidProof {
        reason: "the proof ends before reaching the root".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn h(hex: &str) -> Hash {
        hex.parse().unwrap()
    }

    const L: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ];
    const ROOT8: &str = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";

    #[test]
    fn leaf_5_of_the_reference_tree_is_included() {
        let proof = [
            h(L[4]),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ];
        assert!(verify_inclusion(&h(L[5]), 5, 8, &proof, &h(ROOT8)).is_ok());
        assert!(matches!(
            verify_inclusion(&h(L[5]), 5, 4, &proof, &h(ROOT8)),
            Err(NotaryError::IndexOutOfRange { index: 5, size: 4 })
        ));
        assert!(matches!(
            verify_inclusion(&h(L[5]), 5, 8, &proof[..2], &h(ROOT8)),
            Err(NotaryError::WrongProofLength {
                expected: 3,
                actual: 2
            })
        ));
        assert!(matches!(
            verify_inclusion(&h(L[4]), 5, 8, &proof, &h(ROOT8)),
            Err(NotaryError::RootMismatch { .. })
        ));
    }

    #[test]
    fn consistency_from_4_to_7_is_one_hash() {
        let root4 = h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7");
        let root7 = h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c");
        let proof = [h(
            "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e",
        )];
        assert!(verify_consistency(4, 7, &root4, &root7, &proof).is_ok());
        // 4 is a power of two: the old root seeds the path, so a wrong one shows in the new root.
        assert!(matches!(
            verify_consistency(4, 7, &root7, &root7, &proof),
            Err(NotaryError::RootMismatch { .. })
        ));
        // 3 is not: the proof rebuilds the old root, and a wrong one is named as such.
        let root3 = h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77");
        let proof = [
            h(L[2]),
            h(L[3]),
            h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
            proof[0],
        ];
        assert!(verify_consistency(3, 7, &root3, &root7, &proof).is_ok());
        assert!(matches!(
            verify_consistency(3, 7, &root4, &root7, &proof),
            Err(NotaryError::OldRootMismatch { .. })
        ));
    }

    #[test]
    fn equal_and_empty_sizes() {
        let r = h(ROOT8);
        assert!(verify_consistency(8, 8, &r, &r, &[]).is_ok());
        assert!(verify_consistency(8, 8, &r, &h(L[0]), &[]).is_err());
        assert!(verify_consistency(8, 8, &r, &r, &[r]).is_err());
        assert!(verify_consistency(0, 0, &empty_root(), &empty_root(), &[]).is_ok());
        assert!(verify_consistency(0, 0, &r, &r, &[]).is_err());
        assert!(verify_consistency(0, 8, &empty_root(), &r, &[]).is_err());
        assert!(verify_consistency(9, 8, &r, &r, &[]).is_err());
    }

    #[test]
    fn proof_lengths() {
        assert_eq!(inclusion_proof_len(0, 1), 0);
        assert_eq!(inclusion_proof_len(5, 8), 3);
        assert_eq!(inclusion_proof_len(2, 3), 1);
        assert_eq!(inclusion_proof_len(0, 1 << 20), 20);
        assert_eq!(inclusion_proof_len(u64::MAX - 1, u64::MAX), 63);
        assert_eq!(inclusion_proof_len(0, u64::MAX), 64);
        assert_eq!(consistency_proof_len(3, 7), 4);
        assert_eq!(consistency_proof_len(4, 7), 1);
        assert_eq!(consistency_proof_len(6, 8), 3);
        assert_eq!(consistency_proof_len(1, 8), 3);
    }
}
