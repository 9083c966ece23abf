//! Throughput and memory of the notary tree, beside `ct-merkle` 0.3 on the same leaves in the
//! same process. Prints figures; asserts only that both trees agree on their roots.
//!
//! Run with `cargo bench -p lvyue-notary`. Entry `i` is the 8 bytes of `i` big-endian; both
//! trees hash it as an RFC 9162 leaf, with the same `sha2` 0.10 SHA-256 (ct-merkle through a
//! digest-0.11 adapter), so the comparison is of the trees, not of two SHA-256 builds.
//! Memory is the change in VmRSS (`/proc/self/status`) while building each tree, and includes
//! the leaf hashes (ours) or the entries and all node hashes (ct-merkle).

#[path = "../tests/support/ct_sha256.rs"]
mod ct_sha256;

use std::hint::black_box;
use std::time::{Duration, Instant};

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use lvyue_notary::{Hash, Tree, leaf_hash, node_hash, verify_consistency, verify_inclusion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type CtTree = MemoryBackedTree<ct_sha256::Sha256, [u8; 8]>;

const MILLION: u64 = 1_000_000;
const TEN_MILLION: u64 = 10_000_000;
/// Proof and verification samples per row.
const SAMPLES: usize = 100_000;

fn entry(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

#[derive(Clone, Copy)]
enum Figure {
    PerOp(Duration),
    Once(Duration),
    Rate(f64),
    Bytes(u64),
}

impl Figure {
    fn value(self) -> f64 {
        match self {
            Figure::PerOp(d) | Figure::Once(d) => d.as_secs_f64(),
            Figure::Rate(r) => r,
            Figure::Bytes(b) => b as f64,
        }
    }

    fn show(self) -> String {
        match self {
            Figure::PerOp(d) | Figure::Once(d) => {
                let s = d.as_secs_f64();
                if s >= 1.0 {
                    format!("{s:.2} s")
                } else if s >= 1e-3 {
                    format!("{:.1} ms", s * 1e3)
                } else if s >= 1e-6 {
                    format!("{:.2} µs", s * 1e6)
                } else {
                    format!("{:.0} ns", s * 1e9)
                }
            }
            Figure::Rate(r) => format!("{:.2} M/s", r / 1e6),
            Figure::Bytes(b) => format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0)),
        }
    }
}

struct Table {
    rows: Vec<(String, Figure, Option<Figure>)>,
}

impl Table {
    fn row(&mut self, op: &str, ours: Figure, theirs: Option<Figure>) {
        let line = self.format(op, ours, theirs);
        eprintln!("  measured: {line}");
        self.rows.push((op.to_owned(), ours, theirs));
    }

    fn format(&self, op: &str, ours: Figure, theirs: Option<Figure>) -> String {
        let (theirs_text, ratio) = match theirs {
            Some(t) => (t.show(), format!("{:.2}", ours.value() / t.value())),
            None => ("—".to_owned(), "—".to_owned()),
        };
        format!(
            "| {op:<64} | {:>11} | {theirs_text:>11} | {ratio:>6} |",
            ours.show()
        )
    }

    fn print(&self) {
        println!(
            "| {:<64} | {:>11} | {:>11} | {:>6} |",
            "operation", "ours", "ct-merkle", "ratio"
        );
        println!(
            "|{}|{}|{}|{}|",
            "-".repeat(66),
            "-".repeat(13),
            "-".repeat(13),
            "-".repeat(8)
        );
        for (op, ours, theirs) in &self.rows {
            println!("{}", self.format(op, *ours, *theirs));
        }
    }
}

fn per_op(samples: usize, mut f: impl FnMut(usize)) -> Figure {
    let start = Instant::now();
    for i in 0..samples {
        f(i);
    }
    Figure::PerOp(start.elapsed() / samples as u32)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

fn ct_root(tree: &CtTree) -> Hash {
    Hash::from_slice(tree.root().as_bytes()).unwrap_or(Hash::ZERO)
}

/// Appends one at a time; returns the tree, the total time and the slowest single append.
fn push_ours(n: u64) -> (Tree, Duration, Duration) {
    let mut tree = Tree::new();
    let mut worst = Duration::ZERO;
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        tree.push(leaf_hash(&entry(i)));
        worst = worst.max(t.elapsed());
    }
    (tree, start.elapsed(), worst)
}

fn push_ct(n: u64) -> (CtTree, Duration, Duration) {
    let mut tree = CtTree::new();
    let mut worst = Duration::ZERO;
    let start = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        tree.push(entry(i));
        worst = worst.max(t.elapsed());
    }
    (tree, start.elapsed(), worst)
}

fn rate(n: u64, d: Duration) -> Figure {
    Figure::Rate(n as f64 / d.as_secs_f64())
}

