//! Two `lvyue serve` processes on one PostgreSQL, sharing the notary key, the JWT secret and
//! the personal-data key (copied, as an operator would copy them), with writes spread over
//! both — a chain may open an order on one node and pay it on the other. Afterwards:
//!
//! - the log is one log: events `0..n-1` with no gap, the same from either node, each leaf
//!   the hash of its canonical bytes, and the root recomputed here from those leaves is the
//!   root both nodes sign;
//! - checkpoints of the same size are identical from either node; roots at every size agree;
//!   an inclusion or consistency proof from either node verifies against the other's
//!   checkpoint;
//! - balances, orders and search results agree; `lvyue audit` is clean.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};

use lvyue_domain::testing::Backend;
use lvyue_notary::{Checkpoint, Hash, Tree, VerifierKey};

use crate::crash::long_tier;
use crate::harness::bank;
use crate::node::{Node, NodeEnv};
use crate::world::settled_world;

/// Clients at once, each sending to either node.
const CLIENTS: usize = 6;
/// Chains of mutations per client: CI, long tier.
const CHAINS_PER_CLIENT: (usize, usize) = (15, 150);
const SETTLED_ORDERS: usize = 6;
const ORDER_TOTAL: &str = "1000.00";
/// How long the nodes may take to agree once the writes stop.
const CATCH_UP: Duration = Duration::from_secs(60);
/// Keys a node needs to be one more node of the same installation.
const SHARED_FILES: [&str; 3] = ["notary.key", "jwt-secret", "pii-key"];

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|h| Hash::from_hex(h.as_str().unwrap_or("")).expect("hex hash"))
        .collect()
}

async fn data(node: &Node, token: Option<&str>, query: &str, vars: Value) -> Value {
    Node::ok(node.post(token, query, vars).await.expect("node answers"))
}

/// Whether `node`'s own tree reaches `size`: it answers an inclusion proof of the last leaf.
async fn proves_size(node: &Node, size: u64) -> bool {
    let body = node
        .post(
            None,
            "query($i: Int!, $s: Int!) { inclusionProof(leafIndex: $i, treeSize: $s) { rootHash } }",
            json!({"i": size - 1, "s": size}),
        )
        .await
        .expect("node answers");
    body.get("errors").is_none() && !body["data"]["inclusionProof"].is_null()
}

/// Every event, in log order, as `node` serves them: (seq, leaf hash, canonical).
async fn all_events(node: &Node, token: &str) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let d = data(
            node,
            Some(token),
            "query($a: String) { events(first: 200, after: $a) { pageInfo { hasNextPage endCursor } edges { node { seq leafHash canonical } } } }",
            json!({"a": after}),
        )
        .await;
        for e in d["events"]["edges"].as_array().into_iter().flatten() {
            let n = &e["node"];
            out.push((
                n["seq"].as_u64().expect("seq"),
                n["leafHash"].as_str().expect("leaf").to_owned(),
                n["canonical"].as_str().expect("canonical").to_owned(),
            ));
        }
        if d["events"]["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = d["events"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
}

/// The node's newest checkpoint note, verified.
async fn checkpoint(node: &Node, key: &VerifierKey) -> Option<(Checkpoint, String)> {
    match node.get("/checkpoint").await {
        Ok((200, note)) => Some((
            Checkpoint::open(&note, key).expect("signed by the log key"),
            note,
        )),
        _ => None,
    }
}

/// A second data directory holding the first one's keys.
fn copy_keys(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("data dir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).expect("mode");
    }
    for f in SHARED_FILES {
        // `copy` keeps the 0600 mode.
        std::fs::copy(from.join(f), to.join(f)).unwrap_or_else(|e| panic!("copy {f}: {e}"));
    }
}

