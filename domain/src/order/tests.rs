//! The escrow lifecycle, rule by rule, on SQLite and (when configured) PostgreSQL.
#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use super::*;
use crate::alert::AlertKind;
use crate::audit::audit;
use crate::clock::{Clock, Timestamp};
use crate::confirmer::ConfirmerKind;
use crate::court::{CourtDeduct, CourtFreeze, CourtUnfreeze};
use crate::db_test;
use crate::error::{DomainError, ErrorCode};
use crate::ids::OrderId;
use crate::ledger::balance;
use crate::money::Money;
use crate::party::PartyStatus;
use crate::principal::{Industry, Role};
use crate::testing::TestDb;
use crate::testing::world::World;

mod model;

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

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
            {"name": "结业", "share_bp": 3000, "confirm_by": ["REGULATOR", "PAYER"]}
        ]
    })
}

struct School {
    w: World,
    scheme: crate::scheme::SchemeRecord,
    merchant: crate::party::PartyRecord,
    payer: crate::party::PartyRecord,
    regulator: crate::party::PartyRecord,
    /// The training association registered to confirm the scheme's exam results.
    association: crate::party::PartyRecord,
}

async fn school(db: &TestDb, policy: Value) -> School {
    let w = World::new(db).await;
    let regulator = w.regulator(&["3201"], &[Industry::DrivingSchool]).await;
    let scheme = w
        .scheme(
            Industry::DrivingSchool,
            "320100",
            Some(regulator.id),
            policy,
        )
        .await;
    let merchant = w
        .merchant(
            "南京市某某驾驶培训有限公司",
            "320102",
            Industry::DrivingSchool,
        )
        .await;
    w.enroll(&scheme, &merchant).await;
    let payer = w.payer("段誉").await;
    let association = w
        .confirmer(ConfirmerKind::TrainingAssociation, &[&scheme])
        .await;
    School {
        w,
        scheme,
        merchant,
        payer,
        regulator,
        association,
    }
}

/// Evidence of an exam passed, from a registered confirmer.
async fn evidence(
    w: &World,
    order: &OrderRecord,
    index: i32,
    confirmer: &crate::party::PartyRecord,
) -> Result<ConfirmOutcome, DomainError> {
    w.run_as(
        &w.as_party(Role::Confirmer, confirmer.id),
        ConfirmMilestone {
            order: order.id,
            index,
            as_: ConfirmAs::Evidence,
            approve: true,
            evidence: format!("考试成绩单 {index}"),
        },
    )
    .await
}

async fn clean(db: &TestDb) {
    let r = audit(&db.db, None).await.unwrap();
    assert!(r.is_clean(), "{:#?}", r.breaches);
}

db_test!(
    shenzhen_schedule_releases_exact_tranches,
    |db: TestDb| async move {
        let s = school(&db, shenzhen()).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "4999.99").await;
        let amounts: Vec<String> = milestones_of(&db.db, order.id)
            .await
            .unwrap()
            .iter()
            .map(|m| m.amount.to_string())
            .collect();
        assert_eq!(amounts, ["1249.99", "749.99", "1499.99", "1500.02"]);
        w.pay(&order, "4999.99").await;
        // Nothing moves into escrow before T+1.
        assert_eq!(
            balance(&db.db, order.escrow_account)
                .await
                .unwrap()
                .balance_fen,
            0
        );
        w.pass_days(1).await;
        // Settled, and the enrolment tranche (automatic) released at once.
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!((o.settled, o.released), (m("4999.99"), m("1249.99")));
        let mut released = vec![];
        for i in 1..4 {
            let out = evidence(w, &order, i, &s.association).await.unwrap();
            released.extend(out.released.iter().map(|t| t.amount.to_string()));
        }
        assert_eq!(released, ["749.99", "1499.99", "1500.02"]);
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!(o.status, OrderStatus::Completed);
        assert_eq!(
            balance(&db.db, order.escrow_account)
                .await
                .unwrap()
                .balance_fen,
            0
        );
        clean(&db).await;
    }
);

db_test!(
    the_job_backlog_counts_what_is_due_and_not_yet_run,
    |db: TestDb| async move {
        let s = school(&db, shenzhen()).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "4999.99").await;
        w.pay(&order, "4999.99").await;
        let now = w.clock.now();
        // The settlement is queued for the next working day: not yet a backlog.
        assert_eq!(crate::scheduler::overdue(&db.db, now).await.unwrap(), 0);
        let later = now.plus_days(10);
        assert!(crate::scheduler::overdue(&db.db, later).await.unwrap() >= 1);
        // Once the day comes and the scheduler runs, nothing due is left.
        w.pass_days(1).await;
        assert_eq!(
            crate::scheduler::overdue(&db.db, w.clock.now())
                .await
                .unwrap(),
            0
        );
        clean(&db).await;
    }
);

db_test!(
    payments_settle_on_the_next_working_day,
    |db: TestDb| async move {
        // In calendar order: event times never go backwards on one database.
        for (paid, settles) in [("2026-02-13", "2026-02-14"), ("2026-09-30", "2026-10-08")] {
            let start = Timestamp::china_midnight(paid.parse().unwrap()).plus_seconds(11 * 3600);
            let w = World::at(&db, start).await;
            let scheme = w
                .scheme(Industry::DrivingSchool, "320100", None, shenzhen())
                .await;
            let merchant = w
                .merchant(&format!("驾校{paid}"), "320102", Industry::DrivingSchool)
                .await;
            w.enroll(&scheme, &merchant).await;
            let payer = w.payer("乔峰").await;
            let order = w.order(&scheme, &merchant, &payer, "100.00").await;
            let out = w.pay(&order, "100.00").await;
            assert_eq!(
                out.payment.settle_date,
                settles.parse::<NaiveDate>().unwrap()
            );
            // The day before settlement nothing has moved; on the day it has.
            let settle_day = Timestamp::china_midnight(settles.parse().unwrap());
            w.clock.set(Timestamp(settle_day.0 - 1));
            w.tick().await;
            assert_eq!(
                get_order(&db.db, order.id).await.unwrap().settled,
                Money::ZERO,
                "{paid}"
            );
            w.clock.set(settle_day);
            w.tick().await;
            assert_eq!(
                get_order(&db.db, order.id).await.unwrap().settled,
                m("100.00"),
                "{paid}"
            );
        }
        clean(&db).await;
    }
);

