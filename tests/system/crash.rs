//! Crash recovery: the real `lvyue serve` on a file database (SQLite, and PostgreSQL when
//! configured) under concurrent load — payments, releases, refunds, court freezes — killed
//! with SIGKILL at random moments and restarted, again and again. After every restart:
//!
//! - every acknowledged mutation (HTTP 200, no errors) is there: its order shows the effect,
//!   with its event, and a sample of them replays under the same idempotency key to the very
//!   same result;
//! - every mutation whose answer was lost to the kill is there whole or not at all: its effect
//!   and its idempotency record agree, and a retry under the same key (as a client that keeps
//!   its keys would send) completes it exactly once;
//! - `lvyue audit` (the binary, with the notary key) finds no breach;
//! - the log verifies (inclusion proofs from recomputed leaf hashes) and every checkpoint seen
//!   before a kill is consistent with the checkpoint after it.
//!
//! At the end every order is compared with the model the acknowledged answers imply.
//!
//! CI runs [`CI_KILLS`] kills per database. The long tier runs [`LONG_KILLS`]:
//! `LVYUE_LONG_TESTS=1 cargo test -p lvyue-tests crash -- --nocapture` (docs/testing.md).
//! The seed is printed; `LVYUE_CRASH_SEED=<seed>` replays the same choices (the interleaving of
//! requests and the moment a kill lands are the machine's); `LVYUE_CRASH_KILLS=<n>` sets the
//! number of kills of one run.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};

use lvyue_domain::principal::Principal;
use lvyue_domain::testing::Backend;
use lvyue_notary::{Checkpoint, Hash, VerifierKey};

use crate::harness::{bank, first_code};
use crate::node::{Node, NodeEnv};
use crate::world::{World, settled_world};

/// Kills per database in CI.
const CI_KILLS: usize = 20;
/// Kills per database in the long tier.
const LONG_KILLS: usize = 1_000;
/// The variable that turns on the long tier of every reliability test.
pub const LONG_ENV: &str = "LVYUE_LONG_TESTS";
/// The variable that sets the number of kills for one run (default: the tier's).
const KILLS_ENV: &str = "LVYUE_CRASH_KILLS";
/// The variable that fixes the seed.
const SEED_ENV: &str = "LVYUE_CRASH_SEED";
/// Clients sending requests at once.
const CLIENTS: usize = 4;
/// A kill lands this long (at most) after a burst of load starts.
const BURST_MS_MAX: u64 = 400;
/// Settled orders made before the first start: CI, long tier.
const SETTLED_ORDERS: (usize, usize) = (16, 240);
const ORDER_TOTAL: &str = "1000.00";
const ORDER_TOTAL_FEN: i64 = 100_000;
const FREEZE_AMOUNT: &str = "10.00";
/// Acknowledged mutations of the last burst replayed after each restart.
const REPLAYS_PER_CYCLE: usize = 8;
/// Older checkpoints checked against the new one after each restart (all of them at the end).
const OLD_CHECKPOINTS_PER_CYCLE: usize = 24;
/// Aliased proofs asked for in one request (the server allows 64 aliases).
const PROOFS_PER_REQUEST: usize = 48;
/// `lvyue audit` runs after every this many kills (and at the end): CI, long tier. It reads the
/// whole database and checks every stored checkpoint, so it dominates a cycle.
const AUDIT_EVERY: (usize, usize) = (2, 50);

pub fn long_tier() -> bool {
    std::env::var(LONG_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

const OPEN: &str = "mutation($i: OpenOrderInput!, $k: String!) { openOrder(input: $i, idempotencyKey: $k) { id orderNo total } }";
const COLLECT: &str = "mutation($i: CollectInput!, $k: String!) { collect(input: $i, idempotencyKey: $k) { id amount externalRef } }";
const CONFIRM: &str = "mutation($o: ID!, $i: Int!, $k: String!) { confirmMilestone(order: $o, index: $i, as: EVIDENCE, evidence: \"考试合格证明\", idempotencyKey: $k) { released { milestoneId index amount entryId } } }";
const RELEASE: &str = "mutation($o: ID!, $k: String!) { releaseMilestone(order: $o, idempotencyKey: $k) { released { milestoneId index amount entryId } } }";
const FREEZE: &str = "mutation($o: ID!, $a: Decimal!, $c: String!, $k: String!) { courtFreeze(order: $o, amount: $a, caseNo: $c, idempotencyKey: $k) { id caseNo amount } }";
const UNFREEZE: &str =
    "mutation($h: ID!, $k: String!) { courtUnfreeze(hold: $h, idempotencyKey: $k) { id status } }";
const REQUEST_REFUND: &str = "mutation($o: ID!, $k: String!) { requestRefund(order: $o, reason: \"学员退学\", idempotencyKey: $k) { id status } }";
const EXECUTE_REFUND: &str = "mutation($r: ID!, $k: String!) { executeRefund(refund: $r, idempotencyKey: $k) { id status amount } }";
const ORDER_STATE: &str = "query($id: ID!) { order(id: $id) { id orderNo status collected
    payments { id externalRef amount } holds { id caseNo status } milestones { index status }
    refunds { id status } events(first: 200) { edges { node { type data } } } } }";

