//! Contention: many HTTP clients at once releasing, refunding, freezing, deducting and paying
//! out against the same few orders and the same two merchants, some of them sending the same
//! request twice at once under one idempotency key. Afterwards:
//!
//! - every answer was a success or a business refusal with its documented code (never
//!   `INTERNAL`: a serialization failure is not a business answer);
//! - no overdraft: every payout, release and deduction that was acknowledged fits in what was
//!   there, and the audit (escrow and payable never below zero, every entry balanced) is clean;
//! - no lost update: each order's released, deducted and refunded amounts, each hold's
//!   remainder and each merchant's payable balance are exactly what the acknowledged
//!   answers add up to; no milestone was released twice; a key sent twice at once moved money
//!   once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};

use lvyue_domain::ErrorCode;
use lvyue_domain::clock::Clock as _;
use lvyue_domain::principal::{Principal, Role};
use lvyue_domain::testing::Backend;

use crate::crash::{fen, long_tier};
use crate::harness::{TestServer, bank, first_code, run_lvyue};
use crate::world::{
    as_party, bank_do, driving_school, paid_order_of, register_merchant, shenzhen_policy,
};

/// Clients at once.
const CLIENTS: usize = 12;
/// Requests each client sends: CI, long tier.
const REQUESTS_PER_CLIENT: (usize, usize) = (30, 300);
/// Orders per merchant.
const ORDERS_PER_MERCHANT: usize = 2;
const ORDER_TOTAL: &str = "1000.00";
/// Whether `code` is one a request may be refused with (docs/design.md, "Errors"), `INTERNAL`
/// aside.
fn documented(code: &str) -> bool {
    ErrorCode::named(code).is_some_and(|c| c != ErrorCode::Internal)
}

#[derive(Clone, Debug)]
struct Target {
    merchant: String,
    scheme: String,
    orders: Vec<String>,
}

/// Every acknowledged answer, by what it did.
#[derive(Default)]
struct Ledger {
    /// milestone id → (order, amount fen) for each acknowledged release, by key.
    released: Vec<(String, String, String, i64)>,
    /// (merchant, key, amount fen)
    payouts: Vec<(String, String, i64)>,
    /// hold id → (order, amount fen) at freeze
    holds: HashMap<String, (String, i64)>,
    /// (hold, key, amount fen)
    deducted: Vec<(String, String, i64)>,
    unfrozen: HashSet<String>,
    /// refund id → order
    refunds: HashMap<String, String>,
    /// (refund, amount fen)
    executed: Vec<(String, i64)>,
    codes: BTreeMap<String, usize>,
    /// One message per (request kind, code), to show what the refusals said.
    samples: BTreeMap<(String, String), String>,
    sent: usize,
    acked: usize,
    duplicates: usize,
    /// Keys sent twice at once whose copies got a success and a refusal.
    split_duplicates: usize,
    violations: Vec<String>,
}

struct Ctx {
    srv: TestServer,
    bank: Principal,
    court: Principal,
    /// The training association that certifies exam results in the scheme.
    confirmer: Principal,
    merchants: Vec<(Principal, Target)>,
    ledger: Mutex<Ledger>,
}

#[derive(Clone, Debug)]
enum Req {
    Confirm {
        order: String,
        index: u32,
        by_confirmer: bool,
    },
    Release {
        order: String,
    },
    Payout {
        m: usize,
        amount_fen: i64,
    },
    Freeze {
        order: String,
        amount_fen: i64,
    },
    Unfreeze {
        hold: String,
    },
    Deduct {
        hold: String,
        amount_fen: i64,
    },
    RequestRefund {
        order: String,
    },
    ExecuteRefund {
        refund: String,
    },
}

fn yuan(f: i64) -> String {
    format!("{}.{:02}", f / 100, f % 100)
}

