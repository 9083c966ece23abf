//! Prepaid cards (预付卡): a card's money is released to the issuer as the holder uses it, and
//! every use must leave in custody 20/30/40% of the previous quarter's card balance for a
//! scale/group/brand issuer — more above Shanghai's warning lines (over ¥200,000 → 40%; over 20%
//! of last year's revenue, that figure at least ¥200,000 and at most ¥50m → 100%). A closing-down issuer releases nothing more and every card
//! balance is refunded in one batch.

use serde_json::{Value, json};

use lvyue_domain::clock::Timestamp;
use lvyue_domain::principal::{Industry, Principal};
use lvyue_domain::testing::Backend;

use super::{
    amount, code_as, enrolled, key, nodes, ok_as, order_money, paid_order, payer, regulator,
    scheme, the_bank,
};
use crate::harness::{TestServer, first_code};

/// Cards released on usage; custody of the previous quarter's balance by issuer type, with
/// Shanghai's warning lines.
fn card_policy() -> Value {
    json!({
        "milestones": [
            {"name": "前半", "share_bp": 5000, "confirm_by": ["PAYER"]},
            {"name": "后半", "share_bp": 5000, "confirm_by": ["PAYER"]}
        ],
        "release_on_usage": true,
        "custody": {
            "reference": "PREVIOUS_QUARTER_PREPAID",
            "ratio_bp": 0,
            "ratio_by_issuer_bp": {"SCALE": 2000, "GROUP": 3000, "BRAND": 4000},
            "warning_lines": [
                {"when": {"BALANCE_OVER": "200000.00"}, "ratio_bp": 4000},
                {"when": {"SHARE_OF_REVENUE_OVER": {"share_bp": 2000, "floor": "200000.00", "cap": "50000000.00"}}, "ratio_bp": 10000}
            ]
        },
        "refund": {"deadline_working_days": 15}
    })
}

const USE: &str = "mutation($o: ID!, $a: Decimal!, $r: String!, $k: String!) { recordCardUsage(order: $o, amount: $a, reference: $r, idempotencyKey: $k) { unused usage { recordedBy } order { status released } } }";
const CUSTODY: &str = "query($m: ID!, $s: ID!) { custodyStatus(merchant: $m, scheme: $s) { reference ratioBp required actual shortfall warningLineRatioBp warningLine } }";

/// A card bought and paid for: the order and its holder.
async fn card(srv: &TestServer, scheme: &str, issuer: &str, total: &str) -> (String, Principal) {
    let (holder, p) = payer(srv, "持卡会员").await;
    (paid_order(srv, scheme, issuer, &holder, total).await, p)
}

/// The holder confirms a use of the card.
async fn use_card(srv: &TestServer, card: &(String, Principal), amount: &str) -> Value {
    srv.gql(
        Some(&card.1),
        USE,
        json!({"o": card.0, "a": amount, "r": key("POS"), "k": key("use")}),
    )
    .await
}

async fn issuer(
    srv: &TestServer,
    scheme: &str,
    name: &str,
    issuer_type: &str,
    revenue: Option<&str>,
) -> String {
    let (m, _) = enrolled(srv, scheme, name, "310104", Industry::PrepaidCard).await;
    let d = ok_as(
        srv,
        &the_bank(),
        "mutation($m: ID!, $t: IssuerType, $r: Decimal, $k: String!) { setMerchantProfile(merchant: $m, issuerType: $t, lastYearRevenue: $r, idempotencyKey: $k) { issuerType lastYearRevenue } }",
        json!({"m": m, "t": issuer_type, "r": revenue, "k": key("prof")}),
    )
    .await;
    assert_eq!(d["setMerchantProfile"]["issuerType"], issuer_type);
    m
}

