//! The escrow lifecycle end to end through GraphQL, as the bank, the merchant, the payer and
//! the regulator each drive it: collect, settle T+1, confirm, release in tranches, pay out,
//! refund with an approved deduction, split, batch payout, reconcile.

use serde_json::json;

use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, bank, first_code};
use crate::world::{bank_do, driving_school, monday, paid_order, shenzhen_policy};

const ORDER: &str = "query($id: ID!) { order(id: $id) { status total collected settled released refunded inEscrow inClearing
    payer { name idNumber phone } merchant { name uscc } scheme { code policyVersion }
    milestones { index name amount status } payments { channel amount settleDate status } } }";

async fn shenzhen_order_releases_its_tranches(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let order = paid_order(&srv, &w, "4999.99").await;
    let merchant = w.merchant_principal();

    // Before T+1 the money waits in clearing.
    let o = TestServer::ok(srv.gql(Some(&merchant), ORDER, json!({"id": order})).await)["order"]
        .clone();
    assert_eq!(
        (
            o["status"].as_str(),
            o["inClearing"].as_str(),
            o["inEscrow"].as_str()
        ),
        (Some("ACTIVE"), Some("4999.99"), Some("0.00"))
    );
    assert_eq!(o["payments"][0]["settleDate"], "2026-03-03");
    let amounts: Vec<&str> = o["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, ["1249.99", "749.99", "1499.99", "1500.02"]);

    clock.advance_days(1);
    assert!(srv.tick().await >= 1);
    let o = TestServer::ok(srv.gql(Some(&merchant), ORDER, json!({"id": order})).await)["order"]
        .clone();
    assert_eq!(
        (o["settled"].as_str(), o["released"].as_str()),
        (Some("4999.99"), Some("1249.99"))
    );

    // The training association certifies each exam result; each releases its tranche.
    let mut released = vec![];
    for i in 1..4 {
        let d = TestServer::ok(
            srv.gql(
                Some(&w.confirmer_principal()),
                "mutation($o: ID!, $i: Int!, $k: String!) { confirmMilestone(order: $o, index: $i, as: EVIDENCE, evidence: \"科目考试合格证明\", idempotencyKey: $k) { released { amount } order { status } } }",
                json!({"o": order, "i": i, "k": format!("exam-{i}")}),
            )
            .await,
        );
        released.push(
            d["confirmMilestone"]["released"][0]["amount"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(released, ["749.99", "1499.99", "1500.02"]);

    // The merchant sees its money and pays some out.
    let b = TestServer::ok(
        srv.gql(
            Some(&merchant),
            "{ merchantBalances { escrow held available payable scheme { code } } }",
            json!({}),
        )
        .await,
    );
    assert_eq!(b["merchantBalances"][0]["payable"], "4999.99");
    assert_eq!(b["merchantBalances"][0]["escrow"], "0.00");
    let p = TestServer::ok(
        srv.gql(Some(&merchant), "mutation($m: ID!, $s: ID!) { requestPayout(merchant: $m, scheme: $s, amount: \"4000.00\", idempotencyKey: \"po-1\") { amount recipientAccount } }", json!({"m": w.merchant, "s": w.scheme})).await,
    );
    assert_eq!(p["requestPayout"]["amount"], "4000.00");
    let too_much = srv.gql(Some(&merchant), "mutation($m: ID!, $s: ID!) { requestPayout(merchant: $m, scheme: $s, amount: \"1000.00\", idempotencyKey: \"po-2\") { amount } }", json!({"m": w.merchant, "s": w.scheme})).await;
    assert_eq!(first_code(&too_much), "INSUFFICIENT_FUNDS");

    // The payer sees its own order in full; the regulator sees it with the payer masked.
    let mine = TestServer::ok(
        srv.gql(Some(&w.payer_principal()), ORDER, json!({"id": order}))
            .await,
    )["order"]
        .clone();
    assert_eq!(mine["status"], "COMPLETED");
    assert_eq!(mine["payer"]["name"], "段誉");
    assert_eq!(mine["payer"]["idNumber"], "110105********002X");
    let seen = TestServer::ok(
        srv.gql(Some(&w.regulator_principal()), ORDER, json!({"id": order}))
            .await,
    )["order"]
        .clone();
    assert_eq!(seen["payer"]["name"], "段**");
    assert_eq!(seen["payer"]["phone"], "138****5678");
    assert_eq!(seen["merchant"]["name"], "南京市某某驾驶培训有限公司");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shenzhen_order_releases_its_tranches_sqlite() {
    shenzhen_order_releases_its_tranches(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shenzhen_order_releases_its_tranches_postgres() {
    shenzhen_order_releases_its_tranches(Backend::Postgres).await;
}

async fn a_dropout_is_refunded_less_the_approved_deduction(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let order = paid_order(&srv, &w, "4000.00").await;
    clock.advance_days(1);
    srv.tick().await;
    // The payer asks; a payer cannot propose a deduction.
    let payer = w.payer_principal();
    let r = srv.gql(Some(&payer), "mutation($o: ID!) { requestRefund(order: $o, reason: \"退学\", deduction: \"1.00\", idempotencyKey: \"r-0\") { id } }", json!({"o": order})).await;
    assert_eq!(first_code(&r), "FORBIDDEN");
    // The merchant proposes a 500.00 deduction for lessons given; the regulator approves it.
    let r = TestServer::ok(
        srv.gql(Some(&w.merchant_principal()), "mutation($o: ID!) { requestRefund(order: $o, reason: \"学员退学\", deduction: \"500.00\", idempotencyKey: \"r-1\") { id status dueAt } }", json!({"o": order})).await,
    );
    assert_eq!(r["requestRefund"]["status"], "AWAITING_APPROVAL");
    let refund = r["requestRefund"]["id"].as_str().unwrap().to_owned();
    let early = srv
        .gql(
            Some(&bank()),
            "mutation($r: ID!) { executeRefund(refund: $r, idempotencyKey: \"x-0\") { status } }",
            json!({"r": refund}),
        )
        .await;
    assert_eq!(first_code(&early), "INVALID_STATE");
    TestServer::ok(srv.gql(Some(&w.regulator_principal()), "mutation($r: ID!) { approveDeduction(refund: $r, approve: true, idempotencyKey: \"a-1\") { status } }", json!({"r": refund})).await);
    let done = TestServer::ok(srv.gql(Some(&bank()), "mutation($r: ID!) { executeRefund(refund: $r, idempotencyKey: \"x-1\") { status amount deduction } }", json!({"r": refund})).await);
    assert_eq!(
        done["executeRefund"],
        json!({"status": "EXECUTED", "amount": "2500.00", "deduction": "500.00"})
    );
    let o = TestServer::ok(
        srv.gql(
            Some(&payer),
            "query($id: ID!) { order(id: $id) { status refunded released milestones { status } } }",
            json!({"id": order}),
        )
        .await,
    )["order"]
        .clone();
    assert_eq!(
        (
            o["status"].as_str(),
            o["refunded"].as_str(),
            o["released"].as_str()
        ),
        (Some("REFUNDED"), Some("2500.00"), Some("1500.00"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropout_is_refunded_less_the_approved_deduction_sqlite() {
    a_dropout_is_refunded_less_the_approved_deduction(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropout_is_refunded_less_the_approved_deduction_postgres() {
    a_dropout_is_refunded_less_the_approved_deduction(Backend::Postgres).await;
}

async fn a_regulator_approves_training_hours_and_a_payer_confirms(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let policy = json!({"milestones": [
        {"name": "入学", "share_bp": 1000, "confirm_by": ["REGULATOR"]},
        {"name": "科目二学时", "share_bp": 3000, "confirm_by": ["REGULATOR"]},
        {"name": "科目三学时", "share_bp": 3000, "confirm_by": ["REGULATOR"]},
        {"name": "结业", "share_bp": 3000, "confirm_by": ["REGULATOR", "PAYER"]}]});
    let w = driving_school(&srv, policy).await;
    let order = paid_order(&srv, &w, "3333.33").await;
    clock.advance_days(1);
    srv.tick().await;
    let confirm = "mutation($o: ID!, $i: Int!, $as: Confirmer!, $a: Boolean!, $k: String!) { confirmMilestone(order: $o, index: $i, as: $as, approve: $a, idempotencyKey: $k) { released { amount } } }";
    let reg = w.regulator_principal();
    // A rejection releases nothing.
    let r = TestServer::ok(
        srv.gql(
            Some(&reg),
            confirm,
            json!({"o": order, "i": 0, "as": "REGULATOR", "a": false, "k": "h0-no"}),
        )
        .await,
    );
    assert_eq!(r["confirmMilestone"]["released"], json!([]));
    let mut got = vec![];
    for i in 0..4 {
        let r = TestServer::ok(
            srv.gql(
                Some(&reg),
                confirm,
                json!({"o": order, "i": i, "as": "REGULATOR", "a": true, "k": format!("h{i}")}),
            )
            .await,
        );
        got.extend(
            r["confirmMilestone"]["released"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["amount"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(got, ["333.33", "999.99", "999.99"]);
    // A merchant cannot confirm in the payer's name.
    let r = srv
        .gql(
            Some(&w.merchant_principal()),
            confirm,
            json!({"o": order, "i": 3, "as": "PAYER", "a": true, "k": "m3"}),
        )
        .await;
    assert_eq!(first_code(&r), "FORBIDDEN");
    let r = TestServer::ok(
        srv.gql(
            Some(&w.payer_principal()),
            confirm,
            json!({"o": order, "i": 3, "as": "PAYER", "a": true, "k": "p3"}),
        )
        .await,
    );
    assert_eq!(r["confirmMilestone"]["released"][0]["amount"], "1000.02");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regulator_approves_training_hours_and_a_payer_confirms_sqlite() {
    a_regulator_approves_training_hours_and_a_payer_confirms(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regulator_approves_training_hours_and_a_payer_confirms_postgres() {
    a_regulator_approves_training_hours_and_a_payer_confirms(Backend::Postgres).await;
}

async fn mutations_replay_under_the_same_key(backend: Backend) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let open = "mutation($i: OpenOrderInput!) { openOrder(input: $i, idempotencyKey: \"same\") { id total } }";
    let input = |total: &str| json!({"i": {"scheme": w.scheme, "merchant": w.merchant, "payer": w.payer, "total": total}});
    let a = bank_do(&srv, open, input("100.00")).await;
    let b = bank_do(&srv, open, input("100.00")).await;
    assert_eq!(a, b, "a replay returns the first result");
    let c = srv.gql(Some(&bank()), open, input("100.01")).await;
    assert_eq!(first_code(&c), "CONFLICT");
    let orders = bank_do(
        &srv,
        "{ orders(first: 10) { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(orders["orders"]["edges"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_replay_under_the_same_key_sqlite() {
    mutations_replay_under_the_same_key(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_replay_under_the_same_key_postgres() {
    mutations_replay_under_the_same_key(Backend::Postgres).await;
}

async fn statements_reconcile_and_breaks_raise_alerts(backend: Backend) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let order = bank_do(&srv, "mutation($i: OpenOrderInput!) { openOrder(input: $i, idempotencyKey: \"o\") { id } }", json!({"i": {"scheme": w.scheme, "merchant": w.merchant, "payer": w.payer, "total": "300.00"}})).await["openOrder"]["id"].clone();
    bank_do(&srv, "mutation($o: ID!) { collect(input: {order: $o, channel: ALIPAY, amount: \"300.00\", externalRef: \"ali-77\"}, idempotencyKey: \"c\") { id } }", json!({"o": order})).await;
    let r = bank_do(
        &srv,
        "mutation { importStatement(channel: ALIPAY, date: \"2026-03-02\", csv: \"reference,amount\\nali-77,300.00\\nali-99,5.00\\n\", idempotencyKey: \"s\") { matchedLines breaks { status reference line } } }",
        json!({}),
    )
    .await;
    assert_eq!(r["importStatement"]["matchedLines"], 1);
    assert_eq!(
        r["importStatement"]["breaks"],
        json!([{"status": "MISSING_IN_LEDGER", "reference": "ali-99", "line": 3}])
    );
    let alerts = bank_do(
        &srv,
        "{ alerts(first: 10) { edges { node { kind severity status } } } }",
        json!({}),
    )
    .await;
    assert!(
        alerts["alerts"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"]["kind"] == "RECONCILIATION_BREAK")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_reconcile_and_breaks_raise_alerts_sqlite() {
    statements_reconcile_and_breaks_raise_alerts(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_reconcile_and_breaks_raise_alerts_postgres() {
    statements_reconcile_and_breaks_raise_alerts(Backend::Postgres).await;
}