/// `"1234.56"` in fen.
pub fn fen(decimal: &str) -> i64 {
    let (int, frac) = decimal.split_once('.').unwrap_or((decimal, "0"));
    let sign = if int.starts_with('-') { -1 } else { 1 };
    let int: i64 = int.trim_start_matches('-').parse().expect("integer part");
    let frac: i64 = format!("{frac:0<2}")[..2].parse().expect("fraction");
    sign * (int * 100 + frac)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ms {
    Pending,
    Confirmed,
    Released,
    /// Not released when the order was refunded.
    Cancelled,
}

impl Ms {
    fn api(self) -> &'static str {
        match self {
            Ms::Pending => "PENDING",
            Ms::Confirmed => "CONFIRMED",
            Ms::Released => "RELEASED",
            Ms::Cancelled => "CANCELLED",
        }
    }
}

#[derive(Clone, Debug)]
struct HoldM {
    id: String,
    case_no: String,
    active: bool,
}

/// What the acknowledged answers say about one order.
#[derive(Clone, Debug)]
struct Slot {
    id: Option<String>,
    order_no: String,
    /// Opened and paid before the first start: its money is in escrow.
    settled: bool,
    /// The open was refused: the slot is empty for good.
    dead: bool,
    /// External references of the payments that committed.
    payments: Vec<String>,
    milestones: [Ms; 4],
    holds: Vec<HoldM>,
    /// The refund and whether it was executed.
    refund: Option<(String, bool)>,
    /// Mutations whose answer was lost to a kill, in the order they were sent.
    lost: Vec<Op>,
    busy: bool,
    touched: bool,
}

impl Slot {
    fn closed(&self) -> bool {
        self.dead || self.refund.as_ref().is_some_and(|r| r.1)
    }

    fn active_holds(&self) -> impl Iterator<Item = &HoldM> {
        self.holds.iter().filter(|h| h.active)
    }
}

#[derive(Clone, Debug)]
enum Step {
    Open,
    Collect { ext: String },
    Confirm { index: u32 },
    Release,
    Freeze { case_no: String },
    Unfreeze { hold: String },
    RequestRefund,
    ExecuteRefund { refund: String },
}

#[derive(Clone, Debug)]
struct Op {
    slot: usize,
    step: Step,
    key: String,
    court: bool,
    query: &'static str,
    vars: Value,
}

enum Outcome {
    /// HTTP 200 and no errors: the data.
    Acked(Value),
    /// A refusal with its code.
    Refused(String),
    /// No answer: the node died first.
    Lost,
}

/// What a run did, printed at the end.
#[derive(Default, Debug)]
struct Figures {
    kills: usize,
    sent: usize,
    acked: usize,
    refused: BTreeMap<String, usize>,
    lost: usize,
    lost_found_committed: usize,
    lost_found_absent: usize,
    replays_checked: usize,
    orders_checked: usize,
    consistency_proofs_checked: usize,
    inclusion_proofs_checked: usize,
    audits: usize,
    breaches: usize,
}

struct Shared {
    slots: Vec<Slot>,
    /// Acknowledged ops of the current burst, for replay after the restart.
    acked: Vec<(Op, Value)>,
    figures: Figures,
    violations: Vec<String>,
}

struct Ctx {
    world: World,
    bank_token: String,
    court_token: String,
    shared: Mutex<Shared>,
    /// Settled orders still open to refunds: refunds stop when half are closed, so freezes and
    /// releases keep their orders.
    min_open_settled: usize,
}

impl Ctx {
    fn token(&self, op: &Op) -> &str {
        if op.court {
            &self.court_token
        } else {
            &self.bank_token
        }
    }

    fn op(&self, slot: usize, step: Step, key: String, s: &Slot) -> Op {
        let id = s.id.clone().unwrap_or_default();
        let (query, vars, court) = match &step {
            Step::Open => (
                OPEN,
                json!({"k": key, "i": {"scheme": self.world.scheme, "merchant": self.world.merchant, "payer": self.world.payer, "total": ORDER_TOTAL, "description": "C1 学车套餐", "orderNo": s.order_no}}),
                false,
            ),
            Step::Collect { ext } => (
                COLLECT,
                json!({"k": key, "i": {"order": id, "channel": "WECHAT_PAY", "amount": ORDER_TOTAL, "externalRef": ext}}),
                false,
            ),
            Step::Confirm { index } => (CONFIRM, json!({"k": key, "o": id, "i": index}), false),
            Step::Release => (RELEASE, json!({"k": key, "o": id}), false),
            Step::Freeze { case_no } => (
                FREEZE,
                json!({"k": key, "o": id, "a": FREEZE_AMOUNT, "c": case_no}),
                true,
            ),
            Step::Unfreeze { hold } => (UNFREEZE, json!({"k": key, "h": hold}), true),
            Step::RequestRefund => (REQUEST_REFUND, json!({"k": key, "o": id}), false),
            Step::ExecuteRefund { refund } => {
                (EXECUTE_REFUND, json!({"k": key, "r": refund}), false)
            }
        };
        Op {
            slot,
            step,
            key,
            court,
            query,
            vars,
        }
    }

