//! The calendar as data: published years from the database, provisional dates past them,
//! loading a year and re-planning, and the warning before the calendar runs out — on SQLite
//! and (when configured) PostgreSQL.
#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use serde_json::json;

use super::store::{self, LoadHolidayCalendar};
use super::*;
use crate::alert::AlertKind;
use crate::alert::alerts;
use crate::audit::audit;
use crate::clock::{Clock, Timestamp};
use crate::db_test;
use crate::error::ErrorCode;
use crate::order::{RequestRefund, payments_of, refunds_of};
use crate::order_record::PaymentStatus;
use crate::page::Page;
use crate::principal::{Industry, Principal, Role};
use crate::queries::events;
use crate::scheduler::{JobKind, JobStatus, jobs};
use crate::testing::TestDb;
use crate::testing::world::World;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// 10:00 China time on `date`.
fn at(date: &str) -> Timestamp {
    Timestamp::china_midnight(d(date)).plus_seconds(10 * 3600)
}

fn day(date: &str, name: &str, off_day: bool) -> HolidayDay {
    HolidayDay {
        date: d(date),
        name: name.into(),
        off_day,
    }
}

/// A made-up 2027 for the tests (not the State Council's notice): New Year's Day through
/// Monday 4 January off, Saturday 9 January worked in exchange, the Spring Festival week.
fn test_2027() -> LoadHolidayCalendar {
    let mut days = vec![
        day("2027-01-01", "元旦", true),
        day("2027-01-04", "元旦", true),
        day("2027-01-09", "元旦", false),
    ];
    for n in 5..=11 {
        days.push(day(&format!("2027-02-{n:02}"), "春节", true));
    }
    LoadHolidayCalendar {
        year: 2027,
        days,
        source: "test notice 2027".into(),
    }
}

db_test!(
    the_published_years_are_read_from_the_database,
    |db: TestDb| async move {
        let cal = Calendar::read(&db.db, 2024..=2027).await.unwrap();
        for made_up in [
            "2024-02-04",
            "2024-10-12",
            "2025-01-26",
            "2025-10-11",
            "2026-01-04",
            "2026-10-10",
        ] {
            assert_eq!(
                cal.is_working_day(d(made_up)).unwrap(),
                (true, false),
                "{made_up}"
            );
        }
        for holiday in [
            "2024-10-07",
            "2025-01-28",
            "2025-10-08",
            "2026-02-23",
            "2026-06-19",
        ] {
            assert_eq!(
                cal.is_working_day(d(holiday)).unwrap(),
                (false, false),
                "{holiday}"
            );
        }
        let t1 = |s: &str| cal.next_working_day(d(s)).unwrap();
        // The eve of National Day settles after the holiday; a Friday before the Spring
        // Festival on the make-up Saturday; ordinary weekends roll to Monday.
        assert_eq!(
            t1("2026-09-30"),
            WorkingDate {
                date: d("2026-10-08"),
                provisional: false
            }
        );
        assert_eq!(t1("2026-02-13").date, d("2026-02-14"));
        assert_eq!(t1("2026-11-21").date, d("2026-11-23"));
        // 15 working days from Wednesday 2026-09-23 skip Mid-Autumn and National Day.
        let due = cal.add_working_days(d("2026-09-23"), 15).unwrap();
        assert_eq!(
            due,
            WorkingDate {
                date: d("2026-10-21"),
                provisional: false
            }
        );
        assert_eq!(
            cal.working_days_between(d("2026-09-23"), due.date).unwrap(),
            WorkingDays {
                days: 15,
                provisional: false
            }
        );
        // 2027 is not loaded: New Year's Day by rule, then the weekend, then Monday 4 January,
        // provisionally.
        assert_eq!(
            t1("2026-12-31"),
            WorkingDate {
                date: d("2027-01-04"),
                provisional: true
            }
        );
        assert_eq!(
            t1("2026-12-30"),
            WorkingDate {
                date: d("2026-12-31"),
                provisional: false
            }
        );
        // A year that was not read is a bug, not a refusal of the customer.
        let err = cal.is_working_day(d("2029-03-01")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Internal);
    }
);