impl Ctx {
    fn build(&self, req: &Req, key: &str) -> (&Principal, &'static str, Value) {
        match req {
            Req::Confirm {
                order,
                index,
                by_confirmer,
            } => {
                let who = if *by_confirmer {
                    &self.confirmer
                } else {
                    &self.bank
                };
                (
                    who,
                    "mutation($o: ID!, $i: Int!, $k: String!) { confirmMilestone(order: $o, index: $i, as: EVIDENCE, evidence: \"合格证明\", idempotencyKey: $k) { released { milestoneId amount } } }",
                    json!({"o": order, "i": index, "k": key}),
                )
            }
            Req::Release { order } => (
                &self.merchant_of(order).0,
                "mutation($o: ID!, $k: String!) { releaseMilestone(order: $o, idempotencyKey: $k) { released { milestoneId amount } } }",
                json!({"o": order, "k": key}),
            ),
            Req::Payout { m, amount_fen } => {
                let (p, t) = &self.merchants[*m];
                (
                    p,
                    "mutation($m: ID!, $s: ID!, $a: Decimal!, $k: String!) { requestPayout(merchant: $m, scheme: $s, amount: $a, idempotencyKey: $k) { id amount } }",
                    json!({"m": t.merchant, "s": t.scheme, "a": yuan(*amount_fen), "k": key}),
                )
            }
            Req::Freeze { order, amount_fen } => (
                &self.court,
                "mutation($o: ID!, $a: Decimal!, $k: String!) { courtFreeze(order: $o, amount: $a, caseNo: $k, idempotencyKey: $k) { id amount } }",
                json!({"o": order, "a": yuan(*amount_fen), "k": key}),
            ),
            Req::Unfreeze { hold } => (
                &self.court,
                "mutation($h: ID!, $k: String!) { courtUnfreeze(hold: $h, idempotencyKey: $k) { id status } }",
                json!({"h": hold, "k": key}),
            ),
            Req::Deduct { hold, amount_fen } => (
                &self.court,
                "mutation($h: ID!, $a: Decimal!, $k: String!) { courtDeduct(hold: $h, amount: $a, idempotencyKey: $k) { id remaining } }",
                json!({"h": hold, "a": yuan(*amount_fen), "k": key}),
            ),
            Req::RequestRefund { order } => (
                &self.bank,
                "mutation($o: ID!, $k: String!) { requestRefund(order: $o, reason: \"退学\", idempotencyKey: $k) { id } }",
                json!({"o": order, "k": key}),
            ),
            Req::ExecuteRefund { refund } => (
                &self.bank,
                "mutation($r: ID!, $k: String!) { executeRefund(refund: $r, idempotencyKey: $k) { id amount } }",
                json!({"r": refund, "k": key}),
            ),
        }
    }

    fn merchant_of(&self, order: &str) -> &(Principal, Target) {
        self.merchants
            .iter()
            .find(|(_, t)| t.orders.iter().any(|o| o == order))
            .expect("order of a merchant")
    }

    fn record(&self, req: &Req, key: &str, body: &Value) {
        let mut l = self.ledger.lock().expect("lock");
        l.sent += 1;
        let errors = body.get("errors").and_then(Value::as_array);
        if let Some(e) = errors
            && !e.is_empty()
        {
            let code = first_code(body).to_owned();
            if !documented(code.as_str()) {
                l.violations
                    .push(format!("{req:?} answered {code}: {body}"));
            }
            let kind = format!("{req:?}")
                .split([' ', '{'])
                .next()
                .unwrap_or("")
                .to_owned();
            let message = body["errors"][0]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            l.samples.entry((kind, code.clone())).or_insert(message);
            *l.codes.entry(code).or_default() += 1;
            return;
        }
        l.acked += 1;
        let d = &body["data"];
        let tranches = |v: &Value, l: &mut Ledger, order: &str| {
            for t in v["released"].as_array().into_iter().flatten() {
                l.released.push((
                    t["milestoneId"].as_str().unwrap_or("").to_owned(),
                    order.to_owned(),
                    key.to_owned(),
                    fen(t["amount"].as_str().unwrap_or("0")),
                ));
            }
        };
        match req {
            Req::Confirm { order, .. } => tranches(&d["confirmMilestone"], &mut l, order),
            Req::Release { order } => tranches(&d["releaseMilestone"], &mut l, order),
            Req::Payout { m, amount_fen } => {
                let m = self.merchants[*m].1.merchant.clone();
                l.payouts.push((m, key.to_owned(), *amount_fen));
            }
            Req::Freeze { order, amount_fen } => {
                let id = d["courtFreeze"]["id"].as_str().unwrap_or("").to_owned();
                l.holds.insert(id, (order.clone(), *amount_fen));
            }
            Req::Unfreeze { hold } => {
                l.unfrozen.insert(hold.clone());
            }
            Req::Deduct { hold, amount_fen } => {
                l.deducted.push((hold.clone(), key.to_owned(), *amount_fen));
            }
            Req::RequestRefund { order } => {
                let id = d["requestRefund"]["id"].as_str().unwrap_or("").to_owned();
                l.refunds.insert(id, order.clone());
            }
            Req::ExecuteRefund { refund } => {
                let amount = fen(d["executeRefund"]["amount"].as_str().unwrap_or("0"));
                l.executed.push((refund.clone(), amount));
            }
        }
    }
}