async fn prepaid_cards_keep_custody_by_issuer_type_and_refund_every_card_on_closing_down(
    backend: Backend,
) {
    // Tuesday 10 March 2026, 10:00 in Shanghai: the first quarter's cards are sold now.
    let start = Timestamp::china_midnight("2026-03-10".parse().unwrap()).plus_seconds(10 * 3600);
    let Some((srv, clock)) = TestServer::start_at(backend, start).await else {
        return;
    };
    let bank = the_bank();
    let commission = regulator(&srv, "上海市商务委员会", &["31"], &[Industry::PrepaidCard]).await;
    let scheme = scheme(
        &srv,
        "上海单用途预付卡资金存管",
        Industry::PrepaidCard,
        "310000",
        Some(&commission.id),
        card_policy(),
    )
    .await;
    // Three issuers of each type, each selling 10,000.00 of cards this quarter.
    let mut typed = vec![];
    for (name, t) in [
        ("上海某某健身有限公司", "SCALE"),
        ("上海某某美容集团", "GROUP"),
        ("上海某某洗衣品牌连锁", "BRAND"),
    ] {
        let m = issuer(&srv, &scheme, name, t, None).await;
        let cards = vec![
            card(&srv, &scheme, &m, "5000.00").await,
            card(&srv, &scheme, &m, "5000.00").await,
        ];
        typed.push((m, cards));
    }
    // Shanghai's lines: exactly 200,000.00 is not over the line; 205,000.00 is (40%); 250,000.00
    // on a revenue of 1,000,000.00 is over 20% of it (100%).
    let at_line = issuer(&srv, &scheme, "甲健身会所", "SCALE", Some("2000000.00")).await;
    let at_line_card = card(&srv, &scheme, &at_line, "200000.00").await;
    let over = issuer(&srv, &scheme, "乙健身会所", "SCALE", Some("2000000.00")).await;
    let over_cards = [
        card(&srv, &scheme, &over, "150000.00").await,
        card(&srv, &scheme, &over, "55000.00").await,
    ];
    let small = issuer(&srv, &scheme, "丙美容院", "SCALE", Some("1000000.00")).await;
    let small_card = card(&srv, &scheme, &small, "250000.00").await;

    // Paid today, settled tomorrow (T+1): nothing to use before.
    assert_eq!(
        first_code(&use_card(&srv, &typed[0].1[0], "1.00").await),
        "INVALID_STATE"
    );
    clock.advance_days(1);
    srv.tick().await;

    // 7 April: the second quarter; each keeps its share of the first quarter's balance.
    clock.advance_days(27);
    srv.tick().await;
    for ((m, cards), (ratio, required, usable, over_by_a_fen)) in typed.iter().zip([
        (2000, "2000.00", "3000.00", "3000.01"),
        (3000, "3000.00", "2000.00", "2000.01"),
        (4000, "4000.00", "1000.00", "1000.01"),
    ]) {
        let c = ok_as(&srv, &bank, CUSTODY, json!({"m": m, "s": scheme})).await["custodyStatus"]
            .clone();
        assert_eq!(
            (
                amount(&c["reference"]),
                c["ratioBp"].as_i64(),
                amount(&c["required"])
            ),
            ("10000.00", Some(ratio), required)
        );
        // The first card is used up; of the second only what leaves the custody in place.
        let out = TestServer::ok(use_card(&srv, &cards[0], "5000.00").await);
        assert_eq!(
            (
                amount(&out["recordCardUsage"]["unused"]),
                amount(&out["recordCardUsage"]["order"]["status"]),
                amount(&out["recordCardUsage"]["usage"]["recordedBy"])
            ),
            ("0.00", "COMPLETED", "PAYER")
        );
        let refused = use_card(&srv, &cards[1], over_by_a_fen).await;
        assert_eq!(first_code(&refused), "INSUFFICIENT_FUNDS", "{refused}");
        TestServer::ok(use_card(&srv, &cards[1], usable).await);
        let c = ok_as(&srv, &bank, CUSTODY, json!({"m": m, "s": scheme})).await["custodyStatus"]
            .clone();
        assert_eq!(
            (amount(&c["actual"]), amount(&c["shortfall"])),
            (required, "0.00")
        );
    }
    // At the line: 20% of 200,000.00.
    let c = ok_as(&srv, &bank, CUSTODY, json!({"m": at_line, "s": scheme})).await["custodyStatus"]
        .clone();
    assert_eq!(
        (
            c["ratioBp"].as_i64(),
            amount(&c["required"]),
            &c["warningLine"]
        ),
        (Some(2000), "40000.00", &Value::Null)
    );
    TestServer::ok(use_card(&srv, &at_line_card, "160000.00").await);
    assert_eq!(
        first_code(&use_card(&srv, &at_line_card, "0.01").await),
        "INSUFFICIENT_FUNDS"
    );
    // Over 200,000.00: 40% of 205,000.00 = 82,000.00 stays.
    let c = ok_as(
        &srv,
        &commission.principal,
        CUSTODY,
        json!({"m": over, "s": scheme}),
    )
    .await["custodyStatus"]
        .clone();
    assert_eq!(
        (
            c["ratioBp"].as_i64(),
            amount(&c["required"]),
            amount(&c["warningLine"])
        ),
        (Some(4000), "82000.00", "BALANCE_OVER 200000.00")
    );
    TestServer::ok(use_card(&srv, &over_cards[0], "123000.00").await);
    assert_eq!(
        first_code(&use_card(&srv, &over_cards[1], "0.01").await),
        "INSUFFICIENT_FUNDS"
    );
    // Over 20% of last year's revenue (200,000.00, no lower than the line's floor): all of last
    // quarter's 250,000.00 stays.
    let c = ok_as(&srv, &bank, CUSTODY, json!({"m": small, "s": scheme})).await["custodyStatus"]
        .clone();
    assert_eq!(
        (
            c["ratioBp"].as_i64(),
            amount(&c["required"]),
            amount(&c["warningLine"])
        ),
        (
            Some(10000),
            "250000.00",
            "SHARE_OF_REVENUE_OVER 2000 FLOOR 200000.00 CAP 50000000.00"
        )
    );
    assert_eq!(
        first_code(&use_card(&srv, &small_card, "0.01").await),
        "INSUFFICIENT_FUNDS"
    );
    // Cards sold this quarter are what it may release against.
    let fresh = card(&srv, &scheme, &small, "50000.00").await;
    clock.advance_days(1);
    srv.tick().await;
    TestServer::ok(use_card(&srv, &small_card, "20000.00").await);
    assert_eq!(
        first_code(&use_card(&srv, &fresh, "30000.01").await),
        "INSUFFICIENT_FUNDS"
    );
    TestServer::ok(use_card(&srv, &fresh, "30000.00").await);
    // The commission hears of the two lines crossed.
    let alerts = ok_as(
        &srv,
        &commission.principal,
        "{ alerts(first: 100) { edges { node { kind merchantId } } } }",
        json!({}),
    )
    .await;
    let mut crossed: Vec<String> = nodes(&alerts["alerts"])
        .iter()
        .filter(|a| a["kind"] == "WARNING_LINE_CROSSED")
        .map(|a| amount(&a["merchantId"]).to_owned())
        .collect();
    crossed.sort();
    crossed.dedup();
    let mut expected = vec![over.clone(), small.clone()];
    expected.sort();
    assert_eq!(crossed, expected);

    // A gym closes down: what its cardholders have not used goes back, all in one batch.
    let gym = issuer(&srv, &scheme, "上海某某健身房（徐汇店）", "BRAND", None).await;
    let unused = card(&srv, &scheme, &gym, "1000.00").await;
    let half = card(&srv, &scheme, &gym, "1000.00").await;
    clock.advance_days(1);
    srv.tick().await;
    TestServer::ok(use_card(&srv, &half, "400.00").await);
    let today = card(&srv, &scheme, &gym, "300.00").await;
    let close = "mutation($m: ID!, $s: ID!, $k: String!) { startClosingDown(merchant: $m, scheme: $s, reason: \"门店停业\", idempotencyKey: $k) { refundedCards refundedTotal closedUnpaid more deferred { orderId reason refundId } } }";
    assert_eq!(
        code_as(
            &srv,
            &half.1,
            close,
            json!({"m": gym, "s": scheme, "k": key("cd")})
        )
        .await,
        "FORBIDDEN"
    );
    let out = ok_as(
        &srv,
        &commission.principal,
        close,
        json!({"m": gym, "s": scheme, "k": key("cd")}),
    )
    .await["startClosingDown"]
        .clone();
    assert_eq!(
        (
            &out["refundedCards"],
            amount(&out["refundedTotal"]),
            &out["more"]
        ),
        (&json!(2), "1600.00", &json!(false))
    );
    assert_eq!(out["deferred"][0]["orderId"], json!(today.0));
    assert_eq!(out["deferred"][0]["reason"], "NOT_YET_SETTLED");
    for (c, refunded) in [(&unused, "1000.00"), (&half, "600.00")] {
        let m = order_money(&srv, &c.0).await;
        assert_eq!(
            (amount(&m["status"]), amount(&m["refunded"])),
            ("REFUNDED", refunded)
        );
    }
    let status = ok_as(
        &srv,
        &commission.principal,
        "query($m: ID!, $s: ID!) { enrollmentStatus(merchant: $m, scheme: $s) }",
        json!({"m": gym, "s": scheme}),
    )
    .await;
    assert_eq!(status["enrollmentStatus"], "CLOSING_DOWN");
    // Nothing new comes in.
    let (someone, _) = payer(&srv, "新会员").await;
    assert_eq!(
        code_as(
            &srv,
            &bank,
            "mutation($i: OpenOrderInput!, $k: String!) { openOrder(input: $i, idempotencyKey: $k) { id } }",
            json!({"k": key("open"), "i": {"scheme": scheme, "merchant": gym, "payer": someone, "total": "100.00"}}),
        )
        .await,
        "INVALID_STATE"
    );
    let alerts = ok_as(
        &srv,
        &commission.principal,
        "{ alerts(first: 100) { edges { node { kind merchantId } } } }",
        json!({}),
    )
    .await;
    assert!(
        nodes(&alerts["alerts"])
            .iter()
            .any(|a| a["kind"] == "CLOSING_DOWN" && a["merchantId"] == json!(gym)),
        "{alerts}"
    );
    // The card bought this morning is refunded once its payment settles.
    clock.advance_days(1);
    srv.tick().await;
    let m = order_money(&srv, &today.0).await;
    assert_eq!(
        (amount(&m["status"]), amount(&m["refunded"])),
        ("REFUNDED", "300.00")
    );
    // The holder's history of the half-used card.
    let history = ok_as(
        &srv,
        &half.1,
        "query($o: ID!) { cardUsages(order: $o) { amount recordedBy } }",
        json!({"o": half.0}),
    )
    .await;
    assert_eq!(
        history["cardUsages"],
        json!([{"amount": "400.00", "recordedBy": "PAYER"}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepaid_cards_keep_custody_by_issuer_type_and_refund_every_card_on_closing_down_sqlite() {
    prepaid_cards_keep_custody_by_issuer_type_and_refund_every_card_on_closing_down(
        Backend::Sqlite,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepaid_cards_keep_custody_by_issuer_type_and_refund_every_card_on_closing_down_postgres()
{
    prepaid_cards_keep_custody_by_issuer_type_and_refund_every_card_on_closing_down(
        Backend::Postgres,
    )
    .await;
}

/// A running card takes top-ups through `collect`: its total grows, and the money is usable
/// from the day it settles.
async fn a_card_is_topped_up(backend: Backend) {
    let start = Timestamp::china_midnight("2026-03-10".parse().unwrap()).plus_seconds(10 * 3600);
    let Some((srv, clock)) = TestServer::start_at(backend, start).await else {
        return;
    };
    let commission = regulator(&srv, "上海市商务委员会", &["31"], &[Industry::PrepaidCard]).await;
    let scheme = scheme(
        &srv,
        "上海单用途预付卡资金存管",
        Industry::PrepaidCard,
        "310000",
        Some(&commission.id),
        card_policy(),
    )
    .await;
    let gym = issuer(&srv, &scheme, "上海某某健身有限公司", "SCALE", None).await;
    let c = card(&srv, &scheme, &gym, "500.00").await;
    clock.advance_days(1);
    srv.tick().await;
    ok_as(
        &srv,
        &c.1,
        USE,
        json!({"o": c.0, "a": "300.00", "r": key("POS"), "k": key("use")}),
    )
    .await;
    ok_as(
        &srv,
        &the_bank(),
        "mutation($i: CollectInput!, $k: String!) { collect(input: $i, idempotencyKey: $k) { id } }",
        json!({"k": key("top"), "i": {"order": c.0, "channel": "ALIPAY", "amount": "200.00", "externalRef": key("ali")}}),
    )
    .await;
    let m = order_money(&srv, &c.0).await;
    assert_eq!(
        (
            amount(&m["total"]),
            amount(&m["inEscrow"]),
            amount(&m["inClearing"])
        ),
        ("700.00", "200.00", "200.00")
    );
    assert_eq!(
        first_code(&use_card(&srv, &c, "300.00").await),
        "INVALID_STATE"
    );
    clock.advance_days(1);
    srv.tick().await;
    let used = ok_as(
        &srv,
        &c.1,
        USE,
        json!({"o": c.0, "a": "400.00", "r": key("POS"), "k": key("use")}),
    )
    .await;
    assert_eq!(used["recordCardUsage"]["order"]["status"], "COMPLETED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_is_topped_up_sqlite() {
    a_card_is_topped_up(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_is_topped_up_postgres() {
    a_card_is_topped_up(Backend::Postgres).await;
}
