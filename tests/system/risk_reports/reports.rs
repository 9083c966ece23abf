//! The regulator reports (docs/domain.md, "What regulators ask for",
//! fund flows): every total reconciled with the ledger as GraphQL shows it — the orders'
//! counters, `merchantBalances` and the accounts — for the bank, a regulator and a merchant.
//! The CSV downloads of the same reports are in [`super::downloads`].

use std::collections::BTreeMap;

use serde_json::{Value, json};

use lvyue_domain::principal::{Industry, Principal};
use lvyue_domain::testing::Backend;

use super::{fen, nodes, ok, on_both, paid, start};
use crate::harness::{TestServer, bank, first_code};
use crate::world::{World, as_regulator, bank_do, driving_school, register_merchant};

fn policy() -> Value {
    json!({
        "milestones": [
            {"name": "报名", "share_bp": 2500, "auto_after_days": 0},
            {"name": "结业", "share_bp": 7500, "confirm_by": ["EVIDENCE"]}
        ],
        "custody": {"reference": "OUTSTANDING_PREPAID", "ratio_bp": 2000},
        "refund": {"deadline_working_days": 15}
    })
}

/// The report period: Monday 2026-03-02 to Thursday 2026-03-05, whole China days.
pub(super) const FROM: &str = "2026-03-02T00:00:00+08:00";
pub(super) const TO: &str = "2026-03-06T00:00:00+08:00";

pub(super) struct Fixture {
    pub srv: TestServer,
    pub w: World,
    /// The Suzhou driving school (Nanjing's are the world's merchant and another).
    pub m3: String,
    /// The Suzhou scheme.
    pub s2: String,
    /// O1 M1 1000.00, O2 M2 2000.00, O3 M1 500.00 (refunded), O4 M3 800.00, O5 M2 400.00.
    pub orders: Vec<String>,
    pub bureau: Principal,
}

