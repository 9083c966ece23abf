//! Flexible-employment payroll (灵活用工): an enterprise funds its account at the bank; the
//! platform checks a batch and instructs it; the bank pays every worker in one all-or-nothing
//! batch — or nobody, when one line fails the checks or the batch breaks the policy's caps —
//! and reconciles the enterprise's transfers with the channel's statement.

use serde_json::{Value, json};

use lvyue_domain::identity::is_valid_card_number;
use lvyue_domain::principal::Industry;
use lvyue_domain::testing::Backend;

use super::{amount, code_as, enrolled, key, ok_as, payable, regulator, scheme, the_bank};
use crate::harness::TestServer;
use crate::world::monday;

fn payroll_policy() -> Value {
    json!({
        "milestones": [{"name": "代发", "share_bp": 10000, "auto_after_days": 0}],
        "payroll": {"per_batch_cap": "100000.00", "per_line_cap": "20000.00"}
    })
}

/// A Luhn-valid 19-digit card number with `n` in its body.
fn card_no(n: u32) -> String {
    (0..10)
        .map(|d| format!("621700{n:012}{d}"))
        .find(|c| is_valid_card_number(c))
        .unwrap_or_default()
}

fn crew(amount: &str) -> Vec<Value> {
    ["王师傅", "李师傅", "张师傅", "刘师傅", "陈师傅"]
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"name": n, "cardNumber": card_no(i as u32 + 1), "amount": amount}))
        .collect()
}

const FUND: &str = "mutation($m: ID!, $s: ID!, $a: Decimal!, $r: String!, $k: String!) { fundEnterpriseAccount(input: {merchant: $m, scheme: $s, amount: $a, channel: BANK_TRANSFER, externalRef: $r}, idempotencyKey: $k) { id amount channel externalRef } }";
const CHECK: &str = "query($m: ID!, $s: ID!, $i: [PayoutItemInput!]!) { checkPayrollBatch(merchant: $m, scheme: $s, items: $i) { ok lines total available lineProblems { line kind } batchProblems } }";
const BATCH: &str = "mutation($m: ID!, $s: ID!, $b: String!, $i: [PayoutItemInput!]!, $k: String!) { batchPayout(merchant: $m, scheme: $s, batchRef: $b, items: $i, idempotencyKey: $k) { total payouts { recipientName recipientAccount amount } } }";

