//! Medical-insurance clearing as its users run it: patients pay hospitals through a channel,
//! the bank advances the insurer's share and is repaid from the insurer's settlement, the
//! hospitals withdraw and refund by the original route.
#![allow(clippy::unwrap_used)]

use sea_orm::EntityTrait;
use serde_json::{Value, json};

use super::*;
use crate::audit::audit;
use crate::db_test;
use crate::error::ErrorCode;
use crate::ids::AccountId;
use crate::ledger::balance;
use crate::page::Page;
use crate::party::PartyRecord;
use crate::payout::RequestPayout;
use crate::principal::Industry;
use crate::testing::TestDb;
use crate::testing::world::World;

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

fn medical_policy() -> Value {
    json!({
        "milestones": [{"name": "结算", "share_bp": 10000, "auto_after_days": 0}],
        "medical": {"advance_cap": "100000.00"}
    })
}

async fn fen(db: &TestDb, a: AccountId) -> i64 {
    balance(&db.db, a).await.unwrap().balance_fen
}

fn page() -> Page {
    Page::new(None, 50).unwrap()
}

fn share(p: &PartyRecord, amount: &str) -> PaymentShare {
    PaymentShare {
        institution: p.id,
        amount: m(amount),
    }
}

db_test!(
    patient_payments_advances_withdrawals_and_refunds_run_through_the_registers,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let bureau = w.regulator(&["3201"], &[Industry::MedicalInsurance]).await;
        let scheme = w
            .scheme(
                Industry::MedicalInsurance,
                "320100",
                Some(bureau.id),
                medical_policy(),
            )
            .await;
        let hospital = w
            .merchant("南京市某某人民医院", "320102", Industry::MedicalInsurance)
            .await;
        let clinic = w
            .merchant(
                "玄武区某某社区卫生服务中心",
                "320102",
                Industry::MedicalInsurance,
            )
            .await;
        let hospital_register = w.enroll(&scheme, &hospital).await.payable_account;
        let clinic_register = w.enroll(&scheme, &clinic).await.payable_account;
        let patient = w.payer("张患者").await;

        // One payment, two institutions: clearing in, split out to each register.
        let pay = RecordPatientPayment {
            scheme: scheme.id,
            channel: Channel::WechatPay,
            external_ref: "wx-med-0001".into(),
            payer: Some(patient.id),
            shares: vec![share(&hospital, "600.00"), share(&clinic, "400.00")],
        };
        let receipt = w.run(pay.clone()).await.unwrap();
        assert_eq!((receipt.total, receipt.lines.len()), (m("1000.00"), 2));
        assert_eq!(fen(&db, hospital_register).await, 60_000);
        assert_eq!(fen(&db, clinic_register).await, 40_000);
        let entries = lvyue_entity::journal_entry::Entity::find()
            .all(&db.db)
            .await
            .unwrap();
        let kinds: Vec<&str> = entries
            .iter()
            .filter(|e| e.id == receipt.collect_entry.0 || e.id == receipt.split_entry.0)
            .map(|e| e.kind.as_str())
            .collect();
        assert_eq!(kinds, ["COLLECT", "SPLIT"]);
        assert_eq!(
            w.run(pay.clone()).await.unwrap_err().code(),
            ErrorCode::Conflict
        );
        let twice = RecordPatientPayment {
            external_ref: "wx-med-0002".into(),
            shares: vec![share(&hospital, "1.00"), share(&hospital, "2.00")],
            ..pay.clone()
        };
        assert_eq!(
            w.run(twice).await.unwrap_err().code(),
            ErrorCode::Validation
        );
        let outsider = w
            .merchant("未入网诊所", "320102", Industry::MedicalInsurance)
            .await;
        let stray = RecordPatientPayment {
            external_ref: "wx-med-0003".into(),
            shares: vec![share(&outsider, "1.00")],
            ..pay.clone()
        };
        assert_eq!(w.run(stray).await.unwrap_err().code(), ErrorCode::NotFound);
        let as_hospital = w.as_party(Role::Merchant, hospital.id);
        let as_clinic = w.as_party(Role::Merchant, clinic.id);
        assert_eq!(
            w.run_as(&as_hospital, pay.clone())
                .await
                .unwrap_err()
                .code(),
            ErrorCode::Forbidden
        );

        // Each sees its part: an institution its own line, the patient and the bureau all.
        let lines = |r: DomainResult<ReceiptRecord>| r.map(|r| r.lines.len());
        assert_eq!(
            lines(receipt_visible(&db.db, &as_hospital, receipt.id).await).unwrap(),
            1
        );
        assert_eq!(
            lines(receipt_visible(&db.db, &w.as_party(Role::Payer, patient.id), receipt.id).await)
                .unwrap(),
            2
        );
        assert_eq!(
            lines(receipt_visible(&db.db, &w.as_regulator(&bureau), receipt.id).await).unwrap(),
            2
        );
        let suzhou = w.regulator(&["3205"], &[Industry::MedicalInsurance]).await;
        assert!(
            receipt_visible(&db.db, &w.as_regulator(&suzhou), receipt.id)
                .await
                .is_err()
        );
        let someone = w.payer("李某").await;
        assert!(
            receipt_visible(&db.db, &w.as_party(Role::Payer, someone.id), receipt.id)
                .await
                .is_err()
        );

        // The bank advances the insurer's share; its advance account goes negative.
        let advance = AdvanceInsurerShare {
            institution: hospital.id,
            scheme: scheme.id,
            amount: m("50000.00"),
            claim_ref: "YB-2026-03-001".into(),
        };
        let a = w.run(advance.clone()).await.unwrap();
        assert_eq!(
            (a.outstanding, a.status),
            (m("50000.00"), AdvanceStatus::Outstanding)
        );
        assert_eq!(fen(&db, hospital_register).await, 5_060_000);
        assert_eq!(
            w.run(advance.clone()).await.unwrap_err().code(),
            ErrorCode::Conflict
        );
        let over = AdvanceInsurerShare {
            amount: m("50000.01"),
            claim_ref: "YB-2026-03-009".into(),
            ..advance.clone()
        };
        assert_eq!(
            w.run(over).await.unwrap_err().code(),
            ErrorCode::LimitExceeded
        );
        w.run(AdvanceInsurerShare {
            institution: clinic.id,
            amount: m("8000.00"),
            claim_ref: "YB-2026-03-002".into(),
            ..advance.clone()
        })
        .await
        .unwrap();
        let all = AdvanceFilter::default();
        assert_eq!(
            outstanding_total(&db.db, &w.bank, &all).await.unwrap(),
            m("58000.00")
        );
        assert_eq!(
            outstanding_total(&db.db, &as_hospital, &all).await.unwrap(),
            m("50000.00")
        );
        assert_eq!(
            outstanding_total(&db.db, &w.as_regulator(&bureau), &all)
                .await
                .unwrap(),
            m("58000.00")
        );
        assert_eq!(
            outstanding_total(&db.db, &w.as_regulator(&suzhou), &all)
                .await
                .unwrap(),
            Money::ZERO
        );
        assert_eq!(
            advances(&db.db, &as_clinic, &all, page())
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        let advance_account = AccountId(
            lvyue_entity::system_account::Entity::find_by_id(format!(
                "BANK:ADVANCE {}",
                scheme.code
            ))
            .one(&db.db)
            .await
            .unwrap()
            .unwrap()
            .account_id,
        );
        assert_eq!(fen(&db, advance_account).await, -5_800_000);

        // The hospital withdraws to its own account.
        w.run_as(
            &as_hospital,
            RequestPayout {
                merchant: hospital.id,
                scheme: scheme.id,
                amount: m("20000.00"),
            },
        )
        .await
        .unwrap();
        assert_eq!(fen(&db, hospital_register).await, 3_060_000);

        // Refunds go back by the patient's channel, never more than the institution's share.
        let refund = |who: &PartyRecord, amount: &str| RefundPatientPayment {
            receipt: receipt.id,
            institution: who.id,
            amount: m(amount),
            reason: "检查项目取消".into(),
        };
        let wechat = AccountId(
            lvyue_entity::system_account::Entity::find_by_id("EXTERNAL:WECHAT_PAY".to_owned())
                .one(&db.db)
                .await
                .unwrap()
                .unwrap()
                .account_id,
        );
        let before = fen(&db, wechat).await;
        let r = w
            .run_as(&as_hospital, refund(&hospital, "100.00"))
            .await
            .unwrap();
        assert_eq!(r.lines[0].refunded, m("100.00"));
        assert_eq!(fen(&db, wechat).await, before + 10_000);
        assert_eq!(
            w.run_as(&as_hospital, refund(&hospital, "500.01"))
                .await
                .unwrap_err()
                .code(),
            ErrorCode::Validation
        );
        assert_eq!(
            w.run_as(&as_clinic, refund(&hospital, "1.00"))
                .await
                .unwrap_err()
                .code(),
            ErrorCode::NotFound
        );
        w.run(refund(&clinic, "400.00")).await.unwrap();
        assert_eq!(
            w.run(refund(&clinic, "0.01")).await.unwrap_err().code(),
            ErrorCode::Validation
        );
        assert_eq!(fen(&db, clinic_register).await, 800_000);

        // The insurer settles: the advance is repaid, never more than is outstanding.
        let repay = |amount: &str| RepayAdvance {
            claim_ref: "YB-2026-03-001".into(),
            amount: m(amount),
        };
        let a = w.run(repay("30000.00")).await.unwrap();
        assert_eq!(a.outstanding, m("20000.00"));
        let err = w.run(repay("20000.01")).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "{err}");
        assert_eq!(
            w.run_as(&w.as_regulator(&bureau), repay("1.00"))
                .await
                .unwrap_err()
                .code(),
            ErrorCode::Forbidden
        );
        let a = w.run(repay("20000.00")).await.unwrap();
        assert_eq!(
            (a.status, a.outstanding),
            (AdvanceStatus::Repaid, Money::ZERO)
        );
        assert!(a.repaid_at.is_some());
        assert_eq!(
            w.run(repay("1.00")).await.unwrap_err().code(),
            ErrorCode::InvalidState
        );
        // What the advance account lacks is exactly what is still outstanding.
        let outstanding = outstanding_total(&db.db, &w.bank, &all).await.unwrap();
        assert_eq!(outstanding, m("8000.00"));
        assert_eq!(fen(&db, advance_account).await, -outstanding.fen());
        let open = AdvanceFilter {
            outstanding_only: true,
            ..all.clone()
        };
        assert_eq!(
            advances(&db.db, &w.bank, &open, page())
                .await
                .unwrap()
                .items
                .len(),
            1
        );

        // Only a scheme with a medical rule clears medical payments.
        let driving = w
            .scheme(
                Industry::MedicalInsurance,
                "320100",
                None,
                json!({"milestones": [{"name": "x", "share_bp": 10000, "auto_after_days": 0}]}),
            )
            .await;
        w.enroll(&driving, &hospital).await;
        let err = w
            .run(RecordPatientPayment {
                scheme: driving.id,
                external_ref: "wx-med-0009".into(),
                shares: vec![share(&hospital, "1.00")],
                ..pay
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "{err}");
        let r = audit(&db.db, None).await.unwrap();
        assert!(r.is_clean(), "{:#?}", r.breaches);
    }
);
