//! Notary start-up from the database: time and resident memory of
//! `TransparencyLog::load` (every stored leaf hash read in seq order, then the tree built) at
//! each log size in `LVYUE_BENCH_LOG_SIZES` (comma-separated, default `1000000`), on SQLite; on
//! PostgreSQL too, for the sizes up to `LVYUE_BENCH_LOG_PG_MAX` (default 1,000,000), when
//! `LVYUE_TEST_POSTGRES_URL` is set.
//!
//! `cargo bench -p lvyue-domain --features testing --bench notary_start`. Prints figures;
//! asserts only that the loaded root equals the root of the leaves written.
//!
//! Fixture: the event rows are written directly through `lvyue_entity::event` in batched
//! transactions (commands would take hours to make 10M events). Each row is what `append`
//! would store: the canonical JSON (`canonical_form`, RFC 8785) of a realistic event cycling
//! through an order's life (opened with four milestones, paid, settled, a milestone released,
//! a regulator's read), its leaf hash, and its data; the log head is set to the size.
//!
//! Each load runs in a child process (this binary re-run with `LVYUE_BENCH_LOG_CHILD` set) so
//! that its memory figures are not mixed with the fixture's: RSS before (runtime and pool
//! open), RSS after (the tree, plus whatever freed heap the allocator has not returned to the
//! system: the tree's own hashes are `Tree::heap_bytes` in the notary bench), and the peak
//! during the load (VmHWM, reset first). The
//! database files were just written, so the OS page cache is warm: this is a restart, not a
//! cold boot.

use std::process::Command;
use std::time::{Duration, Instant};

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, TransactionTrait,
};
use serde_json::{Value, json};

use lvyue_domain::Money;
use lvyue_domain::clock::Timestamp;
use lvyue_domain::event::canonical_form;
use lvyue_domain::ids::{AccountId, EntryId, MilestoneId, OrderId, PartyId, PaymentId, Seq};
use lvyue_domain::log::TransparencyLog;
use lvyue_domain::testing::{Backend, TestDb};
use lvyue_entity::{event, log_head};
use lvyue_notary::{Hash, SigningKey, Tree, leaf_hash};

/// Set in the child process: the database URL to load the log from.
const CHILD_ENV: &str = "LVYUE_BENCH_LOG_CHILD";
const ORIGIN: &str = "bench.lvyue.local/escrow-log";
/// Event rows per INSERT: 11 columns × 2,000 = 22,000 parameters, under SQLite's 32,766.
const ROWS_PER_STATEMENT: usize = 2_000;
/// Statements per fixture transaction (100,000 rows).
const STATEMENTS_PER_TX: usize = 50;
/// Events of one order's cycle in the fixture.
const EVENTS_PER_ORDER: u64 = 5;
const MILESTONES: [(&str, u32); 4] = [
    ("报名", 2500),
    ("科目一合格", 1500),
    ("科目二合格", 3000),
    ("科目三合格", 3000),
];

fn money(fen: i64) -> Money {
    Money::from_fen(fen).expect("fixture amount")
}

/// The fixture's event `seq`: kind, order, merchant, payer, scheme and data as the domain
/// writes them.
fn fixture_event(seq: u64) -> (&'static str, OrderId, PartyId, PartyId, i64, Value) {
    let order_no = (seq / EVENTS_PER_ORDER) as i64 + 1;
    let order = OrderId(order_no);
    let merchant = PartyId(1_000 + order_no % 997);
    let payer = PartyId(100_000 + order_no % 199_999);
    let scheme = 1 + order_no % 6;
    let total = 300_000 + (order_no * 7_919) % 300_000;
    let account = AccountId(10_000 + 2 * order_no);
    let (kind, data) = match seq % EVENTS_PER_ORDER {
        0 => {
            let mut left = total;
            let milestones: Vec<Value> = MILESTONES
                .iter()
                .enumerate()
                .map(|(i, (name, bp))| {
                    let amount = if i + 1 == MILESTONES.len() {
                        left
                    } else {
                        total * i64::from(*bp) / 10_000
                    };
                    left -= amount;
                    json!({ "name": name, "share_bp": bp, "amount": money(amount) })
                })
                .collect();
            (
                "order.opened",
                json!({
                    "order_no": format!("LY20260302{order_no:08}"),
                    "scheme_id": format!("sch_{scheme}"),
                    "policy_version": 1,
                    "payer_id": payer,
                    "total": money(total),
                    "milestones": milestones,
                    "escrow_account_id": account,
                    "expires_at": "2029-03-01T02:00:00.000000Z",
                }),
            )
        }
        1 => (
            "payment.collected",
            json!({
                "payment_id": PaymentId(order_no),
                "channel": "WECHAT_PAY",
                "external_ref": format!("wx4200{order_no:014}"),
                "batch_ref": null,
                "amount": money(total),
                "settle_date": "2026-03-03",
                "entry_id": EntryId(3 * order_no),
                "order_status": "ACTIVE",
            }),
        ),
        2 => (
            "order.settled",
            json!({ "date": "2026-03-03", "amount": money(total), "escrow_account_id": account }),
        ),
        3 => (
            "milestone.released",
            json!({
                "milestone_id": MilestoneId(4 * order_no),
                "index": 0,
                "name": MILESTONES[0].0,
                "amount": money(total / 4),
                "entry_id": EntryId(3 * order_no + 2),
                "order_status": "ACTIVE",
            }),
        ),
        _ => (
            "access.read",
            json!({
                "subject": format!("reg-pty_{}", 10 + order_no % 6),
                "role": "REGULATOR",
                "party_id": PartyId(10 + order_no % 6),
                "operation": "OrdersPage",
                "objects": ["orders"],
                "case_no": null,
                "orders": [order],
            }),
        ),
    };
    (kind, order, merchant, payer, scheme, data)
}