/// Four days of activity:
/// - day 0 (Mon 3/2): O1–O4 paid (in clearing);
/// - day 1: settled, first tranches (25%) released; O1's second released on evidence; O3
///   refunded at the payer's request;
/// - day 2: a court freezes 300.00 of O2 and deducts 100.00; O5 paid;
/// - day 3 (Thu 3/5): O5 settled and its first tranche released.
///
/// Beside it, a housing-voucher scheme with one 50,000.00 voucher issued.
pub(super) async fn fixture(backend: Backend) -> Option<Fixture> {
    let (srv, clock) = start(backend, |_| {}).await?;
    let w = driving_school(&srv, policy()).await;
    let m2 = register_merchant(
        &srv,
        "秦淮驾校",
        "91320104MA1QH0001",
        "320104",
        "DRIVING_SCHOOL",
        "m-2",
    )
    .await;
    bank_do(
        &srv,
        "mutation($s: ID!, $m: ID!) { enrollMerchant(scheme: $s, merchant: $m, settlementAccountNumber: \"6222000011114444\", idempotencyKey: \"e-2\") { id } }",
        json!({"s": w.scheme, "m": m2}),
    )
    .await;
    let s2 = bank_do(
        &srv,
        "mutation($i: CreateSchemeInput!) { createScheme(input: $i, idempotencyKey: \"s-2\") { id } }",
        json!({"i": {"code": "SZ-JP", "name": "苏州驾培资金监管", "industry": "DRIVING_SCHOOL", "region": "320500", "policy": policy()}}),
    )
    .await["createScheme"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m3 = register_merchant(
        &srv,
        "姑苏驾校",
        "91320508MA1GU0001",
        "320508",
        "DRIVING_SCHOOL",
        "m-3",
    )
    .await;
    bank_do(
        &srv,
        "mutation($s: ID!, $m: ID!) { enrollMerchant(scheme: $s, merchant: $m, settlementAccountNumber: \"6222000011115555\", idempotencyKey: \"e-3\") { id } }",
        json!({"s": s2, "m": m3}),
    )
    .await;
    let mut orders = vec![
        paid(&srv, &w, &w.scheme, &w.merchant, "1000.00").await,
        paid(&srv, &w, &w.scheme, &m2, "2000.00").await,
        paid(&srv, &w, &w.scheme, &w.merchant, "500.00").await,
        paid(&srv, &w, &s2, &m3, "800.00").await,
    ];

    // Day 1.
    clock.advance_days(1);
    srv.tick().await;
    ok(
        &srv,
        &bank(),
        "mutation($o: ID!) { confirmMilestone(order: $o, index: 1, as: EVIDENCE, evidence: \"结业证 001\", idempotencyKey: \"exam-1\") { released { amount } } }",
        json!({"o": orders[0]}),
    )
    .await;
    let refund = ok(
        &srv,
        &w.payer_principal(),
        "mutation($o: ID!) { requestRefund(order: $o, reason: \"退学\", idempotencyKey: \"r-1\") { id } }",
        json!({"o": orders[2]}),
    )
    .await["requestRefund"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    bank_do(
        &srv,
        "mutation($r: ID!) { executeRefund(refund: $r, idempotencyKey: \"x-1\") { status } }",
        json!({"r": refund}),
    )
    .await;
    // Day 2.
    clock.advance_days(1);
    srv.tick().await;
    let hold = bank_do(
        &srv,
        "mutation($o: ID!, $c: ID!) { courtFreeze(order: $o, amount: \"300.00\", caseNo: \"(2026)苏0102执1号\", court: $c, idempotencyKey: \"f-1\") { id } }",
        json!({"o": orders[1], "c": w.court}),
    )
    .await["courtFreeze"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    bank_do(
        &srv,
        "mutation($h: ID!, $c: ID!) { courtDeduct(hold: $h, amount: \"100.00\", court: $c, idempotencyKey: \"d-1\") { remaining } }",
        json!({"h": hold, "c": w.court}),
    )
    .await;
    orders.push(paid(&srv, &w, &w.scheme, &m2, "400.00").await);
    // Day 3.
    clock.advance_days(1);
    srv.tick().await;

    // Housing vouchers, for the inventory.
    let bureau_id = bank_do(
        &srv,
        r#"mutation { registerRegulator(input: {name: "南京市住房保障和房产局", regions: ["3201"], industries: [HOUSING_VOUCHER]}, idempotencyKey: "reg-h") { id } }"#,
        json!({}),
    )
    .await["registerRegulator"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bureau = as_regulator(&bureau_id, &["3201"], &[Industry::HousingVoucher]);
    let s5 = bank_do(
        &srv,
        "mutation($i: CreateSchemeInput!) { createScheme(input: $i, idempotencyKey: \"s-5\") { id } }",
        json!({"i": {"code": "NJ-FP", "name": "南京房票", "industry": "HOUSING_VOUCHER", "region": "320100", "regulator": bureau_id,
            "policy": {"milestones": [{"name": "签约", "share_bp": 10000, "auto_after_days": 0}], "voucher": {"validity_months": 24}}}}),
    )
    .await["createScheme"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let project = ok(
        &srv,
        &bureau,
        "mutation($s: ID!) { createVoucherProject(input: {scheme: $s, name: \"某某片区征收项目\"}, idempotencyKey: \"p-1\") { id } }",
        json!({"s": s5}),
    )
    .await["createVoucherProject"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    bank_do(
        &srv,
        "mutation($p: ID!) { fundVoucherProject(project: $p, amount: \"100000.00\", reference: \"财政拨付\", idempotencyKey: \"fp-1\") { __typename } }",
        json!({"p": project}),
    )
    .await;
    ok(
        &srv,
        &bureau,
        "mutation($p: ID!, $h: ID!) { issueVoucher(project: $p, holder: $h, amount: \"50000.00\", idempotencyKey: \"v-1\") { id } }",
        json!({"p": project, "h": w.payer}),
    )
    .await;
    Some(Fixture {
        srv,
        w,
        m3,
        s2,
        orders,
        bureau,
    })
}

/// Collected, released, refunded, deducted and held (in escrow or clearing) of an order, or
/// of a sum of orders, in fen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sums {
    collected: i64,
    released: i64,
    refunded: i64,
    deducted: i64,
    held: i64,
    in_escrow: i64,
}

impl Sums {
    fn of_order(o: &Value) -> Sums {
        let (c, r, f, d) = (
            fen(&o["collected"]),
            fen(&o["released"]),
            fen(&o["refunded"]),
            fen(&o["deducted"]),
        );
        Sums {
            collected: c,
            released: r,
            refunded: f,
            deducted: d,
            held: c - r - f - d,
            in_escrow: fen(&o["inEscrow"]),
        }
    }

    fn add(&mut self, o: Sums) {
        self.collected += o.collected;
        self.released += o.released;
        self.refunded += o.refunded;
        self.deducted += o.deducted;
        self.held += o.held;
        self.in_escrow += o.in_escrow;
    }

    /// The report's own fields, compared with ours.
    fn of_flows(r: &Value) -> [i64; 5] {
        [
            fen(&r["collected"]),
            fen(&r["released"]),
            fen(&r["refunded"]),
            fen(&r["deducted"]),
            fen(&r["held"]),
        ]
    }

    fn flows(&self) -> [i64; 5] {
        [
            self.collected,
            self.released,
            self.refunded,
            self.deducted,
            self.held,
        ]
    }
}

/// The orders `who` can see, through GraphQL, with what the ledger says of them.
async fn orders_of(srv: &TestServer, who: &Principal) -> Vec<Value> {
    let d = ok(
        srv,
        who,
        "{ orders(first: 200) { edges { node { id merchant { id } scheme { id } collected released refunded deducted inEscrow inClearing
            milestones { index status amount } holds { amount } } } } }",
        json!({}),
    )
    .await;
    nodes(&d["orders"])
}

fn sums_by<K: Ord>(orders: &[Value], key: impl Fn(&Value) -> K) -> BTreeMap<K, Sums> {
    let mut out: BTreeMap<K, Sums> = BTreeMap::new();
    for o in orders {
        out.entry(key(o)).or_default().add(Sums::of_order(o));
    }
    out
}

fn total(orders: &[Value]) -> Sums {
    let mut s = Sums::default();
    for o in orders {
        s.add(Sums::of_order(o));
    }
    s
}

const FLOWS: &str = "query($from: DateTime!, $to: DateTime!, $g: [FlowDimension!]!, $f: ReportFilterInput) {
    fundFlows(from: $from, to: $to, groupBy: $g, filter: $f) {
        from to groupBy
        totals { collected released refunded deducted frozen held }
        totalCount
        rows(first: 200) { edges { node { day merchantId merchantName industry city collected released refunded deducted frozen held } } }
    } }";

