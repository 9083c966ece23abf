//! School canteens (阳光食堂): parents pay a term's meal fees, released a month's share each
//! month; the canteen never draws its money freely — a supplier is paid only once the school and
//! the education bureau approved the purchase; unused meals are refunded within 15 working days,
//! and the refund-SLA view shows how each deadline was kept.

use serde_json::{Value, json};

use lvyue_domain::principal::Industry;
use lvyue_domain::testing::Backend;

use super::{
    amount, code_as, enrolled, key, nodes, ok_as, order_money, paid_order, payable, payer,
    regulator, scheme, the_bank,
};
use crate::harness::TestServer;
use crate::world::monday;

/// A spring term of four months, each released 30 days after the one before; refunds within
/// 15 working days; purchases need the school and the education bureau.
fn term_policy() -> Value {
    json!({
        "milestones": [
            {"name": "三月餐费", "share_bp": 2500, "auto_after_days": 30},
            {"name": "四月餐费", "share_bp": 2500, "auto_after_days": 30},
            {"name": "五月餐费", "share_bp": 2500, "auto_after_days": 30},
            {"name": "六月餐费", "share_bp": 2500, "auto_after_days": 30}
        ],
        "refund": {"deadline_working_days": 15},
        "purchase": {"approvals": ["SCHOOL", "EDUCATION_BUREAU"]}
    })
}

const PURCHASE: &str = "mutation($i: RequestPurchaseInput!, $k: String!) { requestPurchase(input: $i, idempotencyKey: $k) { id status approvalsNeeded amount } }";
const APPROVE: &str = "mutation($p: ID!, $a: Boolean!, $n: String!, $k: String!) { approvePurchase(purchase: $p, approve: $a, note: $n, idempotencyKey: $k) { status schoolApproved bureauApproved note entryId } }";
const SLA: &str = "query($f: RefundSlaFilterInput) { refundSla(filter: $f) { edges { node { orderId status amount dueAt executedAt workingDaysAllowed workingDaysTaken overdue merchant { name } } } } }";

