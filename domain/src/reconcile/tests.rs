//! Reconciliation of channel statements against what the ledger received: order payments,
//! patients' payments to medical institutions and enterprises' payroll fundings.
#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;
use crate::clock::Clock;
use crate::db_test;
use crate::medical::{PaymentShare, RecordPatientPayment};
use crate::order::Collect;
use crate::payout::payroll::FundEnterpriseAccount;
use crate::principal::Industry;
use crate::testing::TestDb;
use crate::testing::world::World;

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

#[test]
fn statement_lines_are_validated_with_line_numbers() {
    let err = parse("reference,amount\nok-1,10.00\n,5.00\nok-3,1.001\nok-4,-1\n")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("line 3") && err.contains("line 4") && err.contains("line 5"),
        "{err}"
    );
    assert!(!err.contains("line 2"), "{err}");
    assert!(parse("ref,amount\n").is_err());
}

db_test!(
    medical_receipts_and_enterprise_fundings_match_by_channel_and_reference,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let medical = w
            .scheme(
                Industry::MedicalInsurance,
                "320100",
                None,
                json!({"milestones": [{"name": "结算", "share_bp": 10000, "auto_after_days": 0}], "medical": {}}),
            )
            .await;
        let hospital = w
            .merchant("南京市某某人民医院", "320102", Industry::MedicalInsurance)
            .await;
        w.enroll(&medical, &hospital).await;
        let payroll = w
            .scheme(
                Industry::FlexibleEmployment,
                "320100",
                None,
                json!({"milestones": [{"name": "代发", "share_bp": 10000, "auto_after_days": 0}], "payroll": {}}),
            )
            .await;
        let firm = w
            .merchant(
                "南京某某人力资源服务有限公司",
                "320102",
                Industry::FlexibleEmployment,
            )
            .await;
        w.enroll(&payroll, &firm).await;
        let school = w
            .scheme(
                Industry::DrivingSchool,
                "320100",
                None,
                json!({"milestones": [{"name": "结业", "share_bp": 10000, "confirm_by": ["PAYER"]}]}),
            )
            .await;
        let driving = w
            .merchant("南京某某驾校", "320102", Industry::DrivingSchool)
            .await;
        w.enroll(&school, &driving).await;
        let learner = w.payer("段誉").await;
        let order = w.order(&school, &driving, &learner, "100.00").await;
        w.run(Collect {
            order: order.id,
            channel: Channel::BankTransfer,
            amount: m("100.00"),
            external_ref: "bt-0".into(),
            batch_ref: None,
        })
        .await
        .unwrap();
        for (channel, reference, amount) in [
            (Channel::BankTransfer, "med-1", "600.00"),
            (Channel::BankTransfer, "med-2", "400.00"),
            (Channel::WechatPay, "med-wx", "80.00"),
        ] {
            w.run(RecordPatientPayment {
                scheme: medical.id,
                channel,
                external_ref: reference.into(),
                payer: None,
                shares: vec![PaymentShare {
                    institution: hospital.id,
                    amount: m(amount),
                }],
            })
            .await
            .unwrap();
        }
        for (reference, amount) in [("trf-1", "50000.00"), ("trf-2", "20000.00")] {
            w.run(FundEnterpriseAccount {
                merchant: firm.id,
                scheme: payroll.id,
                amount: m(amount),
                channel: Channel::BankTransfer,
                external_ref: reference.into(),
            })
            .await
            .unwrap();
        }
        let today = w.clock.now().china_date();

        // The order payment, a receipt and a funding match; a receipt's amount differs; a
        // funding is missing from the statement; WeChat's receipt is not this statement's.
        let r = w
            .run(ImportStatement {
                channel: Channel::BankTransfer,
                date: today,
                csv: "reference,amount\nbt-0,100.00\nmed-1,600.00\ntrf-1,50000.00\nmed-2,400.01\n"
                    .into(),
            })
            .await
            .unwrap();
        assert_eq!((r.lines, r.matched_lines, r.matched_payments), (4, 3, 1));
        let found: Vec<(MatchStatus, &str, Option<Money>)> = r
            .breaks
            .iter()
            .map(|b| (b.status, b.reference.as_str(), b.ledger_amount))
            .collect();
        assert_eq!(
            found,
            [
                (MatchStatus::AmountMismatch, "med-2", Some(m("400.00"))),
                (
                    MatchStatus::MissingInStatement,
                    "trf-2",
                    Some(m("20000.00"))
                ),
            ]
        );
        assert!(
            r.breaks[0].reason.contains("medical receipt rcp_"),
            "{:?}",
            r.breaks
        );
        assert!(
            r.breaks[1].reason.contains("enterprise funding fnd_"),
            "{:?}",
            r.breaks
        );
        // Read back as stored (a mismatch line keeps the statement's amount only).
        let stored = reconciliation_of(&db.db, r.statement).await.unwrap();
        let brief = |b: &[Break]| -> Vec<(MatchStatus, String, String)> {
            b.iter()
                .map(|b| (b.status, b.reference.clone(), b.reason.clone()))
                .collect()
        };
        assert_eq!(
            (
                stored.matched_lines,
                stored.matched_payments,
                brief(&stored.breaks)
            ),
            (r.matched_lines, r.matched_payments, brief(&r.breaks))
        );

        // WeChat's statement of the day without the patient's payment: missing in statement.
        let wx = w
            .run(ImportStatement {
                channel: Channel::WechatPay,
                date: today,
                csv: "reference,amount\n".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            wx.breaks
                .iter()
                .map(|b| (b.status, b.reference.as_str()))
                .collect::<Vec<_>>(),
            [(MatchStatus::MissingInStatement, "med-wx")]
        );
        assert!(wx.breaks[0].reason.contains("medical receipt rcp_"));
        // The next day's statement expects none of them, and knows none of its references.
        let tomorrow = w
            .run(ImportStatement {
                channel: Channel::BankTransfer,
                date: today.succ_opt().unwrap(),
                csv: "reference,amount\nmed-1,600.00\n".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            tomorrow
                .breaks
                .iter()
                .map(|b| (b.status, b.reference.as_str()))
                .collect::<Vec<_>>(),
            [(MatchStatus::MissingInLedger, "med-1")]
        );
        let audit = crate::audit::audit(&db.db, None).await.unwrap();
        assert!(audit.is_clean(), "{:#?}", audit.breaches);
    }
);
