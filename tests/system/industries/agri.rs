//! Agricultural wholesale markets (智慧农批) and rural property-rights trading (农村产权): a
//! buyer's deposit (保证金) secures a trade — only the market releases it, and the bank forfeits
//! it to the exchange when a winning bidder defaults — and the trade settles through a
//! supervised escrow order. The agriculture department sees both; other regulators do not.

use serde_json::{Value, json};

use lvyue_domain::principal::Industry;
use lvyue_domain::testing::Backend;

use super::{
    amount, code_as, enrolled, key, nodes, ok_as, order_money, paid_order, payable, payer,
    regulator, scheme, the_bank,
};
use crate::harness::TestServer;
use crate::world::monday;

const CARD: &str = "6216261000000000018";

/// A trade deposit only the market (or the bank) releases, forfeited on default; a trade paid
/// into escrow and released when the buyer confirms delivery.
fn trade_policy() -> Value {
    json!({
        "milestones": [{"name": "确认收货", "share_bp": 10000, "confirm_by": ["PAYER"]}],
        "deposit": {"unbound_daily_cap": "10000.00", "beneficiary_releases": true, "forfeit_on_default": true}
    })
}

const OPEN: &str = "mutation($s: ID!, $o: ID!, $c: String!, $k: String!) { openDepositAccount(scheme: $s, owner: $o, boundCard: $c, idempotencyKey: $k) { id } }";
const FUND: &str = "mutation($i: FundDepositInput!, $k: String!) { fundDeposit(input: $i, idempotencyKey: $k) { bound } }";
const FREEZE: &str = "mutation($i: FreezeDepositInput!, $k: String!) { freezeDeposit(input: $i, idempotencyKey: $k) { id status } }";
const UNFREEZE: &str =
    "mutation($f: ID!, $k: String!) { unfreezeDeposit(freeze: $f, idempotencyKey: $k) { status } }";
const SEEN: &str = "{ orders { edges { node { id payer { name } } } } depositAccounts { edges { node { id } } } depositFreezes { edges { node { status industry amount } } } }";

