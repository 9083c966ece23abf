//! School canteens as their users run them: parents pay a term's meal fees, the canteen gets a
//! month's share each month, pays its suppliers only with the school's and the education
//! bureau's approval, and refunds unused meals within 15 working days.
#![allow(clippy::unwrap_used)]

use sea_orm::EntityTrait;
use serde_json::{Value, json};

use super::*;
use crate::alert::AlertKind;
use crate::audit::audit;
use crate::clock::Clock;
use crate::db_test;
use crate::error::ErrorCode;
use crate::ledger::balance;
use crate::money::Money;
use crate::order::{ExecuteRefund, RequestRefund, payments_of};
use crate::order_record::{
    MilestoneStatus, OrderRecord, OrderStatus, RefundStatus, get_order, milestones_of,
};
use crate::page::{Page, Paged};
use crate::party::PartyRecord;
use crate::payout::{BatchPayout, PayoutItem, RequestPayout};
use crate::policy::PurchaseApprover;
use crate::refund_sla::{RefundSlaFilter, refund_sla};
use crate::scheme::{Enrollment, SchemeRecord};
use crate::testing::TestDb;
use crate::testing::world::World;

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

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

struct Canteen {
    w: World,
    bureau: PartyRecord,
    school: PartyRecord,
    scheme: SchemeRecord,
    canteen: PartyRecord,
    enrollment: Enrollment,
}

async fn canteen(db: &TestDb) -> Canteen {
    let w = World::new(db).await;
    let bureau = w.regulator(&["3201"], &[Industry::Canteen]).await;
    let school = w.regulator(&["320102"], &[Industry::Canteen]).await;
    let scheme = w
        .scheme(Industry::Canteen, "320100", Some(bureau.id), term_policy())
        .await;
    let canteen = w
        .merchant("南京某某餐饮管理有限公司", "320102", Industry::Canteen)
        .await;
    let enrollment = w.enroll(&scheme, &canteen).await;
    w.run(AssignCanteenSchool {
        merchant: canteen.id,
        scheme: scheme.id,
        school: school.id,
    })
    .await
    .unwrap();
    Canteen {
        w,
        bureau,
        school,
        scheme,
        canteen,
        enrollment,
    }
}

async fn term_fee(c: &Canteen, parent: &str) -> (OrderRecord, PartyRecord) {
    let p = c.w.payer(parent).await;
    let o = c.w.order(&c.scheme, &c.canteen, &p, "1800.00").await;
    c.w.pay(&o, "1800.00").await;
    (o, p)
}

async fn balance_of(db: &TestDb, a: crate::ids::AccountId) -> Money {
    Money::from_fen(balance(&db.db, a).await.unwrap().balance_fen).unwrap()
}

async fn clean(db: &TestDb) {
    let r = audit(&db.db, None).await.unwrap();
    assert!(r.is_clean(), "{:#?}", r.breaches);
}

fn page() -> Page {
    Page::new(None, 50).unwrap()
}

db_test!(
    a_term_of_meal_fees_is_released_a_quarter_each_month,
    |db: TestDb| async move {
        let c = canteen(&db).await;
        let (order, _) = term_fee(&c, "王小明家长").await;
        c.w.pass_days(1).await;
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!((o.settled, o.released), (m("1800.00"), Money::ZERO));
        // Day 29: the first month is not over.
        c.w.pass_days(28).await;
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().released,
            Money::ZERO
        );
        // Day 30, 60, 90, 120: a month's share each time.
        let mut released = vec![];
        for days in [1, 30, 30, 30] {
            c.w.pass_days(days).await;
            released.push(
                get_order(&db.db, order.id)
                    .await
                    .unwrap()
                    .released
                    .to_string(),
            );
        }
        assert_eq!(released, ["450.00", "900.00", "1350.00", "1800.00"]);
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!(o.status, OrderStatus::Completed);
        let ms = milestones_of(&db.db, order.id).await.unwrap();
        assert!(ms.iter().all(|x| x.released_entry.is_some()));
        assert_eq!(
            balance_of(&db, c.enrollment.payable_account).await,
            m("1800.00")
        );
        clean(&db).await;
    }
);

