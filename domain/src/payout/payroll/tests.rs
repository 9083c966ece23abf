//! Flexible-employment payroll as its users run it: the enterprise funds its account, the
//! platform checks and instructs a batch, and the bank pays every worker — or nobody.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::*;
use crate::audit::audit;
use crate::db_test;
use crate::error::ErrorCode;
use crate::ledger::balance;
use crate::payout::{BatchPayout, payouts_of};
use crate::principal::Industry;
use crate::testing::TestDb;
use crate::testing::world::World;

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

fn payroll_policy() -> Value {
    json!({
        "milestones": [{"name": "代发", "share_bp": 10000, "auto_after_days": 0}],
        "payroll": {"per_batch_cap": "100000.00", "per_line_cap": "20000.00"}
    })
}

/// A Luhn-valid 19-digit card number with `n` in its body.
fn card_no(n: u32) -> String {
    (0..10)
        .map(|d| format!("621700{n:012}{d}"))
        .find(|c| is_valid_card_number(c))
        .unwrap()
}

fn line(name: &str, card: String, amount: &str) -> PayoutItem {
    PayoutItem {
        name: name.into(),
        card_number: card,
        amount: m(amount),
    }
}

fn crew(amount: &str) -> Vec<PayoutItem> {
    ["王师傅", "李师傅", "张师傅", "刘师傅", "陈师傅"]
        .iter()
        .enumerate()
        .map(|(i, n)| line(n, card_no(i as u32 + 1), amount))
        .collect()
}