db_test!(
    a_release_waits_for_its_confirmations,
    |db: TestDb| async move {
        let s = school(&db, fuzhou()).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "3333.33").await;
        w.pay(&order, "3333.33").await;
        w.pass_days(1).await;
        let err = w
            .run(ReleaseMilestone { order: order.id })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState);
        // A regulator of another city cannot see the order at all.
        let suzhou = w.regulator(&["3205"], &[Industry::DrivingSchool]).await;
        let err = w
            .run_as(
                &w.as_regulator(&suzhou),
                ConfirmMilestone {
                    order: order.id,
                    index: 0,
                    as_: ConfirmAs::Regulator,
                    approve: true,
                    evidence: String::new(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        // A rejection is recorded and releases nothing.
        let reg = w.as_regulator(&s.regulator);
        let out = w
            .run_as(
                &reg,
                ConfirmMilestone {
                    order: order.id,
                    index: 0,
                    as_: ConfirmAs::Regulator,
                    approve: false,
                    evidence: "学时不足".into(),
                },
            )
            .await
            .unwrap();
        assert!(out.released.is_empty());
        let out = w
            .run_as(
                &reg,
                ConfirmMilestone {
                    order: order.id,
                    index: 0,
                    as_: ConfirmAs::Regulator,
                    approve: true,
                    evidence: "学时核验".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            out.released
                .iter()
                .map(|t| t.amount.to_string())
                .collect::<Vec<_>>(),
            ["333.33"]
        );
        // The last milestone needs both the regulator and the payer.
        for i in 1..3 {
            w.run_as(
                &reg,
                ConfirmMilestone {
                    order: order.id,
                    index: i,
                    as_: ConfirmAs::Regulator,
                    approve: true,
                    evidence: String::new(),
                },
            )
            .await
            .unwrap();
        }
        let out = w
            .run_as(
                &reg,
                ConfirmMilestone {
                    order: order.id,
                    index: 3,
                    as_: ConfirmAs::Regulator,
                    approve: true,
                    evidence: String::new(),
                },
            )
            .await
            .unwrap();
        assert!(out.released.is_empty());
        // Someone else's payer token cannot confirm it.
        let other = w.payer("王语嫣").await;
        let err = w
            .run_as(
                &w.as_party(Role::Payer, other.id),
                ConfirmMilestone {
                    order: order.id,
                    index: 3,
                    as_: ConfirmAs::Payer,
                    approve: true,
                    evidence: String::new(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        let out = w
            .run_as(
                &w.as_party(Role::Payer, s.payer.id),
                ConfirmMilestone {
                    order: order.id,
                    index: 3,
                    as_: ConfirmAs::Payer,
                    approve: true,
                    evidence: String::new(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            out.released
                .iter()
                .map(|t| t.amount.to_string())
                .collect::<Vec<_>>(),
            ["1000.02"]
        );
        assert_eq!(out.order.status, OrderStatus::Completed);
        clean(&db).await;
    }
);

db_test!(
    a_court_freeze_blocks_releases_and_refunds_but_not_payments,
    |db: TestDb| async move {
        let s = school(&db, shenzhen()).await;
        let w = &s.w;
        let court = w.court().await;
        let court_p = w.as_party(Role::Court, court.id);
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        w.pay(&order, "600.00").await;
        w.pass_days(1).await;
        // A partly paid order releases nothing yet; freeze 300.00 of the 600.00 settled.
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().released,
            Money::ZERO
        );
        let hold = w
            .run_as(
                &court_p,
                CourtFreeze {
                    order: order.id,
                    amount: m("300.00"),
                    case_no: "(2026)苏0102执123号".into(),
                    priority: 1,
                    expires_at: None,
                    court: None,
                },
            )
            .await
            .unwrap();
        // Incoming money is not blocked; once paid in full the enrolment tranche (250.00) goes out
        // of the 700.00 available: 750.00 left in escrow, 300.00 of it frozen.
        w.pay(&order, "400.00").await;
        w.pass_days(1).await;
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().released,
            m("250.00")
        );
        // Milestone 2 (150.00) fits in the 450.00 available.
        evidence(w, &order, 1, &s.association).await.unwrap();
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!(o.released, m("400.00"));
        // 600.00 left, 300.00 available: milestone 3 (300.00) fits exactly, milestone 4 (300.00) does not.
        evidence(w, &order, 2, &s.association).await.unwrap();
        let released = evidence(w, &order, 3, &s.association)
            .await
            .unwrap()
            .released
            .len();
        assert_eq!(
            released, 0,
            "the confirmation is recorded; the release waits for the freeze"
        );
        let err = w
            .run(ReleaseMilestone { order: order.id })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InsufficientFunds);
        // A refund of the remainder is blocked by the freeze too.
        let r = w
            .run(RequestRefund {
                order: order.id,
                reason: "退学".into(),
                deduction: None,
                amount: None,
            })
            .await
            .unwrap();
        assert_eq!(
            w.run(ExecuteRefund { refund: r.id })
                .await
                .unwrap_err()
                .code(),
            ErrorCode::InsufficientFunds
        );
        // Another court cannot touch this freeze.
        let other = w.court().await;
        let err = w
            .run_as(
                &w.as_party(Role::Court, other.id),
                CourtUnfreeze {
                    hold: hold.id,
                    court: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        // Deduct 120.00 to the court, unfreeze the rest; the refund then goes through.
        w.run_as(
            &court_p,
            CourtDeduct {
                hold: hold.id,
                amount: m("120.00"),
                court: None,
            },
        )
        .await
        .unwrap();
        w.run_as(
            &court_p,
            CourtUnfreeze {
                hold: hold.id,
                court: None,
            },
        )
        .await
        .unwrap();
        let done = w.run(ExecuteRefund { refund: r.id }).await.unwrap();
        assert_eq!(done.amount, m("180.00"));
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!(
            (o.collected, o.released, o.refunded, o.deducted),
            (m("1000.00"), m("700.00"), m("180.00"), m("120.00"))
        );
        assert_eq!(o.status, OrderStatus::Refunded);
        clean(&db).await;
    }
);

db_test!(
    a_dropout_refund_keeps_only_the_deduction_the_regulator_approved,
    |db: TestDb| async move {
        let s = school(&db, shenzhen()).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "4000.00").await;
        w.pay(&order, "4000.00").await;
        w.pass_days(1).await;
        // 1000.00 released at enrolment; 3000.00 unreleased; deductions up to 20% of it (600.00).
        let merchant_p = w.as_party(Role::Merchant, s.merchant.id);
        let too_much = w
            .run_as(
                &merchant_p,
                RequestRefund {
                    order: order.id,
                    reason: "退学".into(),
                    deduction: Some(m("600.01")),
                    amount: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(too_much.code(), ErrorCode::Validation);
        let r = w
            .run_as(
                &merchant_p,
                RequestRefund {
                    order: order.id,
                    reason: "退学".into(),
                    deduction: Some(m("500.00")),
                    amount: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(r.status, RefundStatus::AwaitingApproval);
        assert_eq!(
            w.run(ExecuteRefund { refund: r.id })
                .await
                .unwrap_err()
                .code(),
            ErrorCode::InvalidState
        );
        w.run_as(
            &w.as_regulator(&s.regulator),
            ApproveDeduction {
                refund: r.id,
                approve: true,
            },
        )
        .await
        .unwrap();
        let done = w
            .run_as(&merchant_p, ExecuteRefund { refund: r.id })
            .await
            .unwrap();
        assert_eq!((done.amount, done.deduction), (m("2500.00"), m("500.00")));
        let wechat = {
            let world = &w.escrow;
            let row =
                lvyue_entity::system_account::Entity::find_by_id("EXTERNAL:WECHAT_PAY".to_owned())
                    .one(world.db())
                    .await
                    .unwrap()
                    .unwrap();
            balance(&db.db, crate::ids::AccountId(row.account_id))
                .await
                .unwrap()
                .balance_fen
        };
        assert_eq!(
            wechat,
            -400_000 + 250_000,
            "refunded by the original channel"
        );
        let ms = milestones_of(&db.db, order.id).await.unwrap();
        assert!(
            ms[1..]
                .iter()
                .all(|m| m.status == MilestoneStatus::Cancelled)
        );
        clean(&db).await;
    }
);

db_test!(
    an_order_expires_once_even_across_restarts,
    |db: TestDb| async move {
        let mut policy = shenzhen();
        policy["validity_days"] = json!(30);
        let s = school(&db, policy).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        w.pay(&order, "1000.00").await;
        w.pass_days(1).await;
        w.pass_days(28).await;
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().status,
            OrderStatus::Active
        );
        w.pass_days(2).await;
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!((o.status, o.refunded), (OrderStatus::Refunded, m("750.00")));
        // A "restarted" node (a new Escrow on the same database) finds nothing left to fire.
        let restarted = World::at(&db, w.clock.now()).await;
        assert_eq!(restarted.pass_days(1).await.fired, 0);
        let expired = lvyue_entity::event::Entity::find()
            .all(&db.db)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.event_type == "order.expired")
            .count();
        assert_eq!(expired, 1);
        clean(&db).await;
    }
);

db_test!(
    a_permit_about_to_lapse_raises_one_deadline_alert_while_money_waits,
    |db: TestDb| async move {
        let mut policy = shenzhen();
        policy["validity_days"] = json!(30);
        policy["expiry_notice_days"] = json!(10);
        let s = school(&db, policy).await;
        let w = &s.w;
        let waiting = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        w.pay(&waiting, "1000.00").await;
        // Opened but never paid: nothing waits, so nobody is told.
        w.order(&s.scheme, &s.merchant, &s.payer, "100.00").await;
        let deadline_alerts = || async {
            crate::alert::alerts(
                &db.db,
                &w.bank,
                None,
                crate::page::Page::new(None, 50).unwrap(),
            )
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|a| a.kind == AlertKind::DeadlineNear)
            .collect::<Vec<_>>()
        };
        w.pass_days(19).await;
        assert!(deadline_alerts().await.is_empty());
        w.pass_days(1).await;
        let alerts = deadline_alerts().await;
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!(a.order, Some(waiting.id));
        assert_eq!(a.region.as_deref(), Some(waiting.region.as_str()));
        assert_eq!(a.industry, Some(Industry::DrivingSchool));
        assert_eq!(a.details["unreleased"], "750.00");
        // The expiry itself still runs when the day comes, and the notice never fires again.
        w.pass_days(11).await;
        assert_eq!(deadline_alerts().await.len(), 1);
        assert_eq!(
            get_order(&db.db, waiting.id).await.unwrap().status,
            OrderStatus::Refunded
        );
        clean(&db).await;
    }
);

db_test!(
    a_lapsed_three_year_permit_is_refunded_even_before_that_years_holidays_are_published_and_its_payer_may_ask_for_a_refund,
    |db: TestDb| async move {
        // Opened in 2026, the permit lapses in 2029: no holiday calendar covers that year yet.
        let s = school(&db, shenzhen()).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        w.pay(&order, "1000.00").await;
        w.pass_days(1).await;
        // A second learner enrolls a day later: its permit is still valid when the first lapses.
        let other = w.order(&s.scheme, &s.merchant, &s.payer, "100.00").await;
        w.pay(&other, "100.00").await;
        w.pass_days(1093).await;
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().status,
            OrderStatus::Active
        );
        let r = w.pass_days(1).await;
        assert_eq!(r.failed, 0);
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!((o.status, o.refunded), (OrderStatus::Refunded, m("750.00")));
        // Executed as it was asked for: due at once, on time.
        let refund = refunds_of(&db.db, order.id).await.unwrap().remove(0);
        assert_eq!(
            (refund.requested_by.as_str(), refund.status),
            ("EXPIRY", RefundStatus::Executed)
        );
        assert_eq!(refund.due_at, refund.requested_at);
        assert!(!refund.is_overdue(w.clock.now()));
        // A payer's own request in that year is taken too: its deadline is counted by the
        // statutory holidays alone and marked provisional until 2029 is loaded.
        let asked = w
            .run_as(
                &w.as_party(Role::Payer, s.payer.id),
                RequestRefund {
                    order: other.id,
                    reason: "退学".into(),
                    deduction: None,
                    amount: None,
                },
            )
            .await
            .unwrap();
        assert!(asked.due_provisional);
        assert!(asked.due_at > asked.requested_at);
        clean(&db).await;
    }
);

db_test!(
    expiry_can_auto_release_after_inspection_or_escalate,
    |db: TestDb| async move {
        let mut auto = shenzhen();
        auto["validity_days"] = json!(10);
        auto["expiry_action"] = json!({"AUTO_RELEASE": {"inspection_days": 5}});
        let s = school(&db, auto).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "100.00").await;
        w.pay(&order, "100.00").await;
        w.pass_days(11).await;
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().status,
            OrderStatus::Inspection
        );
        w.pass_days(5).await;
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!(
            (o.status, o.released),
            (OrderStatus::Completed, m("100.00"))
        );
        // Released without the evidence the policy asked for: an alert says so.
        let alerts = crate::alert::alerts(
            &db.db,
            &w.bank,
            None,
            crate::page::Page::new(None, 50).unwrap(),
        )
        .await
        .unwrap();
        assert!(
            alerts
                .items
                .iter()
                .any(|a| a.kind == AlertKind::ReleaseAheadOfDelivery)
        );

        let mut esc = shenzhen();
        esc["validity_days"] = json!(10);
        esc["expiry_action"] = json!("ESCALATE");
        let scheme = w
            .scheme(Industry::DrivingSchool, "320100", Some(s.regulator.id), esc)
            .await;
        w.enroll(&scheme, &s.merchant).await;
        let order = w.order(&scheme, &s.merchant, &s.payer, "100.00").await;
        w.pay(&order, "100.00").await;
        w.pass_days(11).await;
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().status,
            OrderStatus::Escalated
        );
        let o = w
            .run_as(
                &w.as_regulator(&s.regulator),
                ResolveEscalation {
                    order: order.id,
                    decision: EscalationDecision::Refund,
                    note: "学员未完成培训".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!((o.status, o.refunded), (OrderStatus::Refunded, m("75.00")));
        clean(&db).await;
    }
);

db_test!(
    caps_limit_single_and_monthly_releases,
    |db: TestDb| async move {
        let mut policy = shenzhen();
        policy["caps"] = json!({"per_release": "1000.00", "monthly": "1500.00"});
        let s = school(&db, policy).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "4000.00").await;
        w.pay(&order, "4000.00").await;
        w.pass_days(1).await;
        // The enrolment tranche (1000.00) fits the per-release cap; then 600.00 fits the month (1600 > 1500 does not).
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().released,
            m("1000.00")
        );
        evidence(w, &order, 1, &s.association).await.unwrap();
        let err = w
            .run(ReleaseMilestone { order: order.id })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded, "{err}");
        // Next month the monthly cap is fresh; then 1200.00 is over the per-release cap.
        w.pass_days(31).await;
        w.run(ReleaseMilestone { order: order.id }).await.unwrap();
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().released,
            m("1600.00")
        );
        evidence(w, &order, 2, &s.association).await.unwrap();
        assert_eq!(
            w.run(ReleaseMilestone { order: order.id })
                .await
                .unwrap_err()
                .code(),
            ErrorCode::LimitExceeded
        );
        clean(&db).await;
    }
);