fn main() {
    let mut table = Table { rows: Vec::new() };
    let mut rng = StdRng::seed_from_u64(0x1f2e_3d4c);
    let n = MILLION;

    // ---- appends, one at a time, 1M leaves ----------------------------------------------------
    let rss = rss_bytes();
    let (ours, ours_push, ours_worst) = push_ours(n);
    let ours_rss = rss_bytes().saturating_sub(rss);
    let rss = rss_bytes();
    let (ct, ct_push, ct_worst) = push_ct(n);
    let ct_rss = rss_bytes().saturating_sub(rss);
    assert_eq!(ours.root(), ct_root(&ct), "roots differ at 1M");
    table.row(
        "appends/s, one at a time, 1M leaves (incl. leaf hashing)",
        rate(n, ours_push),
        Some(rate(n, ct_push)),
    );
    table.row(
        "slowest single append while building 1M",
        Figure::Once(ours_worst),
        Some(Figure::Once(ct_worst)),
    );
    table.row(
        "memory (RSS) after 1M appends",
        Figure::Bytes(ours_rss),
        Some(Figure::Bytes(ct_rss)),
    );
    table.row(
        "  hashes allocated by our tree, 1M (Tree::heap_bytes)",
        Figure::Bytes(ours.heap_bytes() as u64),
        None,
    );

    // ---- roots --------------------------------------------------------------------------------
    table.row(
        "root of the current tree (1M)",
        per_op(SAMPLES, |_| {
            black_box(ours.root());
        }),
        Some(per_op(SAMPLES, |_| {
            black_box(ct.root());
        })),
    );
    let sizes: Vec<u64> = (0..SAMPLES).map(|_| rng.gen_range(1..=n)).collect();
    table.row(
        "root at a random past size (of 1M)",
        per_op(SAMPLES, |i| {
            black_box(ours.root_at(sizes[i]).ok());
        }),
        None,
    );

    // ---- inclusion proofs ---------------------------------------------------------------------
    let indices: Vec<u64> = (0..SAMPLES).map(|_| rng.gen_range(0..n)).collect();
    table.row(
        "inclusion proof, random leaf, current size 1M",
        per_op(SAMPLES, |i| {
            black_box(ours.inclusion_proof(indices[i], n).ok());
        }),
        Some(per_op(SAMPLES, |i| {
            black_box(ct.prove_inclusion(indices[i] as usize));
        })),
    );
    let past: Vec<(u64, u64)> = (0..SAMPLES)
        .map(|_| {
            let size = rng.gen_range(1..=n);
            (rng.gen_range(0..size), size)
        })
        .collect();
    table.row(
        "inclusion proof, random leaf, random past size (of 1M)",
        per_op(SAMPLES, |i| {
            black_box(ours.inclusion_proof(past[i].0, past[i].1).ok());
        }),
        None,
    );

    // ---- consistency proofs -------------------------------------------------------------------
    let olds: Vec<u64> = (0..SAMPLES).map(|_| rng.gen_range(1..n)).collect();
    table.row(
        "consistency proof, random old size -> 1M",
        per_op(SAMPLES, |i| {
            black_box(ours.consistency_proof(olds[i], n).ok());
        }),
        Some(per_op(SAMPLES, |i| {
            black_box(ct.prove_consistency((n - olds[i]) as usize));
        })),
    );
    let pairs: Vec<(u64, u64)> = (0..SAMPLES)
        .map(|_| {
            let new = rng.gen_range(2..=n);
            (rng.gen_range(1..new), new)
        })
        .collect();
    table.row(
        "consistency proof, random old -> random new size (of 1M)",
        per_op(SAMPLES, |i| {
            black_box(ours.consistency_proof(pairs[i].0, pairs[i].1).ok());
        }),
        None,
    );

    // ---- verification -------------------------------------------------------------------------
    let verify_samples = SAMPLES / 10;
    let root = ours.root();
    let ct_root_hash = ct.root();
    let our_proofs: Vec<Vec<Hash>> = (0..verify_samples)
        .map(|i| ours.inclusion_proof(indices[i], n).unwrap_or_default())
        .collect();
    let ct_proofs: Vec<InclusionProof<ct_sha256::Sha256>> = (0..verify_samples)
        .map(|i| ct.prove_inclusion(indices[i] as usize))
        .collect();
    let mut failures = 0usize;
    table.row(
        "verify inclusion at 1M (incl. leaf hashing)",
        per_op(verify_samples, |i| {
            let leaf = leaf_hash(&entry(indices[i]));
            failures +=
                usize::from(verify_inclusion(&leaf, indices[i], n, &our_proofs[i], &root).is_err());
        }),
        Some(per_op(verify_samples, |i| {
            failures += usize::from(
                ct_root_hash
                    .verify_inclusion(&entry(indices[i]), indices[i], &ct_proofs[i])
                    .is_err(),
            );
        })),
    );
    let old_roots: Vec<Hash> = (0..verify_samples)
        .map(|i| ours.root_at(olds[i]).unwrap_or_default())
        .collect();
    let our_cproofs: Vec<Vec<Hash>> = (0..verify_samples)
        .map(|i| ours.consistency_proof(olds[i], n).unwrap_or_default())
        .collect();
    let ct_old: Vec<RootHash<ct_sha256::Sha256>> = (0..verify_samples)
        .map(|i| RootHash::new(old_roots[i].0.into(), olds[i]))
        .collect();
    let ct_cproofs: Vec<ConsistencyProof<ct_sha256::Sha256>> = (0..verify_samples)
        .map(|i| ct.prove_consistency((n - olds[i]) as usize))
        .collect();
    table.row(
        "verify consistency, random old size -> 1M",
        per_op(verify_samples, |i| {
            failures += usize::from(
                verify_consistency(olds[i], n, &old_roots[i], &root, &our_cproofs[i]).is_err(),
            );
        }),
        Some(per_op(verify_samples, |i| {
            failures += usize::from(
                ct_root_hash
                    .verify_consistency(&ct_old[i], &ct_cproofs[i])
                    .is_err(),
            );
        })),
    );
    assert_eq!(failures, 0, "a proof failed to verify");
    drop((ours, ct, our_proofs, ct_proofs, our_cproofs, ct_cproofs));

    // ---- bulk restore -------------------------------------------------------------------------
    for size in [MILLION, TEN_MILLION] {
        let label = if size == MILLION { "1M" } else { "10M" };
        let rss = rss_bytes();
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&entry(i))).collect();
        let (restored, took) = timed(|| Tree::from_leaf_hashes(leaves));
        let restored_rss = rss_bytes().saturating_sub(rss);
        let restored_heap = restored.heap_bytes() as u64;
        let restored_root = restored.root();
        drop(restored);

        // ct-merkle has no bulk constructor: restoring it means pushing every entry again.
        let rss = rss_bytes();
        let (ct, ct_took, _) = push_ct(size);
        let ct_rss = rss_bytes().saturating_sub(rss);
        assert_eq!(restored_root, ct_root(&ct), "roots differ at {label}");
        drop(ct);

        table.row(
            &format!("bulk restore {label} (ours: from_leaf_hashes; ct-merkle: push all)"),
            Figure::Once(took),
            Some(Figure::Once(ct_took)),
        );
        table.row(
            &format!("memory (RSS) of the restored tree, {label}"),
            Figure::Bytes(restored_rss),
            Some(Figure::Bytes(ct_rss)),
        );
        table.row(
            &format!("  hashes allocated by our tree, {label} (Tree::heap_bytes)"),
            Figure::Bytes(restored_heap),
            None,
        );
    }

    // ---- why rs_merkle is not used for restore ------------------------------------------------
    // It hides its inner layers, so the most it could give a restore is each 256-leaf tile's
    // root; time that against our whole restore of the same leaves.
    let leaves: Vec<Hash> = (0..MILLION).map(|i| leaf_hash(&entry(i))).collect();
    let raw: Vec<[u8; 32]> = leaves.iter().map(|h| h.0).collect();
    let (tile_roots, rs_took) = timed(|| {
        raw.chunks_exact(256)
            .filter_map(|tile| rs_merkle::MerkleTree::<Rfc9162>::from_leaves(tile).root())
            .collect::<Vec<_>>()
    });
    let (tree, ours_took) = timed(|| Tree::from_leaf_hashes(leaves));
    let first_tile = tree.tile(1, 0).unwrap_or_default();
    assert_eq!(first_tile.first().map(|h| h.0), tile_roots.first().copied());
    table.row(
        "bulk restore 1M again, for the rs_merkle line below",
        Figure::Once(ours_took),
        None,
    );
    drop(tree);
    println!();
    println!("lvyue-notary tree vs ct-merkle 0.3 (ratio = ours / ct-merkle of the figures shown)");
    println!();
    table.print();
    println!();
    println!(
        "rs_merkle 1.5 from_leaves over each full 256-leaf tile of 1M leaves, tile roots only: {}",
        Figure::Once(rs_took).show()
    );
}

/// RFC 9162 node hashing for rs_merkle (leaves pre-hashed).
#[derive(Clone)]
struct Rfc9162;

impl rs_merkle::Hasher for Rfc9162 {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        leaf_hash(data).0
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => node_hash(&Hash(*left), &Hash(*right)).0,
            None => *left,
        }
    }
}