db_test!(
    suppliers_are_paid_only_with_the_schools_and_the_bureaus_approval,
    |db: TestDb| async move {
        let c = canteen(&db).await;
        let w = &c.w;
        for parent in ["李家长", "张家长", "赵家长"] {
            term_fee(&c, parent).await;
        }
        w.pass_days(30).await;
        let payable = c.enrollment.payable_account;
        assert_eq!(balance_of(&db, payable).await, m("1350.00"));
        let me = w.as_party(Role::Merchant, c.canteen.id);

        // No free cash: payouts of the payable are refused.
        let err = w
            .run_as(
                &me,
                RequestPayout {
                    merchant: c.canteen.id,
                    scheme: c.scheme.id,
                    amount: m("100.00"),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");
        let err = w
            .run_as(
                &me,
                BatchPayout {
                    merchant: c.canteen.id,
                    scheme: c.scheme.id,
                    batch_ref: "B1".into(),
                    items: vec![PayoutItem {
                        name: "厨师".into(),
                        card_number: "6216261000000000018".into(),
                        amount: m("100.00"),
                    }],
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");

        let request = |amount: &str, invoice: &str| RequestPurchase {
            merchant: c.canteen.id,
            scheme: c.scheme.id,
            supplier_name: "南京某某蔬菜配送有限公司".into(),
            supplier_account: "3201-0000-1234-5678".into(),
            amount: m(amount),
            invoice_ref: invoice.into(),
        };
        let vegetables = w
            .run_as(&me, request("800.00", "INV-2026-0401"))
            .await
            .unwrap();
        assert_eq!(vegetables.status, PurchaseStatus::Pending);
        assert_eq!(
            vegetables.approvals_needed,
            [PurchaseApprover::School, PurchaseApprover::EducationBureau]
        );
        // Pending purchases reserve the payable.
        let err = w
            .run_as(&me, request("600.00", "INV-2026-0402"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InsufficientFunds, "{err}");
        let rice = w
            .run_as(&me, request("500.00", "INV-2026-0402"))
            .await
            .unwrap();
        let err = w
            .run_as(&me, request("10.00", "INV-2026-0402"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict, "{err}");

        let approve = |p: &PurchaseRecord, yes: bool| ApprovePurchase {
            purchase: p.id,
            approve: yes,
            note: String::new(),
        };
        // The school's approval alone pays nothing.
        let school = w.as_regulator(&c.school);
        let p = w.run_as(&school, approve(&vegetables, true)).await.unwrap();
        assert_eq!(
            (p.status, p.school_approved),
            (PurchaseStatus::Pending, Some(true))
        );
        assert_eq!(balance_of(&db, payable).await, m("1350.00"));
        let err = w
            .run_as(&school, approve(&vegetables, true))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");

        // Only the school and the scheme's bureau decide; others cannot, or cannot even see it.
        assert_eq!(
            w.run(approve(&vegetables, true)).await.unwrap_err().code(),
            ErrorCode::Forbidden
        );
        assert_eq!(
            w.run_as(&me, approve(&vegetables, true))
                .await
                .unwrap_err()
                .code(),
            ErrorCode::Forbidden
        );
        let other_school = w.regulator(&["320104"], &[Industry::Canteen]).await;
        let err = w
            .run_as(&w.as_regulator(&other_school), approve(&vegetables, true))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound, "{err}");
        let province = w.regulator(&["32"], &[Industry::Canteen]).await;
        let err = w
            .run_as(&w.as_regulator(&province), approve(&vegetables, true))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden, "{err}");

        // The bureau's approval completes it: the bank pays the supplier from the payable.
        let bureau = w.as_regulator(&c.bureau);
        let p = w
            .run_as(
                &bureau,
                ApprovePurchase {
                    purchase: vegetables.id,
                    approve: true,
                    note: "价格与合同一致".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(p.status, PurchaseStatus::Paid);
        assert!(p.entry.is_some() && p.closed_at.is_some());
        assert!(p.note.contains("价格与合同一致"));
        assert_eq!(balance_of(&db, payable).await, m("550.00"));

        // Either one's rejection ends a purchase and frees what it reserved.
        let p = w.run_as(&bureau, approve(&rice, false)).await.unwrap();
        assert_eq!(p.status, PurchaseStatus::Rejected);
        let err = w.run_as(&school, approve(&rice, true)).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");
        assert_eq!(balance_of(&db, payable).await, m("550.00"));
        let oil = w.run(request("550.00", "INV-2026-0403")).await.unwrap();
        assert_eq!(oil.requested_by, "BANK");
        // The order of approvals does not matter.
        w.run_as(&bureau, approve(&oil, true)).await.unwrap();
        let p = w.run_as(&school, approve(&oil, true)).await.unwrap();
        assert_eq!(p.status, PurchaseStatus::Paid);
        assert_eq!(balance_of(&db, payable).await, Money::ZERO);

        // Who sees the purchases.
        let f = PurchaseFilter::default();
        for (who, n) in [
            (w.bank.clone(), 3),
            (me.clone(), 3),
            (school.clone(), 3),
            (bureau.clone(), 3),
            (w.as_regulator(&other_school), 0),
        ] {
            assert_eq!(
                purchases(&db.db, &who, &f, page())
                    .await
                    .unwrap()
                    .items
                    .len(),
                n,
                "{who:?}"
            );
        }
        let other = w
            .merchant("另一家餐饮公司", "320102", Industry::Canteen)
            .await;
        let them = w.as_party(Role::Merchant, other.id);
        assert!(
            purchases(&db.db, &them, &f, page())
                .await
                .unwrap()
                .items
                .is_empty()
        );
        let paid = purchases(
            &db.db,
            &bureau,
            &PurchaseFilter {
                status: Some(PurchaseStatus::Paid),
                ..f.clone()
            },
            page(),
        )
        .await
        .unwrap();
        assert_eq!(paid.items.len(), 2);
        let kinds: Vec<String> = lvyue_entity::event::Entity::find()
            .all(&db.db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .filter(|t| t.starts_with("purchase."))
            .collect();
        for k in [
            "purchase.requested",
            "purchase.approved",
            "purchase.rejected",
            "purchase.paid",
        ] {
            assert!(kinds.iter().any(|x| x == k), "{k}");
        }
        clean(&db).await;
    }
);

db_test!(
    a_school_must_cover_the_canteen_and_be_assigned_before_purchases,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let bureau = w.regulator(&["3201"], &[Industry::Canteen]).await;
        let scheme = w
            .scheme(Industry::Canteen, "320100", Some(bureau.id), term_policy())
            .await;
        let canteen = w
            .merchant("某某学校食堂承包商", "320102", Industry::Canteen)
            .await;
        w.enroll(&scheme, &canteen).await;
        let purchase = RequestPurchase {
            merchant: canteen.id,
            scheme: scheme.id,
            supplier_name: "某某粮油".into(),
            supplier_account: "6222000011112222".into(),
            amount: m("1.00"),
            invoice_ref: "X1".into(),
        };
        let err = w.run(purchase.clone()).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");
        assert!(err.to_string().contains("NO_SCHOOL_ASSIGNED"), "{err}");
        let elsewhere = w.regulator(&["320104"], &[Industry::Canteen]).await;
        let driving = w.regulator(&["320102"], &[Industry::DrivingSchool]).await;
        for school in [&elsewhere, &driving, &bureau] {
            let err = w
                .run(AssignCanteenSchool {
                    merchant: canteen.id,
                    scheme: scheme.id,
                    school: school.id,
                })
                .await
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::Validation, "{err}");
        }
        let school = w.regulator(&["320102"], &[Industry::Canteen]).await;
        let me = w.as_party(Role::Merchant, canteen.id);
        let err = w
            .run_as(
                &me,
                AssignCanteenSchool {
                    merchant: canteen.id,
                    scheme: scheme.id,
                    school: school.id,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden);
        w.run(AssignCanteenSchool {
            merchant: canteen.id,
            scheme: scheme.id,
            school: school.id,
        })
        .await
        .unwrap();
        assert_eq!(
            school_of(&db.db, canteen.id, scheme.id).await.unwrap(),
            Some(school.id)
        );
        // Nothing released yet: the payable cannot carry the purchase.
        let err = w.run(purchase.clone()).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InsufficientFunds, "{err}");
        // A canteen asks only for itself.
        let other = w.merchant("别家食堂", "320102", Industry::Canteen).await;
        let err = w
            .run_as(&w.as_party(Role::Merchant, other.id), purchase.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        // In a scheme without a purchase rule there are no purchases (and payouts are free).
        let mut free = term_policy();
        free.as_object_mut().unwrap().remove("purchase");
        let plain = w
            .scheme(Industry::Canteen, "320100", Some(bureau.id), free)
            .await;
        w.enroll(&plain, &canteen).await;
        let err = w
            .run(RequestPurchase {
                scheme: plain.id,
                ..purchase
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "{err}");
        // The gate lets the plain scheme's payable be paid out: refused here only for want of
        // money, not as PURCHASE_ONLY.
        let err = w
            .run(RequestPayout {
                merchant: canteen.id,
                scheme: plain.id,
                amount: m("0.01"),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InsufficientFunds, "{err}");
        clean(&db).await;
    }
);

db_test!(
    unused_meals_are_refunded_within_fifteen_working_days_and_the_sla_view_shows_it,
    |db: TestDb| async move {
        // Monday 2026-03-02: March has no public holidays, so the working days are plain.
        let c = canteen(&db).await;
        let w = &c.w;
        let (a, parent_a) = term_fee(&c, "转学学生家长").await;
        let (b, parent_b) = term_fee(&c, "请长假学生家长").await;
        w.pass_days(1).await;
        // Tuesday 03-03: both ask for the unused meal fees back.
        for (o, p) in [(&a, &parent_a), (&b, &parent_b)] {
            let r = w
                .run_as(
                    &w.as_party(Role::Payer, p.id),
                    RequestRefund {
                        order: o.id,
                        reason: "转学，退还未就餐费用".into(),
                        deduction: None,
                        amount: None,
                    },
                )
                .await
                .unwrap();
            // 15 working days after Tuesday 03-03 is Tuesday 03-24.
            assert_eq!(r.due_at.china_date(), "2026-03-24".parse().unwrap());
        }
        // Tuesday 03-10, five working days later, the canteen refunds the first.
        w.pass_days(7).await;
        let ra = crate::order::refunds_of(&db.db, a.id)
            .await
            .unwrap()
            .remove(0);
        let me = w.as_party(Role::Merchant, c.canteen.id);
        let done = w
            .run_as(&me, ExecuteRefund { refund: ra.id })
            .await
            .unwrap();
        assert_eq!(
            (done.status, done.amount),
            (RefundStatus::Executed, m("1800.00"))
        );
        // Wednesday 03-25: the second is past its deadline.
        w.pass_days(15).await;
        let alerts = crate::alert::alerts(&db.db, &w.as_regulator(&c.bureau), None, page())
            .await
            .unwrap();
        let overdue: Vec<_> = alerts
            .items
            .iter()
            .filter(|x| x.kind == AlertKind::RefundOverdue)
            .collect();
        assert_eq!(overdue.len(), 1);
        assert_eq!(overdue[0].order, Some(b.id));

        let as_of = w.clock.now();
        let filter = RefundSlaFilter {
            merchant: None,
            scheme: Some(c.scheme.id),
            industry: None,
            requested_from: None,
            requested_before: None,
            overdue_only: false,
            as_of,
        };
        let rows = refund_sla(&db.db, &w.as_regulator(&c.bureau), &filter, page())
            .await
            .unwrap()
            .items;
        assert_eq!(rows.len(), 2);
        let row_a = rows.iter().find(|r| r.order == a.id).unwrap();
        let row_b = rows.iter().find(|r| r.order == b.id).unwrap();
        assert_eq!(
            (
                row_a.working_days_allowed,
                row_a.working_days_taken,
                row_a.overdue,
                row_a.amount
            ),
            (15, 5, false, m("1800.00"))
        );
        assert_eq!(row_a.merchant, c.canteen.id);
        assert_eq!(
            (
                row_b.status,
                row_b.working_days_taken,
                row_b.overdue,
                row_b.executed_at
            ),
            (RefundStatus::Requested, 16, true, None)
        );
        let late = refund_sla(
            &db.db,
            &w.bank,
            &RefundSlaFilter {
                overdue_only: true,
                ..filter.clone()
            },
            page(),
        )
        .await
        .unwrap()
        .items;
        assert_eq!(late.iter().map(|r| r.order).collect::<Vec<_>>(), [b.id]);
        // Executed late, it stays overdue.
        let rb = crate::order::refunds_of(&db.db, b.id)
            .await
            .unwrap()
            .remove(0);
        w.run(ExecuteRefund { refund: rb.id }).await.unwrap();
        let late = refund_sla(
            &db.db,
            &w.bank,
            &RefundSlaFilter {
                overdue_only: true,
                as_of: w.clock.now(),
                ..filter.clone()
            },
            page(),
        )
        .await
        .unwrap()
        .items;
        assert_eq!(late.len(), 1);
        assert!(late[0].executed_at.is_some() && late[0].overdue);

        // Scoped like orders: the school sees its district, a parent its own, another canteen nothing.
        let n = |rows: Paged<crate::refund_sla::RefundSlaRow>| rows.items.len();
        assert_eq!(
            n(
                refund_sla(&db.db, &w.as_regulator(&c.school), &filter, page())
                    .await
                    .unwrap()
            ),
            2
        );
        assert_eq!(
            n(refund_sla(
                &db.db,
                &w.as_party(Role::Payer, parent_a.id),
                &filter,
                page()
            )
            .await
            .unwrap()),
            1
        );
        let other = w
            .merchant("另一家餐饮公司", "320102", Industry::Canteen)
            .await;
        assert_eq!(
            n(refund_sla(
                &db.db,
                &w.as_party(Role::Merchant, other.id),
                &filter,
                page()
            )
            .await
            .unwrap()),
            0
        );
        let elsewhere = w.regulator(&["3202"], &[Industry::Canteen]).await;
        assert_eq!(
            n(
                refund_sla(&db.db, &w.as_regulator(&elsewhere), &filter, page())
                    .await
                    .unwrap()
            ),
            0
        );
        clean(&db).await;
    }
);

db_test!(
    a_pupils_missed_days_are_refunded_in_part_and_the_term_goes_on,
    |db: TestDb| async move {
        let c = canteen(&db).await;
        let w = &c.w;
        let (order, parent) = term_fee(&c, "请病假学生家长").await;
        w.pass_days(1).await;
        let parent_p = w.as_party(Role::Payer, parent.id);
        let ask = |amount: Option<&str>, deduction: Option<&str>| RequestRefund {
            order: order.id,
            reason: "病假未就餐".into(),
            deduction: deduction.map(m),
            amount: amount.map(m),
        };
        // Part of it, less than all that is unreleased, and never with a deduction.
        for (amount, deduction, why) in [
            (Some("1800.00"), None, "ask without an amount"),
            (Some("0.00"), None, "amount"),
            (Some("100.00"), Some("10.00"), "no deduction"),
        ] {
            let err = w.run(ask(amount, deduction)).await.unwrap_err();
            assert_eq!(err.code(), ErrorCode::Validation, "{why}: {err}");
        }
        // Ten missed days: 100.00 back; the term goes on and June's fee shrinks by it.
        let r = w
            .run_as(&parent_p, ask(Some("100.00"), None))
            .await
            .unwrap();
        assert_eq!(r.requested, Some(m("100.00")));
        let done = w.run(ExecuteRefund { refund: r.id }).await.unwrap();
        assert_eq!(
            (done.status, done.amount),
            (RefundStatus::Executed, m("100.00"))
        );
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!(
            (o.status, o.refunded, o.in_escrow()),
            (OrderStatus::Active, m("100.00"), m("1700.00"))
        );
        let amounts = |ms: Vec<crate::order_record::MilestoneRecord>| {
            ms.into_iter()
                .map(|x| (x.amount.to_string(), x.status))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            amounts(milestones_of(&db.db, order.id).await.unwrap()),
            [
                ("450.00".into(), MilestoneStatus::Pending),
                ("450.00".into(), MilestoneStatus::Pending),
                ("450.00".into(), MilestoneStatus::Pending),
                ("350.00".into(), MilestoneStatus::Pending),
            ]
        );
        // A longer absence takes June whole and part of May.
        let r = w.run(ask(Some("400.00"), None)).await.unwrap();
        w.run(ExecuteRefund { refund: r.id }).await.unwrap();
        assert_eq!(
            amounts(milestones_of(&db.db, order.id).await.unwrap()),
            [
                ("450.00".into(), MilestoneStatus::Pending),
                ("450.00".into(), MilestoneStatus::Pending),
                ("400.00".into(), MilestoneStatus::Pending),
                ("0.00".into(), MilestoneStatus::Cancelled),
            ]
        );
        // The months still release on time, at their new amounts.
        w.pass_days(30).await;
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!((o.released, o.refunded), (m("450.00"), m("500.00")));
        // The money went back the way it came.
        let paid = payments_of(&db.db, order.id).await.unwrap();
        assert_eq!(paid[0].refunded, m("500.00"));
        // Leaving school: all that is left, and the order closes.
        let r = w.run(ask(None, None)).await.unwrap();
        w.run(ExecuteRefund { refund: r.id }).await.unwrap();
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!(
            (o.status, o.released, o.refunded),
            (OrderStatus::Refunded, m("450.00"), m("1350.00"))
        );
        clean(&db).await;
    }
);

db_test!(
    a_term_whose_last_month_was_refunded_completes_with_the_month_before,
    |db: TestDb| async move {
        let c = canteen(&db).await;
        let w = &c.w;
        let (order, _) = term_fee(&c, "六月转学学生家长").await;
        w.pass_days(1).await;
        // June's fee back in advance: the term ends with May.
        let r = w
            .run(RequestRefund {
                order: order.id,
                reason: "六月转学".into(),
                deduction: None,
                amount: Some(m("450.00")),
            })
            .await
            .unwrap();
        w.run(ExecuteRefund { refund: r.id }).await.unwrap();
        for _ in 0..3 {
            w.pass_days(30).await;
        }
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!(
            (o.status, o.released, o.refunded, o.in_escrow()),
            (
                OrderStatus::Completed,
                m("1350.00"),
                m("450.00"),
                Money::ZERO
            )
        );
        clean(&db).await;
    }
);

db_test!(
    a_scheme_that_keeps_part_of_the_unreleased_money_takes_no_partial_refund,
    |db: TestDb| async move {
        let c = canteen(&db).await;
        let w = &c.w;
        let mut policy = term_policy();
        policy["refund"]["refundable_bp_by_stage"] = json!([8000, 8000, 8000, 8000, 10000]);
        let scheme = w
            .scheme(Industry::Canteen, "320100", Some(c.bureau.id), policy)
            .await;
        w.enroll(&scheme, &c.canteen).await;
        let p = w.payer("家长").await;
        let o = w.order(&scheme, &c.canteen, &p, "1800.00").await;
        w.pay(&o, "1800.00").await;
        w.pass_days(1).await;
        let err = w
            .run(RequestRefund {
                order: o.id,
                reason: "病假".into(),
                deduction: None,
                amount: Some(m("100.00")),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation);
        assert!(err.to_string().contains("refundable_bp_by_stage"), "{err}");
    }
);