    async fn send(&self, node: &Node, op: &Op) -> Outcome {
        let result = node
            .post(Some(self.token(op)), op.query, op.vars.clone())
            .await;
        let mut sh = self.shared.lock().expect("lock");
        sh.figures.sent += 1;
        match result {
            Err(_) => {
                sh.figures.lost += 1;
                Outcome::Lost
            }
            Ok(body) => match body.get("errors").and_then(Value::as_array) {
                Some(errors) if !errors.is_empty() => {
                    let code = first_code(&body).to_owned();
                    if !is_business_refusal(&code) {
                        sh.violations
                            .push(format!("{:?} answered {code}: {body}", op.step));
                    }
                    *sh.figures.refused.entry(code.clone()).or_default() += 1;
                    Outcome::Refused(code)
                }
                _ => {
                    sh.figures.acked += 1;
                    let data = body["data"].clone();
                    sh.acked.push((op.clone(), data.clone()));
                    Outcome::Acked(data)
                }
            },
        }
    }
}

/// Refusals a correct server may give these requests under this load.
fn is_business_refusal(code: &str) -> bool {
    matches!(
        code,
        "INSUFFICIENT_FUNDS" | "INVALID_STATE" | "CONFLICT" | "VALIDATION"
    )
}

/// Applies an acknowledged answer to the model.
fn apply(slot: &mut Slot, step: &Step, data: &Value) {
    match step {
        Step::Open => slot.id = data["openOrder"]["id"].as_str().map(str::to_owned),
        Step::Collect { ext } => slot.payments.push(ext.clone()),
        Step::Confirm { index } => {
            let i = *index as usize;
            if slot.milestones[i] == Ms::Pending {
                slot.milestones[i] = Ms::Confirmed;
            }
            released(slot, &data["confirmMilestone"]);
        }
        Step::Release => released(slot, &data["releaseMilestone"]),
        Step::Freeze { case_no } => slot.holds.push(HoldM {
            id: data["courtFreeze"]["id"]
                .as_str()
                .expect("hold id")
                .to_owned(),
            case_no: case_no.clone(),
            active: true,
        }),
        Step::Unfreeze { hold } => {
            for h in slot.holds.iter_mut().filter(|h| &h.id == hold) {
                h.active = false;
            }
        }
        Step::RequestRefund => {
            slot.refund = Some((
                data["requestRefund"]["id"]
                    .as_str()
                    .expect("refund id")
                    .to_owned(),
                false,
            ));
        }
        Step::ExecuteRefund { .. } => {
            if let Some(r) = slot.refund.as_mut() {
                r.1 = true;
            }
            for m in slot.milestones.iter_mut().filter(|m| **m != Ms::Released) {
                *m = Ms::Cancelled;
            }
        }
    }
}

fn released(slot: &mut Slot, payload: &Value) {
    for t in payload["released"].as_array().into_iter().flatten() {
        let i = t["index"].as_u64().expect("index") as usize;
        slot.milestones[i] = Ms::Released;
    }
}

/// Applies a refusal: only a refused open changes the model (the slot stays empty).
fn refuse(slot: &mut Slot, step: &Step) {
    if matches!(step, Step::Open) {
        slot.dead = true;
    }
}