pub(super) async fn flows(
    srv: &TestServer,
    who: &Principal,
    group_by: Value,
    filter: Value,
) -> Value {
    ok(
        srv,
        who,
        FLOWS,
        json!({"from": FROM, "to": TO, "g": group_by, "f": filter}),
    )
    .await["fundFlows"]
        .clone()
}

async fn fund_flows_equal_the_ledger_for_each_role(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let srv = &f.srv;
    let all = orders_of(srv, &bank()).await;
    assert_eq!(all.len(), 5);
    let t = total(&all);
    // By hand: 4,700.00 in; 1,925.00 released; 375.00 refunded; 100.00 deducted.
    assert_eq!(
        t.flows(),
        [470_000, 192_500, 37_500, 10_000, 230_000],
        "the orders"
    );

    // The bank: totals, then by merchant, by day, by industry and city.
    let r = flows(srv, &bank(), json!([]), Value::Null).await;
    assert_eq!(Sums::of_flows(&r["totals"]), t.flows());
    assert_eq!(r["totals"]["frozen"], "300.00");
    assert_eq!(r["totalCount"], 1);
    assert_eq!(Sums::of_flows(&nodes(&r["rows"])[0]), t.flows());

    let r = flows(srv, &bank(), json!(["MERCHANT"]), Value::Null).await;
    let by_merchant = sums_by(&all, |o| o["merchant"]["id"].as_str().unwrap().to_owned());
    let rows = nodes(&r["rows"]);
    assert_eq!(rows.len(), by_merchant.len());
    for row in &rows {
        let m = row["merchantId"].as_str().unwrap();
        assert_eq!(Sums::of_flows(row), by_merchant[m].flows(), "merchant {m}");
        assert!(row["merchantName"].is_string() && row["day"].is_null());
    }

    let r = flows(srv, &bank(), json!(["DAY"]), Value::Null).await;
    let rows = nodes(&r["rows"]);
    let days: Vec<&str> = rows.iter().map(|x| x["day"].as_str().unwrap()).collect();
    assert_eq!(
        days,
        ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
    );
    let mut summed = [0i64; 4];
    for row in &rows {
        for (acc, v) in summed.iter_mut().zip(Sums::of_flows(row)) {
            *acc += v;
        }
    }
    assert_eq!(summed, t.flows()[..4]);
    // Held at the end of each day: everything on day 0; what is left on the last day.
    assert_eq!(rows[0]["held"], rows[0]["collected"]);
    assert_eq!(fen(&rows[3]["held"]), t.held);

    let r = flows(srv, &bank(), json!(["INDUSTRY", "REGION"]), Value::Null).await;
    let grouped = nodes(&r["rows"]);
    let cities: Vec<(&str, &str)> = grouped
        .iter()
        .map(|x| (x["industry"].as_str().unwrap(), x["city"].as_str().unwrap()))
        .collect();
    assert_eq!(cities.len(), 2);
    assert!(
        cities.contains(&("DRIVING_SCHOOL", "320100"))
            && cities.contains(&("DRIVING_SCHOOL", "320500"))
    );
    // A filter narrows what the caller may see.
    let r = flows(srv, &bank(), json!([]), json!({"regionPrefix": "3205"})).await;
    assert_eq!(
        Sums::of_flows(&r["totals"]),
        total(
            &all.iter()
                .filter(|o| o["merchant"]["id"] == f.m3.as_str())
                .cloned()
                .collect::<Vec<_>>()
        )
        .flows()
    );

    // The Nanjing regulator: Nanjing's orders only, equal to what it sees of them.
    let r1 = f.w.regulator_principal();
    let visible = orders_of(srv, &r1).await;
    assert_eq!(visible.len(), 4);
    assert!(visible.iter().all(|o| o["merchant"]["id"] != f.m3.as_str()));
    let r = flows(srv, &r1, json!([]), Value::Null).await;
    assert_eq!(Sums::of_flows(&r["totals"]), total(&visible).flows());
    let r = flows(srv, &r1, json!([]), json!({"scheme": f.s2})).await;
    assert_eq!(
        r["totals"]["collected"], "0.00",
        "another city's scheme is out of scope"
    );

    // A merchant: its own.
    let m = f.w.merchant_principal();
    let own = orders_of(srv, &m).await;
    assert_eq!(own.len(), 2);
    let r = flows(srv, &m, json!(["MERCHANT"]), Value::Null).await;
    assert_eq!(Sums::of_flows(&r["totals"]), total(&own).flows());
    assert_eq!(nodes(&r["rows"]).len(), 1);

    // Payers and courts get no reports; nobody without a token.
    for who in [f.w.payer_principal(), f.w.court_principal()] {
        let r = srv
            .gql(Some(&who), FLOWS, json!({"from": FROM, "to": TO, "g": []}))
            .await;
        assert_eq!(first_code(&r), "FORBIDDEN", "{r}");
    }
    let r = srv
        .gql(None, FLOWS, json!({"from": FROM, "to": TO, "g": []}))
        .await;
    assert_eq!(first_code(&r), "UNAUTHENTICATED");
    // A period backwards is refused.
    let r = srv
        .gql(
            Some(&bank()),
            FLOWS,
            json!({"from": TO, "to": FROM, "g": []}),
        )
        .await;
    assert_eq!(first_code(&r), "VALIDATION");
    // Rows page like every list.
    let d = ok(
        srv,
        &bank(),
        "query($from: DateTime!, $to: DateTime!) { fundFlows(from: $from, to: $to, groupBy: [DAY]) { totalCount rows(first: 3) { edges { cursor node { day } } pageInfo { hasNextPage endCursor } } } }",
        json!({"from": FROM, "to": TO}),
    )
    .await;
    assert_eq!(d["fundFlows"]["rows"]["pageInfo"]["hasNextPage"], true);
    let after = d["fundFlows"]["rows"]["pageInfo"]["endCursor"].clone();
    let d = ok(
        srv,
        &bank(),
        "query($from: DateTime!, $to: DateTime!, $a: String) { fundFlows(from: $from, to: $to, groupBy: [DAY]) { rows(first: 3, after: $a) { edges { node { day } } pageInfo { hasNextPage } } } }",
        json!({"from": FROM, "to": TO, "a": after}),
    )
    .await;
    assert_eq!(nodes(&d["fundFlows"]["rows"])[0]["day"], "2026-03-05");
    assert_eq!(d["fundFlows"]["rows"]["pageInfo"]["hasNextPage"], false);
}
on_both!(fund_flows_equal_the_ledger_for_each_role);

