//! Onboarding checks and list screening (docs/domain.md, "Checks on merchants"),
//! as the bank drives them through GraphQL.

use serde_json::{Value, json};

use lvyue_domain::identity::uscc_with_check;
use lvyue_domain::testing::Backend;

use super::{alerts_of, events_of, ok, on_both, start};
use crate::harness::{TestServer, bank, first_code};
use crate::world::{bank_do, driving_school, paid_order, shenzhen_policy};

const REGISTER: &str = "mutation($i: RegisterMerchantInput!, $k: String!) { registerMerchant(input: $i, idempotencyKey: $k) { id status uscc } }";
const IMPORT: &str = "mutation($kind: ListKind!, $csv: String!, $k: String!) { importList(kind: $kind, csv: $csv, idempotencyKey: $k) { rows applied hits } }";

fn uscc(body: &str) -> String {
    uscc_with_check(body).expect("a valid USCC body")
}

/// A Nanjing driving school's registration, with a licence that passes unless changed.
fn merchant_input(name: &str, uscc: &str, licence: Value) -> Value {
    let mut l = json!({"registeredName": name, "registeredAddress": "南京市玄武区中山路1号", "legalRepresentative": "王某", "status": "存续"});
    if let (Some(l), Some(changes)) = (l.as_object_mut(), licence.as_object()) {
        for (k, v) in changes {
            l.insert(k.clone(), v.clone());
        }
    }
    json!({"name": name, "uscc": uscc, "region": "320102", "industry": "DRIVING_SCHOOL", "licence": l})
}

async fn register(srv: &TestServer, input: Value, key: &str) -> Value {
    srv.gql(Some(&bank()), REGISTER, json!({"i": input, "k": key}))
        .await
}