/// One client: picks an idle order, runs a short chain of mutations on it, puts it back;
/// until the node stops answering.
async fn client(ctx: Arc<Ctx>, node: Arc<Node>, cycle: usize, me: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for n in 0.. {
        let key = |step: usize| format!("k{cycle}-{me}-{n}-{step}");
        // Choose under the lock, send without it.
        let chain: Vec<Step>;
        let slot_ix;
        {
            let mut sh = ctx.shared.lock().expect("lock");
            let roll = rng.gen_range(0..100);
            let open_settled = sh.slots.iter().filter(|s| s.settled && !s.closed()).count();
            let idle: Vec<usize> = sh
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.settled && !s.closed() && !s.busy && s.lost.is_empty() && s.id.is_some()
                })
                .map(|(i, _)| i)
                .collect();
            let pick = idle.choose(&mut rng).copied();
            match (roll, pick) {
                (0..35, _) | (_, None) => {
                    let order_no = format!("CR-{cycle}-{me}-{n}");
                    sh.slots.push(Slot {
                        id: None,
                        order_no,
                        settled: false,
                        dead: false,
                        payments: vec![],
                        milestones: [Ms::Pending; 4],
                        holds: vec![],
                        refund: None,
                        lost: vec![],
                        busy: true,
                        touched: true,
                    });
                    slot_ix = sh.slots.len() - 1;
                    chain = vec![
                        Step::Open,
                        Step::Collect {
                            ext: format!("wx-{cycle}-{me}-{n}"),
                        },
                    ];
                }
                (r, Some(i)) => {
                    slot_ix = i;
                    let s = &sh.slots[i];
                    let active = s.active_holds().next().map(|h| h.id.clone());
                    let confirmed = s.milestones.contains(&Ms::Confirmed);
                    let next = s.milestones.iter().position(|m| *m == Ms::Pending);
                    chain = if let Some((refund, false)) = s.refund.clone() {
                        vec![Step::ExecuteRefund { refund }]
                    } else if r < 60 && confirmed {
                        vec![Step::Release]
                    } else if r < 60
                        && let Some(index) = next
                    {
                        vec![Step::Confirm {
                            index: index as u32,
                        }]
                    } else if r < 66 && active.is_none() && open_settled > ctx.min_open_settled {
                        vec![Step::RequestRefund]
                    } else if let Some(hold) = active {
                        vec![Step::Unfreeze { hold }]
                    } else {
                        let case_no = format!("(2026)苏0102执{cycle}{me:02}{n:04}号");
                        if rng.gen_bool(0.5) {
                            vec![Step::Freeze { case_no }]
                        } else {
                            vec![
                                Step::Freeze { case_no },
                                Step::Unfreeze {
                                    hold: String::new(),
                                },
                            ]
                        }
                    };
                    sh.slots[i].busy = true;
                    sh.slots[i].touched = true;
                }
            }
        }
        let mut stop = false;
        for (j, step) in chain.into_iter().enumerate() {
            let op = {
                let sh = ctx.shared.lock().expect("lock");
                let s = &sh.slots[slot_ix];
                // A chained unfreeze names the hold the freeze just made.
                let step = match step {
                    Step::Unfreeze { hold } if hold.is_empty() => match s.active_holds().last() {
                        Some(h) => Step::Unfreeze { hold: h.id.clone() },
                        None => break,
                    },
                    Step::RequestRefund if s.refund.is_some() => break,
                    other => other,
                };
                ctx.op(slot_ix, step, key(j), s)
            };
            let outcome = ctx.send(&node, &op).await;
            let mut sh = ctx.shared.lock().expect("lock");
            let s = &mut sh.slots[slot_ix];
            match outcome {
                Outcome::Acked(data) => apply(s, &op.step, &data),
                Outcome::Refused(_) => {
                    refuse(s, &op.step);
                    break;
                }
                Outcome::Lost => {
                    s.lost.push(op);
                    stop = true;
                    break;
                }
            }
        }
        ctx.shared.lock().expect("lock").slots[slot_ix].busy = false;
        if stop {
            return;
        }
    }
}

/// The order as the node sees it now.
async fn order_state(ctx: &Ctx, node: &Node, id: &str) -> Value {
    let body = node
        .post(Some(&ctx.bank_token), ORDER_STATE, json!({"id": id}))
        .await
        .expect("node answers");
    Node::ok(body)["order"].clone()
}

/// Whether the effect of `step` is in the order now.
fn effect_present(slot: &Slot, step: &Step, order: &Value) -> bool {
    let arr = |f: &str| order[f].as_array().cloned().unwrap_or_default();
    match step {
        Step::Open => !order.is_null(),
        Step::Collect { ext } => arr("payments").iter().any(|p| p["externalRef"] == *ext),
        Step::Confirm { index } => arr("milestones")
            .iter()
            .any(|m| m["index"] == *index && m["status"] != "PENDING"),
        Step::Release => {
            let released_now = arr("milestones")
                .iter()
                .filter(|m| m["status"] == "RELEASED")
                .count();
            released_now
                > slot
                    .milestones
                    .iter()
                    .filter(|m| **m == Ms::Released)
                    .count()
        }
        Step::Freeze { case_no } => arr("holds").iter().any(|h| h["caseNo"] == *case_no),
        Step::Unfreeze { hold } => arr("holds")
            .iter()
            .any(|h| h["id"] == *hold && h["status"] == "RELEASED"),
        Step::RequestRefund => !arr("refunds").is_empty(),
        Step::ExecuteRefund { refund } => arr("refunds")
            .iter()
            .any(|r| r["id"] == *refund && r["status"] == "EXECUTED"),
    }
}