db_test!(
    policies_are_versioned_and_orders_keep_their_terms,
    |db: TestDb| async move {
        let s = school(&db, shenzhen()).await;
        let w = &s.w;
        let before = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        w.run(crate::scheme::UpdatePolicy {
            scheme: s.scheme.id,
            policy: fuzhou(),
        })
        .await
        .unwrap();
        let after = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        let a: Vec<_> = milestones_of(&db.db, before.id)
            .await
            .unwrap()
            .iter()
            .map(|m| m.amount.fen())
            .collect();
        let b: Vec<_> = milestones_of(&db.db, after.id)
            .await
            .unwrap()
            .iter()
            .map(|m| m.amount.fen())
            .collect();
        assert_eq!(a, [25_000, 15_000, 30_000, 30_000]);
        assert_eq!(b, [10_000, 30_000, 30_000, 30_000]);
        assert_eq!((before.policy_version, after.policy_version), (1, 2));
        // An invalid policy is refused with the field named.
        let err = w.run(crate::scheme::UpdatePolicy { scheme: s.scheme.id, policy: json!({"milestones": [{"name": "x", "share_bp": 9999, "auto_after_days": 0}]}) }).await.unwrap_err();
        assert!(err.to_string().contains("10000"), "{err}");
    }
);

db_test!(
    collection_refuses_overpayment_and_duplicate_notifications,
    |db: TestDb| async move {
        let s = school(&db, shenzhen()).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "100.00").await;
        let over = w
            .run(Collect {
                order: order.id,
                channel: Channel::Alipay,
                amount: m("100.01"),
                external_ref: "ali-1".into(),
                batch_ref: None,
            })
            .await
            .unwrap_err();
        assert_eq!(over.code(), ErrorCode::Validation);
        w.run(Collect {
            order: order.id,
            channel: Channel::Alipay,
            amount: m("40.00"),
            external_ref: "ali-1".into(),
            batch_ref: None,
        })
        .await
        .unwrap();
        let dup = w
            .run(Collect {
                order: order.id,
                channel: Channel::Alipay,
                amount: m("40.00"),
                external_ref: "ali-1".into(),
                batch_ref: None,
            })
            .await
            .unwrap_err();
        assert_eq!(dup.code(), ErrorCode::Conflict);
        let o = w
            .run(Collect {
                order: order.id,
                channel: Channel::UnionPay,
                amount: m("60.00"),
                external_ref: "up-1".into(),
                batch_ref: None,
            })
            .await
            .unwrap()
            .order;
        assert_eq!(o.status, OrderStatus::Active);
        let more = w
            .run(Collect {
                order: order.id,
                channel: Channel::UnionPay,
                amount: m("0.01"),
                external_ref: "up-2".into(),
                batch_ref: None,
            })
            .await
            .unwrap_err();
        assert_eq!(more.code(), ErrorCode::InvalidState);
    }
);

