//! A court through GraphQL: freeze, blocked release, deduction, and an evidence bundle that the
//! real `lvyue verify` accepts offline (and refuses once tampered with).

use serde_json::json;

use lvyue_domain::testing::Backend;

use crate::harness::{TestServer, bank, first_code, run_lvyue};
use crate::world::{driving_school, monday, paid_order, shenzhen_policy};

async fn a_court_freezes_deducts_and_verifies_its_evidence(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let order = paid_order(&srv, &w, "1000.00").await;
    clock.advance_days(1);
    srv.tick().await;
    let court = w.court_principal();
    let hold = TestServer::ok(
        srv.gql(Some(&court), "mutation($o: ID!) { courtFreeze(order: $o, amount: \"700.00\", caseNo: \"(2026)苏0102执123号\", priority: 1, idempotencyKey: \"f1\") { id status remaining } }", json!({"o": order})).await,
    )["courtFreeze"]
        .clone();
    assert_eq!(hold["status"], "ACTIVE");
    // 750.00 in escrow, 700.00 frozen: the 150.00 tranche cannot go out.
    TestServer::ok(srv.gql(Some(&w.confirmer_principal()), "mutation($o: ID!) { confirmMilestone(order: $o, index: 1, as: EVIDENCE, evidence: \"科目一\", idempotencyKey: \"e1\") { released { amount } } }", json!({"o": order})).await);
    let blocked = srv.gql(Some(&bank()), "mutation($o: ID!) { releaseMilestone(order: $o, idempotencyKey: \"rel\") { released { amount } } }", json!({"o": order})).await;
    assert_eq!(first_code(&blocked), "INSUFFICIENT_FUNDS");
    // A merchant cannot unfreeze; the court deducts 200.00 to its account.
    let nope = srv
        .gql(
            Some(&w.merchant_principal()),
            "mutation($h: ID!) { courtUnfreeze(hold: $h, idempotencyKey: \"u0\") { id } }",
            json!({"h": hold["id"]}),
        )
        .await;
    assert_eq!(first_code(&nope), "FORBIDDEN");
    let after = TestServer::ok(srv.gql(Some(&court), "mutation($h: ID!) { courtDeduct(hold: $h, amount: \"200.00\", idempotencyKey: \"d1\") { remaining } }", json!({"h": hold["id"]})).await);
    assert_eq!(after["courtDeduct"]["remaining"], "500.00");

    srv.sync_log().await;
    let bundle = TestServer::ok(
        srv.gql(
            Some(&court),
            "mutation($o: ID!) { evidenceBundle(caseNo: \"(2026)苏0102执123号\", orders: [$o]) }",
            json!({"o": order}),
        )
        .await,
    )["evidenceBundle"]
        .clone();
    let kinds: Vec<&str> = bundle["orders"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for k in [
        "order.opened",
        "payment.collected",
        "order.settled",
        "milestone.released",
        "court.freeze",
        "court.deduct",
    ] {
        assert!(kinds.contains(&k), "{k} not in {kinds:?}");
    }
    assert_eq!(
        bundle["orders"][0]["payer_name"], "段誉",
        "a court sees the person's data"
    );
    let key = TestServer::ok(srv.gql(None, "{ notaryKey }", json!({})).await)["notaryKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
    let out = run_lvyue(
        &["verify", "--bundle", file.to_str().unwrap(), "--key", &key],
        &[],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("verified"), "{stdout}");
    // One changed amount in one event, and the bundle no longer verifies.
    let tampered = serde_json::to_string(&bundle)
        .unwrap()
        .replacen("1000.00", "100.00", 1);
    std::fs::write(&file, tampered).unwrap();
    let out = run_lvyue(
        &["verify", "--bundle", file.to_str().unwrap(), "--key", &key],
        &[],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("FAILED"));

    // Each event's tlog-proof also verifies on its own.
    let ev = &bundle["orders"][0]["events"][0];
    std::fs::write(
        dir.path().join("entry.json"),
        ev["canonical"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("entry.tlog-proof"),
        ev["tlog_proof"].as_str().unwrap(),
    )
    .unwrap();
    let out = run_lvyue(
        &[
            "verify",
            "--entry",
            dir.path().join("entry.json").to_str().unwrap(),
            "--proof",
            dir.path().join("entry.tlog-proof").to_str().unwrap(),
            "--key",
            &key,
        ],
        &[],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_freezes_deducts_and_verifies_its_evidence_sqlite() {
    a_court_freezes_deducts_and_verifies_its_evidence(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_freezes_deducts_and_verifies_its_evidence_postgres() {
    a_court_freezes_deducts_and_verifies_its_evidence(Backend::Postgres).await;
}

/// Fen of a money string such as `"250.00"`.
fn fen(v: &serde_json::Value) -> i64 {
    let s = v.as_str().unwrap();
    let (yuan, jiao) = s.split_once('.').unwrap();
    yuan.parse::<i64>().unwrap() * 100 + jiao.parse::<i64>().unwrap()
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

const DEBTOR: &str = "query($c: String!, $u: String, $i: String) { debtor(caseNo: $c, uscc: $u, idNumber: $i) { party { id name } accounts { orderId account { id kind balance held available waiting } holds { id caseNo amount remaining waiting status expiresAt } } } }";

/// Enforcement against a merchant that owes money (执行查控): the court finds the merchant's
/// money by its USCC — its payable money, never its payers' escrow — freezes more than is
/// there, queues a second case behind the first, sees both filled in order as money arrives,
/// deducts under its case number, renews the term (the bank is warned before a term ends),
/// and lifts the second freeze. A payer who owes money is found by ID number, with its
/// prepayments. Money is conserved throughout: the audit finds nothing.
async fn a_court_enforces_against_a_debtor(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    paid_order(&srv, &w, "1000.00").await;
    clock.advance_days(1);
    srv.tick().await;
    let court = w.court_principal();
    let uscc = TestServer::ok(
        srv.gql(
            Some(&bank()),
            "query($m: ID!) { party(id: $m) { uscc } }",
            json!({"m": w.merchant}),
        )
        .await,
    )["party"]["uscc"]
        .as_str()
        .unwrap()
        .to_owned();
    let case_a = "(2026)苏0102执2001号";
    let case_b = "(2026)苏0102执2002号";
    let found = TestServer::ok(
        srv.gql(Some(&court), DEBTOR, json!({"c": case_a, "u": uscc}))
            .await,
    )["debtor"]
        .clone();
    assert_eq!(found["party"]["id"], w.merchant);
    let accounts = found["accounts"].as_array().unwrap();
    assert!(
        accounts.iter().all(|a| a["account"]["kind"] != "ESCROW"),
        "a merchant's escrow is its payers' money: {found}"
    );
    assert!(
        accounts.iter().any(|a| a["account"]["kind"] == "EXTERNAL"),
        "the settlement account is shown: {found}"
    );
    let payable = accounts
        .iter()
        .find(|a| a["account"]["kind"] == "PAYABLE")
        .unwrap_or_else(|| panic!("no payable account: {found}"))["account"]
        .clone();
    let first = fen(&payable["available"]);
    assert!(first > 0, "{payable}");

    // More than is there: what is there is frozen, 500.00 waits. A second case queues behind.
    let expires = "2026-06-30T00:00:00Z";
    let freeze = |case: &str, amount: String, key: &str| {
        // The second case runs longer: it is still there when the first is lifted.
        let expires = if case == case_b {
            "2026-12-31T00:00:00Z"
        } else {
            expires
        };
        json!({"i": {"account": payable["id"], "amount": amount, "caseNo": case, "expiresAt": expires}, "k": key})
    };
    const FREEZE: &str = "mutation($i: CourtFreezeAccountInput!, $k: String!) { courtFreezeAccount(input: $i, idempotencyKey: $k) { hold { id remaining waiting } } }";
    let a = TestServer::ok(
        srv.gql(
            Some(&court),
            FREEZE,
            freeze(case_a, yuan(first + 50_000), "fa"),
        )
        .await,
    )["courtFreezeAccount"]["hold"]
        .clone();
    assert_eq!((fen(&a["remaining"]), fen(&a["waiting"])), (first, 50_000));
    let b = TestServer::ok(
        srv.gql(Some(&court), FREEZE, freeze(case_b, "300.00".into(), "fb"))
            .await,
    )["courtFreezeAccount"]["hold"]
        .clone();
    assert_eq!((fen(&b["remaining"]), fen(&b["waiting"])), (0, 30_000));
    // An order's escrow is not frozen this way.
    let escrow = TestServer::ok(
        srv.gql(
            Some(&bank()),
            "query($m: ID!) { accounts(owner: $m, first: 50) { edges { node { id kind } } } }",
            json!({"m": w.merchant}),
        )
        .await,
    )["accounts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["node"]["kind"] == "ESCROW")
        .unwrap()["node"]["id"]
        .clone();
    let refused = srv
        .gql(
            Some(&court),
            FREEZE,
            json!({"i": {"account": escrow, "amount": "1.00", "caseNo": case_a, "expiresAt": expires}, "k": "fe"}),
        )
        .await;
    assert_eq!(first_code(&refused), "VALIDATION", "{refused}");
    let settlement = accounts
        .iter()
        .find(|a| a["account"]["kind"] == "EXTERNAL")
        .unwrap()["account"]["id"]
        .clone();
    let refused = srv
        .gql(
            Some(&court),
            FREEZE,
            json!({"i": {"account": settlement, "amount": "1.00", "caseNo": case_a, "expiresAt": expires}, "k": "fs"}),
        )
        .await;
    assert_eq!(first_code(&refused), "VALIDATION", "{refused}");

    // Money arrives: the first case is filled first, then the second.
    paid_order(&srv, &w, "1000.00").await;
    clock.advance_days(1);
    srv.tick().await;
    let holds = |d: &serde_json::Value| -> Vec<serde_json::Value> {
        d["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account"]["id"] == payable["id"])
            .unwrap()["holds"]
            .as_array()
            .unwrap()
            .clone()
    };
    let now = TestServer::ok(
        srv.gql(Some(&court), DEBTOR, json!({"c": case_a, "u": uscc}))
            .await,
    )["debtor"]
        .clone();
    let arrived = fen(&now["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"]["id"] == payable["id"])
        .unwrap()["account"]["balance"])
        - first;
    assert!(arrived > 0);
    let hs = holds(&now);
    assert_eq!(hs[0]["id"], a["id"], "the earlier freeze ranks first");
    let to_a = arrived.min(50_000);
    assert_eq!(fen(&hs[0]["remaining"]), first + to_a);
    assert_eq!(fen(&hs[0]["waiting"]), 50_000 - to_a);
    let b_frozen = (arrived - to_a).min(30_000);
    assert_eq!(fen(&hs[1]["remaining"]), b_frozen);

    // Deduction under the case number, to the court's account.
    const DEDUCT: &str = "mutation($i: CourtDeductFrozenInput!) { courtDeductFrozen(input: $i, idempotencyKey: \"d1\") { holds { id remaining } } }";
    let d = TestServer::ok(
        srv.gql(
            Some(&court),
            DEDUCT,
            json!({"i": {"account": payable["id"], "caseNo": case_a, "amount": "100.00"}}),
        )
        .await,
    );
    assert_eq!(
        fen(&d["courtDeductFrozen"]["holds"][0]["remaining"]),
        first + to_a - 10_000
    );
    let too_much = srv.gql(Some(&court), "mutation($i: CourtDeductFrozenInput!) { courtDeductFrozen(input: $i, idempotencyKey: \"d2\") { holds { id } } }", json!({"i": {"account": payable["id"], "caseNo": case_a, "amount": "99999.00"}})).await;
    assert_eq!(first_code(&too_much), "VALIDATION");

    // Renewed before it lapses; the bank is warned 15 days before the new term ends.
    const RENEW: &str = "mutation($i: CourtRenewFreezeInput!, $k: String!) { courtRenewFreeze(input: $i, idempotencyKey: $k) { hold { expiresAt } } }";
    let earlier = srv
        .gql(
            Some(&court),
            RENEW,
            json!({"i": {"hold": a["id"], "expiresAt": "2026-05-01T00:00:00Z"}, "k": "r0"}),
        )
        .await;
    assert_eq!(first_code(&earlier), "VALIDATION");
    let renewed = TestServer::ok(
        srv.gql(
            Some(&court),
            RENEW,
            json!({"i": {"hold": a["id"], "expiresAt": "2026-09-30T00:00:00Z"}, "k": "r1"}),
        )
        .await,
    );
    assert!(
        renewed["courtRenewFreeze"]["hold"]["expiresAt"]
            .as_str()
            .unwrap()
            .starts_with("2026-09-30")
    );
    // Time runs to the first case's notice.
    clock.set(lvyue_domain::clock::Timestamp::china_midnight(
        "2026-09-16".parse().unwrap(),
    ));
    srv.tick().await;
    let alerts = TestServer::ok(
        srv.gql(
            Some(&bank()),
            "{ alerts(first: 100) { edges { node { kind message } } } }",
            json!({}),
        )
        .await,
    );
    let lapsing: Vec<_> = alerts["alerts"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["kind"] == "FREEZE_LAPSING")
        .collect();
    assert_eq!(lapsing.len(), 1, "{alerts}");
    assert!(
        lapsing[0]["node"]["message"]
            .as_str()
            .unwrap()
            .contains(case_a)
    );
    // The first case is lifted: what it held goes to the second, which was waiting for it.
    let a_frozen = first + to_a - 10_000;
    TestServer::ok(
        srv.gql(
            Some(&court),
            "mutation($h: ID!) { courtUnfreeze(hold: $h, idempotencyKey: \"u1\") { status } }",
            json!({"h": a["id"]}),
        )
        .await,
    );
    let after = TestServer::ok(
        srv.gql(Some(&court), DEBTOR, json!({"c": case_a, "u": uscc}))
            .await,
    )["debtor"]
        .clone();
    let hs = holds(&after);
    assert_eq!(hs.len(), 1, "the first case was lifted: {after}");
    assert_eq!(hs[0]["id"], b["id"]);
    let b_more = a_frozen.min(30_000 - b_frozen);
    assert_eq!(fen(&hs[0]["remaining"]), b_frozen + b_more, "{after}");
    assert_eq!(fen(&hs[0]["waiting"]), 30_000 - b_frozen - b_more);

    // A payer who owes money: found by ID number, with its prepayments in escrow.
    let payer = TestServer::ok(
        srv.gql(
            Some(&court),
            DEBTOR,
            json!({"c": case_b, "i": "11010519491231002X"}),
        )
        .await,
    )["debtor"]
        .clone();
    assert_eq!(payer["party"]["name"], "段誉");
    assert!(
        payer["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["account"]["kind"] == "ESCROW" && a["orderId"].is_string()),
        "{payer}"
    );
    let unknown = srv
        .gql(
            Some(&court),
            DEBTOR,
            json!({"c": case_b, "u": "91320100MA1XXXXX0X"}),
        )
        .await;
    assert_eq!(first_code(&unknown), "NOT_FOUND");
    let merchant = srv
        .gql(
            Some(&w.merchant_principal()),
            DEBTOR,
            json!({"c": case_a, "u": uscc}),
        )
        .await;
    assert_eq!(first_code(&merchant), "FORBIDDEN");

    let report = lvyue_domain::audit::audit(&srv.db.db, None).await.unwrap();
    assert!(report.breaches.is_empty(), "{:?}", report.breaches);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_enforces_against_a_debtor_sqlite() {
    a_court_enforces_against_a_debtor(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_court_enforces_against_a_debtor_postgres() {
    a_court_enforces_against_a_debtor(Backend::Postgres).await;
}