/// Settles every lost mutation: looks for its effect, retries it under its own key, and checks
/// that the effect and the idempotency record agreed and that the retry left it done once.
async fn resolve_lost(ctx: &Ctx, node: &Node) {
    let lost: Vec<Op> = {
        let mut sh = ctx.shared.lock().expect("lock");
        sh.slots
            .iter_mut()
            .flat_map(|s| std::mem::take(&mut s.lost))
            .collect()
    };
    for op in lost {
        let slot = ctx.shared.lock().expect("lock").slots[op.slot].clone();
        let state = match (&op.step, &slot.id) {
            (Step::Open, _) => {
                let body = node
                    .post(
                        Some(&ctx.bank_token),
                        "query($n: String!) { orderByNo(orderNo: $n) { id total } }",
                        json!({"n": slot.order_no}),
                    )
                    .await
                    .expect("node answers");
                if first_code(&body) == "NOT_FOUND" {
                    Value::Null
                } else {
                    Node::ok(body)["orderByNo"].clone()
                }
            }
            (_, Some(id)) => order_state(ctx, node, id).await,
            (_, None) => unreachable!("only an open precedes the order id"),
        };
        let was_there = effect_present(&slot, &op.step, &state);
        let retry = ctx.send(node, &op).await;
        let mut sh = ctx.shared.lock().expect("lock");
        if was_there {
            sh.figures.lost_found_committed += 1;
        } else {
            sh.figures.lost_found_absent += 1;
        }
        match retry {
            Outcome::Acked(data) => {
                if was_there
                    && let (Step::Open, Some(id)) = (&op.step, state["id"].as_str())
                    && data["openOrder"]["id"] != id
                {
                    sh.violations.push(format!(
                        "order {} was committed as {id} but its key replays to {data}",
                        slot.order_no
                    ));
                }
                let s = &mut sh.slots[op.slot];
                apply(s, &op.step, &data);
                s.touched = true;
            }
            Outcome::Refused(code) => {
                if was_there {
                    sh.violations.push(format!(
                        "half-present: {:?} on {} committed its effect but its key is not recorded (retry: {code})",
                        op.step, slot.order_no
                    ));
                }
                refuse(&mut sh.slots[op.slot], &op.step);
            }
            Outcome::Lost => panic!("the node died during recovery:\n{}", node.recent_logs()),
        }
    }
}

/// Compares one order with its model: payments, milestones, holds, refund, and one event for
/// each effect.
async fn check_slot(ctx: &Ctx, node: &Node, slot: &Slot) -> Vec<String> {
    let mut v = Vec::new();
    let Some(id) = &slot.id else {
        return v;
    };
    let o = order_state(ctx, node, id).await;
    let name = &slot.order_no;
    if o["orderNo"] != *name {
        v.push(format!("{name}: order {id} reads {o}"));
        return v;
    }
    let payments = o["payments"].as_array().cloned().unwrap_or_default();
    let mut seen: Vec<&str> = payments
        .iter()
        .filter_map(|p| p["externalRef"].as_str())
        .collect();
    seen.sort_unstable();
    let mut want: Vec<&str> = slot.payments.iter().map(String::as_str).collect();
    want.sort_unstable();
    // A settled order keeps the one payment made during setup.
    let expected_payments = if slot.settled {
        payments.len() == 1
    } else {
        seen == want
    };
    if !expected_payments {
        v.push(format!("{name}: payments {seen:?}, acknowledged {want:?}"));
    }
    let collected = o["collected"].as_str().map(fen).unwrap_or(-1);
    let paid = if slot.settled {
        1
    } else {
        slot.payments.len() as i64
    };
    if collected != paid * ORDER_TOTAL_FEN {
        v.push(format!(
            "{name}: collected {collected} fen, acknowledged {paid} payments"
        ));
    }
    for m in o["milestones"].as_array().into_iter().flatten() {
        let i = m["index"].as_u64().unwrap_or(99) as usize;
        let want = slot.milestones.get(i).map(|s| s.api());
        if want != m["status"].as_str() {
            v.push(format!(
                "{name}: milestone {i} is {} but the answers say {want:?}",
                m["status"]
            ));
        }
    }
    let holds = o["holds"].as_array().cloned().unwrap_or_default();
    if holds.len() != slot.holds.len() {
        v.push(format!(
            "{name}: {} holds, acknowledged {}",
            holds.len(),
            slot.holds.len()
        ));
    }
    for h in &slot.holds {
        let want = if h.active { "ACTIVE" } else { "RELEASED" };
        if !holds
            .iter()
            .any(|x| x["id"] == *h.id && x["caseNo"] == *h.case_no && x["status"] == want)
        {
            v.push(format!("{name}: hold {} {want} missing: {holds:?}", h.id));
        }
    }
    let refunds = o["refunds"].as_array().cloned().unwrap_or_default();
    match &slot.refund {
        None if !refunds.is_empty() => v.push(format!("{name}: unacknowledged refund {refunds:?}")),
        Some((rid, executed)) => {
            let want = if *executed { "EXECUTED" } else { "REQUESTED" };
            if refunds.len() != 1 || refunds[0]["id"] != *rid || refunds[0]["status"] != want {
                v.push(format!("{name}: refund {rid} {want}, found {refunds:?}"));
            }
            if *executed && o["status"] != "REFUNDED" {
                v.push(format!("{name}: refunded but {}", o["status"]));
            }
        }
        None => {}
    }
    // One event per effect, no more, no fewer.
    let mut events: HashMap<String, usize> = HashMap::new();
    for e in o["events"]["edges"].as_array().into_iter().flatten() {
        let n = &e["node"];
        let t = n["type"].as_str().unwrap_or("");
        let d = &n["data"];
        let k = match t {
            "payment.collected" => format!("{t} {}", d["external_ref"].as_str().unwrap_or("")),
            "court.freeze" | "court.unfreeze" => {
                format!("{t} {}", d["case_no"].as_str().unwrap_or(""))
            }
            "milestone.released" | "milestone.confirmed" => format!("{t} {}", d["index"]),
            other => other.to_owned(),
        };
        *events.entry(k).or_default() += 1;
    }
    let mut want_events: Vec<String> = vec!["order.opened".into()];
    if !slot.settled {
        want_events.extend(
            slot.payments
                .iter()
                .map(|e| format!("payment.collected {e}")),
        );
    }
    for h in &slot.holds {
        want_events.push(format!("court.freeze {}", h.case_no));
        if !h.active {
            want_events.push(format!("court.unfreeze {}", h.case_no));
        }
    }
    for (i, m) in slot.milestones.iter().enumerate() {
        if *m == Ms::Released {
            want_events.push(format!("milestone.released {i}"));
        }
    }
    if slot.refund.is_some() {
        want_events.push("refund.requested".into());
    }
    if slot.refund.as_ref().is_some_and(|r| r.1) {
        want_events.push("order.refunded".into());
    }
    for w in want_events {
        let n = events.get(&w).copied().unwrap_or(0);
        if n != 1 {
            v.push(format!("{name}: {n} events `{w}`, expected one"));
        }
    }
    v
}

