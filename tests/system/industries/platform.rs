//! Platforms (二清 compliance): a platform collects for its sub-merchants, but the bank keeps one
//! sub-account per sub-merchant, splits each receipt by ratio (largest remainder, no fen lost)
//! with the platform's commission capped at 30%, and pays each sub-merchant directly: the
//! platform never holds their money.

use serde_json::{Value, json};

use lvyue_domain::principal::Industry;
use lvyue_domain::testing::Backend;

use super::{
    amount, code_as, column, enrolled, key, ok_as, order_money, paid_order, payable, payer,
    regulator, scheme, the_bank,
};
use crate::harness::TestServer;
use crate::world::monday;

fn platform_policy() -> Value {
    json!({
        "milestones": [{"name": "确认收货", "share_bp": 10000, "confirm_by": ["PAYER"]}],
        "split": {"commission_cap_bp": 3000}
    })
}

const SPLIT: &str = "mutation($o: ID!, $c: Int!, $s: [SplitShareInput!]!, $k: String!) { splitOrder(order: $o, commissionBp: $c, shares: $s, idempotencyKey: $k) { amount commission parts { merchantId amount } } }";

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
    let (buyer, _) = payer(&srv, "王语嫣").await;
    let small = paid_order(&srv, &scheme, &platform, &buyer, "100.00").await;
    let big = paid_order(&srv, &scheme, &platform, &buyer, "1000.00").await;
    let shares = |weights: [u32; 3]| {
        shops
            .iter()
            .zip(weights)
            .map(|((m, _), w)| json!({"merchant": m, "weight": w}))
            .collect::<Vec<_>>()
    };
    // Not before the money settles (T+1).
    assert_eq!(
        code_as(
            &srv,
            &platform_p,
            SPLIT,
            json!({"o": small, "c": 3000, "s": shares([1, 1, 1]), "k": key("sp")})
        )
        .await,
        "INVALID_STATE"
    );
    clock.advance_days(1);
    srv.tick().await;

    // The platform's commission may not exceed 30%.
    assert_eq!(
        code_as(
            &srv,
            &platform_p,
            SPLIT,
            json!({"o": small, "c": 3001, "s": shares([1, 1, 1]), "k": key("sp")})
        )
        .await,
        "LIMIT_EXCEEDED"
    );
    // 30% of 100.00, the rest in three equal parts: the remainder fen goes to the first.
    let s = ok_as(
        &srv,
        &platform_p,
        SPLIT,
        json!({"o": small, "c": 3000, "s": shares([1, 1, 1]), "k": key("sp")}),
    )
    .await["splitOrder"]
        .clone();
    assert_eq!(
        (
            amount(&s["amount"]),
            amount(&s["commission"]),
            column(&s["parts"], "amount")
        ),
        ("100.00", "30.00", vec!["23.34", "23.33", "23.33"])
    );
    // 10% of 1000.00, the rest 5:3:2.
    let s = ok_as(
        &srv,
        &bank,
        SPLIT,
        json!({"o": big, "c": 1000, "s": shares([5, 3, 2]), "k": key("sp")}),
    )
    .await["splitOrder"]
        .clone();
    assert_eq!(
        (amount(&s["commission"]), column(&s["parts"], "amount")),
        ("100.00", vec!["450.00", "270.00", "180.00"])
    );
    assert_eq!(
        amount(&order_money(&srv, &big).await["status"]),
        "COMPLETED"
    );
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
