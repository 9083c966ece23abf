//! Medical insurance (医保): a patient's payment enters the channel's clearing account and is
//! split at once into each institution's register (登记簿); the bank advances the insurer's
//! share (within the policy's cap) and is repaid from the insurer's settlement; institutions
//! withdraw from their registers and refund by the original route; the channel's statement is
//! reconciled against the receipts.

use serde_json::{Value, json};

use lvyue_domain::principal::Industry;
use lvyue_domain::testing::Backend;

use super::{
    amount, code_as, column, enrolled, key, nodes, ok_as, payable, payer, regulator, scheme,
    the_bank,
};
use crate::harness::TestServer;
use crate::world::monday;

fn medical_policy() -> Value {
    json!({
        "milestones": [{"name": "结算", "share_bp": 10000, "auto_after_days": 0}],
        "medical": {"advance_cap": "100000.00"}
    })
}

const PAY: &str = "mutation($i: RecordPatientPaymentInput!, $k: String!) { recordPatientPayment(input: $i, idempotencyKey: $k) { id total channel externalRef lines { amount refunded institution { id } } } }";
const RECEIPT: &str = "query($id: ID!) { medicalReceipt(id: $id) { total payer { name } lines { amount refunded institution { id } } } }";
const ADVANCE: &str = "mutation($m: ID!, $s: ID!, $a: Decimal!, $c: String!, $k: String!) { advanceInsurerShare(institution: $m, scheme: $s, amount: $a, claimRef: $c, idempotencyKey: $k) { id status amount outstanding } }";
const REPAY: &str = "mutation($c: String!, $a: Decimal!, $k: String!) { repayAdvance(claimRef: $c, amount: $a, idempotencyKey: $k) { status repaid outstanding repaidAt } }";
const OUTSTANDING: &str = "{ medicalAdvancesOutstanding }";
const REFUND: &str = "mutation($r: ID!, $m: ID!, $a: Decimal!, $k: String!) { refundPatientPayment(receipt: $r, institution: $m, amount: $a, reason: \"检查项目取消\", idempotencyKey: $k) { lines { amount refunded } } }";