db_test!(
    payouts_and_batches_are_all_or_nothing,
    |db: TestDb| async move {
        let s = school(&db, shenzhen()).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        w.pay(&order, "1000.00").await;
        w.pass_days(1).await;
        // 250.00 released and payable.
        let merchant_p = w.as_party(Role::Merchant, s.merchant.id);
        let err = w
            .run_as(
                &merchant_p,
                crate::payout::RequestPayout {
                    merchant: s.merchant.id,
                    scheme: s.scheme.id,
                    amount: m("250.01"),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InsufficientFunds);
        let card = "6216261000000000018";
        let item = |amount: &str, card: &str| crate::payout::PayoutItem {
            name: "工人".into(),
            card_number: card.into(),
            amount: m(amount),
        };
        let bad_card = w
            .run_as(
                &merchant_p,
                crate::payout::BatchPayout {
                    merchant: s.merchant.id,
                    scheme: s.scheme.id,
                    batch_ref: "B1".into(),
                    items: vec![item("10.00", card), item("10.00", "6216261000000000019")],
                },
            )
            .await
            .unwrap_err();
        assert!(bad_card.to_string().contains("line 2"), "{bad_card}");
        let too_much = w
            .run_as(
                &merchant_p,
                crate::payout::BatchPayout {
                    merchant: s.merchant.id,
                    scheme: s.scheme.id,
                    batch_ref: "B1".into(),
                    items: vec![item("200.00", card), item("50.01", card)],
                },
            )
            .await
            .unwrap_err();
        assert_eq!(too_much.code(), ErrorCode::InsufficientFunds);
        let ok = w
            .run_as(
                &merchant_p,
                crate::payout::BatchPayout {
                    merchant: s.merchant.id,
                    scheme: s.scheme.id,
                    batch_ref: "B1".into(),
                    items: vec![item("200.00", card), item("50.00", card)],
                },
            )
            .await
            .unwrap();
        assert_eq!(ok.total, m("250.00"));
        assert_eq!(ok.payouts[0].recipient_account, "621626*********0018");
        let again = w
            .run_as(
                &merchant_p,
                crate::payout::BatchPayout {
                    merchant: s.merchant.id,
                    scheme: s.scheme.id,
                    batch_ref: "B1".into(),
                    items: vec![item("0.01", card)],
                },
            )
            .await
            .unwrap_err();
        assert_eq!(again.code(), ErrorCode::Conflict);
        // Another merchant cannot pay out this one's money.
        let other = w
            .merchant("另一家驾校", "320102", Industry::DrivingSchool)
            .await;
        let err = w
            .run_as(
                &w.as_party(Role::Merchant, other.id),
                crate::payout::RequestPayout {
                    merchant: s.merchant.id,
                    scheme: s.scheme.id,
                    amount: m("1.00"),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        clean(&db).await;
    }
);

db_test!(
    a_split_order_releases_only_what_is_confirmed_by_terms_fixed_at_opening,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let policy = json!({"milestones": [{"name": "交付", "share_bp": 10000, "confirm_by": ["PAYER"]}], "split": {"commission_cap_bp": 3000}});
        let scheme = w.scheme(Industry::Platform, "320100", None, policy).await;
        let platform = w
            .merchant("南京某某直播电商平台", "320102", Industry::Platform)
            .await;
        let subs = [
            w.merchant("商户甲", "320102", Industry::Platform).await,
            w.merchant("商户乙", "320104", Industry::Platform).await,
            w.merchant("商户丙", "320105", Industry::Platform).await,
        ];
        for x in std::iter::once(&platform).chain(subs.iter()) {
            w.enroll(&scheme, x).await;
        }
        let outsider = w.merchant("未入驻商户", "320105", Industry::Platform).await;
        let buyer = w.payer("买家").await;
        let terms = |bp: u32, who: &[&crate::party::PartyRecord]| crate::split::SplitTerms {
            commission_bp: crate::money::Bp::new(bp).unwrap(),
            shares: who
                .iter()
                .map(|s| crate::split::SplitShare {
                    merchant: s.id,
                    weight: 1,
                })
                .collect(),
        };
        let open = |split: Option<crate::split::SplitTerms>| OpenOrder {
            scheme: scheme.id,
            merchant: platform.id,
            payer: buyer.id,
            total: m("100.00"),
            description: "直播间下单".into(),
            order_no: None,
            split,
        };
        let all = [&subs[0], &subs[1], &subs[2]];
        // The terms are given when the order is opened, within the scheme's rule.
        let refused = [
            (open(None), ErrorCode::Validation),
            (open(Some(terms(3001, &all))), ErrorCode::LimitExceeded),
            (
                open(Some(terms(3000, &[&subs[0], &outsider]))),
                ErrorCode::NotFound,
            ),
            (
                open(Some(terms(3000, &[&subs[0], &platform]))),
                ErrorCode::Validation,
            ),
            (
                open(Some(terms(3000, &[&subs[0], &subs[0]]))),
                ErrorCode::Validation,
            ),
        ];
        for (cmd, code) in refused {
            assert_eq!(w.run(cmd).await.unwrap_err().code(), code);
        }
        let order = w.run(open(Some(terms(3000, &all)))).await.unwrap();
        assert_eq!(order.split, Some(terms(3000, &all)));
        w.pay(&order, "100.00").await;
        w.pass_days(1).await;
        // Settled, but nothing leaves escrow before the buyer confirms delivery.
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!((o.in_escrow(), o.released), (m("100.00"), Money::ZERO));
        let release = w
            .run(ReleaseMilestone { order: order.id })
            .await
            .unwrap_err();
        assert_eq!(release.code(), ErrorCode::InvalidState);
        // A sub-merchant that is suspended holds up the whole release.
        w.run(crate::merchant::SetMerchantStatus {
            merchant: subs[2].id,
            status: PartyStatus::Suspended,
            reason: "核查中".into(),
        })
        .await
        .unwrap();
        let confirm = ConfirmMilestone {
            order: order.id,
            index: 0,
            as_: ConfirmAs::Payer,
            approve: true,
            evidence: "确认收货".into(),
        };
        w.run_as(&w.as_party(Role::Payer, buyer.id), confirm)
            .await
            .unwrap();
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().released,
            Money::ZERO
        );
        let blocked = w
            .run(ReleaseMilestone { order: order.id })
            .await
            .unwrap_err();
        assert_eq!(blocked.code(), ErrorCode::InvalidState);
        assert!(blocked.to_string().contains("商户丙"), "{blocked}");
        w.run(crate::merchant::SetMerchantStatus {
            merchant: subs[2].id,
            status: PartyStatus::Active,
            reason: "核查完毕".into(),
        })
        .await
        .unwrap();
        let out = w.run(ReleaseMilestone { order: order.id }).await.unwrap();
        assert_eq!(out.order.status, OrderStatus::Completed);
        // 30% to the platform, the rest in three equal parts: the remainder fen to the first.
        let payable = |p: &crate::party::PartyRecord| {
            let (db, scheme, id) = (&db, &scheme, p.id);
            async move {
                let e = crate::scheme::enrollment_of(&db.db, id, scheme.id)
                    .await
                    .unwrap();
                balance(&db.db, e.payable_account)
                    .await
                    .unwrap()
                    .balance_fen
            }
        };
        assert_eq!(payable(&platform).await, 3000);
        let mut parts = vec![];
        for sub in &subs {
            parts.push(payable(sub).await);
        }
        assert_eq!(parts, [2334, 2333, 2333]);
        clean(&db).await;
    }
);

db_test!(
    the_monthly_cap_counts_a_platform_s_whole_release,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let policy = json!({
            "milestones": [{"name": "交付", "share_bp": 10000, "confirm_by": ["PAYER"]}],
            "split": {"commission_cap_bp": 3000},
            "caps": {"monthly": "150.00"},
        });
        let scheme = w.scheme(Industry::Platform, "320100", None, policy).await;
        let platform = w
            .merchant("南京某某团购平台", "320102", Industry::Platform)
            .await;
        let sub = w.merchant("商户甲", "320102", Industry::Platform).await;
        for x in [&platform, &sub] {
            w.enroll(&scheme, x).await;
        }
        let buyer = w.payer("买家").await;
        let mut orders = Vec::new();
        for _ in 0..2 {
            let order = w
                .run(OpenOrder {
                    scheme: scheme.id,
                    merchant: platform.id,
                    payer: buyer.id,
                    total: m("100.00"),
                    description: "团购券".into(),
                    order_no: None,
                    split: Some(crate::split::SplitTerms {
                        commission_bp: crate::money::Bp::new(3000).unwrap(),
                        shares: vec![crate::split::SplitShare {
                            merchant: sub.id,
                            weight: 1,
                        }],
                    }),
                })
                .await
                .unwrap();
            w.pay(&order, "100.00").await;
            orders.push(order);
        }
        w.pass_days(1).await;
        let confirm = |order: OrderId| ConfirmMilestone {
            order,
            index: 0,
            as_: ConfirmAs::Payer,
            approve: true,
            evidence: "确认收货".into(),
        };
        let payer = w.as_party(Role::Payer, buyer.id);
        w.run_as(&payer, confirm(orders[0].id)).await.unwrap();
        let first = get_order(&db.db, orders[0].id).await.unwrap();
        assert_eq!(first.released, m("100.00"));
        // Only 30.00 of it reached the platform's payable, but 100.00 left escrow: a second
        // 100.00 this month would make 200.00, over the cap of 150.00.
        w.run_as(&payer, confirm(orders[1].id)).await.unwrap();
        let err = w
            .run(ReleaseMilestone {
                order: orders[1].id,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded, "{err}");
        assert!(err.to_string().contains("200.00"), "{err}");
        assert_eq!(
            get_order(&db.db, orders[1].id).await.unwrap().released,
            Money::ZERO
        );
        clean(&db).await;
    }
);

db_test!(
    another_tenant_s_refund_reads_exactly_like_a_missing_one,
    |db: TestDb| async move {
        let s = school(&db, shenzhen()).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        w.pay(&order, "1000.00").await;
        w.pass_days(1).await;
        let r = w
            .run(RequestRefund {
                order: order.id,
                reason: "退学".into(),
                deduction: None,
                amount: None,
            })
            .await
            .unwrap();
        let missing = r.id + 1000;
        let rival = w
            .merchant("南京另一家驾校", "320102", Industry::DrivingSchool)
            .await;
        let elsewhere = w.regulator(&["3205"], &[Industry::DrivingSchool]).await;
        let asked = [
            (w.as_party(Role::Merchant, rival.id), true),
            (w.as_regulator(&elsewhere), false),
        ];
        for (who, execute) in asked {
            let attempt = |refund: i64| {
                let who = who.clone();
                async move {
                    if execute {
                        w.run_as(&who, ExecuteRefund { refund }).await
                    } else {
                        w.run_as(
                            &who,
                            ApproveDeduction {
                                refund,
                                approve: true,
                            },
                        )
                        .await
                    }
                    .unwrap_err()
                }
            };
            let (theirs, none) = (attempt(r.id).await, attempt(missing).await);
            assert_eq!(theirs.code(), ErrorCode::NotFound, "{theirs}");
            assert_eq!(theirs.to_string(), format!("refund {} not found", r.id));
            assert_eq!(none.to_string(), format!("refund {missing} not found"));
        }
        clean(&db).await;
    }
);

db_test!(
    nobody_certifies_their_own_delivery,
    |db: TestDb| async move {
        let s = school(&db, shenzhen()).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        w.pay(&order, "1000.00").await;
        w.pass_days(1).await;
        let exam = |index| ConfirmMilestone {
            order: order.id,
            index,
            as_: ConfirmAs::Evidence,
            approve: true,
            evidence: "科目一成绩单 NJ2026-0001".into(),
        };
        // The school cannot certify its own learner's exam.
        let own = w
            .run_as(&w.as_party(Role::Merchant, s.merchant.id), exam(1))
            .await
            .unwrap_err();
        assert_eq!(own.code(), ErrorCode::Forbidden);
        assert!(own.to_string().contains("self_certify"), "{own}");
        // Nor can a confirmer of another scheme, or a confirmer token for no registered party.
        let other_scheme = w
            .scheme(Industry::DrivingSchool, "320100", None, shenzhen())
            .await;
        let elsewhere = w
            .confirmer(ConfirmerKind::TrainingAssociation, &[&other_scheme])
            .await;
        for who in [
            w.as_party(Role::Confirmer, elsewhere.id),
            w.as_party(Role::Confirmer, crate::ids::PartyId(99_999)),
            w.as_party(Role::Confirmer, s.merchant.id),
        ] {
            let err = w.run_as(&who, exam(1)).await.unwrap_err();
            assert!(
                matches!(err.code(), ErrorCode::Forbidden | ErrorCode::NotFound),
                "{err}"
            );
        }
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().released,
            m("250.00")
        );
        // A suspended association confirms nothing until the bank reinstates it.
        let set = |status| crate::confirmer::SetConfirmerStatus {
            confirmer: s.association.id,
            status,
            reason: "核查".into(),
        };
        w.run(set(PartyStatus::Suspended)).await.unwrap();
        let err = evidence(w, &order, 1, &s.association).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden, "{err}");
        w.run(set(PartyStatus::Active)).await.unwrap();
        // The association registered for the scheme confirms; the event says who and how.
        let out = evidence(w, &order, 1, &s.association).await.unwrap();
        assert_eq!(out.released[0].amount, m("150.00"));
        let confirmed = crate::queries::events(&db.db, &w.bank, Some(order.id), None, 100)
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|e| e.kind == "milestone.confirmed")
            .unwrap();
        assert_eq!(
            (
                &confirmed.data["by"],
                &confirmed.data["by_role"],
                &confirmed.data["confirmer_kind"],
                &confirmed.data["self_certified"],
                &confirmed.data["evidence"]
            ),
            (
                &json!(s.association.id),
                &json!("CONFIRMER"),
                &json!("TRAINING_ASSOCIATION"),
                &json!(false),
                &json!("考试成绩单 1")
            )
        );

        // A policy that names the confirmer's kind takes no other kind.
        let mut by_kind = shenzhen();
        by_kind["milestones"][1]["confirm_by"] = json!([{"CONFIRMER_KIND": "EXAM_SYSTEM"}]);
        let kind_scheme = w
            .scheme(Industry::DrivingSchool, "320100", None, by_kind)
            .await;
        w.enroll(&kind_scheme, &s.merchant).await;
        let both = w
            .confirmer(ConfirmerKind::TrainingAssociation, &[&kind_scheme])
            .await;
        let exams = w
            .confirmer(ConfirmerKind::ExamSystem, &[&kind_scheme])
            .await;
        let o2 = w
            .order(&kind_scheme, &s.merchant, &s.payer, "1000.00")
            .await;
        w.pay(&o2, "1000.00").await;
        w.pass_days(1).await;
        let err = evidence(w, &o2, 1, &both).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "{err}");
        assert!(
            err.to_string().contains("CONFIRMER_KIND:EXAM_SYSTEM"),
            "{err}"
        );
        assert_eq!(
            evidence(w, &o2, 1, &exams).await.unwrap().released[0].amount,
            m("150.00")
        );

        // Only where the policy says so may the school certify itself, and it shows.
        let mut own_word = shenzhen();
        own_word["milestones"][1]["self_certify"] = json!(true);
        let self_scheme = w
            .scheme(Industry::DrivingSchool, "320100", None, own_word)
            .await;
        w.enroll(&self_scheme, &s.merchant).await;
        let o3 = w
            .order(&self_scheme, &s.merchant, &s.payer, "1000.00")
            .await;
        w.pay(&o3, "1000.00").await;
        w.pass_days(1).await;
        let out = w
            .run_as(
                &w.as_party(Role::Merchant, s.merchant.id),
                ConfirmMilestone {
                    order: o3.id,
                    index: 1,
                    as_: ConfirmAs::Evidence,
                    approve: true,
                    evidence: "自报".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(out.released[0].amount, m("150.00"));
        let policy = crate::scheme::policy_at(&db.db, self_scheme.id, 1)
            .await
            .unwrap();
        assert!(policy.milestones[1].self_certify);
        assert_eq!(
            serde_json::to_value(&policy).unwrap()["milestones"][1]["self_certify"],
            true
        );
        // ... and only on that milestone.
        let err = w
            .run_as(
                &w.as_party(Role::Merchant, s.merchant.id),
                ConfirmMilestone {
                    order: o3.id,
                    index: 2,
                    as_: ConfirmAs::Evidence,
                    approve: true,
                    evidence: "自报".into(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden);
        clean(&db).await;
    }
);

db_test!(
    a_permits_validity_runs_from_the_first_exam_passed_not_from_enrolment,
    |db: TestDb| async move {
        let mut policy = shenzhen();
        policy["validity_days"] = json!(10);
        policy["validity_from"] = json!("科目一合格");
        let s = school(&db, policy).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        assert_eq!(order.expires_at, None);
        w.pay(&order, "1000.00").await;
        // Twenty days of lessons before the exam: nothing lapses.
        w.pass_days(20).await;
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().status,
            OrderStatus::Active
        );
        // 科目一 passed: the ten days start now.
        evidence(w, &order, 1, &s.association).await.unwrap();
        let started = get_order(&db.db, order.id).await.unwrap();
        assert_eq!(started.expires_at, Some(w.clock.now().plus_days(10)));
        w.pass_days(9).await;
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().status,
            OrderStatus::Active
        );
        w.pass_days(2).await;
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!((o.status, o.refunded), (OrderStatus::Refunded, m("600.00")));
        // A milestone the schedule does not have is refused when the policy is made.
        let mut bad = shenzhen();
        bad["validity_from"] = json!("科目五合格");
        let err = w
            .run(crate::scheme::CreateScheme {
                code: "BAD-VF".into(),
                name: "bad".into(),
                industry: Industry::DrivingSchool,
                region: "320100".parse().unwrap(),
                regulator: None,
                policy: bad,
            })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("validity_from"), "{err}");
        clean(&db).await;
    }
);

