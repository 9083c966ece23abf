//! Write-path benchmark: durable ledger postings per second, one command per transfer and
//! batched, beside the bare insert rate of the same rows on the same database in the same run.
//!
//! `cargo bench -p lvyue-domain --features testing --bench ledger` (SQLite always; PostgreSQL
//! too when `LVYUE_TEST_POSTGRES_URL` is set). `LVYUE_BENCH_N` sets the number of transfers
//! (default 2000). Prints figures; asserts nothing about time.

use std::time::Instant;

use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};
use serde::{Deserialize, Serialize};

use lvyue_domain::command::{Command, Tx};
use lvyue_domain::event::NewEvent;
use lvyue_domain::ids::AccountId;
use lvyue_domain::ledger::commands::{OpenAccount, PostEntry};
use lvyue_domain::ledger::{AccountKind, EntryKind, NewAccount, post, transfer};
use lvyue_domain::money::Money;
use lvyue_domain::principal::Principal;
use lvyue_domain::testing::TestDb;
use lvyue_domain::{DomainResult, Escrow};
use lvyue_entity::{journal_entry, posting};

/// Transfers per batched command.
const BATCH: usize = 100;

/// Many transfers in one command (one transaction, one event).
#[derive(Serialize, Deserialize)]
struct Batch {
    from: AccountId,
    to: AccountId,
    n: usize,
}

impl Command for Batch {
    type Output = ();
    const NAME: &'static str = "benchBatch";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<()> {
        let one = Money::from_fen(1)?;
        for _ in 0..self.n {
            post(
                tx,
                EntryKind::Transfer,
                None,
                "bench",
                &transfer(self.from, self.to, one),
            )
            .await?;
        }
        tx.emit(NewEvent::new(
            "bench.batch",
            serde_json::json!({ "transfers": self.n }),
        ));
        Ok(())
    }
}

async fn accounts(escrow: &Escrow) -> (AccountId, AccountId) {
    let bank = Principal::bank("bench");
    let a = escrow
        .execute(
            &bank,
            None,
            &OpenAccount(NewAccount::new("source", AccountKind::External)),
        )
        .await
        .expect("open")
        .id;
    let b = escrow
        .execute(
            &bank,
            None,
            &OpenAccount(NewAccount::new("sink", AccountKind::Escrow)),
        )
        .await
        .expect("open")
        .id;
    (a, b)
}

fn rate(n: usize, secs: f64) -> String {
    format!("{:>10.0}/s", n as f64 / secs)
}

async fn run(name: &str, db: TestDb, n: usize) {
    let escrow = db.escrow().await;
    let bank = Principal::bank("bench");
    let (from, to) = accounts(&escrow).await;
    let one = Money::from_fen(1).expect("1 fen");

    let t = Instant::now();
    for _ in 0..n {
        escrow
            .execute(
                &bank,
                None,
                &PostEntry {
                    kind: EntryKind::Transfer,
                    memo: "bench".into(),
                    legs: transfer(from, to, one).to_vec(),
                },
            )
            .await
            .expect("post");
    }
    let single = t.elapsed().as_secs_f64();

    let t = Instant::now();
    for _ in 0..n / BATCH {
        escrow
            .execute(&bank, None, &Batch { from, to, n: BATCH })
            .await
            .expect("batch");
    }
    let batched = t.elapsed().as_secs_f64();

    // The same rows with no ledger logic: an entry and its two postings per transfer,
    // committed one transfer per transaction, then BATCH transfers per transaction.
    let bare = |per_tx: usize| {
        let db = db.db.clone();
        async move {
            let t = Instant::now();
            for _ in 0..n / per_tx {
                let txn = db.begin().await.expect("begin");
                for _ in 0..per_tx {
                    let e = journal_entry::Entity::insert(journal_entry::ActiveModel {
                        log_seq: Set(0),
                        kind: Set("BARE".into()),
                        order_id: Set(None),
                        memo: Set("bench".into()),
                        created_at_us: Set(0),
                        ..Default::default()
                    })
                    .exec(&txn)
                    .await
                    .expect("entry");
                    let rows = [(from, -1), (to, 1)].map(|(a, amount)| posting::ActiveModel {
                        entry_id: Set(e.last_insert_id),
                        account_id: Set(a.0),
                        amount_fen: Set(amount),
                        balance_after_fen: Set(0),
                        created_at_us: Set(0),
                        ..Default::default()
                    });
                    posting::Entity::insert_many(rows)
                        .exec(&txn)
                        .await
                        .expect("postings");
                }
                txn.commit().await.expect("commit");
            }
            t.elapsed().as_secs_f64()
        }
    };
    let bare_single = bare(1).await;
    let bare_batched = bare(BATCH).await;

    let postings = 2 * n;
    println!("{name}: {n} transfers ({postings} postings), {BATCH} per batch");
    println!(
        "  ledger, one command per transfer   {} postings  ({} commands)",
        rate(postings, single),
        rate(n, single)
    );
    println!(
        "  bare inserts, one tx per transfer  {} postings",
        rate(postings, bare_single)
    );
    println!(
        "  ledger, {BATCH} transfers per command {} postings",
        rate(postings, batched)
    );
    println!(
        "  bare inserts, {BATCH} per tx          {} postings",
        rate(postings, bare_batched)
    );
    println!(
        "  ledger / bare: single {:.2}, batched {:.2}",
        bare_single / single,
        bare_batched / batched
    );
}

fn main() {
    let n: usize = std::env::var("LVYUE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        run(
            "SQLite (file, WAL, synchronous=FULL)",
            TestDb::sqlite().await,
            n,
        )
        .await;
        match TestDb::postgres().await {
            Some(db) => run("PostgreSQL (local, synchronous_commit on)", db, n).await,
            None => println!("PostgreSQL: skipped (set LVYUE_TEST_POSTGRES_URL)"),
        }
    });
}
