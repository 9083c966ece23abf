//! Driving schools (驾培, 先培后付): Shenzhen releases 25/15/30/30% at enrolment and on each exam
//! result the training association certifies (a confirmer registered for the scheme, with its
//! own token: the school cannot certify its own learners); Fuzhou releases
//! 10/30/30/30% as the transport bureau approves the training hours. A dropout gets the
//! unreleased remainder less the deduction the regulator approved (at most 20%); when the
//! 3-year learner's permit lapses, the unreleased money goes back by itself.

use serde_json::{Value, json};

use lvyue_domain::principal::{Industry, Role};
use lvyue_domain::testing::Backend;

use super::{
    amount, code_as, column, enrolled, key, ok_as, order_money, paid_order, payer, regulator,
    scheme, the_bank,
};
use crate::harness::TestServer;
use crate::world::{as_party, monday};

fn shenzhen() -> Value {
    json!({
        "milestones": [
            {"name": "报名", "share_bp": 2500, "auto_after_days": 0},
            {"name": "科目一合格", "share_bp": 1500, "confirm_by": ["EVIDENCE"]},
            {"name": "科目二合格", "share_bp": 3000, "confirm_by": ["EVIDENCE"]},
            {"name": "科目三合格", "share_bp": 3000, "confirm_by": ["EVIDENCE"]}
        ],
        "validity_days": 1095,
        "expiry_action": "REFUND",
        "refund": {"deadline_working_days": 15, "max_deduction_bp": 2000, "deduction_needs_regulator": true}
    })
}

fn fuzhou() -> Value {
    json!({
        "milestones": [
            {"name": "入学", "share_bp": 1000, "confirm_by": ["REGULATOR"]},
            {"name": "科目二学时", "share_bp": 3000, "confirm_by": ["REGULATOR"]},
            {"name": "科目三学时", "share_bp": 3000, "confirm_by": ["REGULATOR"]},
            {"name": "结业", "share_bp": 3000, "confirm_by": ["REGULATOR"]}
        ],
        "validity_days": 1095,
        "expiry_action": "REFUND"
    })
}

const MILESTONES: &str =
    "query($id: ID!) { order(id: $id) { expiresAt milestones { shareBp amount status } } }";
const CONFIRM: &str = "mutation($o: ID!, $i: Int!, $as: Confirmer!, $e: String!, $k: String!) { confirmMilestone(order: $o, index: $i, as: $as, evidence: $e, idempotencyKey: $k) { released { amount } order { status released } } }";
const REFUND: &str = "mutation($o: ID!, $d: Decimal, $k: String!) { requestRefund(order: $o, reason: \"学员退学\", deduction: $d, idempotencyKey: $k) { id status deduction } }";