db_test!(reconciliation_lists_every_break, |db: TestDb| async move {
    let s = school(&db, shenzhen()).await;
    let w = &s.w;
    for (i, amount) in ["100.00", "200.00", "300.00"].iter().enumerate() {
        let o = w.order(&s.scheme, &s.merchant, &s.payer, amount).await;
        let batch = if i > 0 { Some("B-7".to_owned()) } else { None };
        w.run(Collect {
            order: o.id,
            channel: Channel::BankTransfer,
            amount: m(amount),
            external_ref: format!("bt-{i}"),
            batch_ref: batch,
        })
        .await
        .unwrap();
    }
    let extra = w.order(&s.scheme, &s.merchant, &s.payer, "50.00").await;
    w.run(Collect {
        order: extra.id,
        channel: Channel::BankTransfer,
        amount: m("50.00"),
        external_ref: "bt-x".into(),
        batch_ref: None,
    })
    .await
    .unwrap();
    let today = w.clock.now().china_date();
    // bt-0 1:1, B-7 1:2, an unknown line, a duplicate; bt-x is missing from the statement.
    let csv = "reference,amount\nbt-0,100.00\nB-7,500.00\nzz-9,1.00\nbt-0,100.00\n";
    let r = w
        .run(crate::reconcile::ImportStatement {
            channel: Channel::BankTransfer,
            date: today,
            csv: csv.into(),
        })
        .await
        .unwrap();
    assert_eq!((r.matched_lines, r.matched_payments), (2, 3));
    let mut kinds: Vec<_> = r.breaks.iter().map(|b| b.status.as_str()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "DUPLICATE_LINE",
            "MISSING_IN_LEDGER",
            "MISSING_IN_STATEMENT"
        ]
    );
    let again = w
        .run(crate::reconcile::ImportStatement {
            channel: Channel::BankTransfer,
            date: today,
            csv: csv.into(),
        })
        .await
        .unwrap();
    assert!(!again.applied);
    assert_eq!(again.breaks.len(), 3);
    let mismatch = w
        .run(crate::reconcile::ImportStatement {
            channel: Channel::BankTransfer,
            date: today,
            csv: "reference,amount\nbt-0,100.01\nB-7,500.00\nbt-x,50.00\n".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        mismatch
            .breaks
            .iter()
            .map(|b| b.status.as_str())
            .collect::<Vec<_>>(),
        ["AMOUNT_MISMATCH"]
    );
    let alerts = crate::alert::alerts(
        &db.db,
        &w.bank,
        None,
        crate::page::Page::new(None, 50).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        alerts
            .items
            .iter()
            .filter(|a| a.kind == AlertKind::ReconciliationBreak)
            .count(),
        4
    );
    let bad = w
        .run(crate::reconcile::ImportStatement {
            channel: Channel::BankTransfer,
            date: today,
            csv: "reference,amount\nbt-0,1e3\n".into(),
        })
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("line 2"), "{bad}");
});