async fn canteens_collect_term_fees_pay_suppliers_on_approval_and_refund_on_time(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let bank = the_bank();
    let bureau = regulator(&srv, "南京市教育局", &["3201"], &[Industry::Canteen]).await;
    let school = regulator(
        &srv,
        "南京市玄武区某某小学",
        &["320102"],
        &[Industry::Canteen],
    )
    .await;
    let other_school = regulator(
        &srv,
        "南京市秦淮区某某小学",
        &["320104"],
        &[Industry::Canteen],
    )
    .await;
    let scheme = scheme(
        &srv,
        "南京阳光食堂资金监管",
        Industry::Canteen,
        "320100",
        Some(&bureau.id),
        term_policy(),
    )
    .await;
    let (canteen, me) = enrolled(
        &srv,
        &scheme,
        "南京某某餐饮管理有限公司",
        "320102",
        Industry::Canteen,
    )
    .await;
    // The bank names the school the canteen serves; it must not be the bureau itself.
    assert_eq!(
        code_as(
            &srv,
            &bank,
            "mutation($m: ID!, $s: ID!, $sc: ID!, $k: String!) { assignCanteenSchool(merchant: $m, scheme: $s, school: $sc, idempotencyKey: $k) { assignedAt } }",
            json!({"m": canteen, "s": scheme, "sc": bureau.id, "k": key("as")}),
        )
        .await,
        "VALIDATION"
    );
    let a = ok_as(
        &srv,
        &bank,
        "mutation($m: ID!, $s: ID!, $sc: ID!, $k: String!) { assignCanteenSchool(merchant: $m, scheme: $s, school: $sc, idempotencyKey: $k) { school { id name } } }",
        json!({"m": canteen, "s": scheme, "sc": school.id, "k": key("as")}),
    )
    .await;
    assert_eq!(a["assignCanteenSchool"]["school"]["id"], json!(school.id));
    let seen = ok_as(
        &srv,
        &me,
        "query($m: ID!, $s: ID!) { canteenSchool(merchant: $m, scheme: $s) { name } }",
        json!({"m": canteen, "s": scheme}),
    )
    .await;
    assert_eq!(seen["canteenSchool"]["name"], "南京市玄武区某某小学");

    // Four families pay the spring term's meal fees (1800.00: 450.00 a month).
    let mut families = vec![];
    for name in ["李家长", "张家长", "转学学生家长", "请长假学生家长"] {
        let (id, p) = payer(&srv, name).await;
        let order = paid_order(&srv, &scheme, &canteen, &id, "1800.00").await;
        families.push((order, p));
    }

    // Tuesday 03-03: two ask for their unused meal fees back; due 15 working days later.
    clock.advance_days(1);
    srv.tick().await;
    let mut refunds = vec![];
    for (order, p) in &families[2..] {
        let r = ok_as(
            &srv,
            p,
            "mutation($o: ID!, $k: String!) { requestRefund(order: $o, reason: \"转学，退还未就餐费用\", idempotencyKey: $k) { id status dueAt } }",
            json!({"o": order, "k": key("rf")}),
        )
        .await["requestRefund"]
            .clone();
        assert_eq!(r["status"], "REQUESTED");
        // 15 working days after Tuesday 03-03 is Tuesday 03-24, to its last moment.
        assert!(
            amount(&r["dueAt"]).starts_with("2026-03-24T15:59:59"),
            "{r}"
        );
        refunds.push(r["id"].as_str().unwrap().to_owned());
    }
    // Tuesday 03-10, five working days later, the canteen refunds the first in full.
    clock.advance_days(7);
    srv.tick().await;
    let done = ok_as(
        &srv,
        &me,
        "mutation($r: ID!, $k: String!) { executeRefund(refund: $r, idempotencyKey: $k) { status amount } }",
        json!({"r": refunds[0], "k": key("x")}),
    )
    .await;
    assert_eq!(
        done["executeRefund"],
        json!({"status": "EXECUTED", "amount": "1800.00"})
    );
    // Wednesday 03-25: the second is past its deadline; the bureau is alerted.
    clock.advance_days(15);
    srv.tick().await;
    let alerts = ok_as(
        &srv,
        &bureau.principal,
        "{ alerts(first: 50) { edges { node { kind orderId } } } }",
        json!({}),
    )
    .await;
    let overdue: Vec<Value> = nodes(&alerts["alerts"])
        .into_iter()
        .filter(|a| a["kind"] == "REFUND_OVERDUE")
        .collect();
    assert_eq!(overdue.len(), 1, "{alerts}");
    assert_eq!(overdue[0]["orderId"], json!(families[3].0));

    // The refund-SLA view: 15 working days allowed; 5 taken, on time; 16 and counting, late.
    let filter = json!({"f": {"scheme": scheme}});
    let rows = nodes(&ok_as(&srv, &bureau.principal, SLA, filter.clone()).await["refundSla"]);
    assert_eq!(rows.len(), 2);
    let row = |order: &str| {
        rows.iter()
            .find(|r| r["orderId"] == order)
            .cloned()
            .unwrap_or_default()
    };
    let (on_time, late) = (row(&families[2].0), row(&families[3].0));
    assert_eq!(
        (
            &on_time["workingDaysAllowed"],
            &on_time["workingDaysTaken"],
            &on_time["overdue"],
            &on_time["amount"]
        ),
        (&json!(15), &json!(5), &json!(false), &json!("1800.00"))
    );
    assert_eq!(on_time["merchant"]["name"], "南京某某餐饮管理有限公司");
    assert_eq!(
        (
            &late["status"],
            &late["workingDaysTaken"],
            &late["overdue"],
            &late["executedAt"]
        ),
        (&json!("REQUESTED"), &json!(16), &json!(true), &Value::Null)
    );
    // Executed late, it stays overdue; a parent sees only its own; another school nothing.
    ok_as(
        &srv,
        &bank,
        "mutation($r: ID!, $k: String!) { executeRefund(refund: $r, idempotencyKey: $k) { status } }",
        json!({"r": refunds[1], "k": key("x")}),
    )
    .await;
    let late = nodes(
        &ok_as(
            &srv,
            &bank,
            SLA,
            json!({"f": {"scheme": scheme, "overdueOnly": true}}),
        )
        .await["refundSla"],
    );
    assert_eq!(late.len(), 1);
    assert_eq!(
        (&late[0]["orderId"], &late[0]["overdue"]),
        (&json!(families[3].0), &json!(true))
    );
    assert_eq!(
        nodes(&ok_as(&srv, &families[2].1, SLA, filter.clone()).await["refundSla"]).len(),
        1
    );
    assert_eq!(
        nodes(&ok_as(&srv, &other_school.principal, SLA, filter.clone()).await["refundSla"]).len(),
        0
    );

    // Day 30: the first month of the two remaining terms is released (25% each).
    clock.advance_days(7);
    srv.tick().await;
    for (order, _) in &families[..2] {
        assert_eq!(
            amount(&order_money(&srv, order).await["released"]),
            "450.00"
        );
    }
    assert_eq!(payable(&srv, &canteen, &scheme).await, "900.00");

    // A pupil off sick for six days: 60.00 of the term back, and the term goes on.
    let part = ok_as(
        &srv,
        &families[0].1,
        "mutation($o: ID!, $k: String!) { requestRefund(order: $o, reason: \"病假六天\", amount: \"60.00\", idempotencyKey: $k) { id requestedAmount } }",
        json!({"o": families[0].0, "k": key("rf")}),
    )
    .await["requestRefund"]
        .clone();
    assert_eq!(part["requestedAmount"], "60.00");
    let done = ok_as(
        &srv,
        &me,
        "mutation($r: ID!, $k: String!) { executeRefund(refund: $r, idempotencyKey: $k) { status amount } }",
        json!({"r": part["id"], "k": key("x")}),
    )
    .await;
    assert_eq!(
        done["executeRefund"],
        json!({"status": "EXECUTED", "amount": "60.00"})
    );
    let money = order_money(&srv, &families[0].0).await;
    assert_eq!(
        (
            amount(&money["status"]),
            amount(&money["refunded"]),
            amount(&money["inEscrow"])
        ),
        ("ACTIVE", "60.00", "1290.00")
    );

    // No free cash: a payout of the payable is refused.
    assert_eq!(
        code_as(
            &srv,
            &me,
            "mutation($m: ID!, $s: ID!, $k: String!) { requestPayout(merchant: $m, scheme: $s, amount: \"100.00\", idempotencyKey: $k) { id } }",
            json!({"m": canteen, "s": scheme, "k": key("po")}),
        )
        .await,
        "INVALID_STATE"
    );
    // Purchases reserve the payable while they wait.
    let purchase = |amount: &str, invoice: &str| {
        json!({"k": key("pur"), "i": {"merchant": canteen, "scheme": scheme, "supplierName": "南京某某蔬菜配送有限公司",
            "supplierAccount": "3201-0000-1234-5678", "amount": amount, "invoiceRef": invoice}})
    };
    let veg =
        ok_as(&srv, &me, PURCHASE, purchase("800.00", "INV-2026-0401")).await["requestPurchase"]
            .clone();
    assert_eq!(
        (&veg["status"], &veg["approvalsNeeded"]),
        (&json!("PENDING"), &json!(["SCHOOL", "EDUCATION_BUREAU"]))
    );
    assert_eq!(
        code_as(&srv, &me, PURCHASE, purchase("100.01", "INV-2026-0402")).await,
        "INSUFFICIENT_FUNDS"
    );
    let rice =
        ok_as(&srv, &me, PURCHASE, purchase("100.00", "INV-2026-0402")).await["requestPurchase"]
            .clone();
    let decide = |p: &Value, yes: bool, note: &str| json!({"p": p["id"], "a": yes, "n": note, "k": key("dec")});
    // The school alone pays nothing; another school, the canteen, the bank cannot decide.
    let p = ok_as(
        &srv,
        &school.principal,
        APPROVE,
        decide(&veg, true, "菜品已验收"),
    )
    .await["approvePurchase"]
        .clone();
    assert_eq!(
        (&p["status"], &p["schoolApproved"], &p["bureauApproved"]),
        (&json!("PENDING"), &json!(true), &Value::Null)
    );
    assert_eq!(payable(&srv, &canteen, &scheme).await, "900.00");
    assert_eq!(
        code_as(
            &srv,
            &other_school.principal,
            APPROVE,
            decide(&veg, true, "")
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        code_as(&srv, &me, APPROVE, decide(&veg, true, "")).await,
        "FORBIDDEN"
    );
    assert_eq!(
        code_as(&srv, &bank, APPROVE, decide(&veg, true, "")).await,
        "FORBIDDEN"
    );
    // The bureau's approval completes it: the bank pays the supplier from the payable.
    let p = ok_as(
        &srv,
        &bureau.principal,
        APPROVE,
        decide(&veg, true, "价格与合同一致"),
    )
    .await["approvePurchase"]
        .clone();
    assert_eq!(p["status"], "PAID");
    assert!(p["entryId"].is_string(), "{p}");
    assert!(amount(&p["note"]).contains("价格与合同一致"), "{p}");
    assert_eq!(payable(&srv, &canteen, &scheme).await, "100.00");
    // A rejection ends a purchase and frees what it reserved.
    let p = ok_as(
        &srv,
        &bureau.principal,
        APPROVE,
        decide(&rice, false, "无发票原件"),
    )
    .await["approvePurchase"]
        .clone();
    assert_eq!(p["status"], "REJECTED");
    assert_eq!(payable(&srv, &canteen, &scheme).await, "100.00");
    // The school and the bureau see the canteen's purchases; another school none.
    let list = "query($f: PurchaseFilterInput) { purchases(filter: $f) { edges { node { status supplierName school { name } } } } }";
    for (who, n) in [
        (&school.principal, 2),
        (&bureau.principal, 2),
        (&me, 2),
        (&other_school.principal, 0),
    ] {
        assert_eq!(
            nodes(&ok_as(&srv, who, list, json!({})).await["purchases"]).len(),
            n
        );
    }
    let paid = nodes(
        &ok_as(
            &srv,
            &bureau.principal,
            list,
            json!({"f": {"status": "PAID"}}),
        )
        .await["purchases"],
    );
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0]["school"]["name"], "南京市玄武区某某小学");

    // Months two to four: the terms complete (the sick pupil's June fee 60.00 short).
    for _ in 0..3 {
        clock.advance_days(30);
        srv.tick().await;
    }
    for ((order, _), released) in families[..2].iter().zip(["1740.00", "1800.00"]) {
        let m = order_money(&srv, order).await;
        assert_eq!(
            (amount(&m["status"]), amount(&m["released"])),
            ("COMPLETED", released)
        );
    }
    assert_eq!(payable(&srv, &canteen, &scheme).await, "2740.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canteens_collect_term_fees_pay_suppliers_on_approval_and_refund_on_time_sqlite() {
    canteens_collect_term_fees_pay_suppliers_on_approval_and_refund_on_time(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canteens_collect_term_fees_pay_suppliers_on_approval_and_refund_on_time_postgres() {
    canteens_collect_term_fees_pay_suppliers_on_approval_and_refund_on_time(Backend::Postgres)
        .await;
}

/// Meal fees paid month by month (按周期缴费, `payment.staged`): the term runs from the first
/// month's payment, and each month's share goes out when its time comes only if its money is in.
async fn monthly_instalments_release_each_month_once_it_is_paid(backend: Backend) {
    let Some((srv, clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let bureau = regulator(&srv, "南京市教育局", &["3201"], &[Industry::Canteen]).await;
    let mut policy = term_policy();
    policy["payment"] = json!({"staged": true});
    let scheme = scheme(
        &srv,
        "南京阳光食堂按月缴费",
        Industry::Canteen,
        "320100",
        Some(&bureau.id),
        policy,
    )
    .await;
    let (canteen, _) = enrolled(
        &srv,
        &scheme,
        "南京某某餐饮管理有限公司",
        "320102",
        Industry::Canteen,
    )
    .await;
    let (pupil, _) = payer(&srv, "王小明家长").await;
    let bank = the_bank();
    let order = ok_as(
        &srv,
        &bank,
        "mutation($i: OpenOrderInput!, $k: String!) { openOrder(input: $i, idempotencyKey: $k) { id } }",
        json!({"k": key("open"), "i": {"scheme": scheme, "merchant": canteen, "payer": pupil, "total": "2000.00"}}),
    )
    .await["openOrder"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let collect = |amount: &str| json!({"k": key("collect"), "i": {"order": order, "channel": "WECHAT_PAY", "amount": amount, "externalRef": key("wx")}});
    const COLLECT: &str = "mutation($i: CollectInput!, $k: String!) { collect(input: $i, idempotencyKey: $k) { id } }";
    ok_as(&srv, &bank, COLLECT, collect("500.00")).await;
    assert_eq!(amount(&order_money(&srv, &order).await["status"]), "ACTIVE");
    // March is paid: its share goes out after 30 days.
    clock.advance_days(31);
    srv.tick().await;
    assert_eq!(
        amount(&order_money(&srv, &order).await["released"]),
        "500.00"
    );
    // April's time comes before April is paid: nothing goes out, and the order says why.
    clock.advance_days(30);
    srv.tick().await;
    assert_eq!(
        amount(&order_money(&srv, &order).await["released"]),
        "500.00"
    );
    let events = ok_as(
        &srv,
        &bank,
        "query($o: ID!) { events(order: $o, first: 100) { edges { node { type data } } } }",
        json!({"o": order}),
    )
    .await;
    let blocked: Vec<Value> = nodes(&events["events"])
        .into_iter()
        .filter(|e| e["type"] == "release.blocked")
        .collect();
    assert!(
        blocked.iter().any(|e| e["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("AWAITING_INSTALMENT")),
        "{blocked:?}"
    );
    // April is paid; once it settles (the next working day: here after the May Day holidays),
    // April goes out by itself.
    ok_as(&srv, &bank, COLLECT, collect("500.00")).await;
    for _ in 0..10 {
        clock.advance_days(1);
        srv.tick().await;
        if amount(&order_money(&srv, &order).await["inClearing"]) == "0.00" {
            break;
        }
    }
    let m = order_money(&srv, &order).await;
    assert_eq!(
        (
            amount(&m["released"]),
            amount(&m["collected"]),
            amount(&m["status"])
        ),
        ("1000.00", "1000.00", "ACTIVE")
    );
    // Never more than the term costs.
    assert_eq!(
        code_as(&srv, &bank, COLLECT, collect("1000.01")).await,
        "VALIDATION"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monthly_instalments_release_each_month_once_it_is_paid_sqlite() {
    monthly_instalments_release_each_month_once_it_is_paid(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monthly_instalments_release_each_month_once_it_is_paid_postgres() {
    monthly_instalments_release_each_month_once_it_is_paid(Backend::Postgres).await;
}