/// A checkpoint seen before a kill.
#[derive(Clone, Debug)]
struct Seen {
    size: u64,
    root: Hash,
}

fn open_note(note: &str, key: &VerifierKey) -> Result<Seen, String> {
    let c = Checkpoint::open(note, key).map_err(|e| format!("checkpoint does not verify: {e}"))?;
    Ok(Seen {
        size: c.size,
        root: c.root,
    })
}

/// Waits for a checkpoint that covers the whole log, then checks it against the older ones
/// and checks a few inclusion proofs from recomputed leaf hashes.
async fn check_log(
    ctx: &Ctx,
    node: &Node,
    key: &VerifierKey,
    old: &[&Seen],
    rng: &mut StdRng,
) -> (Seen, Vec<String>) {
    let mut v = Vec::new();
    let floor = old.iter().map(|c| c.size).max().unwrap_or(0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let new = loop {
        let status = Node::ok(
            node.post(
                Some(&ctx.bank_token),
                "{ serverStatus { logSize } }",
                json!({}),
            )
            .await
            .expect("node answers"),
        );
        let log_size = status["serverStatus"]["logSize"].as_u64().unwrap_or(0);
        if log_size < floor {
            v.push(format!(
                "the log has {log_size} leaves after the restart, but a checkpoint of {floor} was published before"
            ));
            return (
                Seen {
                    size: 0,
                    root: lvyue_notary::empty_root(),
                },
                v,
            );
        }
        let (status, note) = node.get("/checkpoint").await.expect("node answers");
        if status == 200 {
            match open_note(&note, key) {
                Ok(c) if c.size == log_size => break c,
                Ok(_) => {}
                Err(e) => {
                    v.push(e);
                    return (
                        Seen {
                            size: 0,
                            root: lvyue_notary::empty_root(),
                        },
                        v,
                    );
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no checkpoint of the whole log within 30 s:\n{}",
            node.recent_logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut checked = 0;
    for chunk in old
        .iter()
        .filter(|c| c.size > 0)
        .collect::<Vec<_>>()
        .chunks(PROOFS_PER_REQUEST)
    {
        let q = chunk
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "c{i}: consistencyProof(fromSize: {}, toSize: {}) {{ fromRoot toRoot hashes }}",
                    c.size, new.size
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        let data = Node::ok(
            node.post(None, &format!("{{ {q} }}"), json!({}))
                .await
                .expect("node answers"),
        );
        for (i, c) in chunk.iter().enumerate() {
            let p = &data[format!("c{i}")];
            let proof: Vec<Hash> = p["hashes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|h| Hash::from_hex(h.as_str().unwrap_or("")).expect("hex hash"))
                .collect();
            if let Err(e) =
                lvyue_notary::verify_consistency(c.size, new.size, &c.root, &new.root, &proof)
            {
                v.push(format!(
                    "checkpoint of {} leaves is not consistent with the new one of {}: {e}",
                    c.size, new.size
                ));
            }
            checked += 1;
        }
    }
    // Inclusion of random leaves, from hashes recomputed from the events' canonical bytes.
    let mut included = 0;
    for _ in 0..2 {
        if new.size == 0 {
            break;
        }
        let index = rng.gen_range(0..new.size);
        let data = Node::ok(
            node.post(
                Some(&ctx.bank_token),
                "query($i: Int!, $s: Int!, $e: ID!) { inclusionProof(leafIndex: $i, treeSize: $s) { hashes } event(id: $e) { canonical } }",
                json!({"i": index, "s": new.size, "e": format!("evt_{index}")}),
            )
            .await
            .expect("node answers"),
        );
        let leaf =
            lvyue_notary::leaf_hash(data["event"]["canonical"].as_str().unwrap_or("").as_bytes());
        let proof: Vec<Hash> = data["inclusionProof"]["hashes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| Hash::from_hex(h.as_str().unwrap_or("")).expect("hex hash"))
            .collect();
        if let Err(e) = lvyue_notary::verify_inclusion(&leaf, index, new.size, &proof, &new.root) {
            v.push(format!(
                "leaf {index} is not in the checkpoint of {}: {e}",
                new.size
            ));
        }
        included += 1;
    }
    {
        let mut sh = ctx.shared.lock().expect("lock");
        sh.figures.consistency_proofs_checked += checked;
        sh.figures.inclusion_proofs_checked += included;
    }
    (new, v)
}

/// Polls `/checkpoint` while a burst runs, keeping every signed note it sees.
async fn watch_checkpoints(node: Arc<Node>, key: VerifierKey, seen: Arc<Mutex<Vec<Seen>>>) {
    let mut last = u64::MAX;
    loop {
        match node.get("/checkpoint").await {
            Ok((200, note)) => {
                if let Ok(c) = open_note(&note, &key)
                    && c.size != last
                {
                    last = c.size;
                    seen.lock().expect("lock").push(c);
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

async fn crash_recovery(backend: Backend) {
    let long = long_tier();
    let kills = std::env::var(KILLS_ENV)
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(if long { LONG_KILLS } else { CI_KILLS });
    let seed: u64 = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!(
        "crash recovery on {backend:?}: {kills} kills, seed {seed} (replay with {SEED_ENV}={seed})"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let n_settled = if long {
        SETTLED_ORDERS.1
    } else {
        SETTLED_ORDERS.0
    };
    let t0 = std::time::Instant::now();
    let Some(setup) = settled_world(backend, n_settled, ORDER_TOTAL).await else {
        eprintln!(
            "skipped: {} is not set",
            lvyue_domain::testing::POSTGRES_ENV
        );
        return;
    };
    eprintln!("{n_settled} settled orders made in {:?}", t0.elapsed());
    let env = NodeEnv::new(setup.srv.data_dir(), &setup.srv.db.url);
    let court: Principal = setup.world.court_principal();
    let ctx = Arc::new(Ctx {
        bank_token: env.token(&bank()),
        court_token: env.token(&court),
        min_open_settled: n_settled / 2,
        shared: Mutex::new(Shared {
            slots: setup
                .orders
                .iter()
                .enumerate()
                .map(|(i, id)| Slot {
                    id: Some(id.clone()),
                    order_no: format!("settled-{i}"),
                    settled: true,
                    dead: false,
                    payments: vec![],
                    milestones: [Ms::Released, Ms::Pending, Ms::Pending, Ms::Pending],
                    holds: vec![],
                    refund: None,
                    lost: vec![],
                    busy: false,
                    touched: true,
                })
                .collect(),
            acked: vec![],
            figures: Figures::default(),
            violations: vec![],
        }),
        world: setup.world,
    });
    // The setup orders' numbers were generated: learn them.
    {
        let node = Node::start(&env).await;
        let ids: Vec<String> = ctx
            .shared
            .lock()
            .expect("lock")
            .slots
            .iter()
            .filter_map(|s| s.id.clone())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let o = order_state(&ctx, &node, id).await;
            ctx.shared.lock().expect("lock").slots[i].order_no =
                o["orderNo"].as_str().expect("order number").to_owned();
        }
        node.stop().await;
    }
    let mut key: Option<VerifierKey> = None;
    let mut seen: Vec<Seen> = Vec::new();
    let mut checked_seen = 0usize;

    let mut phases = [Duration::ZERO; 5];
    for cycle in 0..=kills {
        let t = std::time::Instant::now();
        let node = Arc::new(Node::start(&env).await);
        phases[0] += t.elapsed();
        let t = std::time::Instant::now();
        let vkey = match &key {
            Some(k) => k.clone(),
            None => {
                let d = Node::ok(
                    node.post(None, "{ notaryKey }", json!({}))
                        .await
                        .expect("node answers"),
                );
                let k = VerifierKey::parse(d["notaryKey"].as_str().expect("key")).expect("key");
                key = Some(k.clone());
                k
            }
        };
        // 1. Lost answers: there whole, or not at all; retried exactly once.
        resolve_lost(&ctx, &node).await;
        // 2. What was acknowledged is there: every order touched since the last check.
        let (touched, replays) = {
            let mut sh = ctx.shared.lock().expect("lock");
            let mut touched: Vec<Slot> = Vec::new();
            for s in sh.slots.iter_mut() {
                if std::mem::take(&mut s.touched) {
                    touched.push(s.clone());
                }
            }
            let mut acked = std::mem::take(&mut sh.acked);
            acked.shuffle(&mut rng);
            acked.truncate(REPLAYS_PER_CYCLE);
            (touched, acked)
        };
        let mut violations = Vec::new();
        for s in &touched {
            violations.extend(check_slot(&ctx, &node, s).await);
        }
        for (op, data) in &replays {
            let again = node
                .post(Some(ctx.token(op)), op.query, op.vars.clone())
                .await
                .expect("node answers");
            if again.get("errors").is_some() || again["data"] != *data {
                violations.push(format!(
                    "acknowledged {:?} (key {}) answered {data} but replays to {again}",
                    op.step, op.key
                ));
            }
        }
        // 3. The log: every earlier checkpoint is consistent with the new one.
        let fresh: Vec<&Seen> = seen[checked_seen..].iter().collect();
        let mut old: Vec<&Seen> = seen[..checked_seen].iter().collect();
        old.shuffle(&mut rng);
        old.truncate(OLD_CHECKPOINTS_PER_CYCLE);
        old.extend(fresh);
        if cycle == kills {
            old = seen.iter().collect();
        }
        phases[1] += t.elapsed();
        let t = std::time::Instant::now();
        let (now, log_violations) = check_log(&ctx, &node, &vkey, &old, &mut rng).await;
        phases[2] += t.elapsed();
        let t = std::time::Instant::now();
        violations.extend(log_violations);
        checked_seen = seen.len();
        seen.push(now);
        // 4. The audit, by the binary.
        let audit_every = if long { AUDIT_EVERY.1 } else { AUDIT_EVERY.0 };
        if cycle % audit_every == 0 || cycle == kills {
            let breaches = env.audit().await;
            let mut sh = ctx.shared.lock().expect("lock");
            sh.figures.audits += 1;
            sh.figures.breaches += breaches.len();
            violations.extend(breaches.iter().map(|b| format!("audit: {b}")));
        }
        phases[3] += t.elapsed();
        {
            let mut sh = ctx.shared.lock().expect("lock");
            sh.figures.replays_checked += replays.len();
            sh.figures.orders_checked += touched.len();
            violations.append(&mut sh.violations);
        }
        assert!(
            violations.is_empty(),
            "seed {seed}, after kill {cycle}: {} violations:\n{}\nnode log:\n{}",
            violations.len(),
            violations.join("\n"),
            node.recent_logs()
        );
        if cycle == kills {
            // The whole model, order by order.
            let all: Vec<Slot> = ctx.shared.lock().expect("lock").slots.clone();
            let mut violations = Vec::new();
            for s in &all {
                violations.extend(check_slot(&ctx, &node, s).await);
            }
            assert!(
                violations.is_empty(),
                "seed {seed}, at the end:\n{}",
                violations.join("\n")
            );
            let node = Arc::try_unwrap(node).unwrap_or_else(|_| panic!("node still shared"));
            node.stop().await;
            break;
        }
        // 5. Load, and a kill at a random moment of it.
        let t = std::time::Instant::now();
        let burst = Duration::from_millis(rng.gen_range(0..=BURST_MS_MAX));
        let during = Arc::new(Mutex::new(Vec::new()));
        let watcher = tokio::spawn(watch_checkpoints(
            node.clone(),
            vkey.clone(),
            during.clone(),
        ));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|me| tokio::spawn(client(ctx.clone(), node.clone(), cycle, me, rng.r#gen())))
            .collect();
        tokio::time::sleep(burst).await;
        // The clients still hold the node: kill it by pid.
        kill_now(node.pid()).await;
        for c in clients {
            c.await.expect("client task");
        }
        watcher.await.expect("watcher task");
        let node = Arc::try_unwrap(node).unwrap_or_else(|_| panic!("node still shared"));
        node.kill().await;
        seen.append(&mut during.lock().expect("lock"));
        ctx.shared.lock().expect("lock").figures.kills += 1;
        phases[4] += t.elapsed();
    }
    eprintln!(
        "time spent starting {:?}, recovering and checking orders {:?}, checking the log {:?}, auditing {:?}, under load {:?}",
        phases[0], phases[1], phases[2], phases[3], phases[4]
    );
    let sh = ctx.shared.lock().expect("lock");
    let f = &sh.figures;
    let open_orders = sh.slots.iter().filter(|s| s.id.is_some()).count();
    println!(
        "crash recovery on {backend:?}, seed {seed}: {} kills survived; {} requests sent, {} acknowledged, {} lost to a kill ({} had committed, {} had not; each retried once), refused {:?}; {} acknowledged answers replayed, {} order checks, {} orders at the end; {} checkpoints seen, {} consistency and {} inclusion proofs verified; {} audits, {} breaches",
        f.kills,
        f.sent,
        f.acked,
        f.lost,
        f.lost_found_committed,
        f.lost_found_absent,
        f.refused,
        f.replays_checked,
        f.orders_checked,
        open_orders,
        seen.len(),
        f.consistency_proofs_checked,
        f.inclusion_proofs_checked,
        f.audits,
        f.breaches,
    );
    assert_eq!(f.kills, kills);
    assert_eq!(f.breaches, 0);
}

/// SIGKILL by pid, so the node can be killed while the clients still hold it.
async fn kill_now(pid: u32) {
    let status = tokio::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .await
        .expect("kill runs");
    assert!(status.success(), "SIGKILL {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_mutations_survive_sigkill_and_the_log_stays_consistent_sqlite() {
    crash_recovery(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_mutations_survive_sigkill_and_the_log_stays_consistent_postgres() {
    crash_recovery(Backend::Postgres).await;
}