db_test!(
    a_listed_merchant_is_blocked_and_its_releases_stop,
    |db: TestDb| async move {
        let s = school(&db, shenzhen()).await;
        let w = &s.w;
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        w.pay(&order, "1000.00").await;
        let uscc = s.merchant.uscc.clone().unwrap();
        let csv = format!(
            "uscc,name,reason,listed_on\n{uscc},{},(2026)苏0102执9号,2026-02-01\n",
            s.merchant.name
        );
        let r = w
            .run(crate::list_import::ImportList {
                kind: crate::screening::ListKind::DishonestDebtor,
                csv: csv.clone(),
            })
            .await
            .unwrap();
        assert_eq!(r.hits, vec![s.merchant.id]);
        let again = w
            .run(crate::list_import::ImportList {
                kind: crate::screening::ListKind::DishonestDebtor,
                csv,
            })
            .await
            .unwrap();
        assert!(!again.applied);
        assert_eq!(
            crate::party::get_party(&db.db, s.merchant.id)
                .await
                .unwrap()
                .status,
            PartyStatus::Blocked
        );
        w.pass_days(1).await;
        // Settled, but the enrolment tranche did not go out.
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!((o.settled, o.released), (m("1000.00"), Money::ZERO));
        assert_eq!(
            w.run(ReleaseMilestone { order: order.id })
                .await
                .unwrap_err()
                .code(),
            ErrorCode::InvalidState
        );
        let alerts = crate::alert::alerts(
            &db.db,
            &w.bank,
            None,
            crate::page::Page::new(None, 50).unwrap(),
        )
        .await
        .unwrap();
        assert!(alerts.items.iter().any(|a| a.kind == AlertKind::ListHit));
        let score = crate::risk::latest(&db.db, s.merchant.id)
            .await
            .unwrap()
            .unwrap();
        assert!(
            score
                .reasons
                .iter()
                .any(|r| r.feature == "list_hits" && r.points == 40),
            "{score:?}"
        );
        clean(&db).await;
    }
);