async fn medical_payments_split_into_registers_and_the_bank_advances_the_insurers_share(
    backend: Backend,
) {
    let Some((srv, _clock)) = TestServer::start_at(backend, monday()).await else {
        return;
    };
    let bank = the_bank();
    let bureau = regulator(
        &srv,
        "南京市医疗保障局",
        &["3201"],
        &[Industry::MedicalInsurance],
    )
    .await;
    let suzhou = regulator(
        &srv,
        "苏州市医疗保障局",
        &["3205"],
        &[Industry::MedicalInsurance],
    )
    .await;
    let scheme = scheme(
        &srv,
        "南京医保结算清算",
        Industry::MedicalInsurance,
        "320100",
        Some(&bureau.id),
        medical_policy(),
    )
    .await;
    let (hospital, hospital_p) = enrolled(
        &srv,
        &scheme,
        "南京市某某人民医院",
        "320102",
        Industry::MedicalInsurance,
    )
    .await;
    let (clinic, clinic_p) = enrolled(
        &srv,
        &scheme,
        "玄武区某某社区卫生服务中心",
        "320102",
        Industry::MedicalInsurance,
    )
    .await;
    let (patient, patient_p) = payer(&srv, "张患者").await;

    // One payment, two institutions: each share lands in its register at once.
    let pay = |reference: &str, shares: Value| json!({"k": key("pay"), "i": {"scheme": scheme, "channel": "WECHAT_PAY", "externalRef": reference, "payer": patient, "shares": shares}});
    let two = json!([{"institution": hospital, "amount": "600.00"}, {"institution": clinic, "amount": "400.00"}]);
    let receipt =
        ok_as(&srv, &bank, PAY, pay("wx-med-0001", two.clone())).await["recordPatientPayment"]
            .clone();
    assert_eq!(
        (
            amount(&receipt["total"]),
            column(&receipt["lines"], "amount")
        ),
        ("1000.00", vec!["600.00", "400.00"])
    );
    let receipt_id = amount(&receipt["id"]).to_owned();
    assert_eq!(payable(&srv, &hospital, &scheme).await, "600.00");
    assert_eq!(payable(&srv, &clinic, &scheme).await, "400.00");
    assert_eq!(
        code_as(&srv, &bank, PAY, pay("wx-med-0001", two.clone())).await,
        "CONFLICT"
    );
    assert_eq!(
        code_as(&srv, &hospital_p, PAY, pay("wx-med-0002", two.clone())).await,
        "FORBIDDEN"
    );
    // Each sees its part: an institution its own line; the patient and the bureau all, the
    // patient's name masked for the bureau; another city's bureau nothing.
    let lines = |v: &Value| v["medicalReceipt"]["lines"].as_array().map_or(0, Vec::len);
    let id = json!({"id": receipt_id});
    assert_eq!(
        lines(&ok_as(&srv, &hospital_p, RECEIPT, id.clone()).await),
        1
    );
    assert_eq!(
        lines(&ok_as(&srv, &patient_p, RECEIPT, id.clone()).await),
        2
    );
    let seen = ok_as(&srv, &bureau.principal, RECEIPT, id.clone()).await;
    assert_eq!(
        (lines(&seen), &seen["medicalReceipt"]["payer"]["name"]),
        (2, &json!("张**"))
    );
    assert_eq!(
        code_as(&srv, &suzhou.principal, RECEIPT, id.clone()).await,
        "NOT_FOUND"
    );

    // The bank advances the insurer's share, at most 100,000.00 outstanding per institution.
    let advance =
        |m: &str, a: &str, c: &str| json!({"m": m, "s": scheme, "a": a, "c": c, "k": key("adv")});
    let a = ok_as(
        &srv,
        &bank,
        ADVANCE,
        advance(&hospital, "50000.00", "YB-2026-03-001"),
    )
    .await["advanceInsurerShare"]
        .clone();
    assert_eq!(
        (amount(&a["status"]), amount(&a["outstanding"])),
        ("OUTSTANDING", "50000.00")
    );
    assert_eq!(payable(&srv, &hospital, &scheme).await, "50600.00");
    assert_eq!(
        code_as(
            &srv,
            &bank,
            ADVANCE,
            advance(&hospital, "50000.01", "YB-2026-03-009")
        )
        .await,
        "LIMIT_EXCEEDED"
    );
    assert_eq!(
        code_as(
            &srv,
            &bank,
            ADVANCE,
            advance(&hospital, "1.00", "YB-2026-03-001")
        )
        .await,
        "CONFLICT"
    );
    ok_as(
        &srv,
        &bank,
        ADVANCE,
        advance(&clinic, "8000.00", "YB-2026-03-002"),
    )
    .await;
    for (who, outstanding) in [
        (&bank, "58000.00"),
        (&hospital_p, "50000.00"),
        (&bureau.principal, "58000.00"),
        (&suzhou.principal, "0.00"),
    ] {
        let d = ok_as(&srv, who, OUTSTANDING, json!({})).await;
        assert_eq!(amount(&d["medicalAdvancesOutstanding"]), outstanding);
    }
    let mine = ok_as(
        &srv,
        &clinic_p,
        "{ medicalAdvances { edges { node { claimRef amount } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        nodes(&mine["medicalAdvances"]),
        [json!({"claimRef": "YB-2026-03-002", "amount": "8000.00"})]
    );

    // The hospital withdraws from its register to its own account.
    ok_as(
        &srv,
        &hospital_p,
        "mutation($m: ID!, $s: ID!, $k: String!) { requestPayout(merchant: $m, scheme: $s, amount: \"20000.00\", idempotencyKey: $k) { amount } }",
        json!({"m": hospital, "s": scheme, "k": key("po")}),
    )
    .await;
    assert_eq!(payable(&srv, &hospital, &scheme).await, "30600.00");

    // Refunds go back by the patient's channel, never more than the institution's share, and
    // only by the institution itself (or the bank).
    let r = ok_as(
        &srv,
        &hospital_p,
        REFUND,
        json!({"r": receipt_id, "m": hospital, "a": "100.00", "k": key("rf")}),
    )
    .await;
    assert_eq!(
        r["refundPatientPayment"]["lines"],
        json!([{"amount": "600.00", "refunded": "100.00"}])
    );
    assert_eq!(
        code_as(
            &srv,
            &hospital_p,
            REFUND,
            json!({"r": receipt_id, "m": hospital, "a": "500.01", "k": key("rf")})
        )
        .await,
        "VALIDATION"
    );
    assert_eq!(
        code_as(
            &srv,
            &clinic_p,
            REFUND,
            json!({"r": receipt_id, "m": hospital, "a": "1.00", "k": key("rf")})
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(payable(&srv, &hospital, &scheme).await, "30500.00");

    // The insurer settles the claim: the advance is repaid, never more than is outstanding.
    let repay = |a: &str| json!({"c": "YB-2026-03-001", "a": a, "k": key("rp")});
    let d = ok_as(&srv, &bank, REPAY, repay("30000.00")).await["repayAdvance"].clone();
    assert_eq!(
        (amount(&d["status"]), amount(&d["outstanding"])),
        ("OUTSTANDING", "20000.00")
    );
    assert_eq!(
        code_as(&srv, &bank, REPAY, repay("20000.01")).await,
        "VALIDATION"
    );
    assert_eq!(
        code_as(&srv, &bureau.principal, REPAY, repay("1.00")).await,
        "FORBIDDEN"
    );
    let d = ok_as(&srv, &bank, REPAY, repay("20000.00")).await["repayAdvance"].clone();
    assert_eq!(
        (amount(&d["status"]), amount(&d["outstanding"])),
        ("REPAID", "0.00")
    );
    assert!(d["repaidAt"].is_string());
    let d = ok_as(&srv, &bank, OUTSTANDING, json!({})).await;
    assert_eq!(amount(&d["medicalAdvancesOutstanding"]), "8000.00");

    // WeChat's statement of the day: the receipt matches by its reference; a second payment
    // the statement lacks is a break.
    ok_as(
        &srv,
        &bank,
        PAY,
        pay(
            "wx-med-0003",
            json!([{"institution": clinic, "amount": "80.00"}]),
        ),
    )
    .await;
    let st = ok_as(
        &srv,
        &bank,
        "mutation($c: String!, $k: String!) { importStatement(channel: WECHAT_PAY, date: \"2026-03-02\", csv: $c, idempotencyKey: $k) { lines matchedLines breaks { status reference ledgerAmount } } }",
        json!({"c": "reference,amount\nwx-med-0001,1000.00\n", "k": key("st")}),
    )
    .await["importStatement"]
        .clone();
    assert_eq!(
        st,
        json!({"lines": 1, "matchedLines": 1, "breaks": [{"status": "MISSING_IN_STATEMENT", "reference": "wx-med-0003", "ledgerAmount": "80.00"}]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medical_payments_split_into_registers_and_the_bank_advances_the_insurers_share_sqlite() {
    medical_payments_split_into_registers_and_the_bank_advances_the_insurers_share(Backend::Sqlite)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medical_payments_split_into_registers_and_the_bank_advances_the_insurers_share_postgres() {
    medical_payments_split_into_registers_and_the_bank_advances_the_insurers_share(
        Backend::Postgres,
    )
    .await;
}
