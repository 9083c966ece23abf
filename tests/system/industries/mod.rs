//! Every industry of docs/domain.md ("Industries") end to end through GraphQL, as its real users run
//! it — the bank, the merchant, the payer, the regulator — on SQLite and, when configured,
//! PostgreSQL. Each test checks docs/domain.md's numbers (shares, caps, ratios, deadlines) in the
//! API's answers; the rules come from each scheme's policy JSON, never from code.

mod agri;
mod canteen;
mod deposit;
mod driving;
mod medical;
mod payroll;
mod platform;
mod prepaid;
mod voucher;

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use lvyue_domain::principal::{Industry, Principal, Role};

use crate::harness::{TestServer, bank, first_code};
use crate::world::{as_party, as_regulator, bank_do, register_merchant};

/// Idempotency keys and numbers unique within the test binary.
static SERIAL: AtomicU64 = AtomicU64::new(1);

fn serial() -> u64 {
    SERIAL.fetch_add(1, Ordering::SeqCst)
}

/// A fresh idempotency key.
pub fn key(what: &str) -> String {
    format!("{what}-{}", serial())
}

/// Runs `query` as `who`; it must succeed. Returns `data`.
pub async fn ok_as(srv: &TestServer, who: &Principal, query: &str, vars: Value) -> Value {
    TestServer::ok(srv.gql(Some(who), query, vars).await)
}

/// Runs `query` as `who`; it must fail. Returns the first error's code.
pub async fn code_as(srv: &TestServer, who: &Principal, query: &str, vars: Value) -> String {
    let body = srv.gql(Some(who), query, vars).await;
    assert!(body.get("errors").is_some(), "expected an error: {body}");
    first_code(&body).to_owned()
}

/// An amount in an answer.
pub fn amount(v: &Value) -> &str {
    v.as_str().unwrap_or("<not an amount>")
}

/// The `field` of every item of a list in an answer.
pub fn column<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .map(|a| a.iter().map(|x| x[field].as_str().unwrap_or("")).collect())
        .unwrap_or_default()
}

/// The nodes of a connection in an answer.
pub fn nodes(conn: &Value) -> Vec<Value> {
    conn["edges"]
        .as_array()
        .map(|e| e.iter().map(|x| x["node"].clone()).collect())
        .unwrap_or_default()
}

/// A regulator party and a principal acting for it.
pub struct Regulator {
    pub id: String,
    pub principal: Principal,
}

/// The bank registers a regulator with a jurisdiction.
pub async fn regulator(
    srv: &TestServer,
    name: &str,
    regions: &[&str],
    industries: &[Industry],
) -> Regulator {
    let names: Vec<&str> = industries.iter().map(|i| i.as_str()).collect();
    let d = bank_do(
        srv,
        "mutation($i: RegisterRegulatorInput!, $k: String!) { registerRegulator(input: $i, idempotencyKey: $k) { id } }",
        json!({"k": key("reg"), "i": {"name": name, "regions": regions, "industries": names}}),
    )
    .await;
    let id = d["registerRegulator"]["id"]
        .as_str()
        .expect("regulator id")
        .to_owned();
    let principal = as_regulator(&id, regions, industries);
    Regulator { id, principal }
}

/// The bank creates a scheme with its policy.
pub async fn scheme(
    srv: &TestServer,
    name: &str,
    industry: Industry,
    region: &str,
    regulator: Option<&str>,
    policy: Value,
) -> String {
    let d = bank_do(
        srv,
        "mutation($i: CreateSchemeInput!, $k: String!) { createScheme(input: $i, idempotencyKey: $k) { id } }",
        json!({"k": key("sch"), "i": {"code": format!("S{}", serial()), "name": name, "industry": industry.as_str(), "region": region, "regulator": regulator, "policy": policy}}),
    )
    .await;
    d["createScheme"]["id"]
        .as_str()
        .expect("scheme id")
        .to_owned()
}

/// The bank onboards a merchant (a valid USCC, an active licence).
pub async fn merchant(srv: &TestServer, name: &str, region: &str, industry: Industry) -> String {
    let body = format!("91320100MA{:07}", serial() % 10_000_000);
    register_merchant(srv, name, &body, region, industry.as_str(), &key("m")).await
}

/// The bank enrolls a merchant in a scheme.
pub async fn enroll(srv: &TestServer, scheme: &str, merchant: &str) {
    bank_do(
        srv,
        "mutation($s: ID!, $m: ID!, $a: String!, $k: String!) { enrollMerchant(scheme: $s, merchant: $m, settlementAccountNumber: $a, idempotencyKey: $k) { id } }",
        json!({"s": scheme, "m": merchant, "a": format!("6222{:012}", serial()), "k": key("enr")}),
    )
    .await;
}

/// A merchant onboarded and enrolled in a scheme, with a principal acting for it.
pub async fn enrolled(
    srv: &TestServer,
    scheme: &str,
    name: &str,
    region: &str,
    industry: Industry,
) -> (String, Principal) {
    let m = merchant(srv, name, region, industry).await;
    enroll(srv, scheme, &m).await;
    let p = as_party(Role::Merchant, &m);
    (m, p)
}

/// The bank registers a payer, with a principal acting for it.
pub async fn payer(srv: &TestServer, name: &str) -> (String, Principal) {
    let d = bank_do(
        srv,
        "mutation($n: String!, $k: String!) { registerPayer(input: {name: $n}, idempotencyKey: $k) { id } }",
        json!({"n": name, "k": key("p")}),
    )
    .await;
    let id = d["registerPayer"]["id"]
        .as_str()
        .expect("payer id")
        .to_owned();
    let p = as_party(Role::Payer, &id);
    (id, p)
}

/// The bank opens an order and collects it in full through WeChat Pay; returns its id.
pub async fn paid_order(
    srv: &TestServer,
    scheme: &str,
    merchant: &str,
    payer: &str,
    total: &str,
) -> String {
    let order = bank_do(
        srv,
        "mutation($i: OpenOrderInput!, $k: String!) { openOrder(input: $i, idempotencyKey: $k) { id } }",
        json!({"k": key("open"), "i": {"scheme": scheme, "merchant": merchant, "payer": payer, "total": total}}),
    )
    .await["openOrder"]["id"]
        .as_str()
        .expect("order id")
        .to_owned();
    bank_do(
        srv,
        "mutation($i: CollectInput!, $k: String!) { collect(input: $i, idempotencyKey: $k) { id } }",
        json!({"k": key("collect"), "i": {"order": order, "channel": "WECHAT_PAY", "amount": total, "externalRef": key("wx")}}),
    )
    .await;
    order
}

/// An order's money as the bank sees it.
pub async fn order_money(srv: &TestServer, order: &str) -> Value {
    bank_do(
        srv,
        "query($id: ID!) { order(id: $id) { status total collected settled released refunded inEscrow inClearing } }",
        json!({"id": order}),
    )
    .await["order"]
        .clone()
}

/// A merchant's payable in a scheme, as the bank sees it.
pub async fn payable(srv: &TestServer, merchant: &str, scheme: &str) -> String {
    let d = bank_do(
        srv,
        "query($m: ID) { merchantBalances(merchant: $m) { payable scheme { id } } }",
        json!({"m": merchant}),
    )
    .await;
    d["merchantBalances"]
        .as_array()
        .and_then(|a| a.iter().find(|b| b["scheme"]["id"] == scheme))
        .map(|b| amount(&b["payable"]).to_owned())
        .unwrap_or_else(|| "0.00".into())
}

/// The bank's principal (re-exported for the industry modules).
pub fn the_bank() -> Principal {
    bank()
}