async fn payroll_pays_every_worker_in_one_checked_batch_or_nobody(backend: Backend) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let bank = the_bank();
    let labour = regulator(
        &srv,
        "南京市人力资源和社会保障局",
        &["3201"],
        &[Industry::FlexibleEmployment],
    )
    .await;
    let scheme = scheme(
        &srv,
        "南京灵活用工代发监管",
        Industry::FlexibleEmployment,
        "320100",
        Some(&labour.id),
        payroll_policy(),
    )
    .await;
    let (firm, me) = enrolled(
        &srv,
        &scheme,
        "南京某某人力资源服务有限公司",
        "320102",
        Industry::FlexibleEmployment,
    )
    .await;
    let (rival, rival_p) = enrolled(
        &srv,
        &scheme,
        "另一家灵活用工平台",
        "320102",
        Industry::FlexibleEmployment,
    )
    .await;

    // The enterprise's transfer arrives; the bank records it once, straight into its account.
    let fund = |a: &str, r: &str| json!({"m": firm, "s": scheme, "a": a, "r": r, "k": key("fund")});
    let f = ok_as(&srv, &bank, FUND, fund("50000.00", "TRF-20260302-001")).await
        ["fundEnterpriseAccount"]
        .clone();
    assert_eq!(
        (amount(&f["amount"]), amount(&f["channel"])),
        ("50000.00", "BANK_TRANSFER")
    );
    assert_eq!(payable(&srv, &firm, &scheme).await, "50000.00");
    assert_eq!(
        code_as(&srv, &bank, FUND, fund("50000.00", "TRF-20260302-001")).await,
        "CONFLICT"
    );
    assert_eq!(
        code_as(&srv, &me, FUND, fund("1.00", "TRF-X")).await,
        "FORBIDDEN"
    );

    // The platform tries a batch with a mistyped card (line 3) and a worker twice (line 5).
    let mut bad = crew("3000.00");
    bad[2]["cardNumber"] = json!("6217000000000000030");
    bad[4]["cardNumber"] = bad[0]["cardNumber"].clone();
    let c = ok_as(&srv, &me, CHECK, json!({"m": firm, "s": scheme, "i": bad})).await
        ["checkPayrollBatch"]
        .clone();
    assert_eq!(
        (
            &c["ok"],
            &c["lineProblems"],
            amount(&c["total"]),
            amount(&c["available"])
        ),
        (
            &json!(false),
            &json!([{"line": 3, "kind": "CARD"}, {"line": 5, "kind": "REPEATED_CARD"}]),
            "15000.00",
            "50000.00"
        )
    );
    // Instructed anyway, a bad batch pays nobody.
    let batch = |r: &str, items: &Vec<Value>| json!({"m": firm, "s": scheme, "b": r, "i": items, "k": key("batch")});
    let mut over_line = crew("3000.00");
    over_line[3]["amount"] = json!("20000.01");
    for (r, items, code) in [
        ("B-bad", &bad, "VALIDATION"),
        ("B-line-cap", &over_line, "LIMIT_EXCEEDED"),
    ] {
        assert_eq!(
            code_as(&srv, &me, BATCH, batch(r, items)).await,
            code,
            "{r}"
        );
        assert_eq!(payable(&srv, &firm, &scheme).await, "50000.00", "{r}");
    }
    // Over the 100,000.00 batch cap even with the money there.
    ok_as(&srv, &bank, FUND, fund("60000.00", "TRF-20260302-002")).await;
    let mut big = crew("18000.00");
    big.push(json!({"name": "赵师傅", "cardNumber": card_no(6), "amount": "18000.00"}));
    assert_eq!(
        code_as(&srv, &me, BATCH, batch("B-big", &big)).await,
        "LIMIT_EXCEEDED"
    );
    let c = ok_as(&srv, &me, CHECK, json!({"m": firm, "s": scheme, "i": big})).await
        ["checkPayrollBatch"]
        .clone();
    assert_eq!(
        (&c["ok"], c["batchProblems"].as_array().map(Vec::len)),
        (&json!(false), Some(1))
    );
    let none = ok_as(&srv, &me, "{ payouts { id } }", json!({})).await;
    assert_eq!(none["payouts"], json!([]));

    // A checked batch: every worker paid in one entry, cards shown masked.
    let good = crew("3000.00");
    let c = ok_as(&srv, &me, CHECK, json!({"m": firm, "s": scheme, "i": good})).await;
    assert_eq!(c["checkPayrollBatch"]["ok"], true);
    let out = ok_as(&srv, &me, BATCH, batch("B-2026-03", &good)).await["batchPayout"].clone();
    assert_eq!(amount(&out["total"]), "15000.00");
    let payouts = out["payouts"].as_array().cloned().unwrap_or_default();
    assert_eq!(payouts.len(), 5);
    assert!(payouts.iter().all(|p| {
        let acct = amount(&p["recipientAccount"]);
        acct.starts_with("621700") && acct.contains('*') && p["amount"] == "3000.00"
    }));
    assert_eq!(payable(&srv, &firm, &scheme).await, "95000.00");
    assert_eq!(
        code_as(&srv, &me, BATCH, batch("B-2026-03", &good)).await,
        "CONFLICT"
    );
    // Another enterprise can neither check nor pay from this account.
    assert_eq!(
        code_as(
            &srv,
            &rival_p,
            CHECK,
            json!({"m": firm, "s": scheme, "i": good})
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        code_as(&srv, &rival_p, BATCH, batch("B-x", &good)).await,
        "NOT_FOUND"
    );
    assert_eq!(payable(&srv, &rival, &scheme).await, "0.00");

    // The bank-transfer statement of the day lists the first transfer only: the second is a
    // break, found by its reference.
    let st = ok_as(
        &srv,
        &bank,
        "mutation($c: String!, $k: String!) { importStatement(channel: BANK_TRANSFER, date: \"2026-03-02\", csv: $c, idempotencyKey: $k) { matchedLines breaks { status reference ledgerAmount reason } } }",
        json!({"c": "reference,amount\nTRF-20260302-001,50000.00\n", "k": key("st")}),
    )
    .await["importStatement"]
        .clone();
    assert_eq!(st["matchedLines"], 1);
    let breaks = st["breaks"].as_array().cloned().unwrap_or_default();
    assert_eq!(breaks.len(), 1, "{st}");
    assert_eq!(
        (
            &breaks[0]["status"],
            &breaks[0]["reference"],
            &breaks[0]["ledgerAmount"]
        ),
        (
            &json!("MISSING_IN_STATEMENT"),
            &json!("TRF-20260302-002"),
            &json!("60000.00")
        )
    );
    assert!(amount(&breaks[0]["reason"]).contains("enterprise funding"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payroll_pays_every_worker_in_one_checked_batch_or_nobody_sqlite() {
    payroll_pays_every_worker_in_one_checked_batch_or_nobody(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payroll_pays_every_worker_in_one_checked_batch_or_nobody_postgres() {
    payroll_pays_every_worker_in_one_checked_batch_or_nobody(Backend::Postgres).await;
}
