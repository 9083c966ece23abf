//! Alerts (docs/domain.md, "Checks on merchants"): each trigger fired through the
//! public interfaces, each alert seen in `alerts` and pushed over the `alerts` subscription to
//! the bank and to exactly the regulators whose regions and industries it falls in; and the
//! handling of an alert, open → acknowledged → resolved, with who and when.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use lvyue_domain::principal::{Industry, Principal};
use lvyue_domain::testing::Backend;

use super::{AlertFeed, alerts_of, events_of, ok, on_both, paid, start};
use crate::harness::{TestServer, bank, first_code};
use crate::world::{World, as_regulator, bank_do, driving_school, monday, register_merchant};

/// Large (over 50% of escrow), frequent (over 3× the 30-day average) releases, and custody
/// with a warning line at 100.00 that raises the ratio from 10% to 20%.
fn watched_policy() -> Value {
    json!({
        "milestones": [
            {"name": "报名", "share_bp": 6000, "auto_after_days": 0},
            {"name": "结业", "share_bp": 4000, "confirm_by": ["EVIDENCE"]}
        ],
        "large_release_bp": 5000,
        "large_release_multiple": 3,
        "custody": {"reference": "OUTSTANDING_PREPAID", "ratio_bp": 1000,
            "warning_lines": [{"when": {"BALANCE_OVER": "100.00"}, "ratio_bp": 2000}]}
    })
}

/// Orders valid 10 days (a deadline alert 3 days before), handed to the regulator at expiry.
fn escalating_policy() -> Value {
    json!({
        "milestones": [
            {"name": "报名", "share_bp": 2500, "auto_after_days": 0},
            {"name": "结业", "share_bp": 7500, "confirm_by": ["EVIDENCE"]}
        ],
        "validity_days": 10,
        "expiry_notice_days": 3,
        "expiry_action": "ESCALATE"
    })
}

/// Half of last quarter's balance stays in custody; nothing is released without evidence.
fn quarter_custody_policy() -> Value {
    json!({
        "milestones": [{"name": "结业", "share_bp": 10000, "confirm_by": ["EVIDENCE"]}],
        "custody": {"reference": "PREVIOUS_QUARTER_PREPAID", "ratio_bp": 5000}
    })
}

/// Housing vouchers valid two months, with a deadline alert 30 days before.
fn voucher_policy() -> Value {
    json!({
        "milestones": [
            {"name": "签约", "share_bp": 3000, "auto_after_days": 0},
            {"name": "交房", "share_bp": 7000, "confirm_by": ["PAYER"]}
        ],
        "voucher": {"validity_months": 2, "expiry_notice_days": 30}
    })
}