db_test!(
    onboarding_records_each_check_and_reviews_doubtful_merchants,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let bad_checksum = w
            .run(crate::merchant::RegisterMerchant {
                name: "某某早期企业".into(),
                uscc: "91110000600037341N".into(),
                region: "320100".parse().unwrap(),
                industry: Industry::Canteen,
                description: String::new(),
                licence: Some(crate::party::Licence {
                    registered_name: "某某早期企业".into(),
                    registered_address: "地址".into(),
                    legal_representative: "张某".into(),
                    valid_until: None,
                    status: "在业".into(),
                }),
            })
            .await
            .unwrap();
        assert_eq!(bad_checksum.status, PartyStatus::ManualReview);
        let malformed = w
            .run(crate::merchant::RegisterMerchant {
                name: "x".into(),
                uscc: "123".into(),
                region: "320100".parse().unwrap(),
                industry: Industry::Canteen,
                description: String::new(),
                licence: None,
            })
            .await
            .unwrap_err();
        assert_eq!(malformed.code(), ErrorCode::Validation);
        let expired = w
            .run(crate::merchant::RegisterMerchant {
                name: "吊销的食堂".into(),
                uscc: crate::identity::uscc_with_check("91320100MA9999999").unwrap(),
                region: "320100".parse().unwrap(),
                industry: Industry::Canteen,
                description: String::new(),
                licence: Some(crate::party::Licence {
                    registered_name: "吊销的食堂".into(),
                    registered_address: "地址".into(),
                    legal_representative: "李某".into(),
                    valid_until: Some("2025-01-01".parse().unwrap()),
                    status: "吊销".into(),
                }),
            })
            .await
            .unwrap();
        assert_eq!(expired.status, PartyStatus::ManualReview);
        let checks = lvyue_entity::event::Entity::find()
            .all(&db.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == "merchant.checked" && e.merchant_id == Some(expired.id.0))
            .count();
        assert!(checks >= 6, "each check is evidence: {checks}");
    }
);

