//! New-home subscription deposits (房e存, 认筹金): the deposit is frozen in the buyer's own
//! account to hold a place in line; on purchase it becomes the down payment, paid to the
//! developer, or it is unfrozen back to the buyer. Inflows from sources other than the bound
//! card are capped at ¥10,000 a day; the developer never holds the money before the sale.

use serde_json::{Value, json};

use lvyue_domain::principal::Industry;
use lvyue_domain::testing::Backend;

use super::{
    amount, code_as, enrolled, key, nodes, ok_as, payable, payer, regulator, scheme, the_bank,
};
use crate::harness::TestServer;
use crate::world::monday;

/// The UnionPay test card of docs/domain.md: the buyer's own Type I card.
const CARD: &str = "6216261000000000018";
/// Another bank's card of the buyer's (not bound).
const OTHER_CARD: &str = "6222020000000000018";

fn subscription_policy() -> Value {
    json!({
        "milestones": [{"name": "首付款", "share_bp": 10000, "confirm_by": ["EVIDENCE"]}],
        "deposit": {"unbound_daily_cap": "10000.00"}
    })
}

const FUND: &str = "mutation($i: FundDepositInput!, $k: String!) { fundDeposit(input: $i, idempotencyKey: $k) { bound unboundToday account { balance } } }";
const FREEZE: &str = "mutation($i: FreezeDepositInput!, $k: String!) { freezeDeposit(input: $i, idempotencyKey: $k) { id status amount beneficiary { id } } }";
const ACCOUNT: &str = "query($id: ID!) { depositAccount(id: $id) { balance frozen available unboundInflowToday boundCard owner { id name } } }";