async fn scheme(
    srv: &TestServer,
    w: &World,
    code: &str,
    industry: &str,
    region: &str,
    regulator: Option<&str>,
    policy: Value,
) -> String {
    bank_do(
        srv,
        "mutation($i: CreateSchemeInput!, $k: String!) { createScheme(input: $i, idempotencyKey: $k) { id } }",
        json!({"k": w.key("scheme"), "i": {"code": code, "name": code, "industry": industry, "region": region, "regulator": regulator, "policy": policy}}),
    )
    .await["createScheme"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn enroll(srv: &TestServer, w: &World, scheme: &str, merchant: &str) {
    bank_do(
        srv,
        "mutation($s: ID!, $m: ID!, $k: String!) { enrollMerchant(scheme: $s, merchant: $m, settlementAccountNumber: \"6222000011113333\", idempotencyKey: $k) { id } }",
        json!({"s": scheme, "m": merchant, "k": w.key("enroll")}),
    )
    .await;
}

async fn regulator(
    srv: &TestServer,
    w: &World,
    name: &str,
    region: &str,
    industry: &str,
) -> String {
    bank_do(
        srv,
        "mutation($i: RegisterRegulatorInput!, $k: String!) { registerRegulator(input: $i, idempotencyKey: $k) { id } }",
        json!({"k": w.key("reg"), "i": {"name": name, "regions": [region], "industries": [industry]}}),
    )
    .await["registerRegulator"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn set_status(srv: &TestServer, who: &Principal, w: &World, merchant: &str, status: &str) {
    ok(
        srv,
        who,
        "mutation($m: ID!, $s: PartyStatus!, $k: String!) { setMerchantStatus(merchant: $m, status: $s, reason: \"检查\", idempotencyKey: $k) { status } }",
        json!({"m": merchant, "s": status, "k": w.key("status")}),
    )
    .await;
}

fn kinds(alerts: &[Value]) -> BTreeSet<String> {
    alerts
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// Reads as many alerts from `feed` as `expected` holds; they must be the same alerts in the
/// same order. `expected` ends with an alert raised after every other of the test, so an alert
/// pushed to a subscriber it is not for would show up before it and break the sequence.
async fn feed_matches(feed: &mut AlertFeed, expected: &[Value], who: &str) {
    for (i, want) in expected.iter().enumerate() {
        let got = feed.next_alert().await;
        assert_eq!(
            (&got["id"], &got["kind"]),
            (&want["id"], &want["kind"]),
            "{who}: alert {i} pushed differs from the list"
        );
    }
}

async fn every_alert_trigger_reaches_the_bank_and_only_the_regulators_in_scope(backend: Backend) {
    let Some((srv, clock)) = start(backend, |_| {}).await else {
        return;
    };
    // Nanjing driving schools (R1, the world's regulator): M1 in three schemes, M3 in S1.
    let w = driving_school(&srv, watched_policy()).await;
    let r1 = w.regulator_principal();
    let m1 = w.merchant.clone();
    let s1 = w.scheme.clone();
    let s2 = scheme(
        &srv,
        &w,
        "NJ-JP-ESC",
        "DRIVING_SCHOOL",
        "320100",
        Some(&w.regulator),
        escalating_policy(),
    )
    .await;
    let s3 = scheme(
        &srv,
        &w,
        "NJ-JP-Q",
        "DRIVING_SCHOOL",
        "320100",
        Some(&w.regulator),
        quarter_custody_policy(),
    )
    .await;
    enroll(&srv, &w, &s2, &m1).await;
    enroll(&srv, &w, &s3, &m1).await;
    let m3 = register_merchant(
        &srv,
        "南京某某驾培中心",
        "91320102MA1CL7001",
        "320104",
        "DRIVING_SCHOOL",
        "m-3",
    )
    .await;
    enroll(&srv, &w, &s1, &m3).await;
    // Suzhou driving schools (R2): M2.
    let r2_id = regulator(&srv, &w, "苏州市交通运输局", "3205", "DRIVING_SCHOOL").await;
    let r2 = as_regulator(&r2_id, &["3205"], &[Industry::DrivingSchool]);
    let m2 = register_merchant(
        &srv,
        "苏州某某驾校",
        "91320508MA1UW0001",
        "320508",
        "DRIVING_SCHOOL",
        "m-2",
    )
    .await;
    // Nanjing housing vouchers (R3, the bureau): developer D1, a voucher for the payer.
    let r3_id = regulator(
        &srv,
        &w,
        "南京市住房保障和房产局",
        "3201",
        "HOUSING_VOUCHER",
    )
    .await;
    let r3 = as_regulator(&r3_id, &["3201"], &[Industry::HousingVoucher]);
    let s5 = scheme(
        &srv,
        &w,
        "NJ-FP",
        "HOUSING_VOUCHER",
        "320100",
        Some(&r3_id),
        voucher_policy(),
    )
    .await;
    let d1 = register_merchant(
        &srv,
        "南京某某置业有限公司",
        "91320102MA1FDC001",
        "320102",
        "HOUSING_VOUCHER",
        "dev-1",
    )
    .await;
    enroll(&srv, &w, &s5, &d1).await;
    let project = ok(
        &srv,
        &r3,
        "mutation($s: ID!, $k: String!) { createVoucherProject(input: {scheme: $s, name: \"玄武区某某片区征收项目\"}, idempotencyKey: $k) { id } }",
        json!({"s": s5, "k": w.key("project")}),
    )
    .await["createVoucherProject"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    bank_do(
        &srv,
        "mutation($p: ID!, $k: String!) { fundVoucherProject(project: $p, amount: \"100000.00\", reference: \"财政拨付2026-001\", idempotencyKey: $k) { __typename } }",
        json!({"p": project, "k": w.key("fund")}),
    )
    .await;
    ok(
        &srv,
        &r3,
        "mutation($p: ID!, $h: ID!, $k: String!) { issueVoucher(project: $p, holder: $h, amount: \"50000.00\", idempotencyKey: $k) { id } }",
        json!({"p": project, "h": w.payer, "k": w.key("voucher")}),
    )
    .await;

    // Everyone watches from here on.
    let before: BTreeSet<String> = alerts_of(&srv, &bank())
        .await
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    let mut feeds = Vec::new();
    for (name, who) in [
        ("bank", bank()),
        ("R1", r1.clone()),
        ("R2", r2.clone()),
        ("R3", r3.clone()),
    ] {
        feeds.push((name, who.clone(), AlertFeed::open(&srv, &who).await));
    }

    // Day 0: orders paid in each driving scheme.
    let o1 = paid(&srv, &w, &s1, &m1, "1000.00").await;
    let o2 = paid(&srv, &w, &s2, &m1, "1000.00").await;
    let o3 = paid(&srv, &w, &s3, &m1, "1000.00").await;
    // Day 1: settled; O1's first tranche (600.00 of 1,000.00 in escrow) is large, frequent, and
    // leaves 400.00, over the 100.00 warning line.
    clock.advance_days(1);
    srv.tick().await;
    let o = ok(
        &srv,
        &bank(),
        "query($o: ID!) { order(id: $o) { released } }",
        json!({"o": o1}),
    )
    .await;
    assert_eq!(o["order"]["released"], "600.00");
    // Day 8: O2's validity ends in 3 days with 750.00 still waiting: R1 is told.
    clock.advance_days(7);
    srv.tick().await;
    let near: Vec<Value> = alerts_of(&srv, &r1)
        .await
        .into_iter()
        .filter(|a| a["kind"] == "DEADLINE_NEAR")
        .collect();
    assert_eq!(near.len(), 1, "{near:?}");
    assert_eq!(near[0]["orderId"], o2.as_str());
    assert_eq!(near[0]["industry"], "DRIVING_SCHOOL");
    // Day 11: O2 expires with money unreleased and goes to the regulator, who releases it
    // although the evidence never came: a release ahead of delivery.
    clock.advance_days(3);
    srv.tick().await;
    let o = ok(
        &srv,
        &r1,
        "query($o: ID!) { order(id: $o) { status } }",
        json!({"o": o2}),
    )
    .await;
    assert_eq!(o["order"]["status"], "ESCALATED");
    ok(
        &srv,
        &r1,
        "mutation($o: ID!) { resolveEscalation(order: $o, release: true, note: \"学员已结业\", idempotencyKey: \"esc-1\") { status } }",
        json!({"o": o2}),
    )
    .await;
    // Day 32 (2026-04-03), a new quarter: the voucher's deadline is 30 days away; a court
    // deducts 600.00 of O3, leaving 400.00 where half of last quarter's 1,000.00 is required.
    clock.advance_days(21);
    srv.tick().await;
    let hold = ok(
        &srv,
        &bank(),
        "mutation($o: ID!, $c: ID!) { courtFreeze(order: $o, amount: \"600.00\", caseNo: \"(2026)苏0102执5号\", court: $c, idempotencyKey: \"f-1\") { id } }",
        json!({"o": o3, "c": w.court}),
    )
    .await["courtFreeze"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    bank_do(
        &srv,
        "mutation($h: ID!, $c: ID!) { courtDeduct(hold: $h, amount: \"600.00\", court: $c, idempotencyKey: \"d-1\") { status } }",
        json!({"h": hold, "c": w.court}),
    )
    .await;
    // A statement line the ledger does not know; M3 closes down; R1 suspends M1.
    let rec = bank_do(
        &srv,
        "mutation { importStatement(channel: WECHAT_PAY, date: \"2026-03-01\", csv: \"reference,amount\\nnot-ours-1,1.00\\n\", idempotencyKey: \"st-1\") { breaks { status } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        rec["importStatement"]["breaks"][0]["status"],
        "MISSING_IN_LEDGER"
    );
    bank_do(
        &srv,
        "mutation($m: ID!, $s: ID!) { startClosingDown(merchant: $m, scheme: $s, reason: \"经营者停业\", idempotencyKey: \"close-1\") { merchantId } }",
        json!({"m": m3, "s": s1}),
    )
    .await;
    set_status(&srv, &r1, &w, &m1, "SUSPENDED").await;
    // Last, one alert in each regulator's scope: M2 and D1 suspended, M1 reinstated.
    set_status(&srv, &bank(), &w, &m2, "SUSPENDED").await;
    set_status(&srv, &bank(), &w, &d1, "SUSPENDED").await;
    set_status(&srv, &bank(), &w, &m1, "ACTIVE").await;

    let all = alerts_of(&srv, &bank()).await;
    let of = |m: &str| -> Vec<&Value> { all.iter().filter(|a| a["merchantId"] == m).collect() };
    let kinds_of_m1: BTreeSet<&str> = of(&m1)
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    for k in [
        "LARGE_RELEASE",
        "FREQUENT_RELEASES",
        "WARNING_LINE_CROSSED",
        "ORDER_ESCALATED",
        "RELEASE_AHEAD_OF_DELIVERY",
        "CUSTODY_SHORTFALL",
        "MERCHANT_STATUS_CHANGED",
        "DEADLINE_NEAR",
    ] {
        assert!(kinds_of_m1.contains(k), "{k} not raised: {kinds_of_m1:?}");
    }
    let by_kind = |k: &str| {
        all.iter()
            .find(|a| a["kind"] == k)
            .unwrap_or_else(|| panic!("no {k}"))
    };
    assert_eq!(by_kind("CUSTODY_SHORTFALL")["severity"], "CRITICAL");
    assert_eq!(by_kind("CUSTODY_SHORTFALL")["orderId"], o3.as_str());
    assert_eq!(by_kind("LARGE_RELEASE")["orderId"], o1.as_str());
    assert_eq!(by_kind("RELEASE_AHEAD_OF_DELIVERY")["orderId"], o2.as_str());
    assert_eq!(by_kind("CLOSING_DOWN")["merchantId"], m3.as_str());
    assert_eq!(by_kind("CLOSING_DOWN")["severity"], "CRITICAL");
    let deadline_industries: BTreeSet<&str> = all
        .iter()
        .filter(|a| a["kind"] == "DEADLINE_NEAR")
        .map(|a| a["industry"].as_str().unwrap())
        .collect();
    assert_eq!(
        deadline_industries,
        BTreeSet::from(["DRIVING_SCHOOL", "HOUSING_VOUCHER"])
    );
    assert_eq!(by_kind("RECONCILIATION_BREAK")["region"], Value::Null);

    // Each regulator sees what is in its scope, nothing else; the bank sees everything.
    let seen_r1 = alerts_of(&srv, &r1).await;
    let seen_r2 = alerts_of(&srv, &r2).await;
    let seen_r3 = alerts_of(&srv, &r3).await;
    let r1_kinds = kinds(&seen_r1);
    assert!(
        !r1_kinds.contains("RECONCILIATION_BREAK"),
        "R1 sees a break"
    );
    assert!(
        seen_r1
            .iter()
            .filter(|a| a["kind"] == "DEADLINE_NEAR")
            .all(|a| a["industry"] == "DRIVING_SCHOOL"),
        "R1 sees a voucher deadline"
    );
    assert!(r1_kinds.contains("CLOSING_DOWN") && r1_kinds.contains("CUSTODY_SHORTFALL"));
    assert!(
        seen_r1
            .iter()
            .all(|a| a["merchantId"] == m1.as_str() || a["merchantId"] == m3.as_str())
    );
    assert_eq!(
        seen_r2
            .iter()
            .map(|a| (a["kind"].clone(), a["merchantId"].clone()))
            .collect::<Vec<_>>(),
        [(json!("MERCHANT_STATUS_CHANGED"), json!(m2))]
    );
    assert_eq!(
        seen_r3
            .iter()
            .map(|a| a["kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["DEADLINE_NEAR", "MERCHANT_STATUS_CHANGED"]
    );
    assert!(kinds(&all).contains("RECONCILIATION_BREAK"));
    let out_of_scope = srv
        .gql(
            Some(&r2),
            "query($o: ID!) { order(id: $o) { id } }",
            json!({"o": o1}),
        )
        .await;
    assert_eq!(first_code(&out_of_scope), "NOT_FOUND");

    // The subscription pushed each subscriber exactly its list, in order.
    for (name, who, feed) in &mut feeds {
        let expected: Vec<Value> = alerts_of(&srv, who)
            .await
            .into_iter()
            .filter(|a| !before.contains(a["id"].as_str().unwrap()))
            .collect();
        feed_matches(feed, &expected, name).await;
    }
}
on_both!(every_alert_trigger_reaches_the_bank_and_only_the_regulators_in_scope);

async fn an_alert_is_acknowledged_then_resolved_by_whom_and_when(backend: Backend) {
    let Some((srv, clock)) = start(backend, |_| {}).await else {
        return;
    };
    let w = driving_school(&srv, watched_policy()).await;
    let r1 = w.regulator_principal();
    set_status(&srv, &r1, &w, &w.merchant, "SUSPENDED").await;
    let alert = alerts_of(&srv, &r1).await.pop().unwrap();
    assert_eq!(
        (&alert["kind"], &alert["severity"], &alert["status"]),
        (
            &json!("MERCHANT_STATUS_CHANGED"),
            &json!("CRITICAL"),
            &json!("OPEN")
        )
    );
    let id = alert["id"].as_str().unwrap();
    let handle = "mutation($a: ID!, $to: AlertStatus!, $k: String!) { handleAlert(alert: $a, to: $to, note: \"已电话核实\", idempotencyKey: $k) { status acknowledgedBy acknowledgedAt resolvedBy resolvedAt } }";

    // Not the merchant's to handle (suspended, its token is not honoured at all), nor another
    // regulator's to see.
    let r = srv
        .gql(
            Some(&w.merchant_principal()),
            handle,
            json!({"a": id, "to": "ACKNOWLEDGED", "k": "h-0"}),
        )
        .await;
    assert_eq!(first_code(&r), "UNAUTHENTICATED");
    let suzhou = as_regulator(&w.regulator, &["3205"], &[Industry::DrivingSchool]);
    let r = srv
        .gql(
            Some(&suzhou),
            handle,
            json!({"a": id, "to": "ACKNOWLEDGED", "k": "h-0"}),
        )
        .await;
    assert_eq!(first_code(&r), "NOT_FOUND");

    let acked = ok(
        &srv,
        &r1,
        handle,
        json!({"a": id, "to": "ACKNOWLEDGED", "k": "h-1"}),
    )
    .await;
    assert_eq!(
        acked["handleAlert"],
        json!({"status": "ACKNOWLEDGED", "acknowledgedBy": r1.subject, "acknowledgedAt": monday().to_utc().to_rfc3339(), "resolvedBy": null, "resolvedAt": null})
    );
    clock.advance_seconds(3600);
    let resolved = ok(
        &srv,
        &bank(),
        handle,
        json!({"a": id, "to": "RESOLVED", "k": "h-2"}),
    )
    .await;
    assert_eq!(
        resolved["handleAlert"],
        json!({"status": "RESOLVED", "acknowledgedBy": r1.subject, "acknowledgedAt": monday().to_utc().to_rfc3339(),
            "resolvedBy": bank().subject, "resolvedAt": monday().plus_seconds(3600).to_utc().to_rfc3339()})
    );
    // Resolved is final.
    let r = srv
        .gql(
            Some(&r1),
            handle,
            json!({"a": id, "to": "ACKNOWLEDGED", "k": "h-3"}),
        )
        .await;
    assert_eq!(first_code(&r), "INVALID_STATE");
    // Listed by state, and each step is on the record.
    assert_eq!(count_by_status(&srv, &r1, "OPEN").await, 0);
    assert_eq!(count_by_status(&srv, &r1, "RESOLVED").await, 1);
    let handled = events_of(&srv, "alert.handled").await;
    assert_eq!(
        handled
            .iter()
            .map(|e| (e["data"]["to"].clone(), e["data"]["by"].clone()))
            .collect::<Vec<_>>(),
        [
            (json!("ACKNOWLEDGED"), json!(r1.subject)),
            (json!("RESOLVED"), json!(bank().subject))
        ]
    );
}
on_both!(an_alert_is_acknowledged_then_resolved_by_whom_and_when);

async fn count_by_status(srv: &TestServer, who: &Principal, status: &str) -> usize {
    let d = ok(
        srv,
        who,
        "query($s: AlertStatus) { alerts(status: $s) { edges { node { id } } } }",
        json!({"s": status}),
    )
    .await;
    d["alerts"]["edges"].as_array().map_or(0, Vec::len)
}