async fn market_and_rural_deposits_secure_trades_under_the_agriculture_departments_eye(
    backend: Backend,
) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let bank = the_bank();
    let agriculture = regulator(
        &srv,
        "南京市农业农村局",
        &["3201"],
        &[Industry::AgriMarket, Industry::RuralProperty],
    )
    .await;
    let housing = regulator(
        &srv,
        "南京市住房保障和房产局",
        &["3201"],
        &[Industry::HousingDeposit, Industry::HousingVoucher],
    )
    .await;
    let education = regulator(&srv, "南京市教育局", &["3201"], &[Industry::Canteen]).await;

    // 智慧农批: a buyer's deposit secures a vegetable trade at the wholesale market.
    let wholesale = scheme(
        &srv,
        "南京智慧农批资金监管",
        Industry::AgriMarket,
        "320100",
        Some(&agriculture.id),
        trade_policy(),
    )
    .await;
    let (market, market_p) = enrolled(
        &srv,
        &wholesale,
        "南京众彩农副产品批发市场",
        "320115",
        Industry::AgriMarket,
    )
    .await;
    let (buyer, buyer_p) = payer(&srv, "慕容复").await;
    let account = ok_as(
        &srv,
        &buyer_p,
        OPEN,
        json!({"s": wholesale, "o": buyer, "c": CARD, "k": key("open")}),
    )
    .await["openDepositAccount"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok_as(
        &srv,
        &bank,
        FUND,
        json!({"k": key("in"), "i": {"account": account, "amount": "5000.00", "sourceAccount": "6222020000000000018", "externalRef": "NP-1"}}),
    )
    .await;
    let deposit = ok_as(
        &srv,
        &buyer_p,
        FREEZE,
        json!({"k": key("fz"), "i": {"account": account, "beneficiary": market, "amount": "5000.00", "reference": "蔬菜交易 NP-20260302-7"}}),
    )
    .await["freezeDeposit"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The deposit secures the trade: the buyer cannot lift it.
    assert_eq!(
        code_as(
            &srv,
            &buyer_p,
            UNFREEZE,
            json!({"f": deposit, "k": key("uf")})
        )
        .await,
        "FORBIDDEN"
    );
    // The trade settles through escrow (T+1) and is released when the buyer confirms delivery.
    let trade = paid_order(&srv, &wholesale, &market, &buyer, "30000.00").await;
    clock.advance_days(1);
    srv.tick().await;
    let r = ok_as(
        &srv,
        &buyer_p,
        "mutation($o: ID!, $k: String!) { confirmMilestone(order: $o, index: 0, as: PAYER, evidence: \"货已验收\", idempotencyKey: $k) { released { amount } order { status } } }",
        json!({"o": trade, "k": key("cf")}),
    )
    .await["confirmMilestone"]
        .clone();
    assert_eq!(
        (
            amount(&r["released"][0]["amount"]),
            amount(&r["order"]["status"])
        ),
        ("30000.00", "COMPLETED")
    );
    assert_eq!(payable(&srv, &market, &wholesale).await, "30000.00");
    // After the trade the market releases the deposit and the buyer takes it back.
    let lifted = ok_as(
        &srv,
        &market_p,
        UNFREEZE,
        json!({"f": deposit, "k": key("uf")}),
    )
    .await;
    assert_eq!(lifted["unfreezeDeposit"]["status"], "UNFROZEN");
    let back = ok_as(
        &srv,
        &buyer_p,
        "mutation($a: ID!, $k: String!) { withdrawDeposit(account: $a, amount: \"5000.00\", idempotencyKey: $k) { balance } }",
        json!({"a": account, "k": key("wd")}),
    )
    .await;
    assert_eq!(back["withdrawDeposit"]["balance"], "0.00");

    // 农村产权: a bidder's deposit for a land-management-rights lot, forfeited on default.
    let rural = scheme(
        &srv,
        "南京农村产权交易资金监管",
        Industry::RuralProperty,
        "320100",
        Some(&agriculture.id),
        trade_policy(),
    )
    .await;
    let (exchange, exchange_p) = enrolled(
        &srv,
        &rural,
        "南京市农村产权交易中心",
        "320115",
        Industry::RuralProperty,
    )
    .await;
    let (bidder, bidder_p) = payer(&srv, "萧远山").await;
    let lot_account = ok_as(
        &srv,
        &bidder_p,
        OPEN,
        json!({"s": rural, "o": bidder, "c": CARD, "k": key("open")}),
    )
    .await["openDepositAccount"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // ¥20,000 is over the daily cap from elsewhere: it must come from the bound card.
    let fund = |source: &str, reference: &str| json!({"k": key("in"), "i": {"account": lot_account, "amount": "20000.00", "sourceAccount": source, "externalRef": reference}});
    assert_eq!(
        code_as(&srv, &bank, FUND, fund("6222020000000000018", "RP-0")).await,
        "LIMIT_EXCEEDED"
    );
    ok_as(&srv, &bank, FUND, fund(CARD, "RP-1")).await;
    let bid = ok_as(
        &srv,
        &bidder_p,
        FREEZE,
        json!({"k": key("fz"), "i": {"account": lot_account, "beneficiary": exchange, "amount": "20000.00", "reference": "江宁区某村土地经营权流转 第3号标"}}),
    )
    .await["freezeDeposit"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Only the bank executes a forfeiture, on the exchange's finding.
    let forfeit = "mutation($f: ID!, $k: String!) { forfeitDeposit(freeze: $f, reason: \"中标后未按期签约\", idempotencyKey: $k) { status closingRef } }";
    for who in [&bidder_p, &exchange_p] {
        assert_eq!(
            code_as(&srv, who, forfeit, json!({"f": bid, "k": key("ff")})).await,
            "FORBIDDEN"
        );
    }
    let done = ok_as(&srv, &bank, forfeit, json!({"f": bid, "k": key("ff")})).await;
    assert_eq!(
        done["forfeitDeposit"],
        json!({"status": "FORFEITED", "closingRef": "中标后未按期签约"})
    );
    assert_eq!(payable(&srv, &exchange, &rural).await, "20000.00");
    assert_eq!(
        code_as(&srv, &bank, forfeit, json!({"f": bid, "k": key("ff")})).await,
        "INVALID_STATE"
    );

    // The agriculture department sees the trade, both accounts and both deposits, with the
    // buyers' names masked; the housing bureau and the education bureau see none of it.
    let seen = ok_as(&srv, &agriculture.principal, SEEN, json!({})).await;
    let orders = nodes(&seen["orders"]);
    assert_eq!(orders.len(), 1);
    assert_eq!(
        (&orders[0]["id"], &orders[0]["payer"]["name"]),
        (&json!(trade), &json!("慕**"))
    );
    assert_eq!(nodes(&seen["depositAccounts"]).len(), 2);
    let mut freezes: Vec<(String, String, String)> = nodes(&seen["depositFreezes"])
        .iter()
        .map(|f| {
            (
                amount(&f["industry"]).to_owned(),
                amount(&f["status"]).to_owned(),
                amount(&f["amount"]).to_owned(),
            )
        })
        .collect();
    freezes.sort();
    assert_eq!(
        freezes,
        [
            ("AGRI_MARKET".into(), "UNFROZEN".into(), "5000.00".into()),
            (
                "RURAL_PROPERTY".into(),
                "FORFEITED".into(),
                "20000.00".into()
            )
        ]
    );
    for other in [&housing, &education] {
        let seen = ok_as(&srv, &other.principal, SEEN, json!({})).await;
        for list in ["orders", "depositAccounts", "depositFreezes"] {
            assert!(nodes(&seen[list]).is_empty(), "{list}: {seen}");
        }
        assert_eq!(
            code_as(
                &srv,
                &other.principal,
                "query($id: ID!) { depositFreeze(id: $id) { status } }",
                json!({"id": bid}),
            )
            .await,
            "NOT_FOUND"
        );
        assert_eq!(
            code_as(
                &srv,
                &other.principal,
                "query($id: ID!) { order(id: $id) { status } }",
                json!({"id": trade}),
            )
            .await,
            "NOT_FOUND"
        );
    }
    assert_eq!(
        amount(&order_money(&srv, &trade).await["released"]),
        "30000.00"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_and_rural_deposits_secure_trades_under_the_agriculture_departments_eye_sqlite() {
    market_and_rural_deposits_secure_trades_under_the_agriculture_departments_eye(Backend::Sqlite)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_and_rural_deposits_secure_trades_under_the_agriculture_departments_eye_postgres() {
    market_and_rural_deposits_secure_trades_under_the_agriculture_departments_eye(
        Backend::Postgres,
    )
    .await;
}
