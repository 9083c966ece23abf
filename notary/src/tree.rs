//! The in-memory append-only Merkle tree of RFC 9162 §2.1: roots (§2.1.1 MTH), inclusion proofs
//! (§2.1.3.1 PATH) and consistency proofs (§2.1.4.1 SUBPROOF) for the current size and for every
//! past size, and the hash tiles of C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>).
//!
//! # Shape
//!
//! A node is named by `(level, index)`: it is the root of the perfect subtree over leaves
//! `[index · 2^level, (index + 1) · 2^level)`. Such a node is *complete* once the tree holds all
//! of those leaves, and from then on it never changes. Every RFC 9162 hash of a tree of size `n`
//! is either a complete node, or a node on the right border of `n`, which is the right-folded
//! hash of the complete nodes given by the binary digits of the size (13 = 8 + 4 + 1 gives
//! `node(N8, node(N4, N1))`). So a tree that keeps complete nodes serves any past size.
//!
//! # Storage: what is kept, and why
//!
//! Kept: every leaf hash (level 0), and every complete node of level [`FIRST_STORED_LEVEL`]
//! (= 3) and above. A level-1 or level-2 node is recomputed from its 2 or 4 leaves when a proof
//! or root needs it. Measured with `cargo bench -p lvyue-notary` (release, 2-core shared VM,
//! SHA-NI) by changing only that constant:
//!
//! | levels kept | bytes per leaf | at 10M leaves | inclusion proof at 1M: current / past size |
//! |---|---|---|---|
//! | all: 0, 1, 2, … | 32 + 32 = 64 | 610 MiB | 0.95 µs / 1.7 µs |
//! | **0 and 3+ (chosen)** | 32 + 8 = 40 | 381 MiB | 1.8 µs / 3.0 µs |
//! | 0 and 4+ | 32 + 4 = 36 | 343 MiB | 3.0 µs / 4.6 µs |
//! | 0 and 8+ (leaves and tile roots) | 32 + 0.25 | 308 MiB | 47 µs / 60 µs |
//!
//! Keeping every node makes proofs pure lookups but costs 1.6× the memory; keeping only leaves
//! and tile roots makes every proof hash a few hundred nodes. Dropping levels 1 and 2 costs at
//! most 8 extra hashes per proof (4 on the path, 4 for a border node), which leaves proofs as
//! fast as `ct-merkle`'s (it keeps every node), at 40 bytes per leaf. Dropping level 3 as well
//! would save another 4 bytes per leaf for proofs 60 % slower. The leaf hashes themselves
//! (32 bytes) must stay: they are the level-0 tiles. The C2SP tile levels 8, 16, … are kept
//! levels, so full and partial tiles are lookups.
//!
//! Each level lives in a segmented store that never moves what it holds (see `store.rs`), so
//! [`Tree::push`] costs O(log n) worst case — one leaf store, then every 8th append hashes the 7
//! nodes of an 8-leaf block and carries up at most log n levels — and about two hashes amortized.
//! No append ever copies the tree the way a growing `Vec` does.
//! [`Tree::from_leaf_hashes`] adopts the leaf vector without copying it and hashes each level
//! once, level by level: O(n), no per-leaf commit (1M leaves in about 0.15 s, 10M in 1.6 s).
//!
//! # Why not `rs_merkle` here
//!
//! `rs_merkle` rebuilds the whole tree on each `commit` (quadratic when appending), has no
//! consistency proofs, and its `MerkleTree` does not expose inner layers, so it cannot even
//! provide the level-3+ nodes a bulk restore must keep: building a tile with it would hash the
//! tile a second time just to read its root (the tile roots alone of 1M leaves take it 0.16 s,
//! more than our whole restore). It is a dev-dependency, used only in tests to cross-check that
//! its single-leaf audit paths equal ours.

mod store;

use crate::error::{NotaryError, Result};
use crate::hash::{Hash, empty_root, node_hash};
use crate::tiles::{TILE_HEIGHT, TILE_WIDTH};
use store::HashStore;

/// The lowest level above the leaves whose complete nodes are stored; see the module docs.
pub const FIRST_STORED_LEVEL: u32 = 3;

/// Leaves per stored level-[`FIRST_STORED_LEVEL`] node.
const BLOCK_LEAVES: u64 = 1 << FIRST_STORED_LEVEL;