/// One client: random requests against the shared orders; now and then the same request twice
/// at once under one key.
async fn client(ctx: Arc<Ctx>, me: usize, requests: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for n in 0..requests {
        let key = format!("c{me}-{n}");
        let req = {
            let l = ctx.ledger.lock().expect("lock");
            let (_, t) = ctx.merchants.choose(&mut rng).expect("merchants");
            let order = t.orders.choose(&mut rng).expect("orders").clone();
            let holds: Vec<String> = l
                .holds
                .iter()
                .filter(|(h, _)| !l.unfrozen.contains(*h))
                .map(|(h, _)| h.clone())
                .collect();
            let refunds: Vec<String> = l.refunds.keys().cloned().collect();
            match rng.gen_range(0..100) {
                0..20 => Req::Confirm {
                    order,
                    index: rng.gen_range(1..4),
                    by_confirmer: rng.gen_bool(0.5),
                },
                20..30 => Req::Release { order },
                30..50 => Req::Payout {
                    m: rng.gen_range(0..ctx.merchants.len()),
                    amount_fen: rng.gen_range(1..=40_000),
                },
                50..65 => Req::Freeze {
                    order,
                    amount_fen: rng.gen_range(1..=30_000),
                },
                65..72 if !holds.is_empty() => Req::Unfreeze {
                    hold: holds.choose(&mut rng).expect("hold").clone(),
                },
                72..85 if !holds.is_empty() => Req::Deduct {
                    hold: holds.choose(&mut rng).expect("hold").clone(),
                    amount_fen: rng.gen_range(1..=10_000),
                },
                85..92 => Req::RequestRefund { order },
                92..100 if !refunds.is_empty() => Req::ExecuteRefund {
                    refund: refunds.choose(&mut rng).expect("refund").clone(),
                },
                _ => Req::Release { order },
            }
        };
        let (who, query, vars) = ctx.build(&req, &key);
        if rng.gen_bool(0.15) {
            // The same request twice at once: one effect, two equal answers (or one refusal).
            let (a, b) = tokio::join!(
                ctx.srv.gql(Some(who), query, vars.clone()),
                ctx.srv.gql(Some(who), query, vars.clone())
            );
            let ok = |v: &Value| v.get("errors").is_none();
            {
                let mut l = ctx.ledger.lock().expect("lock");
                l.duplicates += 1;
                if ok(&a) && ok(&b) && a != b {
                    l.violations
                        .push(format!("one key, two answers: {a} and {b} for {req:?}"));
                }
                if ok(&a) != ok(&b) {
                    // Only successes are recorded under a key (the Stripe / Modern Treasury
                    // choice, research §8.2): the copy that ran first may be refused on the
                    // state of that moment and the other succeed on a later state. The money
                    // still moves once (the payout list and balances are checked below).
                    l.split_duplicates += 1;
                }
            }
            ctx.record(&req, &key, if ok(&a) { &a } else { &b });
            ctx.ledger.lock().expect("lock").sent += 1;
        } else {
            let body = ctx.srv.gql(Some(who), query, vars).await;
            ctx.record(&req, &key, &body);
        }
    }
}