/// The stored row of fixture event `seq` at time `at`, and its leaf hash.
fn fixture_row(seq: u64, at: Timestamp) -> (event::ActiveModel, Hash) {
    let (kind, order, merchant, payer, scheme, data) = fixture_event(seq);
    let canonical = canonical_form(Seq(seq), kind, at, Some(order), Some(merchant), &data)
        .expect("canonical form");
    let leaf = leaf_hash(canonical.as_bytes());
    let row = event::ActiveModel {
        seq: Set(seq as i64),
        event_type: Set(kind.to_owned()),
        at_us: Set(at.0),
        order_id: Set(Some(order.0)),
        merchant_id: Set(Some(merchant.0)),
        payer_id: Set(Some(payer.0)),
        scheme_id: Set(Some(scheme)),
        data: Set(data.to_string()),
        canonical: Set(canonical),
        leaf_hash: Set(leaf.to_string()),
        salt: Set(None),
        opening: Set(None),
    };
    (row, leaf)
}

fn start_time() -> Timestamp {
    Timestamp::china_midnight("2026-03-02".parse().expect("date")).plus_seconds(8 * 3600)
}

/// Writes events `from .. to` (rows made on a thread of their own while the previous batch
/// is inserted), pushing each leaf onto `tree`; then sets the log head.
async fn fill(db: &DatabaseConnection, tree: &mut Tree, from: u64, to: u64) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<event::ActiveModel>, Vec<Hash>)>(4);
    let maker = std::thread::spawn(move || {
        let start = start_time();
        let mut seq = from;
        while seq < to {
            let end = to.min(seq + ROWS_PER_STATEMENT as u64);
            let (rows, leaves) = (seq..end)
                .map(|s| fixture_row(s, start.plus_seconds((s / EVENTS_PER_ORDER) as i64)))
                .unzip();
            if tx.blocking_send((rows, leaves)).is_err() {
                return;
            }
            seq = end;
        }
    });
    let mut txn = db.begin().await.expect("begin");
    let mut statements = 0;
    // Drawn only on a terminal: the bench's printed figures are what it reports.
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(to - from)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_message("events written");
    while let Some((rows, leaves)) = rx.recv().await {
        bar.inc(rows.len() as u64);
        event::Entity::insert_many(rows)
            .exec(&txn)
            .await
            .expect("insert events");
        for leaf in leaves {
            tree.push(leaf);
        }
        statements += 1;
        if statements % STATEMENTS_PER_TX == 0 {
            txn.commit().await.expect("commit");
            txn = db.begin().await.expect("begin");
        }
    }
    bar.finish_and_clear();
    let last_at = start_time().plus_seconds(((to - 1) / EVENTS_PER_ORDER) as i64);
    log_head::Entity::update(log_head::ActiveModel {
        id: Set(1),
        size: Set(to as i64),
        last_at_us: Set(last_at.0),
    })
    .exec(&txn)
    .await
    .expect("log head");
    txn.commit().await.expect("commit");
    maker.join().expect("row maker");
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// In the child: loads the log from `url` and prints one line of figures for the parent.
fn child(url: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let db = lvyue_domain::db::connect(url).await.expect("connect");
        // Warm the pool (one trivial query) so that connecting is not counted as loading.
        db.execute_unprepared("SELECT 1").await.expect("select 1");
        let key = SigningKey::generate(ORIGIN).expect("notary key");
        // Linux: "5" resets the peak RSS (VmHWM) to the current RSS.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = status_kib("VmRSS:");
        let t = Instant::now();
        let log = TransparencyLog::load(&db, key).await.expect("load the log");
        let took = t.elapsed();
        let after = status_kib("VmRSS:");
        let peak = status_kib("VmHWM:");
        let size = log.size();
        let root = log.root_at(size).expect("root");
        println!(
            "{size} {} {before} {after} {peak} {root}",
            took.as_secs_f64()
        );
    });
}

