//! The RFC 9162 verifiers and the tlog-proof parser. Garbage never panics (sizes up to
//! `u64::MAX`, proofs of any length); against a real tree built from the input, an honest
//! inclusion or consistency proof verifies and the same proof with one bit flipped, or for
//! another index or size, does not.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lvyue_notary::{Hash, ProofBundle, Tree, verify_consistency, verify_inclusion};

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in data.iter().skip(at).take(8).enumerate() {
        b[i] = *x;
    }
    u64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    // 1. Garbage proofs and sizes.
    let hashes: Vec<Hash> = data
        .chunks_exact(32)
        .map(|c| Hash::from_slice(c).expect("32 bytes"))
        .collect();
    let (a, b) = (u64_at(data, 0), u64_at(data, 8));
    let h = hashes
        .first()
        .copied()
        .unwrap_or_else(lvyue_notary::empty_root);
    let _ = verify_inclusion(&h, a, b, &hashes, &h);
    let _ = verify_consistency(a, b, &h, &h, &hashes);
    let _ = verify_consistency(a % 70, b % 70, &h, &h, &hashes);

    // 2. Any text as a proof bundle: parses back to itself.
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(bundle) = ProofBundle::parse(text)
    {
        let again = ProofBundle::parse(&bundle.to_string()).expect("a printed bundle parses");
        assert_eq!(again, bundle);
    }

    // 3. A real tree: honest proofs verify, altered ones do not.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let size = u64::from(n % 64) + 1;
    let mut tree = Tree::new();
    for i in 0..size {
        tree.push(lvyue_notary::leaf_hash(&[rest, &i.to_le_bytes()].concat()));
    }
    let index = u64_at(rest, 0) % size;
    let at = u64_at(rest, 8) % size + 1;
    let index = index % at;
    let leaf = tree.leaf(index).expect("leaf");
    let root = tree.root_at(at).expect("root");
    let proof = tree.inclusion_proof(index, at).expect("proof");
    verify_inclusion(&leaf, index, at, &proof, &root).expect("an honest inclusion proof");
    if at > 1 {
        let other = (index + 1) % at;
        if tree.leaf(other) != Some(leaf) {
            assert!(verify_inclusion(&leaf, other, at, &proof, &root).is_err());
        }
    }
    if !proof.is_empty() {
        let mut bad = proof.clone();
        let which = usize::from(rest.get(16).copied().unwrap_or(0)) % bad.len();
        let mut bytes = *bad[which].as_bytes();
        bytes[usize::from(rest.get(17).copied().unwrap_or(0)) % 32] ^= 1;
        bad[which] = Hash(bytes);
        assert!(verify_inclusion(&leaf, index, at, &bad, &root).is_err());
    }
    let old = u64_at(rest, 16) % at + 1;
    let c = tree.consistency_proof(old, at).expect("consistency proof");
    verify_consistency(old, at, &tree.root_at(old).expect("root"), &root, &c)
        .expect("an honest consistency proof");
    if !c.is_empty() {
        let mut bad = c.clone();
        let mut bytes = *bad[0].as_bytes();
        bytes[0] ^= 0x80;
        bad[0] = Hash(bytes);
        assert!(
            verify_consistency(old, at, &tree.root_at(old).expect("root"), &root, &bad).is_err()
        );
    }
});