db_test!(
    custody_of_the_previous_quarter_balance_is_enforced_on_every_release,
    |db: TestDb| async move {
        let w = World::at(
            &db,
            Timestamp::china_midnight("2026-03-10".parse().unwrap()).plus_seconds(36000),
        )
        .await;
        let policy = json!({
            "milestones": [{"name": "消费", "share_bp": 10000, "confirm_by": ["PAYER"]}],
            "custody": {"reference": "PREVIOUS_QUARTER_PREPAID", "ratio_bp": 4000}
        });
        let scheme = w
            .scheme(Industry::PrepaidCard, "320100", None, policy)
            .await;
        let gym = w
            .merchant("南京某某健身有限公司", "320102", Industry::PrepaidCard)
            .await;
        w.enroll(&scheme, &gym).await;
        let mut orders = vec![];
        for i in 0..5 {
            let p = w.payer(&format!("会员{i}")).await;
            let o = w.order(&scheme, &gym, &p, "1000.00").await;
            w.pay(&o, "1000.00").await;
            orders.push((o, p));
        }
        w.pass_days(1).await;
        // Quarter ends with 5000.00 in escrow: from April on, 2000.00 must stay.
        w.clock
            .set(Timestamp::china_midnight("2026-04-07".parse().unwrap()).plus_seconds(36000));
        let mut results = vec![];
        for (o, p) in &orders {
            let r = w
                .run_as(
                    &w.as_party(Role::Payer, p.id),
                    ConfirmMilestone {
                        order: o.id,
                        index: 0,
                        as_: ConfirmAs::Payer,
                        approve: true,
                        evidence: String::new(),
                    },
                )
                .await
                .unwrap();
            results.push(r.released.len());
        }
        assert_eq!(
            results,
            [1, 1, 1, 0, 0],
            "the fourth release would leave 1000.00 < 2000.00"
        );
        let err = w
            .run(ReleaseMilestone {
                order: orders[3].0.id,
            })
            .await
            .unwrap_err();
        assert!(matches!(err, DomainError::CustodyBreach { .. }), "{err:?}");
        assert_eq!(err.code(), ErrorCode::InsufficientFunds);
        clean(&db).await;
    }
);

db_test!(
    an_order_paid_in_instalments_releases_each_milestone_once_its_money_is_in,
    |db: TestDb| async move {
        let mut policy = fuzhou();
        policy["milestones"] = json!([
            {"name": "第一期", "share_bp": 4000, "confirm_by": ["PAYER"]},
            {"name": "第二期", "share_bp": 6000, "confirm_by": ["PAYER"]}
        ]);
        policy["payment"] = json!({"staged": true});
        let s = school(&db, policy).await;
        let w = &s.w;
        let payer = w.as_party(Role::Payer, s.payer.id);
        let confirm = |index| ConfirmMilestone {
            order: OrderId(0),
            index,
            as_: ConfirmAs::Payer,
            approve: true,
            evidence: String::new(),
        };
        let order = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        // The first instalment starts the order.
        let paid = w.pay(&order, "400.00").await;
        assert_eq!(paid.order.status, OrderStatus::Active);
        w.pass_days(1).await;
        let out = w
            .run_as(
                &payer,
                ConfirmMilestone {
                    order: order.id,
                    ..confirm(0)
                },
            )
            .await
            .unwrap();
        assert_eq!(out.released.len(), 1);
        assert_eq!(out.order.released, m("400.00"));
        // The second is confirmed before its money is in: it waits, and says why.
        w.run_as(
            &payer,
            ConfirmMilestone {
                order: order.id,
                ..confirm(1)
            },
        )
        .await
        .unwrap();
        let err = w
            .run(ReleaseMilestone { order: order.id })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");
        assert!(err.to_string().contains("AWAITING_INSTALMENT"), "{err}");
        assert_eq!(
            get_order(&db.db, order.id).await.unwrap().released,
            m("400.00")
        );
        // No more than the total is ever taken.
        let err = w
            .run(Collect {
                order: order.id,
                channel: Channel::WechatPay,
                amount: m("600.01"),
                external_ref: "wx-over".into(),
                batch_ref: None,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "{err}");
        // The second instalment settles, and the confirmed tranche goes out by itself.
        w.pay(&order, "600.00").await;
        w.pass_days(1).await;
        let o = get_order(&db.db, order.id).await.unwrap();
        assert_eq!(
            (o.released, o.status),
            (m("1000.00"), OrderStatus::Completed)
        );
        let err = w
            .run(Collect {
                order: order.id,
                channel: Channel::WechatPay,
                amount: m("1.00"),
                external_ref: "wx-after".into(),
                batch_ref: None,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");
        assert!(audit(&db.db, None).await.unwrap().is_clean());

        // Without `staged`, a part payment leaves the order waiting for the rest.
        let whole = school(&db, fuzhou()).await;
        let o = whole
            .w
            .order(&whole.scheme, &whole.merchant, &whole.payer, "1000.00")
            .await;
        assert_eq!(
            whole.w.pay(&o, "400.00").await.order.status,
            OrderStatus::AwaitingPayment
        );
    }
);

#[test]
fn instalments_and_card_top_ups_do_not_mix() {
    let mut p = fuzhou();
    p["payment"] = json!({"staged": true});
    p["release_on_usage"] = json!(true);
    let err = crate::policy::Policy::from_json(&p).unwrap_err();
    assert!(err.to_string().contains("payment.staged"), "{err}");
    p["payment"] = json!({"staged": true, "period": "MONTH"});
    assert!(crate::policy::Policy::from_json(&p).is_err());
}

db_test!(
    custody_of_what_is_owed_counts_money_still_clearing,
    |db: TestDb| async move {
        let mut policy = fuzhou();
        policy["milestones"] = json!([
            {"name": "入学", "share_bp": 6000, "confirm_by": ["PAYER"]},
            {"name": "结业", "share_bp": 4000, "confirm_by": ["PAYER"]}
        ]);
        policy["custody"] = json!({"reference": "OUTSTANDING_PREPAID", "ratio_bp": 5000});
        let s = school(&db, policy).await;
        let w = &s.w;
        let old = w.order(&s.scheme, &s.merchant, &s.payer, "1000.00").await;
        w.pay(&old, "1000.00").await;
        w.pass_days(1).await;
        // Today's enrolments are owed to their payers before they reach escrow.
        let new = w.order(&s.scheme, &s.merchant, &s.payer, "3000.00").await;
        w.pay(&new, "3000.00").await;
        w.run_as(
            &w.as_party(Role::Payer, s.payer.id),
            ConfirmMilestone {
                order: old.id,
                index: 0,
                as_: ConfirmAs::Payer,
                approve: true,
                evidence: String::new(),
            },
        )
        .await
        .unwrap();
        // Owed 4,000.00 less the 600.00 tranche, half kept: 1,700.00; escrow would keep 400.00.
        let err = w.run(ReleaseMilestone { order: old.id }).await.unwrap_err();
        assert!(
            matches!(err, DomainError::CustodyBreach { required, remaining }
                if required == m("1700.00") && remaining == m("400.00")),
            "{err:?}"
        );
        // Once the new money has settled, the tranche goes out by itself.
        w.pass_days(1).await;
        assert_eq!(
            get_order(&db.db, old.id).await.unwrap().released,
            m("600.00")
        );
        assert!(audit(&db.db, None).await.unwrap().is_clean());
    }
);