db_test!(
    one_bad_line_pays_nobody_and_a_checked_batch_pays_everyone,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let scheme = w
            .scheme(
                Industry::FlexibleEmployment,
                "320100",
                None,
                payroll_policy(),
            )
            .await;
        let firm = w
            .merchant(
                "南京某某人力资源服务有限公司",
                "320102",
                Industry::FlexibleEmployment,
            )
            .await;
        let payable = w.enroll(&scheme, &firm).await.payable_account;
        let me = w.as_party(Role::Merchant, firm.id);

        // The enterprise's transfer arrives and the bank records it.
        let fund = FundEnterpriseAccount {
            merchant: firm.id,
            scheme: scheme.id,
            amount: m("50000.00"),
            channel: Channel::BankTransfer,
            external_ref: "TRF-20260302-001".into(),
        };
        let f = w.run(fund.clone()).await.unwrap();
        assert_eq!(f.amount, m("50000.00"));
        assert_eq!(
            balance(&db.db, payable).await.unwrap().balance_fen,
            5_000_000
        );
        assert_eq!(
            w.run(fund.clone()).await.unwrap_err().code(),
            ErrorCode::Conflict
        );
        assert_eq!(
            w.run_as(
                &me,
                FundEnterpriseAccount {
                    external_ref: "TRF-X".into(),
                    ..fund.clone()
                }
            )
            .await
            .unwrap_err()
            .code(),
            ErrorCode::Forbidden
        );
        // Only a payroll scheme takes funding straight into a payable.
        let other = w
            .scheme(
                Industry::FlexibleEmployment,
                "320100",
                None,
                json!({"milestones": [{"name": "x", "share_bp": 10000, "auto_after_days": 0}]}),
            )
            .await;
        w.enroll(&other, &firm).await;
        let err = w
            .run(FundEnterpriseAccount {
                scheme: other.id,
                external_ref: "TRF-Y".into(),
                ..fund.clone()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "{err}");

        // The platform tries a batch with a mistyped card (line 3) and a worker twice (line 5).
        let mut bad = crew("3000.00");
        bad[2].card_number = "6217000000000000030".into();
        bad[4].card_number = bad[0].card_number.clone();
        let check = check_payroll_batch(&db.db, &me, firm.id, scheme.id, &bad)
            .await
            .unwrap();
        assert!(!check.ok);
        let found: Vec<(u32, LineProblemKind)> = check
            .line_problems
            .iter()
            .map(|p| (p.line, p.kind))
            .collect();
        assert_eq!(
            found,
            [
                (3, LineProblemKind::Card),
                (5, LineProblemKind::RepeatedCard)
            ]
        );
        assert_eq!(
            (check.total, check.available),
            (m("15000.00"), m("50000.00"))
        );

        // Instructed anyway, each bad batch pays nobody.
        let batch = |r: &str, items: Vec<PayoutItem>| BatchPayout {
            merchant: firm.id,
            scheme: scheme.id,
            batch_ref: r.into(),
            items,
        };
        let mut typo = crew("3000.00");
        typo[2].card_number = "6217000000000000030".into();
        let mut twice = crew("3000.00");
        twice[4].card_number = twice[0].card_number.clone();
        let mut nameless = crew("3000.00");
        nameless[1].name = " ".into();
        let mut too_much = crew("3000.00");
        too_much[3].amount = m("20000.01");
        for (r, items, code) in [
            ("B-typo", typo, ErrorCode::Validation),
            ("B-twice", twice, ErrorCode::Validation),
            ("B-nameless", nameless, ErrorCode::Validation),
            ("B-line-cap", too_much, ErrorCode::LimitExceeded),
        ] {
            let err = w.run_as(&me, batch(r, items)).await.unwrap_err();
            assert_eq!(err.code(), code, "{r}: {err}");
            assert!(
                payouts_of(&db.db, firm.id, 100).await.unwrap().is_empty(),
                "{r}"
            );
            assert_eq!(
                balance(&db.db, payable).await.unwrap().balance_fen,
                5_000_000,
                "{r}"
            );
        }
        // Over the per-batch cap, even with the money there.
        w.run(FundEnterpriseAccount {
            amount: m("60000.00"),
            external_ref: "TRF-20260302-002".into(),
            ..fund.clone()
        })
        .await
        .unwrap();
        let mut big = crew("18000.00");
        big.push(line("赵师傅", card_no(6), "18000.00"));
        let err = w
            .run_as(&me, batch("B-big", big.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded, "{err}");
        let check = check_payroll_batch(&db.db, &me, firm.id, scheme.id, &big)
            .await
            .unwrap();
        assert!(
            !check.ok && check.line_problems.is_empty() && check.batch_problems.len() == 1,
            "{check:?}"
        );
        assert!(payouts_of(&db.db, firm.id, 100).await.unwrap().is_empty());

        // A clean batch: every worker paid in one entry.
        let good = crew("3000.00");
        assert!(
            check_payroll_batch(&db.db, &me, firm.id, scheme.id, &good)
                .await
                .unwrap()
                .ok
        );
        let out = w
            .run_as(&me, batch("B-2026-03", good.clone()))
            .await
            .unwrap();
        assert_eq!((out.total, out.payouts.len()), (m("15000.00"), 5));
        assert_eq!(
            balance(&db.db, payable).await.unwrap().balance_fen,
            9_500_000
        );
        assert_eq!(
            w.run_as(&me, batch("B-2026-03", good.clone()))
                .await
                .unwrap_err()
                .code(),
            ErrorCode::Conflict
        );
        // Another enterprise cannot check or pay from this account.
        let rival = w
            .merchant("另一家灵活用工平台", "320102", Industry::FlexibleEmployment)
            .await;
        let them = w.as_party(Role::Merchant, rival.id);
        assert!(
            check_payroll_batch(&db.db, &them, firm.id, scheme.id, &good)
                .await
                .is_err()
        );
        assert_eq!(
            w.run_as(&them, batch("B-x", good))
                .await
                .unwrap_err()
                .code(),
            ErrorCode::NotFound
        );
        let r = audit(&db.db, None).await.unwrap();
        assert!(r.is_clean(), "{:#?}", r.breaches);
    }
);

#[test]
fn repeated_cards_and_caps_are_payroll_rules_only() {
    let mut items = crew("30000.00");
    items[1].card_number = items[0].card_number.clone();
    let kinds = |rule: Option<&PayrollRule>| -> Vec<(u32, LineProblemKind)> {
        line_problems(&items, rule)
            .iter()
            .map(|p| (p.line, p.kind))
            .collect()
    };
    // A merchant paying two invoices to one supplier card is not payroll.
    assert!(kinds(None).is_empty());
    let rule = PayrollRule {
        per_batch_cap: None,
        per_line_cap: Some(m("20000.00")),
    };
    let found = kinds(Some(&rule));
    assert!(
        found.contains(&(2, LineProblemKind::RepeatedCard)),
        "{found:?}"
    );
    assert_eq!(
        found
            .iter()
            .filter(|(_, k)| *k == LineProblemKind::OverLineCap)
            .count(),
        5
    );
}