const BALANCES: &str = "query($from: DateTime!, $to: DateTime!, $f: ReportFilterInput) {
    merchantBalancesReport(from: $from, to: $to, filter: $f) {
        totals { opening collected released refunded deducted closing requiredCustody actualCustody shortfall }
        rows(first: 200) { edges { node { merchantId merchantName industry region schemeId schemeCode opening collected released refunded deducted closing custodyRatioBp requiredCustody actualCustody shortfall } } }
    } }";

pub(super) async fn balances(srv: &TestServer, who: &Principal, from: &str, to: &str) -> Value {
    ok(srv, who, BALANCES, json!({"from": from, "to": to})).await["merchantBalancesReport"].clone()
}

async fn balances_and_snapshots_equal_the_ledger(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let srv = &f.srv;
    let all = orders_of(srv, &bank()).await;
    let by_group = sums_by(&all, |o| {
        (
            o["merchant"]["id"].as_str().unwrap().to_owned(),
            o["scheme"]["id"].as_str().unwrap().to_owned(),
        )
    });
    let report = balances(srv, &bank(), FROM, TO).await;
    let rows = nodes(&report["rows"]);
    assert_eq!(rows.len(), by_group.len());
    for row in &rows {
        let key = (
            row["merchantId"].as_str().unwrap().to_owned(),
            row["schemeId"].as_str().unwrap().to_owned(),
        );
        let s = by_group[&key];
        assert_eq!(row["opening"], "0.00");
        assert_eq!(
            [
                fen(&row["collected"]),
                fen(&row["released"]),
                fen(&row["refunded"]),
                fen(&row["deducted"]),
                fen(&row["closing"]),
            ],
            s.flows(),
            "{key:?}"
        );
        // What is in custody is what the ledger's escrow accounts hold.
        assert_eq!(fen(&row["actualCustody"]), s.in_escrow, "{key:?}");
        let ledger = ok(
            srv,
            &bank(),
            "query($m: ID!) { merchantBalances(merchant: $m) { scheme { id } escrow } }",
            json!({"m": key.0}),
        )
        .await;
        let escrow = ledger["merchantBalances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["scheme"]["id"] == key.1.as_str())
            .map(|b| fen(&b["escrow"]))
            .unwrap();
        assert_eq!(fen(&row["actualCustody"]), escrow, "{key:?}");
        // 20% of what is held, rounded up; nothing short.
        assert_eq!(row["custodyRatioBp"], 2000);
        assert_eq!(
            fen(&row["requiredCustody"]),
            (escrow * 2000 + 9_999) / 10_000
        );
        assert_eq!(row["shortfall"], "0.00");
    }
    // The escrow accounts themselves add up to the same.
    let accounts = ok(
        srv,
        &bank(),
        "query($m: ID!) { accounts(owner: $m, first: 200) { edges { node { kind balance } } } }",
        json!({"m": f.w.merchant}),
    )
    .await;
    let escrow_accounts: i64 = nodes(&accounts["accounts"])
        .iter()
        .filter(|a| a["kind"] == "ESCROW")
        .map(|a| fen(&a["balance"]))
        .sum();
    let m1_actual: i64 = rows
        .iter()
        .filter(|r| r["merchantId"] == f.w.merchant.as_str())
        .map(|r| fen(&r["actualCustody"]))
        .sum();
    assert_eq!(escrow_accounts, m1_actual);
    let t = total(&all);
    assert_eq!(fen(&report["totals"]["closing"]), t.held);
    assert_eq!(fen(&report["totals"]["actualCustody"]), t.in_escrow);

    // Two halves: the second opens where the first closed.
    let mid = "2026-03-04T00:00:00+08:00";
    let first = nodes(&balances(srv, &bank(), FROM, mid).await["rows"]);
    let second = nodes(&balances(srv, &bank(), mid, TO).await["rows"]);
    for row in &second {
        let before = first
            .iter()
            .find(|x| x["merchantId"] == row["merchantId"] && x["schemeId"] == row["schemeId"])
            .map_or(0, |x| fen(&x["closing"]));
        assert_eq!(fen(&row["opening"]), before);
    }

    // The regulator's rows are Nanjing's, as the totals of what it can see.
    let r1 = f.w.regulator_principal();
    let seen = balances(srv, &r1, FROM, TO).await;
    assert!(
        nodes(&seen["rows"])
            .iter()
            .all(|r| r["region"].as_str().unwrap().starts_with("3201"))
    );
    assert_eq!(
        fen(&seen["totals"]["closing"]),
        total(&orders_of(srv, &r1).await).held
    );

    // Daily snapshots: each day's flows add up to the period's, the last day closes as the
    // balances do.
    let snaps = ok(
        srv,
        &bank(),
        "query($from: DateTime!, $to: DateTime!) { snapshots(from: $from, to: $to) { frequency totalCount rows(first: 200) { edges { node { date merchantId schemeId collected released refunded deducted closing inEscrow } } } } }",
        json!({"from": FROM, "to": TO}),
    )
    .await["snapshots"]
        .clone();
    assert_eq!(snaps["frequency"], "DAILY");
    let snap_rows = nodes(&snaps["rows"]);
    for row in &rows {
        let mine: Vec<&Value> = snap_rows
            .iter()
            .filter(|s| s["merchantId"] == row["merchantId"] && s["schemeId"] == row["schemeId"])
            .collect();
        let collected: i64 = mine.iter().map(|s| fen(&s["collected"])).sum();
        assert_eq!(collected, fen(&row["collected"]));
        // A merchant holding nothing at the end of a day has no line that day.
        match mine.iter().find(|s| s["date"] == "2026-03-05") {
            Some(last) => {
                assert_eq!(last["closing"], row["closing"]);
                assert_eq!(last["inEscrow"], row["actualCustody"]);
            }
            None => assert_eq!(
                (&row["closing"], &row["actualCustody"]),
                (&json!("0.00"), &json!("0.00"))
            ),
        }
        // Day 0: all of it paid, none of it settled.
        if let Some(first) = mine.iter().find(|s| s["date"] == "2026-03-02") {
            assert_eq!(
                (&first["closing"], &first["inEscrow"]),
                (&first["collected"], &json!("0.00"))
            );
        }
    }
    // Quarter-end snapshots list the quarter's last day only, as it then stood.
    let q = ok(
        srv,
        &bank(),
        "{ snapshots(from: \"2026-01-01T00:00:00+08:00\", to: \"2026-04-01T00:00:00+08:00\", frequency: QUARTER_END) { rows(first: 200) { edges { node { date merchantId schemeId closing } } } } }",
        json!({}),
    )
    .await;
    let q_rows = nodes(&q["snapshots"]["rows"]);
    let holding = rows.iter().filter(|r| r["closing"] != "0.00").count();
    assert!(holding >= 2);
    assert_eq!(q_rows.len(), holding);
    for s in &q_rows {
        assert_eq!(s["date"], "2026-03-31");
        let row = rows
            .iter()
            .find(|r| r["merchantId"] == s["merchantId"] && r["schemeId"] == s["schemeId"])
            .unwrap();
        assert_eq!(s["closing"], row["closing"]);
    }
}
on_both!(balances_and_snapshots_equal_the_ledger);

async fn milestones_refunds_and_vouchers_equal_the_ledger(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let srv = &f.srv;
    let all = orders_of(srv, &bank()).await;
    let r = ok(
        srv,
        &bank(),
        "query($from: DateTime!, $to: DateTime!) { releasesByMilestone(from: $from, to: $to) { totalCount schemes(first: 200) { edges { node {
            schemeId code collected released refunded deducted releasedOutsideSchedule
            milestones { index name releasedCount released outstandingCount outstanding } } } } } }",
        json!({"from": FROM, "to": TO}),
    )
    .await;
    let schemes = nodes(&r["releasesByMilestone"]["schemes"]);
    assert_eq!(schemes.len(), 2);
    for s in &schemes {
        let id = s["schemeId"].as_str().unwrap();
        let mine: Vec<&Value> = all.iter().filter(|o| o["scheme"]["id"] == id).collect();
        let sums = total(&mine.iter().map(|o| (*o).clone()).collect::<Vec<_>>());
        assert_eq!(
            [
                fen(&s["collected"]),
                fen(&s["released"]),
                fen(&s["refunded"]),
                fen(&s["deducted"])
            ],
            sums.flows()[..4],
            "{id}"
        );
        let mut released_by_milestones = 0;
        for line in s["milestones"].as_array().unwrap() {
            let idx = line["index"].as_i64().unwrap();
            let of_index = mine
                .iter()
                .flat_map(|o| o["milestones"].as_array().unwrap().iter())
                .filter(|m| m["index"].as_i64() == Some(idx));
            let (mut rc, mut rf, mut oc, mut of) = (0, 0, 0, 0);
            for m in of_index {
                match m["status"].as_str().unwrap() {
                    "RELEASED" => (rc, rf) = (rc + 1, rf + fen(&m["amount"])),
                    "PENDING" | "CONFIRMED" => (oc, of) = (oc + 1, of + fen(&m["amount"])),
                    _ => {}
                }
            }
            assert_eq!(
                (
                    line["releasedCount"].as_i64().unwrap(),
                    fen(&line["released"])
                ),
                (rc, rf),
                "{id} milestone {idx}"
            );
            assert_eq!(
                (
                    line["outstandingCount"].as_i64().unwrap(),
                    fen(&line["outstanding"])
                ),
                (oc, of),
                "{id} milestone {idx}"
            );
            released_by_milestones += rf;
        }
        assert_eq!(
            released_by_milestones + fen(&s["releasedOutsideSchedule"]),
            fen(&s["released"])
        );
    }
    let s1 = schemes
        .iter()
        .find(|s| s["schemeId"] == f.w.scheme.as_str())
        .unwrap();
    assert_eq!(
        (
            &s1["milestones"][0]["releasedCount"],
            &s1["milestones"][0]["released"]
        ),
        (&json!(4), &json!("975.00"))
    );

    // The refund SLA: O3's refund, executed the day it was asked for.
    let sla = ok(
        srv,
        &bank(),
        "query($from: DateTime!, $to: DateTime!) { refundSlaReport(from: $from, to: $to) { asOf summary { requested executedOnTime executedLate openWithinDeadline openOverdue refunded }
            rows(first: 200) { edges { node { refundId orderId status amount overdue workingDaysAllowed workingDaysTaken } } } } }",
        json!({"from": FROM, "to": TO}),
    )
    .await["refundSlaReport"]
        .clone();
    let refunded: i64 = all.iter().map(|o| fen(&o["refunded"])).sum();
    assert_eq!(
        sla["summary"],
        json!({"requested": 1, "executedOnTime": 1, "executedLate": 0, "openWithinDeadline": 0, "openOverdue": 0, "refunded": "375.00"})
    );
    assert_eq!(fen(&sla["summary"]["refunded"]), refunded);
    let line = &nodes(&sla["rows"])[0];
    assert_eq!(
        (
            &line["orderId"],
            &line["status"],
            &line["amount"],
            &line["overdue"],
            &line["workingDaysAllowed"]
        ),
        (
            &json!(f.orders[2]),
            &json!("EXECUTED"),
            &json!("375.00"),
            &json!(false),
            &json!(15)
        )
    );

    // The voucher inventory: the bureau's one voucher, as the voucher itself shows.
    let inventory = "{ voucherInventoryReport { count balance totalCount lines(first: 200) { edges { node { schemeId projectId status count face balance } } } } }";
    let inv = ok(srv, &bank(), inventory, json!({})).await["voucherInventoryReport"].clone();
    let vouchers = ok(
        srv,
        &f.bureau,
        "{ vouchers(first: 200) { edges { node { status face balance } } } }",
        json!({}),
    )
    .await;
    let vouchers = nodes(&vouchers["vouchers"]);
    assert_eq!(vouchers.len(), 1);
    assert_eq!(inv["count"], 1);
    assert_eq!(inv["balance"], vouchers[0]["balance"]);
    let line = &nodes(&inv["lines"])[0];
    assert_eq!(
        (&line["status"], &line["face"], &line["balance"]),
        (
            &vouchers[0]["status"],
            &vouchers[0]["face"],
            &vouchers[0]["balance"]
        )
    );
    assert_eq!(
        ok(srv, &f.bureau, inventory, json!({})).await["voucherInventoryReport"]["count"],
        1
    );
    // The driving-school regulator has no vouchers in its scope.
    let none = ok(srv, &f.w.regulator_principal(), inventory, json!({})).await;
    assert_eq!(none["voucherInventoryReport"]["count"], 0);
}
on_both!(milestones_refunds_and_vouchers_equal_the_ledger);