async fn subscription_deposits_stay_in_the_buyers_account_until_the_purchase(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let bank = the_bank();
    let bureau = regulator(
        &srv,
        "南京市住房保障和房产局",
        &["3201"],
        &[Industry::HousingDeposit],
    )
    .await;
    let suzhou = regulator(
        &srv,
        "苏州市住房和城乡建设局",
        &["3205"],
        &[Industry::HousingDeposit],
    )
    .await;
    let scheme = scheme(
        &srv,
        "南京房e存认筹金监管",
        Industry::HousingDeposit,
        "320100",
        Some(&bureau.id),
        subscription_policy(),
    )
    .await;
    let (developer, developer_p) = enrolled(
        &srv,
        &scheme,
        "南京某某房地产开发有限公司",
        "320102",
        Industry::HousingDeposit,
    )
    .await;
    let (buyer, buyer_p) = payer(&srv, "段正淳").await;
    let (_, stranger_p) = payer(&srv, "刀白凤").await;

    // The buyer opens its own deposit account with its card bound to it, under the scheme.
    let acc = ok_as(
        &srv,
        &buyer_p,
        "mutation($s: ID!, $o: ID!, $c: String!, $k: String!) { openDepositAccount(scheme: $s, owner: $o, boundCard: $c, idempotencyKey: $k) { id boundCard balance } }",
        json!({"s": scheme, "o": buyer, "c": CARD, "k": key("open")}),
    )
    .await["openDepositAccount"]
        .clone();
    assert_eq!(
        (amount(&acc["boundCard"]), amount(&acc["balance"])),
        ("621626*********0018", "0.00")
    );
    let account = acc["id"].as_str().unwrap().to_owned();
    let ledger = ok_as(
        &srv,
        &bank,
        "query($id: ID!) { account(id: $id) { kind level } }",
        json!({"id": account}),
    )
    .await;
    assert_eq!(ledger["account"], json!({"kind": "DEPOSIT", "level": 2}));

    // From the bound card any amount; from elsewhere at most 10,000.00 a China day.
    let fund = |amount: &str, source: &str| json!({"k": key("in"), "i": {"account": account, "amount": amount, "sourceAccount": source, "externalRef": key("IN")}});
    let f = ok_as(&srv, &bank, FUND, fund("200000.00", CARD)).await["fundDeposit"].clone();
    assert_eq!(
        (&f["bound"], amount(&f["unboundToday"])),
        (&json!(true), "0.00")
    );
    ok_as(&srv, &bank, FUND, fund("6000.00", OTHER_CARD)).await;
    let f =
        ok_as(&srv, &bank, FUND, fund("4000.00", "ICBC4301000000123")).await["fundDeposit"].clone();
    assert_eq!(
        (&f["bound"], amount(&f["unboundToday"])),
        (&json!(false), "10000.00")
    );
    let over = srv.gql(Some(&bank), FUND, fund("0.01", OTHER_CARD)).await;
    assert_eq!(crate::harness::first_code(&over), "LIMIT_EXCEEDED");
    assert!(over.to_string().contains("10000.00"), "{over}");
    let a = ok_as(&srv, &buyer_p, ACCOUNT, json!({"id": account})).await["depositAccount"].clone();
    assert_eq!(
        (
            amount(&a["balance"]),
            amount(&a["unboundInflowToday"]),
            amount(&a["owner"]["name"])
        ),
        ("210000.00", "10000.00", "段正淳")
    );
    // A new China day, a new 10,000.00.
    clock.advance_days(1);
    let f = ok_as(&srv, &bank, FUND, fund("10000.00", OTHER_CARD)).await["fundDeposit"].clone();
    assert_eq!(amount(&f["unboundToday"]), "10000.00");
    assert_eq!(
        code_as(&srv, &bank, FUND, fund("0.01", OTHER_CARD)).await,
        "LIMIT_EXCEEDED"
    );

    // The buyer freezes 200,000.00 for the developer's project: the money does not move.
    let frozen = ok_as(
        &srv,
        &buyer_p,
        FREEZE,
        json!({"k": key("fz"), "i": {"account": account, "beneficiary": developer, "amount": "200000.00", "reference": "某某府二期认筹"}}),
    )
    .await["freezeDeposit"]
        .clone();
    assert_eq!(
        (&frozen["status"], amount(&frozen["amount"])),
        (&json!("FROZEN"), "200000.00")
    );
    let freeze = frozen["id"].as_str().unwrap().to_owned();
    let a = ok_as(&srv, &buyer_p, ACCOUNT, json!({"id": account})).await["depositAccount"].clone();
    assert_eq!(
        (
            amount(&a["balance"]),
            amount(&a["frozen"]),
            amount(&a["available"])
        ),
        ("220000.00", "200000.00", "20000.00")
    );
    let withdraw = "mutation($a: ID!, $m: Decimal!, $k: String!) { withdrawDeposit(account: $a, amount: $m, idempotencyKey: $k) { balance frozen } }";
    assert_eq!(
        code_as(
            &srv,
            &buyer_p,
            withdraw,
            json!({"a": account, "m": "20000.01", "k": key("wd")})
        )
        .await,
        "INSUFFICIENT_FUNDS"
    );
    // The developer sees the freeze that names it but cannot take the money itself; it is
    // never forfeited.
    let seen = ok_as(
        &srv,
        &developer_p,
        "{ depositFreezes { edges { node { amount status owner { name } } } } }",
        json!({}),
    )
    .await;
    let seen = nodes(&seen["depositFreezes"]);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["owner"]["name"], "段**");
    let convert = "mutation($f: ID!, $c: String!, $k: String!) { convertDeposit(freeze: $f, contractRef: $c, idempotencyKey: $k) { status closingRef entryId } }";
    assert_eq!(
        code_as(
            &srv,
            &developer_p,
            convert,
            json!({"f": freeze, "c": "C-9", "k": key("cv")})
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        code_as(
            &srv,
            &bank,
            "mutation($f: ID!, $k: String!) { forfeitDeposit(freeze: $f, reason: \"未按期签约\", idempotencyKey: $k) { status } }",
            json!({"f": freeze, "k": key("ff")}),
        )
        .await,
        "INVALID_STATE"
    );
    // Another buyer can neither see nor touch it.
    assert_eq!(
        code_as(&srv, &stranger_p, ACCOUNT, json!({"id": account})).await,
        "NOT_FOUND"
    );
    assert_eq!(
        code_as(
            &srv,
            &stranger_p,
            "mutation($f: ID!, $k: String!) { unfreezeDeposit(freeze: $f, idempotencyKey: $k) { status } }",
            json!({"f": freeze, "k": key("uf")}),
        )
        .await,
        "NOT_FOUND"
    );

    // On purchase the deposit becomes the down payment, paid to the developer.
    let done = ok_as(
        &srv,
        &buyer_p,
        convert,
        json!({"f": freeze, "c": "宁房买2026-00456", "k": key("cv")}),
    )
    .await["convertDeposit"]
        .clone();
    assert_eq!(
        (&done["status"], amount(&done["closingRef"])),
        (&json!("CONVERTED"), "宁房买2026-00456")
    );
    assert_eq!(payable(&srv, &developer, &scheme).await, "200000.00");
    let a = ok_as(&srv, &buyer_p, ACCOUNT, json!({"id": account})).await["depositAccount"].clone();
    assert_eq!(
        (amount(&a["balance"]), amount(&a["frozen"])),
        ("20000.00", "0.00")
    );

    // A second place in line, given up: the buyer unfreezes it and takes everything back.
    let second = ok_as(
        &srv,
        &buyer_p,
        FREEZE,
        json!({"k": key("fz"), "i": {"account": account, "beneficiary": developer, "amount": "20000.00", "reference": "某某府三期认筹"}}),
    )
    .await["freezeDeposit"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lifted = ok_as(
        &srv,
        &buyer_p,
        "mutation($f: ID!, $k: String!) { unfreezeDeposit(freeze: $f, idempotencyKey: $k) { status closedAt } }",
        json!({"f": second, "k": key("uf")}),
    )
    .await;
    assert_eq!(lifted["unfreezeDeposit"]["status"], "UNFROZEN");
    let out = ok_as(
        &srv,
        &buyer_p,
        withdraw,
        json!({"a": account, "m": "20000.00", "k": key("wd")}),
    )
    .await;
    assert_eq!(
        out["withdrawDeposit"],
        json!({"balance": "0.00", "frozen": "0.00"})
    );

    // The housing bureau of the city sees the deposits, the buyer's name masked; another
    // city's does not.
    let list = "{ depositAccounts { edges { node { id owner { name } } } } depositFreezes { edges { node { status } } } }";
    let mine = ok_as(&srv, &bureau.principal, list, json!({})).await;
    assert_eq!(nodes(&mine["depositAccounts"])[0]["owner"]["name"], "段**");
    let mut statuses: Vec<String> = nodes(&mine["depositFreezes"])
        .iter()
        .map(|f| amount(&f["status"]).to_owned())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["CONVERTED", "UNFROZEN"]);
    let theirs = ok_as(&srv, &suzhou.principal, list, json!({})).await;
    assert!(nodes(&theirs["depositAccounts"]).is_empty());
    assert!(nodes(&theirs["depositFreezes"]).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_deposits_stay_in_the_buyers_account_until_the_purchase_sqlite() {
    subscription_deposits_stay_in_the_buyers_account_until_the_purchase(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_deposits_stay_in_the_buyers_account_until_the_purchase_postgres() {
    subscription_deposits_stay_in_the_buyers_account_until_the_purchase(Backend::Postgres).await;
}