async fn driving_schools_release_by_city_and_refund_dropouts_and_lapsed_permits(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let bank = the_bank();
    let sz_bureau = regulator(
        &srv,
        "深圳市交通运输局",
        &["4403"],
        &[Industry::DrivingSchool],
    )
    .await;
    let sz = scheme(
        &srv,
        "深圳驾培资金监管",
        Industry::DrivingSchool,
        "440300",
        Some(&sz_bureau.id),
        shenzhen(),
    )
    .await;
    let (sz_school, sz_school_p) = enrolled(
        &srv,
        &sz,
        "深圳市某某驾驶培训有限公司",
        "440304",
        Industry::DrivingSchool,
    )
    .await;
    let fz_bureau = regulator(
        &srv,
        "福州市交通运输局",
        &["3501"],
        &[Industry::DrivingSchool],
    )
    .await;
    let fz = scheme(
        &srv,
        "福州驾培资金监管",
        Industry::DrivingSchool,
        "350100",
        Some(&fz_bureau.id),
        fuzhou(),
    )
    .await;
    let (fz_school, _) = enrolled(
        &srv,
        &fz,
        "福州市某某机动车驾驶员培训有限公司",
        "350102",
        Industry::DrivingSchool,
    )
    .await;
    let (learner, learner_p) = payer(&srv, "段誉").await;
    let (dropout, _) = payer(&srv, "乔峰").await;
    let (lapsed, _) = payer(&srv, "虚竹").await;
    let (fz_learner, fz_learner_p) = payer(&srv, "王语嫣").await;
    let a = paid_order(&srv, &sz, &sz_school, &learner, "5000.00").await;
    let d = paid_order(&srv, &sz, &sz_school, &dropout, "5000.00").await;
    let l = paid_order(&srv, &sz, &sz_school, &lapsed, "5000.00").await;
    let f = paid_order(&srv, &fz, &fz_school, &fz_learner, "4000.00").await;

    // The schedules as the policies set them; the permit is valid 1095 days (3 years).
    let o = ok_as(&srv, &learner_p, MILESTONES, json!({"id": a})).await["order"].clone();
    assert_eq!(
        (
            o["milestones"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["shareBp"].as_i64().unwrap())
                .collect::<Vec<_>>(),
            column(&o["milestones"], "amount")
        ),
        (
            vec![2500, 1500, 3000, 3000],
            vec!["1250.00", "750.00", "1500.00", "1500.00"]
        )
    );
    assert!(
        amount(&o["expiresAt"]).starts_with("2029-03-01T02:00:00"),
        "{o}"
    );
    let o = ok_as(&srv, &fz_learner_p, MILESTONES, json!({"id": f})).await["order"].clone();
    assert_eq!(
        column(&o["milestones"], "amount"),
        ["400.00", "1200.00", "1200.00", "1200.00"]
    );

    // T+1: the money settles into escrow and Shenzhen's enrolment share (25%) goes out at once;
    // Fuzhou's first 10% waits for the bureau.
    clock.advance_days(1);
    srv.tick().await;
    for (order, released) in [
        (&a, "1250.00"),
        (&d, "1250.00"),
        (&l, "1250.00"),
        (&f, "0.00"),
    ] {
        let m = order_money(&srv, order).await;
        assert_eq!(
            (amount(&m["inClearing"]), amount(&m["released"])),
            ("0.00", released),
            "{m}"
        );
    }

    // Shenzhen: each exam result the training association certifies releases its tranche. The
    // learner cannot record evidence, the school cannot certify its own learner, nor can
    // evidence come without its reference.
    let association = ok_as(
        &srv,
        &bank,
        "mutation($s: ID!) { registerConfirmer(input: {name: \"深圳市机动车驾驶员培训行业协会\", kind: TRAINING_ASSOCIATION, region: \"440300\", schemes: [$s]}, idempotencyKey: \"sz-assoc\") { id kind } }",
        json!({"s": sz}),
    )
    .await["registerConfirmer"]
        .clone();
    assert_eq!(association["kind"], "CONFIRMER");
    let association_p = as_party(Role::Confirmer, association["id"].as_str().unwrap());
    let exam = |i: i32| json!({"o": a, "i": i, "as": "EVIDENCE", "e": format!("深圳市机动车驾驶员培训行业协会 科目{i}成绩单 SZ2026-{i:04}"), "k": key("exam")});
    for who in [&learner_p, &sz_school_p] {
        assert_eq!(code_as(&srv, who, CONFIRM, exam(1)).await, "FORBIDDEN");
    }
    let mut no_ref = exam(1);
    no_ref["e"] = json!(" ");
    assert_eq!(
        code_as(&srv, &association_p, CONFIRM, no_ref).await,
        "VALIDATION"
    );
    let mut released = vec![];
    for i in 1..4 {
        let r = ok_as(&srv, &association_p, CONFIRM, exam(i)).await;
        released.push(amount(&r["confirmMilestone"]["released"][0]["amount"]).to_owned());
    }
    assert_eq!(released, ["750.00", "1500.00", "1500.00"]);
    let m = order_money(&srv, &a).await;
    assert_eq!(
        (amount(&m["status"]), amount(&m["released"])),
        ("COMPLETED", "5000.00")
    );

    // A dropout after 科目一: 3000.00 unreleased; the school may keep at most 20% of it, and only
    // once the transport bureau approves.
    ok_as(
        &srv,
        &bank,
        CONFIRM,
        json!({"o": d, "i": 1, "as": "EVIDENCE", "e": "协会科目一成绩单 SZ2026-0101", "k": key("exam")}),
    )
    .await;
    assert_eq!(
        code_as(
            &srv,
            &sz_school_p,
            REFUND,
            json!({"o": d, "d": "600.01", "k": key("rf")})
        )
        .await,
        "VALIDATION"
    );
    let r = ok_as(
        &srv,
        &sz_school_p,
        REFUND,
        json!({"o": d, "d": "600.00", "k": key("rf")}),
    )
    .await["requestRefund"]
        .clone();
    assert_eq!(r["status"], "AWAITING_APPROVAL");
    let refund = r["id"].as_str().unwrap().to_owned();
    let approve = "mutation($r: ID!, $k: String!) { approveDeduction(refund: $r, approve: true, idempotencyKey: $k) { status deductionApproved } }";
    assert_eq!(
        code_as(
            &srv,
            &fz_bureau.principal,
            approve,
            json!({"r": refund, "k": key("ap")})
        )
        .await,
        "NOT_FOUND"
    );
    ok_as(
        &srv,
        &sz_bureau.principal,
        approve,
        json!({"r": refund, "k": key("ap")}),
    )
    .await;
    let done = ok_as(
        &srv,
        &bank,
        "mutation($r: ID!, $k: String!) { executeRefund(refund: $r, idempotencyKey: $k) { status amount deduction } }",
        json!({"r": refund, "k": key("x")}),
    )
    .await;
    assert_eq!(
        done["executeRefund"],
        json!({"status": "EXECUTED", "amount": "2400.00", "deduction": "600.00"})
    );
    let m = order_money(&srv, &d).await;
    assert_eq!(
        (
            amount(&m["status"]),
            amount(&m["refunded"]),
            amount(&m["released"]),
            amount(&m["inEscrow"])
        ),
        ("REFUNDED", "2400.00", "2600.00", "0.00")
    );

    // Fuzhou: the transport bureau approves each stage's hours; nobody else may.
    let hours = |i: i32| json!({"o": f, "i": i, "as": "REGULATOR", "e": format!("学时审核 第{i}阶段"), "k": key("hrs")});
    assert_eq!(
        code_as(&srv, &sz_bureau.principal, CONFIRM, hours(0)).await,
        "NOT_FOUND"
    );
    assert_eq!(
        code_as(&srv, &fz_learner_p, CONFIRM, hours(0)).await,
        "FORBIDDEN"
    );
    let mut released = vec![];
    for i in 0..4 {
        let r = ok_as(&srv, &fz_bureau.principal, CONFIRM, hours(i)).await;
        released.push(amount(&r["confirmMilestone"]["released"][0]["amount"]).to_owned());
    }
    assert_eq!(released, ["400.00", "1200.00", "1200.00", "1200.00"]);

    // The lapsed learner: nothing happens the day before the permit's third anniversary; on
    // it, the unreleased 75% goes back by the original route.
    clock.advance_days(1093);
    srv.tick().await;
    assert_eq!(order_money(&srv, &l).await["status"], "ACTIVE");
    clock.advance_days(1);
    srv.tick().await;
    let o = ok_as(
        &srv,
        &bank,
        "query($id: ID!) { order(id: $id) { status refunded released refunds { requestedBy amount status } } }",
        json!({"id": l}),
    )
    .await["order"]
        .clone();
    assert_eq!(
        (
            amount(&o["status"]),
            amount(&o["refunded"]),
            amount(&o["released"])
        ),
        ("REFUNDED", "3750.00", "1250.00")
    );
    assert_eq!(
        o["refunds"],
        json!([{"requestedBy": "EXPIRY", "amount": "3750.00", "status": "EXECUTED"}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driving_schools_release_by_city_and_refund_dropouts_and_lapsed_permits_sqlite() {
    driving_schools_release_by_city_and_refund_dropouts_and_lapsed_permits(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn driving_schools_release_by_city_and_refund_dropouts_and_lapsed_permits_postgres() {
    driving_schools_release_by_city_and_refund_dropouts_and_lapsed_permits(Backend::Postgres).await;
}