struct Loaded {
    size: u64,
    took: Duration,
    before_kib: u64,
    after_kib: u64,
    peak_kib: u64,
    root: String,
}

fn load_in_child(url: &str) -> Loaded {
    let exe = std::env::current_exe().expect("this bench's path");
    let out = Command::new(exe)
        .env(CHILD_ENV, url)
        .output()
        .expect("run the child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f.len(), 6, "child printed {line:?}");
    let num = |i: usize| f[i].parse::<u64>().expect("child figure");
    Loaded {
        size: num(0),
        took: Duration::from_secs_f64(f[1].parse().expect("child time")),
        before_kib: num(2),
        after_kib: num(3),
        peak_kib: num(4),
        root: f[5].to_owned(),
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn label(n: u64) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else {
        format!("{n}")
    }
}

async fn database_bytes(db: &TestDb) -> u64 {
    match db.backend {
        Backend::Sqlite => {
            let path = db
                .url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
            ["", "-wal"]
                .iter()
                .filter_map(|s| std::fs::metadata(format!("{path}{s}")).ok())
                .map(|m| m.len())
                .sum()
        }
        Backend::Postgres => {
            let row = db
                .db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.db.get_database_backend(),
                    "SELECT pg_database_size(current_database())::bigint AS n",
                ))
                .await
                .ok()
                .flatten();
            row.and_then(|r| r.try_get::<i64>("", "n").ok())
                .unwrap_or(0)
                .max(0) as u64
        }
    }
}

async fn run(name: &str, db: TestDb, sizes: &[u64]) {
    println!("{name}");
    let mut tree = Tree::new();
    let mut written = 0;
    for &size in sizes {
        let previous = written;
        let t = Instant::now();
        fill(&db.db, &mut tree, previous, size).await;
        let fixture_rate = (size - previous) as f64 / t.elapsed().as_secs_f64().max(1e-9);
        written = size;
        if db.backend == Backend::Sqlite {
            db.db
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
                .expect("checkpoint the WAL");
        } else {
            db.db
                .execute_unprepared("VACUUM ANALYZE event")
                .await
                .expect("vacuum");
        }
        let bytes = database_bytes(&db).await;
        let loaded = load_in_child(&db.url);
        assert_eq!(loaded.size, size, "loaded log size");
        assert_eq!(
            loaded.root,
            tree.root().to_string(),
            "loaded root differs from the leaves written"
        );
        let secs = loaded.took.as_secs_f64();
        println!(
            "  {:>4} events ({:.0} MiB database; fixture rows written at {:.0}/s)",
            label(size),
            bytes as f64 / (1024.0 * 1024.0),
            fixture_rate,
        );
        println!(
            "       TransparencyLog::load {:>7.2} s  ({:.2} M leaves/s)",
            secs,
            size as f64 / secs / 1e6
        );
        println!(
            "       RSS before {:>7.0} MiB, after {:>7.0} MiB (+{:.0} MiB: the tree, and freed heap the allocator keeps), peak during load {:>7.0} MiB (+{:.0} MiB)",
            mib(loaded.before_kib),
            mib(loaded.after_kib),
            mib(loaded.after_kib.saturating_sub(loaded.before_kib)),
            mib(loaded.peak_kib),
            mib(loaded.peak_kib.saturating_sub(loaded.before_kib)),
        );
    }
}

fn sizes_from_env(name: &str, default: &str) -> Vec<u64> {
    let text = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let mut sizes: Vec<u64> = text
        .split(',')
        .filter_map(|s| s.trim().replace('_', "").parse().ok())
        .filter(|&n| n > 0)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

fn main() {
    if let Ok(url) = std::env::var(CHILD_ENV) {
        child(&url);
        return;
    }
    let sizes = sizes_from_env("LVYUE_BENCH_LOG_SIZES", "1000000");
    let pg_max: u64 = std::env::var("LVYUE_BENCH_LOG_PG_MAX")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!(
            "Notary start-up: TransparencyLog::load from the event table (child process, warm page cache)"
        );
        run(
            "SQLite (file, WAL, synchronous=FULL)",
            TestDb::sqlite().await,
            &sizes,
        )
        .await;
        let pg_sizes: Vec<u64> = sizes.iter().copied().filter(|&s| s <= pg_max).collect();
        match TestDb::postgres().await {
            Some(_) if pg_sizes.is_empty() => {
                println!("PostgreSQL: skipped (no size up to LVYUE_BENCH_LOG_PG_MAX)")
            }
            Some(db) => run("PostgreSQL (local)", db, &pg_sizes).await,
            None => println!("PostgreSQL: skipped (set LVYUE_TEST_POSTGRES_URL)"),
        }
    });
}