/// The onboarding checks recorded for a merchant: `check → outcome`, each with its time.
async fn checks_of(srv: &TestServer, merchant: &str) -> Vec<(String, String)> {
    events_of(srv, "merchant.checked")
        .await
        .into_iter()
        .filter(|e| e["merchantId"] == merchant)
        .map(|e| {
            assert!(e["at"].is_string(), "each check has its time: {e}");
            (
                e["data"]["check"].as_str().unwrap().to_owned(),
                e["data"]["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn outcome<'a>(checks: &'a [(String, String)], check: &str) -> &'a str {
    checks
        .iter()
        .find(|(c, _)| c == check)
        .map(|(_, o)| o.as_str())
        .unwrap_or_else(|| panic!("no {check} check in {checks:?}"))
}

async fn each_onboarding_check_decides_the_merchants_status(backend: Backend) {
    let Some((srv, _clock)) = start(backend, |_| {}).await else {
        return;
    };
    let dishonest = uscc("91320102MA1DEBT01");
    let abnormal = uscc("91320102MA1ABN001");
    let lists = [
        ("DISHONEST_DEBTOR", &dishonest, "(2026)苏0102执1号"),
        ("ABNORMAL_OPERATION", &abnormal, "未按时公示年报"),
    ];
    for (kind, code, reason) in lists {
        let csv = format!("uscc,name,reason,listed_on\n{code},某公司,{reason},2026-02-01\n");
        let d = bank_do(
            &srv,
            IMPORT,
            json!({"kind": kind, "csv": csv, "k": format!("list-{kind}")}),
        )
        .await;
        assert_eq!(d["importList"]["applied"], true);
    }

    // Everything in order: active, every check passed and on the record.
    let good = TestServer::ok(
        register(
            &srv,
            merchant_input("玄武驾校", &uscc("91320102MA1GUD001"), json!({})),
            "m-good",
        )
        .await,
    );
    let good_id = good["registerMerchant"]["id"].as_str().unwrap();
    assert_eq!(good["registerMerchant"]["status"], "ACTIVE");
    let checks = checks_of(&srv, good_id).await;
    for (check, o) in &checks {
        assert_eq!(o, "PASS", "{check}");
    }
    for check in [
        "uscc_checksum",
        "licence_name",
        "licence_status",
        "licence_validity",
        "licence_fields",
        "dishonest_debtor_list",
        "abnormal_operation_list",
    ] {
        outcome(&checks, check);
    }

    // A checksum failure is kept for a person to look at, not refused (docs/domain.md).
    let r = TestServer::ok(
        register(
            &srv,
            merchant_input("早期驾校", "91110000600037341N", json!({})),
            "m-checksum",
        )
        .await,
    );
    assert_eq!(r["registerMerchant"]["status"], "MANUAL_REVIEW");
    let id = r["registerMerchant"]["id"].as_str().unwrap();
    assert_eq!(
        outcome(&checks_of(&srv, id).await, "uscc_checksum"),
        "REVIEW"
    );

    // A code that is not a USCC at all is refused.
    for (i, bad) in [
        "9111000060003734",
        "91110000600037341I",
        "not-a-code-at-all!",
    ]
    .iter()
    .enumerate()
    {
        let r = register(
            &srv,
            merchant_input("坏码驾校", bad, json!({})),
            &format!("m-bad-{i}"),
        )
        .await;
        assert_eq!(first_code(&r), "VALIDATION", "{bad}: {r}");
    }

    // The licence: revoked, expired (today is 2026-03-02), named otherwise.
    let cases = [
        (
            "91320102MA1RE7001",
            json!({"status": "吊销"}),
            "licence_status",
            "FAIL",
        ),
        (
            "91320102MA1EXP001",
            json!({"validUntil": "2026-03-01"}),
            "licence_validity",
            "FAIL",
        ),
        (
            "91320102MA1NAM001",
            json!({"registeredName": "另一家公司"}),
            "licence_name",
            "REVIEW",
        ),
    ];
    for (body, licence, check, expected) in cases {
        let r = TestServer::ok(
            register(
                &srv,
                merchant_input("秦淮驾校", &uscc(body), licence),
                &format!("m-{body}"),
            )
            .await,
        );
        assert_eq!(r["registerMerchant"]["status"], "MANUAL_REVIEW", "{check}");
        let id = r["registerMerchant"]["id"].as_str().unwrap();
        assert_eq!(outcome(&checks_of(&srv, id).await, check), expected);
    }
    // A licence still valid today passes.
    let r = TestServer::ok(
        register(
            &srv,
            merchant_input(
                "鼓楼驾校",
                &uscc("91320102MA1VAL001".replace('V', "W").as_str()),
                json!({"validUntil": "2026-03-02"}),
            ),
            "m-valid-today",
        )
        .await,
    );
    assert_eq!(r["registerMerchant"]["status"], "ACTIVE");

    // On the abnormal-operation list: review. On the dishonest-debtor list: blocked.
    let r = TestServer::ok(
        register(
            &srv,
            merchant_input("异常驾校", &abnormal, json!({})),
            "m-abnormal",
        )
        .await,
    );
    assert_eq!(r["registerMerchant"]["status"], "MANUAL_REVIEW");
    let id = r["registerMerchant"]["id"].as_str().unwrap();
    assert_eq!(
        outcome(&checks_of(&srv, id).await, "abnormal_operation_list"),
        "REVIEW"
    );
    let r = TestServer::ok(
        register(
            &srv,
            merchant_input("失信驾校", &dishonest, json!({})),
            "m-dishonest",
        )
        .await,
    );
    assert_eq!(r["registerMerchant"]["status"], "BLOCKED");
    let id = r["registerMerchant"]["id"].as_str().unwrap();
    assert_eq!(
        outcome(&checks_of(&srv, id).await, "dishonest_debtor_list"),
        "FAIL"
    );
}
on_both!(each_onboarding_check_decides_the_merchants_status);

async fn a_dishonest_debtor_listed_later_is_blocked_and_its_releases_stop(backend: Backend) {
    let Some((srv, clock)) = start(backend, |_| {}).await else {
        return;
    };
    let w = driving_school(&srv, shenzhen_policy()).await;
    let order = paid_order(&srv, &w, "4000.00").await;
    clock.advance_days(1);
    srv.tick().await;
    let released = |d: &Value| d["order"]["released"].as_str().map(str::to_owned);
    let o = ok(
        &srv,
        &bank(),
        "query($o: ID!) { order(id: $o) { released } }",
        json!({"o": order}),
    )
    .await;
    assert_eq!(released(&o).as_deref(), Some("1000.00"));

    let m = ok(
        &srv,
        &bank(),
        "query($m: ID!) { party(id: $m) { uscc status } }",
        json!({"m": w.merchant}),
    )
    .await;
    let code = m["party"]["uscc"].as_str().unwrap().to_owned();
    let csv = format!(
        "uscc,name,reason,listed_on\n{code},南京市某某驾驶培训有限公司,(2026)苏0102执9号,2026-03-02\n"
    );
    let d = bank_do(
        &srv,
        IMPORT,
        json!({"kind": "DISHONEST_DEBTOR", "csv": csv, "k": "dd-1"}),
    )
    .await;
    assert_eq!(
        d["importList"],
        json!({"rows": 1, "applied": true, "hits": [w.merchant]})
    );

    // Blocked, scored for it, and the bank and the regulator are told.
    let m = ok(
        &srv,
        &bank(),
        "query($m: ID!) { party(id: $m) { status riskScore { score reasons { feature points } } } }",
        json!({"m": w.merchant}),
    )
    .await;
    assert_eq!(m["party"]["status"], "BLOCKED");
    let reasons = m["party"]["riskScore"]["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|r| r["feature"] == "list_hits" && r["points"].as_i64() > Some(0)),
        "{m}"
    );
    for who in [bank(), w.regulator_principal()] {
        let hits: Vec<Value> = alerts_of(&srv, &who)
            .await
            .into_iter()
            .filter(|a| a["kind"] == "LIST_HIT")
            .collect();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0]["severity"], "CRITICAL");
        assert_eq!(hits[0]["merchantId"], w.merchant.as_str());
    }
    let screened = super::events_of(&srv, "merchant.checked")
        .await
        .into_iter()
        .filter(|e| e["merchantId"] == w.merchant.as_str())
        .any(|e| e["data"]["check"] == "dishonest_debtor_list" && e["data"]["outcome"] == "FAIL");
    assert!(screened, "the import's screening is on the record");

    // Releases stop: the confirmation is recorded, nothing is released, and asking says why.
    let merchant = w.merchant_principal();
    let d = ok(
        &srv,
        &w.confirmer_principal(),
        "mutation($o: ID!) { confirmMilestone(order: $o, index: 1, as: EVIDENCE, evidence: \"科目一合格\", idempotencyKey: \"c-1\") { released { amount } } }",
        json!({"o": order}),
    )
    .await;
    assert_eq!(d["confirmMilestone"]["released"], json!([]));
    // The blocked merchant's own token is no longer honoured; the bank asking is told why.
    let r = srv
        .gql(
            Some(&merchant),
            "mutation($o: ID!) { releaseMilestone(order: $o, idempotencyKey: \"r-1\") { released { amount } } }",
            json!({"o": order}),
        )
        .await;
    assert_eq!(first_code(&r), "UNAUTHENTICATED", "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("BLOCKED"),
        "{r}"
    );
    let r = srv
        .gql(
            Some(&bank()),
            "mutation($o: ID!) { releaseMilestone(order: $o, idempotencyKey: \"r-1\") { released { amount } } }",
            json!({"o": order}),
        )
        .await;
    assert_eq!(first_code(&r), "INVALID_STATE", "{r}");
    let o = ok(
        &srv,
        &bank(),
        "query($o: ID!) { order(id: $o) { released } }",
        json!({"o": order}),
    )
    .await;
    assert_eq!(released(&o).as_deref(), Some("1000.00"));
}
on_both!(a_dishonest_debtor_listed_later_is_blocked_and_its_releases_stop);

async fn list_imports_are_validated_line_by_line_and_idempotent(backend: Backend) {
    let Some((srv, _clock)) = start(backend, |_| {}).await else {
        return;
    };
    let a = uscc("91320102MA1AAA001");
    let b = uscc("91320102MA1BBB001");
    // Lines 3 (not a USCC), 4 (no name) and 5 (not a date) are wrong; nothing is imported.
    let bad = format!(
        "uscc,name,reason,listed_on\n{a},甲公司,案1,2026-03-01\nBAD,乙公司,案2,2026-03-01\n{b},,案3,2026-03-01\n{b},丙公司,案4,March\n"
    );
    let r = srv
        .gql(
            Some(&bank()),
            IMPORT,
            json!({"kind": "DISHONEST_DEBTOR", "csv": bad, "k": "bad-1"}),
        )
        .await;
    assert_eq!(first_code(&r), "VALIDATION");
    let message = r["errors"][0]["message"].as_str().unwrap();
    for line in ["line 3", "line 4", "line 5"] {
        assert!(message.contains(line), "{message}");
    }
    assert!(!message.contains("line 2"), "{message}");
    let r = srv
        .gql(
            Some(&bank()),
            IMPORT,
            json!({"kind": "DISHONEST_DEBTOR", "csv": "code,name\n", "k": "bad-2"}),
        )
        .await;
    assert_eq!(first_code(&r), "VALIDATION");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("line 1")
    );

    let good = format!(
        "uscc,name,reason,listed_on\n{a},甲公司,案1,2026-03-01\n{b},乙公司,案2,2026-03-01\n"
    );
    let vars = json!({"kind": "ABNORMAL_OPERATION", "csv": good, "k": "good-1"});
    let first = bank_do(&srv, IMPORT, vars.clone()).await;
    assert_eq!(
        first["importList"],
        json!({"rows": 2, "applied": true, "hits": []})
    );
    // The same request again is answered as the first time.
    assert_eq!(bank_do(&srv, IMPORT, vars).await, first);
    // The same file under a new key changes nothing.
    let again = bank_do(
        &srv,
        IMPORT,
        json!({"kind": "ABNORMAL_OPERATION", "csv": good, "k": "good-2"}),
    )
    .await;
    assert_eq!(again["importList"]["applied"], false);
    // Another file under a used key is a conflict.
    let r = srv
        .gql(
            Some(&bank()),
            IMPORT,
            json!({"kind": "ABNORMAL_OPERATION", "csv": format!("uscc,name,reason,listed_on\n{a},甲公司,案1,2026-03-01\n"), "k": "good-1"}),
        )
        .await;
    assert_eq!(first_code(&r), "CONFLICT");
    // Only the bank imports lists.
    let reg = crate::world::registered(
        &srv,
        crate::world::as_regulator(
            "pty_1",
            &["3201"],
            &[lvyue_domain::principal::Industry::DrivingSchool],
        ),
    )
    .await;
    let r = srv
        .gql(
            Some(&reg),
            IMPORT,
            json!({"kind": "ABNORMAL_OPERATION", "csv": good, "k": "reg-1"}),
        )
        .await;
    assert_eq!(first_code(&r), "FORBIDDEN");
    // A merchant registered afterwards is screened against the imported list.
    let r = TestServer::ok(register(&srv, merchant_input("甲驾校", &a, json!({})), "m-a").await);
    assert_eq!(r["registerMerchant"]["status"], "MANUAL_REVIEW");
}
on_both!(list_imports_are_validated_line_by_line_and_idempotent);