/// Random chains of mutations, each request to a node picked at random.
#[allow(clippy::too_many_arguments)]
async fn client(
    nodes: Arc<[Node; 2]>,
    bank_token: String,
    court_token: String,
    world: Arc<crate::world::World>,
    settled: Arc<Mutex<Vec<String>>>,
    chains: usize,
    me: usize,
    seed: u64,
) -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut acked = 0;
    for n in 0..chains {
        let ok = |b: &Value| b.get("errors").is_none();
        match n % 3 {
            0 => {
                let d = data(
                    &nodes[rng.gen_range(0..2)],
                    Some(&bank_token),
                    "mutation($i: OpenOrderInput!, $k: String!) { openOrder(input: $i, idempotencyKey: $k) { id } }",
                    json!({"k": format!("o-{me}-{n}"), "i": {"scheme": world.scheme, "merchant": world.merchant, "payer": world.payer, "total": ORDER_TOTAL}}),
                )
                .await;
                let b = nodes[rng.gen_range(0..2)]
                    .post(
                        Some(&bank_token),
                        "mutation($i: CollectInput!, $k: String!) { collect(input: $i, idempotencyKey: $k) { id } }",
                        json!({"k": format!("c-{me}-{n}"), "i": {"order": d["openOrder"]["id"], "channel": "ALIPAY", "amount": ORDER_TOTAL, "externalRef": format!("ali-{me}-{n}")}}),
                    )
                    .await
                    .expect("node answers");
                assert!(ok(&b), "{b}");
                acked += 2;
            }
            1 => {
                let order = settled.lock().expect("lock").choose(&mut rng).cloned();
                let Some(order) = order else { continue };
                let b = nodes[rng.gen_range(0..2)]
                    .post(
                        Some(&court_token),
                        "mutation($o: ID!, $k: String!) { courtFreeze(order: $o, amount: \"5.00\", caseNo: $k, idempotencyKey: $k) { id } }",
                        json!({"o": order, "k": format!("(2026)苏0102执{me}{n:04}号")}),
                    )
                    .await
                    .expect("node answers");
                if ok(&b) {
                    acked += 1;
                    let u = nodes[rng.gen_range(0..2)]
                        .post(
                            Some(&court_token),
                            "mutation($h: ID!, $k: String!) { courtUnfreeze(hold: $h, idempotencyKey: $k) { id } }",
                            json!({"h": b["data"]["courtFreeze"]["id"], "k": format!("u-{me}-{n}")}),
                        )
                        .await
                        .expect("node answers");
                    assert!(ok(&u), "{u}");
                    acked += 1;
                }
            }
            _ => {
                let order = settled.lock().expect("lock").choose(&mut rng).cloned();
                let Some(order) = order else { continue };
                let b = nodes[rng.gen_range(0..2)]
                    .post(
                        Some(&bank_token),
                        "mutation($o: ID!, $i: Int!, $k: String!) { confirmMilestone(order: $o, index: $i, as: EVIDENCE, evidence: \"合格\", idempotencyKey: $k) { released { amount } } }",
                        json!({"o": order, "i": rng.gen_range(1..4), "k": format!("m-{me}-{n}")}),
                    )
                    .await
                    .expect("node answers");
                if ok(&b) {
                    acked += 1;
                }
            }
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_postgres_keep_one_log_and_agree() {
    let Some(setup) = settled_world(Backend::Postgres, SETTLED_ORDERS, ORDER_TOTAL).await else {
        eprintln!(
            "skipped: {} is not set",
            lvyue_domain::testing::POSTGRES_ENV
        );
        return;
    };
    let seed: u64 = rand::random();
    let second_dir = tempfile::tempdir().expect("temp dir");
    let env_a = NodeEnv::new(setup.srv.data_dir(), &setup.srv.db.url);
    let mut env_b = env_a.clone();
    env_b.data_dir = second_dir.path().join("data");
    copy_keys(&env_a.data_dir, &env_b.data_dir);
    let nodes = Arc::new([Node::start(&env_a).await, Node::start(&env_b).await]);
    let bank_token = env_a.token(&bank());
    let court_token = env_a.token(&setup.world.court_principal());
    let key = VerifierKey::parse(
        data(&nodes[0], None, "{ notaryKey }", json!({})).await["notaryKey"]
            .as_str()
            .expect("key"),
    )
    .expect("verifier key");
    let key_b = data(&nodes[1], None, "{ notaryKey }", json!({})).await;
    assert_eq!(key_b["notaryKey"], key.to_string(), "one log key");

    // Load on both, while both are watched for checkpoints.
    let chains = if long_tier() {
        CHAINS_PER_CLIENT.1
    } else {
        CHAINS_PER_CLIENT.0
    };
    let world = Arc::new(setup.world);
    let settled = Arc::new(Mutex::new(setup.orders.clone()));
    let seen = Arc::new(Mutex::new(Vec::<(usize, Checkpoint)>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (nodes, seen, stop, key) = (nodes.clone(), seen.clone(), stop.clone(), key.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for (i, n) in nodes.iter().enumerate() {
                    if let Some((c, _)) = checkpoint(n, &key).await {
                        seen.lock().expect("lock").push((i, c));
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut seeder = StdRng::seed_from_u64(seed);
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|me| {
            tokio::spawn(client(
                nodes.clone(),
                bank_token.clone(),
                court_token.clone(),
                world.clone(),
                settled.clone(),
                chains,
                me,
                seeder.r#gen(),
            ))
        })
        .collect();
    let mut acked = 0;
    for t in tasks {
        acked += t.await.expect("client");
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    watcher.await.expect("watcher");

    // One log, gap-free, the same from either node.
    let events = all_events(&nodes[0], &bank_token).await;
    assert_eq!(
        events,
        all_events(&nodes[1], &bank_token).await,
        "both nodes serve the same events"
    );
    let n = events.len() as u64;
    let mut tree = Tree::new();
    for (i, (seq, leaf, canonical)) in events.iter().enumerate() {
        assert_eq!(*seq, i as u64, "the log has a gap or a duplicate at {i}");
        let h = lvyue_notary::leaf_hash(canonical.as_bytes());
        assert_eq!(
            h.to_hex(),
            *leaf,
            "leaf {i} is the hash of its canonical bytes"
        );
        tree.push(h);
    }

    // Both nodes catch up and sign the very same checkpoint of the whole log.
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    let (final_a, final_b) = loop {
        let a = checkpoint(&nodes[0], &key).await;
        let b = checkpoint(&nodes[1], &key).await;
        // A stored checkpoint may be the other node's (one database, one key): each node's own
        // tree has caught up only when it proves the last leaf at size n itself.
        if let (Some(a), Some(b)) = (&a, &b)
            && a.0.size == n
            && b.0.size == n
            && proves_size(&nodes[0], n).await
            && proves_size(&nodes[1], n).await
        {
            break (a.clone(), b.clone());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the nodes did not both sign a checkpoint of {n} leaves: {a:?} {b:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(final_a.1, final_b.1, "identical checkpoint notes");
    assert_eq!(
        final_a.0.root,
        tree.root(),
        "the root recomputed from the leaves"
    );

    // Every checkpoint seen during the load: the same size has the same root whichever node
    // signed it, it is what the leaves give, and the other node proves it consistent.
    let seen = seen.lock().expect("lock").clone();
    let mut by_size = std::collections::BTreeMap::new();
    for (i, c) in &seen {
        let prev = by_size.insert(c.size, c.root);
        assert!(
            prev.is_none_or(|r| r == c.root),
            "two roots for size {} (node {i})",
            c.size
        );
        assert_eq!(
            c.root,
            tree.root_at(c.size).expect("size"),
            "node {i} root at {}",
            c.size
        );
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 1);
    let mut proofs = 0;
    for (i, c) in seen.iter().filter(|(_, c)| c.size > 0) {
        let other = &nodes[1 - i];
        let d = data(
            other,
            None,
            "query($f: Int!, $t: Int!) { consistencyProof(fromSize: $f, toSize: $t) { hashes } checkpointAt(size: $f) { note } }",
            json!({"f": c.size, "t": n}),
        )
        .await;
        lvyue_notary::verify_consistency(
            c.size,
            n,
            &c.root,
            &final_a.0.root,
            &hashes(&d["consistencyProof"]["hashes"]),
        )
        .unwrap_or_else(|e| {
            panic!(
                "checkpoint {} from node {i}, proof from the other: {e}",
                c.size
            )
        });
        if let Some(note) = d["checkpointAt"]["note"].as_str() {
            let stored = Checkpoint::open(note, &key).expect("stored checkpoint verifies");
            assert_eq!(stored.root, c.root, "stored checkpoint of size {}", c.size);
        }
        proofs += 1;
    }
    for _ in 0..20 {
        let index = rng.gen_range(0..n);
        let size = rng.gen_range(index + 1..=n);
        let (from, to) = if rng.gen_bool(0.5) { (0, 1) } else { (1, 0) };
        let p = data(
            &nodes[from],
            None,
            "query($i: Int!, $s: Int!) { inclusionProof(leafIndex: $i, treeSize: $s) { leafHash hashes rootHash } }",
            json!({"i": index, "s": size}),
        )
        .await;
        let root_there = data(
            &nodes[to],
            None,
            "query($s: Int!) { inclusionProof(leafIndex: 0, treeSize: $s) { rootHash } }",
            json!({"s": size}),
        )
        .await;
        assert_eq!(
            p["inclusionProof"]["rootHash"], root_there["inclusionProof"]["rootHash"],
            "roots at {size} differ between the nodes"
        );
        let leaf =
            Hash::from_hex(p["inclusionProof"]["leafHash"].as_str().expect("leaf")).expect("hex");
        lvyue_notary::verify_inclusion(
            &leaf,
            index,
            size,
            &hashes(&p["inclusionProof"]["hashes"]),
            &tree.root_at(size).expect("size"),
        )
        .unwrap_or_else(|e| panic!("leaf {index} at size {size} from node {from}: {e}"));
        // And against the other node's signed checkpoint of the whole log.
        let full = data(
            &nodes[from],
            None,
            "query($i: Int!, $s: Int!) { inclusionProof(leafIndex: $i, treeSize: $s) { hashes } }",
            json!({"i": index, "s": n}),
        )
        .await;
        let signed = if to == 0 { &final_a.0 } else { &final_b.0 };
        lvyue_notary::verify_inclusion(
            &leaf,
            index,
            n,
            &hashes(&full["inclusionProof"]["hashes"]),
            &signed.root,
        )
        .unwrap_or_else(|e| {
            panic!("leaf {index} from node {from} against node {to}'s checkpoint: {e}")
        });
        proofs += 2;
    }

    // Balances and orders agree.
    let state = "query($m: ID!) { merchantBalances(merchant: $m) { escrow held available payable }
        orders(first: 200) { edges { node { id status collected released inEscrow holds { id status } } } } }";
    let a = data(
        &nodes[0],
        Some(&bank_token),
        state,
        json!({"m": world.merchant}),
    )
    .await;
    let b = data(
        &nodes[1],
        Some(&bank_token),
        state,
        json!({"m": world.merchant}),
    )
    .await;
    assert_eq!(a, b, "the nodes disagree on balances or orders");

    // Search: each node keeps its own index from the event table; once both have caught up
    // they answer alike.
    let search = "{ all: search(query: \"\", first: 100) { totalCount edges { node { kind id } } }
        orders: search(query: \"\", filter: {kinds: [ORDER]}, first: 100) { totalCount edges { node { id } } }
        named: search(query: \"驾驶培训\", first: 100) { totalCount edges { node { id } } } }";
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    let orders = a["orders"]["edges"].as_array().map_or(0, Vec::len);
    let searched = loop {
        let sa = data(&nodes[0], Some(&bank_token), search, json!({})).await;
        let sb = data(&nodes[1], Some(&bank_token), search, json!({})).await;
        if sa == sb && sa["orders"]["totalCount"] == orders {
            break sa;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "search disagrees between the nodes, or misses orders ({orders}):\n{sa}\n{sb}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let breaches = env_a.audit().await;
    assert!(breaches.is_empty(), "audit: {breaches:?}");
    println!(
        "two nodes, seed {seed}: {acked} mutations acknowledged across both nodes; one log of {n} leaves; {} checkpoints seen from both, {proofs} proofs cross-verified; balances and {orders} orders agree; search agrees ({} hits, in the same order); audit clean",
        seen.len(),
        searched["all"]["totalCount"]
    );
    let nodes = Arc::try_unwrap(nodes).unwrap_or_else(|_| panic!("nodes still shared"));
    let [a, b] = nodes;
    a.stop().await;
    b.stop().await;
}