db_test!(
    money_is_taken_and_refunds_are_planned_before_the_next_year_is_loaded_and_re_planned_after,
    |db: TestDb| async move {
        let w = World::at(&db, at("2026-12-15")).await;
        let regulator = w.regulator(&["3201"], &[Industry::Canteen]).await;
        let policy = json!({
            "milestones": [{"name": "学期", "share_bp": 10000, "confirm_by": ["PAYER"]}],
            "refund": {"deadline_working_days": 15}
        });
        let scheme = w
            .scheme(Industry::Canteen, "320100", Some(regulator.id), policy)
            .await;
        let merchant = w
            .merchant("南京市某某餐饮管理有限公司", "320102", Industry::Canteen)
            .await;
        w.enroll(&scheme, &merchant).await;
        let payer = w.payer("王语嫣").await;
        let first = w.order(&scheme, &merchant, &payer, "600.00").await;
        w.pay(&first, "600.00").await;
        // Tuesday 2026-12-15: 15 working days run into January 2027, which is not loaded.
        let refund = w
            .run_as(
                &w.as_party(Role::Payer, payer.id),
                RequestRefund {
                    order: first.id,
                    reason: "转学".into(),
                    deduction: None,
                    amount: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(refund.due_at.china_date(), d("2027-01-06"));
        assert!(refund.due_provisional);
        // Thursday 2026-12-31: the channel has the payer's money; it is recorded, to settle on
        // Monday 2027-01-04 provisionally.
        w.pass_days(16).await;
        assert_eq!(w.clock.now().china_date(), d("2026-12-31"));
        let second = w.order(&scheme, &merchant, &payer, "300.00").await;
        let paid = w.pay(&second, "300.00").await.payment;
        assert_eq!(
            (paid.settle_date, paid.settle_provisional),
            (d("2027-01-04"), true)
        );
        let collected = events(&db.db, &w.bank, Some(second.id), None, 50)
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|e| e.kind == "payment.collected")
            .unwrap();
        assert_eq!(collected.data["settle_provisional"], true);

        // The bank loads 2027: 4 January is off after all.
        let key = crate::idempotency::IdempotencyKey::new("load-2027").unwrap();
        let loaded = store::load(&w.escrow, &w.bank, Some(&key), &test_2027())
            .await
            .unwrap();
        assert!(loaded.changed);
        assert_eq!(
            (loaded.replanned.payments, loaded.replanned.refunds),
            (1, 1)
        );
        assert!(loaded.calendar.loaded);
        assert_eq!(loaded.calendar.days.len(), 10);
        let paid = payments_of(&db.db, second.id).await.unwrap().remove(0);
        assert_eq!(
            (paid.settle_date, paid.settle_provisional),
            (d("2027-01-05"), false)
        );
        // 12 working days in December, then 5, 6 and 7 January.
        let refund = refunds_of(&db.db, first.id).await.unwrap().remove(0);
        assert_eq!(
            (refund.due_at.china_date(), refund.due_provisional),
            (d("2027-01-07"), false)
        );
        let deadline_job = jobs(&w.escrow, Some(JobStatus::Pending), 500)
            .await
            .unwrap()
            .into_iter()
            .find(|j| j.kind == JobKind::RefundDeadline && j.target == refund.id)
            .unwrap();
        assert_eq!(deadline_job.due_at, refund.due_at);
        // Each change is on the order's own record.
        let kinds = |order| {
            let (w, db) = (&w, &db);
            async move {
                events(&db.db, &w.bank, Some(order), None, 100)
                    .await
                    .unwrap()
                    .items
                    .into_iter()
                    .map(|e| (e.kind, e.data))
                    .collect::<Vec<_>>()
            }
        };
        let moved = kinds(second.id).await;
        let (_, data) = moved
            .iter()
            .find(|(k, _)| k == "payment.settle_date_replanned")
            .unwrap();
        assert_eq!(
            (&data["from"], &data["to"], &data["provisional"]),
            (&json!("2027-01-04"), &json!("2027-01-05"), &json!(false))
        );
        assert!(
            kinds(first.id)
                .await
                .iter()
                .any(|(k, _)| k == "refund.deadline_replanned")
        );

        // Loading the same notice again changes nothing and writes nothing.
        let size = *w.escrow.subscribe_log_size().borrow();
        let again = store::load(&w.escrow, &w.bank, None, &test_2027())
            .await
            .unwrap();
        assert!(!again.changed);
        assert_eq!(*w.escrow.subscribe_log_size().borrow(), size);
        // A retry of the first load under its key gets the first answer back, unchanged.
        let replay = store::load(&w.escrow, &w.bank, Some(&key), &test_2027())
            .await
            .unwrap();
        assert_eq!(replay, loaded);
        assert_eq!(*w.escrow.subscribe_log_size().borrow(), size);

        // The money settles on the re-planned day, not the provisional one.
        w.pass_days(4).await;
        assert_eq!(w.clock.now().china_date(), d("2027-01-04"));
        let status = || async { payments_of(&db.db, second.id).await.unwrap()[0].status };
        assert_eq!(status().await, PaymentStatus::Clearing);
        w.pass_days(1).await;
        assert_eq!(status().await, PaymentStatus::Settled);
        let r = audit(&db.db, None).await.unwrap();
        assert!(r.is_clean(), "{:#?}", r.breaches);
    }
);

db_test!(
    the_bank_is_warned_from_sixty_days_before_the_calendar_ends_and_every_day_after,
    |db: TestDb| async move {
        let w = World::at(&db, at("2026-10-31")).await;
        let regulator = w.regulator(&["32"], &[Industry::Canteen]).await;
        let ending = |p: Principal| {
            let db = &db;
            async move {
                alerts(&db.db, &p, None, Page::new(None, 100).unwrap())
                    .await
                    .unwrap()
                    .items
                    .into_iter()
                    .filter(|a| a.kind == AlertKind::CalendarEnding)
                    .collect::<Vec<_>>()
            }
        };
        w.tick().await;
        assert!(
            ending(w.bank.clone()).await.is_empty(),
            "61 days left on 2026-10-31"
        );
        w.pass_days(1).await;
        let raised = ending(w.bank.clone()).await;
        assert_eq!(raised.len(), 1, "2026-11-01 is 60 days before 2026-12-31");
        assert!(raised[0].message.contains("2027"), "{}", raised[0].message);
        assert_eq!(raised[0].details["days_left"], 60);
        // Once a day, however often the scheduler runs; only the bank sees it.
        w.tick().await;
        assert_eq!(ending(w.bank.clone()).await.len(), 1);
        assert!(ending(w.as_regulator(&regulator)).await.is_empty());
        w.pass_days(1).await;
        assert_eq!(ending(w.bank.clone()).await.len(), 2);
        // Loaded: the warnings stop.
        store::load(&w.escrow, &w.bank, None, &test_2027())
            .await
            .unwrap();
        w.pass_days(1).await;
        assert_eq!(ending(w.bank.clone()).await.len(), 2);
        let c = store::coverage(&db.db, w.clock.now().china_date())
            .await
            .unwrap();
        assert_eq!(c.last_day, Some(d("2027-12-31")));
        assert!(!c.ending());
    }
);

db_test!(
    a_bad_year_is_refused_with_the_reason_and_nothing_is_written,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let size = *w.escrow.subscribe_log_size().borrow();
        let refused = |cmd: LoadHolidayCalendar, who: Principal| {
            let w = &w;
            async move { store::load(&w.escrow, &who, None, &cmd).await.unwrap_err() }
        };
        let with = |f: &dyn Fn(&mut LoadHolidayCalendar)| {
            let mut c = test_2027();
            f(&mut c);
            c
        };
        let cases = [
            (
                with(&|c| c.days.push(day("2026-12-31", "元旦", true))),
                "not in 2027",
            ),
            (
                with(&|c| c.days.push(day("2027-01-01", "元旦", true))),
                "listed twice",
            ),
            (
                with(&|c| c.days.push(day("2027-01-05", "补班", false))),
                "weekday",
            ),
            (with(&|c| c.days.clear()), "no days"),
            (with(&|c| c.days.retain(|d| !d.off_day)), "no holiday"),
            (with(&|c| c.source = " ".into()), "source"),
            (with(&|c| c.year = 2100), "outside"),
        ];
        for (cmd, why) in cases {
            let err = refused(cmd, w.bank.clone()).await;
            assert_eq!(err.code(), ErrorCode::Validation, "{why}: {err}");
            assert!(err.to_string().contains(why), "{why}: {err}");
        }
        let merchant = w.merchant("某某公司", "320102", Industry::Canteen).await;
        let size_after_merchant = *w.escrow.subscribe_log_size().borrow();
        assert!(size_after_merchant > size);
        let err = refused(test_2027(), w.as_party(Role::Merchant, merchant.id)).await;
        assert_eq!(err.code(), ErrorCode::Forbidden);
        assert_eq!(*w.escrow.subscribe_log_size().borrow(), size_after_merchant);
        assert!(!store::calendar_year(&db.db, 2027).await.unwrap().loaded);
    }
);