async fn contention(backend: Backend) {
    let seed: u64 = rand::random();
    let two_weeks_ago = lvyue_domain::clock::SystemClock.now().plus_days(-14);
    let Some((srv, clock)) = TestServer::start_at_with(backend, two_weeks_ago, |c| {
        c.limits.rate_limit_per_minute = 0;
    })
    .await
    else {
        eprintln!(
            "skipped: {} is not set",
            lvyue_domain::testing::POSTGRES_ENV
        );
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let second = register_merchant(
        &srv,
        "南京市另一驾驶培训有限公司",
        "91320104MA1ABC456",
        "320104",
        "DRIVING_SCHOOL",
        "m-2",
    )
    .await;
    bank_do(
        &srv,
        "mutation($s: ID!, $m: ID!) { enrollMerchant(scheme: $s, merchant: $m, settlementAccountNumber: \"6222000033334444\", idempotencyKey: \"enr-2\") { id } }",
        json!({"s": w.scheme, "m": second}),
    )
    .await;
    let mut merchants = Vec::new();
    for m in [w.merchant.clone(), second] {
        let mut orders = Vec::new();
        for _ in 0..ORDERS_PER_MERCHANT {
            orders.push(paid_order_of(&srv, &w, &m, ORDER_TOTAL).await);
        }
        merchants.push((
            as_party(Role::Merchant, &m),
            Target {
                merchant: m,
                scheme: w.scheme.clone(),
                orders,
            },
        ));
    }
    clock.advance_days(7);
    srv.tick().await;
    let payable_before: Vec<i64> = {
        let mut v = Vec::new();
        for (_, t) in &merchants {
            v.push(payable(&srv, &t.merchant).await);
        }
        v
    };
    let requests = if long_tier() {
        REQUESTS_PER_CLIENT.1
    } else {
        REQUESTS_PER_CLIENT.0
    };
    let ctx = Arc::new(Ctx {
        srv,
        bank: bank(),
        court: w.court_principal(),
        confirmer: w.confirmer_principal(),
        merchants,
        ledger: Mutex::new(Ledger::default()),
    });
    let mut seeder = StdRng::seed_from_u64(seed);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|me| tokio::spawn(client(ctx.clone(), me, requests, seeder.r#gen())))
        .collect();
    for c in clients {
        c.await.expect("client");
    }

    let srv = &ctx.srv;
    // Every client is done: the ledger of answers is final.
    let l = std::mem::take(&mut *ctx.ledger.lock().expect("lock"));
    let mut v = l.violations.clone();
    // No milestone released twice.
    let mut by_milestone: HashMap<&str, Vec<&str>> = HashMap::new();
    for (m, _, key, _) in &l.released {
        by_milestone
            .entry(m.as_str())
            .or_default()
            .push(key.as_str());
    }
    for (m, keys) in &by_milestone {
        if keys.len() > 1 {
            v.push(format!("milestone {m} released by {keys:?}"));
        }
    }
    // Orders: released, deducted and refunded are the sums of what was acknowledged.
    for (_, t) in &ctx.merchants {
        for order in &t.orders {
            let o = TestServer::ok(
                srv.gql(
                    Some(&bank()),
                    "query($id: ID!) { order(id: $id) { collected released deducted refunded inEscrow milestones { index amount status } holds { id amount remaining status } } }",
                    json!({"id": order}),
                )
                .await,
            )["order"]
                .clone();
            // The first tranche was released at settlement, before the clients started.
            let first = o["milestones"][0]["amount"].as_str().map(fen).unwrap_or(0);
            let released: i64 = first
                + l.released
                    .iter()
                    .filter(|r| &r.1 == order)
                    .map(|r| r.3)
                    .sum::<i64>();
            let order_holds: Vec<&String> = l
                .holds
                .iter()
                .filter(|(_, (o2, _))| o2 == order)
                .map(|(h, _)| h)
                .collect();
            let deducted: i64 = l
                .deducted
                .iter()
                .filter(|d| order_holds.contains(&&d.0))
                .map(|d| d.2)
                .sum();
            let refunded: i64 = l
                .executed
                .iter()
                .filter(|(r, _)| l.refunds.get(r) == Some(order))
                .map(|(_, a)| a)
                .sum();
            let got = |f: &str| o[f].as_str().map(fen).unwrap_or(-1);
            for (field, want) in [
                ("released", released),
                ("deducted", deducted),
                ("refunded", refunded),
            ] {
                if got(field) != want {
                    v.push(format!(
                        "order {order}: {field} {} but acknowledged answers add up to {want}",
                        got(field)
                    ));
                }
            }
            if got("inEscrow") != got("collected") - released - deducted - refunded {
                v.push(format!("order {order}: escrow does not add up: {o}"));
            }
            // Each hold: what remains is its amount less its acknowledged deductions, and the
            // frozen money is still in escrow.
            let mut frozen = 0;
            for h in o["holds"].as_array().into_iter().flatten() {
                let id = h["id"].as_str().unwrap_or("");
                let Some((_, amount)) = l.holds.get(id) else {
                    v.push(format!("order {order}: unacknowledged hold {h}"));
                    continue;
                };
                let taken: i64 = l.deducted.iter().filter(|d| d.0 == id).map(|d| d.2).sum();
                if taken > *amount {
                    v.push(format!("hold {id}: {taken} deducted from {amount}"));
                }
                let remaining = h["remaining"].as_str().map(fen).unwrap_or(-1);
                if h["status"] == "ACTIVE" {
                    frozen += remaining;
                    if remaining != amount - taken {
                        v.push(format!(
                            "hold {id}: remaining {remaining}, acknowledged {amount} - {taken}"
                        ));
                    }
                }
            }
            if frozen > got("inEscrow") {
                v.push(format!(
                    "order {order}: {frozen} frozen but {} in escrow",
                    got("inEscrow")
                ));
            }
        }
    }
    // Merchants: payable is what was there, plus acknowledged releases, less acknowledged
    // payouts; the payout list is exactly the acknowledged payouts.
    for (i, (_, t)) in ctx.merchants.iter().enumerate() {
        let released: i64 = l
            .released
            .iter()
            .filter(|r| t.orders.contains(&r.1))
            .map(|r| r.3)
            .sum();
        let paid: i64 = l
            .payouts
            .iter()
            .filter(|p| p.0 == t.merchant)
            .map(|p| p.2)
            .sum();
        let now = payable(srv, &t.merchant).await;
        if now != payable_before[i] + released - paid {
            v.push(format!(
                "merchant {}: payable {now}, but {} + {released} released - {paid} paid out",
                t.merchant, payable_before[i]
            ));
        }
        if now < 0 {
            v.push(format!("merchant {}: overdrawn to {now}", t.merchant));
        }
        let list = TestServer::ok(
            srv.gql(
                Some(&bank()),
                "query($m: ID!) { payouts(merchant: $m, limit: 200) { amount } }",
                json!({"m": t.merchant}),
            )
            .await,
        );
        let listed: Vec<i64> = list["payouts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| fen(p["amount"].as_str().unwrap_or("0")))
            .collect();
        let acked = l.payouts.iter().filter(|p| p.0 == t.merchant).count();
        if listed.len() != acked || listed.iter().sum::<i64>() != paid {
            v.push(format!(
                "merchant {}: {} payouts listed summing {}, {acked} acknowledged summing {paid}",
                t.merchant,
                listed.len(),
                listed.iter().sum::<i64>()
            ));
        }
    }
    let out = run_lvyue(&["audit", "--json"], &[("LVYUE_DATABASE_URL", &srv.db.url)]).await;
    let report: Value = serde_json::from_slice(&out.stdout).expect("audit report");
    if report["breaches"] != json!([]) {
        v.push(format!("audit: {}", report["breaches"]));
    }
    println!(
        "contention on {backend:?}, seed {seed}: {CLIENTS} clients, {} requests ({} sent twice at once, {} of them answered once with success and once with a refusal), {} acknowledged, refused {:?}; {} tranches released, {} payouts, {} freezes, {} deductions, {} refunds executed; audit breaches {}",
        l.sent,
        l.duplicates,
        l.split_duplicates,
        l.acked,
        l.codes,
        l.released.len(),
        l.payouts.len(),
        l.holds.len(),
        l.deducted.len(),
        l.executed.len(),
        report["breaches"].as_array().map_or(0, Vec::len),
    );
    for ((kind, code), message) in &l.samples {
        println!("  {kind} refused {code}: {message}");
    }
    assert!(
        v.is_empty(),
        "seed {seed}: {} violations:\n{}",
        v.len(),
        v.join("\n")
    );
}

/// A merchant's payable balance in the world's scheme, in fen.
async fn payable(srv: &TestServer, merchant: &str) -> i64 {
    let b = TestServer::ok(
        srv.gql(
            Some(&bank()),
            "query($m: ID!) { merchantBalances(merchant: $m) { payable } }",
            json!({"m": merchant}),
        )
        .await,
    );
    b["merchantBalances"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| fen(s["payable"].as_str().unwrap_or("0")))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_releases_refunds_and_freezes_neither_overdraw_nor_lose_updates_sqlite() {
    contention(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_releases_refunds_and_freezes_neither_overdraw_nor_lose_updates_postgres() {
    contention(Backend::Postgres).await;
}