// Tile levels 1, 2, … read tree levels 8, 16, …, which must be stored levels.
const _: () = assert!(FIRST_STORED_LEVEL >= 1 && FIRST_STORED_LEVEL <= TILE_HEIGHT);

/// An append-only RFC 9162 Merkle tree over leaf hashes, kept in memory.
#[derive(Clone, Default)]
pub struct Tree {
    size: u64,
    /// Level 0: the leaf hashes.
    leaves: HashStore,
    /// `upper[j]` holds the complete nodes of level `FIRST_STORED_LEVEL + j`.
    /// Invariant: `upper[j].len() == size >> (FIRST_STORED_LEVEL + j)`, and no level is empty.
    upper: Vec<HashStore>,
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Tree::default()
    }

    /// Rebuilds a tree from its leaf hashes in index order (start-up restore from the event
    /// table). Takes the vector over without copying it and hashes each stored level once: O(n).
    pub fn from_leaf_hashes(leaves: Vec<Hash>) -> Self {
        let size = leaves.len() as u64;
        let mut tree = Tree {
            size,
            leaves: HashStore::from_vec(leaves),
            upper: Vec::new(),
        };
        let blocks = size >> FIRST_STORED_LEVEL;
        let mut level: Vec<Hash> = (0..blocks)
            .map(|b| tree.perfect_from_leaves(b << FIRST_STORED_LEVEL, FIRST_STORED_LEVEL))
            .collect();
        while !level.is_empty() {
            let parents: Vec<Hash> = level
                .chunks_exact(2)
                .map(|pair| node_hash(&pair[0], &pair[1]))
                .collect();
            tree.upper.push(HashStore::from_vec(level));
            level = parents;
        }
        tree.debug_check_invariant();
        tree
    }

    /// Appends a leaf hash and returns its index. O(log n) worst case, O(1) amortized.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        let index = self.size;
        self.leaves.push(leaf);
        self.size += 1;
        if self.size.is_multiple_of(BLOCK_LEAVES) {
            let mut level = FIRST_STORED_LEVEL;
            let mut node = (self.size >> level) - 1;
            let mut hash = self.perfect_from_leaves(node << level, level);
            loop {
                let j = (level - FIRST_STORED_LEVEL) as usize;
                if self.upper.len() == j {
                    self.upper.push(HashStore::default());
                }
                self.upper[j].push(hash);
                if node & 1 == 0 {
                    break;
                }
                // A right child completes its parent.
                hash = node_hash(&self.upper[j].at(node - 1), &hash);
                level += 1;
                node >>= 1;
            }
        }
        self.debug_check_invariant();
        index
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True when the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Bytes allocated for the tree's hashes (capacity, including room not yet filled): the
    /// figure to watch as the log grows, about 40 bytes per leaf.
    pub fn heap_bytes(&self) -> usize {
        self.leaves.allocated_bytes()
            + self
                .upper
                .iter()
                .map(HashStore::allocated_bytes)
                .sum::<usize>()
    }

    /// The leaf hash at `index`, if the tree has it.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.leaves.get(index)
    }

    /// The root of the current tree (`SHA-256("")` when empty). O(log n).
    pub fn root(&self) -> Hash {
        self.root_of(self.size)
    }

    /// The root the tree had when it held `size` leaves.
    ///
    /// # Errors
    /// [`NotaryError::SizeOutOfRange`] if `size` is larger than the tree.
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        self.check_size(size)?;
        Ok(self.root_of(size))
    }

    /// RFC 9162 §2.1.3.1 `PATH(index, D[0:size])`: the audit path of leaf `index` in the tree of
    /// `size` leaves, leaf's sibling first and root's child last.
    ///
    /// # Errors
    /// [`NotaryError::SizeOutOfRange`] if `size` is larger than the tree,
    /// [`NotaryError::IndexOutOfRange`] if `index >= size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        self.check_size(size)?;
        if index >= size {
            return Err(NotaryError::IndexOutOfRange { index, size });
        }
        Ok(self.path(0, index, size))
    }

    /// RFC 9162 §2.1.4.1 `PROOF(old_size, D[0:new_size])`: the hashes that show the tree of
    /// `new_size` leaves extends the tree of `old_size` leaves. Empty when the sizes are equal.
    ///
    /// # Errors
    /// [`NotaryError::SizeOutOfRange`] if `new_size` is larger than the tree;
    /// [`NotaryError::InvalidProof`] if `old_size > new_size`, or if `old_size` is 0 with a
    /// larger `new_size` (every tree extends the empty one, so there is nothing to prove, and
    /// RFC 9162 defines the proof only for `0 < old_size`).
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(NotaryError::InvalidProof {
                reason: format!("old size {old_size} is larger than new size {new_size}"),
            });
        }
        if old_size == new_size {
            return Ok(Vec::new());
        }
        if old_size == 0 {
            return Err(NotaryError::InvalidProof {
                reason: "every tree extends the empty tree; a consistency proof starts at size 1"
                    .to_owned(),
            });
        }
        // SUBPROOF, unrolled: the largest complete node ending at `old_size` (level = trailing
        // zeros of old_size), unless it is the whole old tree, followed by that node's audit
        // path in the new tree.
        let level = old_size.trailing_zeros();
        let node = (old_size - 1) >> level;
        let mut proof = Vec::with_capacity(2 * 64);
        if node != 0 {
            proof.push(self.node(level, node));
        }
        self.extend_path(&mut proof, level, node, new_size);
        Ok(proof)
    }

    /// A full C2SP tile: the 256 hashes of tile `index` at tile level `level` (tree level
    /// `8 · level`), if the tree has all of them. Level-0 tiles are leaf hashes; hash `i` of a
    /// level-`L` tile is the root of the `256^L`-leaf subtree number `index · 256 + i`.
    pub fn tile(&self, level: u8, index: u64) -> Option<Vec<Hash>> {
        self.tile_at(level, index, TILE_WIDTH)
    }

    /// The first `width` hashes (1 to 256) of a tile: the partial tile `.p/<width>` served for a
    /// tree size at which the tile had `width` hashes. `None` if the tree does not have them yet
    /// or the arguments are out of range.
    pub fn tile_at(&self, level: u8, index: u64, width: u16) -> Option<Vec<Hash>> {
        let width = u64::from(width);
        let tile_width = u64::from(TILE_WIDTH);
        if width == 0 || width > tile_width {
            return None;
        }
        let tree_level = TILE_HEIGHT
            .checked_mul(u32::from(level))
            .filter(|l| *l < 64)?;
        let start = index.checked_mul(tile_width)?;
        let end = start.checked_add(width)?;
        if end > self.size >> tree_level {
            return None;
        }
        Some((start..end).map(|i| self.node(tree_level, i)).collect())
    }

    fn check_size(&self, size: u64) -> Result<()> {
        if size > self.size {
            return Err(NotaryError::SizeOutOfRange {
                requested: size,
                available: self.size,
            });
        }
        Ok(())
    }

    fn root_of(&self, size: u64) -> Hash {
        if size == 0 {
            empty_root()
        } else {
            self.border_hash(0, size)
        }
    }

    /// Appends to `proof` the audit path of complete node `(level, node)` in the tree of `size`
    /// leaves (the inclusion path of any leaf under that node, minus its lowest `level` hashes).
    fn extend_path(&self, proof: &mut Vec<Hash>, level: u32, node: u64, size: u64) {
        let last = (size - 1) >> level;
        // Below `inner` levels the paths to `node` and to the last leaf differ; there every
        // sibling exists, and only the topmost may be an incomplete (border) node.
        let inner = 64 - (node ^ last).leading_zeros();
        for d in 0..inner {
            let h = level + d;
            let sibling = (node >> d) ^ 1;
            let begin = sibling << h;
            let end = begin.saturating_add(1 << h);
            proof.push(if end <= size {
                self.node(h, sibling)
            } else {
                self.border_hash(begin, size)
            });
        }
        // Above, the path runs along the right border: only left siblings exist, all complete.
        let mut rest = node.checked_shr(inner).unwrap_or(0);
        let mut h = level + inner;
        while rest != 0 {
            if rest & 1 == 1 {
                proof.push(self.node(h, rest ^ 1));
            }
            rest >>= 1;
            h += 1;
        }
    }

    fn path(&self, level: u32, node: u64, size: u64) -> Vec<Hash> {
        let mut proof = Vec::with_capacity(64);
        self.extend_path(&mut proof, level, node, size);
        proof
    }

    /// MTH of leaves `[begin, end)`, where `begin` is a multiple of a power of two larger than
    /// `end - begin` (a node on the right border of a tree of `end` leaves): the right fold of the
    /// complete nodes given by the binary digits of `end - begin`.
    fn border_hash(&self, begin: u64, end: u64) -> Hash {
        let mut remaining = end - begin;
        let mut right_end = end;
        let mut acc: Option<Hash> = None;
        while remaining != 0 {
            let level = remaining.trailing_zeros();
            right_end -= 1 << level;
            let hash = self.node(level, right_end >> level);
            acc = Some(match acc {
                None => hash,
                Some(right) => node_hash(&hash, &right),
            });
            remaining &= remaining - 1;
        }
        acc.unwrap_or_else(empty_root)
    }

    /// Complete node `(level, index)`; the caller guarantees it is complete.
    fn node(&self, level: u32, index: u64) -> Hash {
        if level >= FIRST_STORED_LEVEL {
            self.upper[(level - FIRST_STORED_LEVEL) as usize].at(index)
        } else {
            self.perfect_from_leaves(index << level, level)
        }
    }

    /// Root of the `2^level` leaves starting at `start`, for `level <= FIRST_STORED_LEVEL`.
    fn perfect_from_leaves(&self, start: u64, level: u32) -> Hash {
        if level == 0 {
            return self.leaves.at(start);
        }
        let mut buf = [Hash::ZERO; (BLOCK_LEAVES / 2) as usize];
        let mut width = 1usize << (level - 1);
        for (i, slot) in buf.iter_mut().take(width).enumerate() {
            let left = start + 2 * i as u64;
            *slot = node_hash(&self.leaves.at(left), &self.leaves.at(left + 1));
        }
        while width > 1 {
            width /= 2;
            for i in 0..width {
                buf[i] = node_hash(&buf[2 * i], &buf[2 * i + 1]);
            }
        }
        buf[0]
    }

    fn debug_check_invariant(&self) {
        debug_assert_eq!(self.leaves.len(), self.size);
        debug_assert!(
            self.upper.iter().enumerate().all(|(j, s)| s.len()
                == self.size >> (FIRST_STORED_LEVEL + j as u32)
                && s.len() > 0),
            "stored levels out of step with the size"
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::hash::leaf_hash;
    use crate::verify::{verify_consistency, verify_inclusion};

    pub(crate) fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("leaf-{i}").as_bytes()))
            .collect()
    }

    /// RFC 9162 §2.1.1 MTH, recursively, straight from the definition.
    pub(crate) fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => empty_root(),
            1 => d[0],
            n => {
                let k = largest_power_of_two_below(n);
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    fn largest_power_of_two_below(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// RFC 9162 §2.1 definitions (MTH, PATH, SUBPROOF), recursively, straight from the text,
    /// over ranges `[a, b)` of one leaf list. MTH results are memoized per range so that checking
    /// thousands of sizes stays fast in debug builds; the memo changes the cost, not the
    /// definition.
    struct Rfc<'a> {
        d: &'a [Hash],
        memo: std::collections::HashMap<(usize, usize), Hash>,
    }

    impl<'a> Rfc<'a> {
        fn new(d: &'a [Hash]) -> Self {
            Rfc {
                d,
                memo: std::collections::HashMap::new(),
            }
        }

        fn mth(&mut self, a: usize, b: usize) -> Hash {
            if let Some(h) = self.memo.get(&(a, b)) {
                return *h;
            }
            let h = match b - a {
                0 => empty_root(),
                1 => self.d[a],
                n => {
                    let k = largest_power_of_two_below(n);
                    let (l, r) = (self.mth(a, a + k), self.mth(a + k, b));
                    node_hash(&l, &r)
                }
            };
            self.memo.insert((a, b), h);
            h
        }

        /// PATH(m, D[a:b]) (§2.1.3.1).
        fn path(&mut self, m: usize, a: usize, b: usize) -> Vec<Hash> {
            let n = b - a;
            if n == 1 {
                return Vec::new();
            }
            let k = largest_power_of_two_below(n);
            let (mut p, sibling) = if m < k {
                (self.path(m, a, a + k), self.mth(a + k, b))
            } else {
                (self.path(m - k, a + k, b), self.mth(a, a + k))
            };
            p.push(sibling);
            p
        }

        /// SUBPROOF(m, D[a:b], flag) (§2.1.4.1).
        fn subproof(&mut self, m: usize, a: usize, b: usize, flag: bool) -> Vec<Hash> {
            let n = b - a;
            if m == n {
                return if flag {
                    Vec::new()
                } else {
                    vec![self.mth(a, b)]
                };
            }
            let k = largest_power_of_two_below(n);
            let (mut p, sibling) = if m <= k {
                (self.subproof(m, a, a + k, flag), self.mth(a + k, b))
            } else {
                (self.subproof(m - k, a + k, b, false), self.mth(a, a + k))
            };
            p.push(sibling);
            p
        }
    }

    #[test]
    fn roots_of_the_rfc_6962_reference_tree() {
        let inputs = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ];
        let roots = [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut tree = Tree::new();
        assert_eq!(tree.root().to_hex(), roots[0]);
        for (i, input) in inputs.iter().enumerate() {
            assert_eq!(tree.push(leaf_hash(&hex::decode(input).unwrap())), i as u64);
            assert_eq!(tree.root().to_hex(), roots[i + 1], "size {}", i + 1);
        }
        for (size, root) in roots.iter().enumerate() {
            assert_eq!(tree.root_at(size as u64).unwrap().to_hex(), *root);
        }
    }

    #[test]
    fn pushed_roots_equal_the_recursive_mth_for_sizes_1_to_2000() {
        let d = leaves(2000);
        let mut rfc = Rfc::new(&d);
        let mut tree = Tree::new();
        for (n, leaf) in d.iter().enumerate() {
            tree.push(*leaf);
            assert_eq!(tree.root(), rfc.mth(0, n + 1), "size {}", n + 1);
        }
        for k in 0..=2000usize {
            assert_eq!(
                tree.root_at(k as u64).unwrap(),
                rfc.mth(0, k),
                "root_at({k})"
            );
        }
        assert!(tree.root_at(2001).is_err());
    }

    #[test]
    fn bulk_restore_equals_one_by_one_pushes() {
        let d = leaves(5000);
        let mut pushed = Tree::new();
        for n in 0..=5000u64 {
            if n > 0 {
                pushed.push(d[n as usize - 1]);
            }
            // Sizes around block, tile and segment boundaries, plus a sample of the rest.
            if n < 40 || n % 97 == 0 || [255, 256, 257, 4095, 4096, 4097].contains(&n) {
                let restored = Tree::from_leaf_hashes(d[..n as usize].to_vec());
                assert_eq!(restored.size(), n);
                assert_eq!(restored.root(), pushed.root(), "size {n}");
                assert_eq!(restored.upper.len(), pushed.upper.len());
                for (a, b) in restored.upper.iter().zip(&pushed.upper) {
                    assert_eq!(a.len(), b.len());
                    assert!((0..a.len()).all(|i| a.at(i) == b.at(i)));
                }
            }
        }
        // Appending after a restore continues the same tree.
        let mut restored = Tree::from_leaf_hashes(d[..1234].to_vec());
        for leaf in &d[1234..] {
            restored.push(*leaf);
        }
        assert_eq!(restored.root(), pushed.root());
        assert_eq!(
            restored.inclusion_proof(3, 4321).unwrap(),
            pushed.inclusion_proof(3, 4321).unwrap()
        );
    }

    #[test]
    fn proofs_equal_the_recursive_rfc_definitions() {
        let d = leaves(130);
        let mut rfc = Rfc::new(&d);
        let tree = Tree::from_leaf_hashes(d.clone());
        for n in 1..=130usize {
            for m in 0..n {
                assert_eq!(
                    tree.inclusion_proof(m as u64, n as u64).unwrap(),
                    rfc.path(m, 0, n),
                    "PATH({m}, {n})"
                );
            }
            for m in 1..=n {
                assert_eq!(
                    tree.consistency_proof(m as u64, n as u64).unwrap(),
                    rfc.subproof(m, 0, n, true),
                    "PROOF({m}, {n})"
                );
            }
        }
    }

    #[test]
    fn proof_arguments_out_of_range_are_refused() {
        let tree = Tree::from_leaf_hashes(leaves(10));
        assert_eq!(
            tree.inclusion_proof(10, 10),
            Err(NotaryError::IndexOutOfRange {
                index: 10,
                size: 10
            })
        );
        assert_eq!(
            tree.inclusion_proof(0, 11),
            Err(NotaryError::SizeOutOfRange {
                requested: 11,
                available: 10
            })
        );
        assert!(tree.inclusion_proof(0, 0).is_err());
        assert!(tree.consistency_proof(5, 4).is_err());
        assert!(tree.consistency_proof(0, 4).is_err());
        assert!(tree.consistency_proof(3, 11).is_err());
        assert_eq!(tree.consistency_proof(0, 0).unwrap(), Vec::<Hash>::new());
        assert_eq!(tree.consistency_proof(7, 7).unwrap(), Vec::<Hash>::new());
        assert_eq!(tree.leaf(9), Some(leaf_hash(b"leaf-9")));
        assert_eq!(tree.leaf(10), None);
    }

    #[test]
    fn tiles_are_the_hashes_of_levels_0_and_8() {
        let d = leaves(70_000);
        let tree = Tree::from_leaf_hashes(d.clone());
        // Level 0: leaf hashes.
        assert_eq!(tree.tile(0, 0).unwrap(), d[..256].to_vec());
        assert_eq!(tree.tile(0, 272).unwrap(), d[272 * 256..273 * 256].to_vec());
        assert_eq!(tree.tile(0, 273), None);
        assert_eq!(tree.tile_at(0, 273, 112).unwrap(), d[273 * 256..].to_vec());
        assert_eq!(tree.tile_at(0, 273, 113), None);
        assert_eq!(
            tree.tile_at(0, 273, 5).unwrap(),
            d[273 * 256..273 * 256 + 5].to_vec()
        );
        // Level 1: roots of 256-leaf subtrees.
        let l1 = tree.tile(1, 0).unwrap();
        assert_eq!(l1.len(), 256);
        assert_eq!(l1[3], mth(&d[3 * 256..4 * 256]));
        assert_eq!(tree.tile(1, 1), None);
        let p = tree.tile_at(1, 1, 17).unwrap();
        assert_eq!(p[16], mth(&d[(256 + 16) * 256..(256 + 17) * 256]));
        // Level 2: one partial hash, the first 65 536 leaves.
        assert_eq!(tree.tile_at(2, 0, 1).unwrap(), vec![mth(&d[..65_536])]);
        assert_eq!(tree.tile_at(2, 0, 2), None);
        assert_eq!(tree.tile_at(3, 0, 1), None);
        assert_eq!(tree.tile_at(0, 0, 0), None);
        assert_eq!(tree.tile_at(0, 0, 257), None);
        assert_eq!(tree.tile_at(200, 0, 1), None);
        assert_eq!(tree.tile_at(0, u64::MAX, 1), None);
    }

    #[test]
    fn a_hundred_thousand_leaves_give_the_published_root() {
        let want = "cad998684e79fd03b517f11ec5702d660141cce7088440d7c3bf1f43cc053858";
        let d = leaves(100_000);
        let mut tree = Tree::new();
        for leaf in &d {
            tree.push(*leaf);
        }
        assert_eq!(tree.root().to_hex(), want);
        assert_eq!(Tree::from_leaf_hashes(d).root().to_hex(), want);
    }

    #[test]
    fn memory_is_about_40_bytes_per_leaf_after_restore() {
        let tree = Tree::from_leaf_hashes(leaves(1 << 16));
        let bytes: usize = tree.leaves.allocated_bytes()
            + tree
                .upper
                .iter()
                .map(HashStore::allocated_bytes)
                .sum::<usize>();
        assert_eq!(bytes, tree.heap_bytes());
        assert!(bytes <= 41 * (1 << 16), "{bytes} bytes");
    }

    /// One shared tree for the property tests; proofs are asked of its past sizes.
    fn shared() -> &'static (Vec<Hash>, Tree) {
        static TREE: std::sync::OnceLock<(Vec<Hash>, Tree)> = std::sync::OnceLock::new();
        TREE.get_or_init(|| {
            let d = leaves(4096 + 300);
            let mut tree = Tree::new();
            for leaf in &d {
                tree.push(*leaf);
            }
            (d, tree)
        })
    }

    fn flip(proof: &[Hash], at: usize, bit: u8) -> Vec<Hash> {
        let mut p = proof.to_vec();
        p[at].0[(bit / 8) as usize % 32] ^= 1 << (bit % 8);
        p
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn every_inclusion_proof_verifies_and_every_tampering_fails(
            size in 1u64..=4396, index_seed in any::<u64>(), at_seed in any::<usize>(), bit in any::<u8>(),
        ) {
            let (_, tree) = shared();
            let index = index_seed % size;
            let root = tree.root_at(size).unwrap();
            let leaf = tree.leaf(index).unwrap();
            let proof = tree.inclusion_proof(index, size).unwrap();
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &root).is_ok());

            if !proof.is_empty() {
                let at = at_seed % proof.len();
                prop_assert!(verify_inclusion(&leaf, index, size, &flip(&proof, at, bit), &root).is_err());
                prop_assert!(verify_inclusion(&leaf, index, size, &proof[..proof.len() - 1], &root).is_err());
            }
            let mut longer = proof.clone();
            longer.push(root);
            prop_assert!(verify_inclusion(&leaf, index, size, &longer, &root).is_err());
            let mut flipped_leaf = leaf;
            flipped_leaf.0[bit as usize % 32] ^= 1;
            prop_assert!(verify_inclusion(&flipped_leaf, index, size, &proof, &root).is_err());
            let mut flipped_root = root;
            flipped_root.0[bit as usize % 32] ^= 0x80;
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flipped_root).is_err());
            for other in [index ^ 1, index.wrapping_add(1), index.wrapping_sub(1), index ^ 4, size] {
                if other != index {
                    prop_assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err(),
                        "index {} accepted for {}", other, index);
                }
            }
            // A size is bound by the signed checkpoint, not by the path (RFC 9162 §2.1.3.2: one
            // path can fit several sizes). What must hold: checked against another size and that
            // size's root, the proof passes only if it is that size's honest proof.
            for other in [size + 1, size - 1, size * 2, size / 2, size + 7] {
                if other != size && other > index && other <= tree.size() {
                    let other_root = tree.root_at(other).unwrap();
                    let honest = tree.inclusion_proof(index, other).unwrap();
                    let accepted = verify_inclusion(&leaf, index, other, &proof, &other_root).is_ok();
                    prop_assert_eq!(accepted, honest == proof, "size {} checked as {}", size, other);
                }
            }
        }

        #[test]
        fn every_consistency_proof_verifies_and_every_tampering_fails(
            new_size in 1u64..=4396, old_seed in any::<u64>(), at_seed in any::<usize>(), bit in any::<u8>(),
        ) {
            let (_, tree) = shared();
            let old_size = 1 + old_seed % new_size;
            let old_root = tree.root_at(old_size).unwrap();
            let new_root = tree.root_at(new_size).unwrap();
            let proof = tree.consistency_proof(old_size, new_size).unwrap();
            prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &proof).is_ok());

            if !proof.is_empty() {
                let at = at_seed % proof.len();
                prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &flip(&proof, at, bit)).is_err());
                prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &proof[..proof.len() - 1]).is_err());
                prop_assert!(verify_consistency(old_size, new_size, &new_root, &old_root, &proof).is_err());
            }
            let mut longer = proof.clone();
            longer.push(new_root);
            prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &longer).is_err());
            let mut bad_old = old_root;
            bad_old.0[bit as usize % 32] ^= 1;
            prop_assert!(verify_consistency(old_size, new_size, &bad_old, &new_root, &proof).is_err());
            let mut bad_new = new_root;
            bad_new.0[bit as usize % 32] ^= 1;
            prop_assert!(verify_consistency(old_size, new_size, &old_root, &bad_new, &proof).is_err());
            for (m, n) in [(old_size + 1, new_size), (old_size - 1, new_size), (old_size, new_size + 1), (old_size, new_size - 1)] {
                if (m, n) != (old_size, new_size) && n <= tree.size() && m <= n && m > 0 {
                    let (mr, nr) = (tree.root_at(m).unwrap(), tree.root_at(n).unwrap());
                    let honest = tree.consistency_proof(m, n).unwrap();
                    let accepted = verify_consistency(m, n, &mr, &nr, &proof).is_ok();
                    prop_assert_eq!(accepted, honest == proof,
                        "proof for ({}, {}) checked as ({}, {})", old_size, new_size, m, n);
                }
            }
        }
    }
}
