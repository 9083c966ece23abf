//! Platforms (二清 compliance): a platform collects for its sub-merchants, but the bank keeps one
//! sub-account per sub-merchant, splits each release by the ratio fixed when the order was
//! opened (largest remainder, no fen lost) with the platform's commission capped at 30%, only
//! once the buyer confirms receipt, and pays each sub-merchant directly: the platform never
//! holds their money.

use serde_json::{Value, json};

use lvyue_domain::principal::Industry;
use lvyue_domain::testing::Backend;

use super::{
    amount, code_as, enrolled, key, ok_as, order_money, payable, payer, regulator, scheme, the_bank,
};
use crate::harness::TestServer;
use crate::world::monday;

fn platform_policy() -> Value {
    json!({
        "milestones": [{"name": "确认收货", "share_bp": 10000, "confirm_by": ["PAYER"]}],
        "split": {"commission_cap_bp": 3000}
    })
}

const OPEN: &str = "mutation($i: OpenOrderInput!, $k: String!) { openOrder(input: $i, idempotencyKey: $k) { id split { commissionBp shares { merchantId weight } } } }";

const CONFIRM: &str = "mutation($o: ID!, $k: String!) { confirmMilestone(order: $o, index: 0, as: PAYER, evidence: \"确认收货\", idempotencyKey: $k) { released { amount } order { status released } } }";

async fn a_platforms_receipts_are_split_and_paid_to_each_sub_merchant(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let bank = the_bank();
    let market = regulator(
        &srv,
        "南京市市场监督管理局",
        &["3201"],
        &[Industry::Platform],
    )
    .await;
    let scheme = scheme(
        &srv,
        "南京平台经济资金监管",
        Industry::Platform,
        "320100",
        Some(&market.id),
        platform_policy(),
    )
    .await;
    let (platform, platform_p) = enrolled(
        &srv,
        &scheme,
        "南京某某短视频电商平台有限公司",
        "320102",
        Industry::Platform,
    )
    .await;
    let mut shops = vec![];
    for name in ["某某茶叶店", "某某盐水鸭", "某某雨花石工艺品"] {
        shops.push(enrolled(&srv, &scheme, name, "320104", Industry::Platform).await);
    }
    let (buyer, buyer_p) = payer(&srv, "王语嫣").await;
    let split = |commission: u32, weights: [u32; 3]| {
        json!({
            "commissionBp": commission,
            "shares": shops
                .iter()
                .zip(weights)
                .map(|((m, _), w)| json!({"merchant": m, "weight": w}))
                .collect::<Vec<_>>()
        })
    };
    let open = |total: &str, split: Value| json!({"k": key("open"), "i": {"scheme": scheme, "merchant": platform, "payer": buyer, "total": total, "split": split}});
    // The split is fixed when the order is opened: no terms, or a commission over 30%, is
    // refused then.
    assert_eq!(
        code_as(&srv, &platform_p, OPEN, open("100.00", Value::Null)).await,
        "VALIDATION"
    );
    assert_eq!(
        code_as(
            &srv,
            &platform_p,
            OPEN,
            open("100.00", split(3001, [1, 1, 1]))
        )
        .await,
        "LIMIT_EXCEEDED"
    );
    let small = ok_as(
        &srv,
        &platform_p,
        OPEN,
        open("100.00", split(3000, [1, 1, 1])),
    )
    .await["openOrder"]
        .clone();
    assert_eq!(small["split"]["commissionBp"], 3000);
    let small = small["id"].as_str().unwrap().to_owned();
    let big = ok_as(&srv, &bank, OPEN, open("1000.00", split(1000, [5, 3, 2]))).await["openOrder"]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (order, total) in [(&small, "100.00"), (&big, "1000.00")] {
        ok_as(
            &srv,
            &bank,
            "mutation($i: CollectInput!, $k: String!) { collect(input: $i, idempotencyKey: $k) { id } }",
            json!({"k": key("collect"), "i": {"order": order, "channel": "WECHAT_PAY", "amount": total, "externalRef": key("wx")}}),
        )
        .await;
    }
    clock.advance_days(1);
    srv.tick().await;
    // Settled, but nothing leaves escrow until the buyer confirms receipt: the platform
    // cannot release it.
    assert_eq!(
        amount(&order_money(&srv, &small).await["inEscrow"]),
        "100.00"
    );
    assert_eq!(
        code_as(
            &srv,
            &platform_p,
            "mutation($o: ID!, $k: String!) { releaseMilestone(order: $o, idempotencyKey: $k) { released { amount } } }",
            json!({"o": small, "k": key("rel")})
        )
        .await,
        "INVALID_STATE"
    );
    // 30% of 100.00, the rest in three equal parts: the remainder fen goes to the first.
    // 10% of 1000.00, the rest 5:3:2.
    for order in [&small, &big] {
        let c = ok_as(&srv, &buyer_p, CONFIRM, json!({"o": order, "k": key("ok")})).await;
        assert_eq!(c["confirmMilestone"]["order"]["status"], "COMPLETED");
    }
    // The platform holds only its commission; each shop's money is in its own sub-account.
    assert_eq!(payable(&srv, &platform, &scheme).await, "130.00");
    let mut held = vec![];
    for (m, _) in &shops {
        held.push(payable(&srv, m, &scheme).await);
    }
    assert_eq!(held, ["473.34", "293.33", "203.33"]);

    // Each shop is paid out directly to its own settlement account; the platform cannot
    // draw a shop's money.
    let payout = "mutation($m: ID!, $s: ID!, $a: Decimal!, $k: String!) { requestPayout(merchant: $m, scheme: $s, amount: $a, idempotencyKey: $k) { amount recipientName } }";
    assert_eq!(
        code_as(
            &srv,
            &platform_p,
            payout,
            json!({"m": shops[0].0, "s": scheme, "a": "1.00", "k": key("po")})
        )
        .await,
        "NOT_FOUND"
    );
    for ((m, p), (name, sum)) in shops.iter().zip([
        ("某某茶叶店", "473.34"),
        ("某某盐水鸭", "293.33"),
        ("某某雨花石工艺品", "203.33"),
    ]) {
        let d = ok_as(
            &srv,
            p,
            payout,
            json!({"m": m, "s": scheme, "a": sum, "k": key("po")}),
        )
        .await;
        assert_eq!(
            d["requestPayout"],
            json!({"amount": sum, "recipientName": name})
        );
        assert_eq!(payable(&srv, m, &scheme).await, "0.00");
    }
    // The market regulator sees the platform's orders.
    let seen = ok_as(
        &srv,
        &market.principal,
        "{ orders { edges { node { status } } } }",
        json!({}),
    )
    .await;
    assert_eq!(seen["orders"]["edges"].as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platforms_receipts_are_split_and_paid_to_each_sub_merchant_sqlite() {
    a_platforms_receipts_are_split_and_paid_to_each_sub_merchant(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platforms_receipts_are_split_and_paid_to_each_sub_merchant_postgres() {
    a_platforms_receipts_are_split_and_paid_to_each_sub_merchant(Backend::Postgres).await;
}
