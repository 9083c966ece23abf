//! Balances by merchant, daily and quarter-end snapshots, and releases by milestone.

use super::*;

db_test!(
    balances_carry_each_closing_into_the_next_period_and_match_the_escrow_accounts,
    |db: TestDb| async move {
        let f = fixture(&db).await;
        let orders = all_orders(&db).await;
        let a = Period::china_days(d(DAY0), d("2026-03-04")).unwrap();
        let b = Period::china_days(d("2026-03-05"), d("2026-03-05")).unwrap();
        let ra = balances(&db.db, &f.w.bank, a, &ReportFilter::default())
            .await
            .unwrap();
        let rb = balances(&db.db, &f.w.bank, b, &ReportFilter::default())
            .await
            .unwrap();
        assert_eq!(ra.rows.len(), 4);
        assert_eq!(rb.rows.len(), 4);
        for (period, rows) in [(a, &ra.rows), (b, &rb.rows)] {
            for r in rows {
                let closing = r
                    .opening
                    .checked_add(r.collected)
                    .unwrap()
                    .checked_sub(r.released)
                    .unwrap()
                    .checked_sub(r.refunded)
                    .unwrap()
                    .checked_sub(r.deducted)
                    .unwrap();
                assert_eq!(r.closing, closing);
                let mine: Vec<&OrderRecord> = orders
                    .iter()
                    .filter(|o| o.merchant == r.merchant && o.scheme == r.scheme)
                    .collect();
                assert_eq!(
                    r.actual_custody,
                    escrow_at(&db, &mine, period.last_instant()).await
                );
                assert_eq!(
                    r.shortfall,
                    r.required_custody.saturating_sub(r.actual_custody)
                );
            }
        }
        // Period B's opening is period A's closing; B's closing is the orders' ledger today.
        for (x, y) in ra.rows.iter().zip(&rb.rows) {
            assert_eq!((x.merchant, x.scheme), (y.merchant, y.scheme));
            assert_eq!(x.closing, y.opening);
            let mine = orders
                .iter()
                .filter(|o| o.merchant == y.merchant && o.scheme == y.scheme);
            assert_eq!(y.closing, sums(mine)[4]);
        }
        // The canteen ends period A with O7's 200.00 still in clearing (T+1).
        let canteen_a = ra.rows.iter().find(|x| x.merchant == f.m[2].id).unwrap();
        assert_eq!(
            canteen_a
                .closing
                .checked_sub(canteen_a.actual_custody)
                .unwrap(),
            m("200.00")
        );
        // Custody: 20% of the outstanding balance, rounded up, where the scheme has the rule,
        // exactly as the release gate computes it now.
        let policy = crate::scheme::policy_at(&db.db, f.s1.id, f.s1.current_version)
            .await
            .unwrap();
        let rule = policy.custody.unwrap();
        for r in &rb.rows {
            if r.scheme == f.s1.id {
                assert_eq!(r.custody_ratio, Some(crate::money::Bp::new(2000).unwrap()));
                assert_eq!(
                    r.required_custody,
                    r.actual_custody
                        .share_ceil(crate::money::Bp::new(2000).unwrap())
                );
                let e = enrollment_of(&db.db, r.merchant, r.scheme).await.unwrap();
                let merchant = crate::party::get_party(&db.db, r.merchant).await.unwrap();
                let grade = crate::risk::latest_grade(&db.db, r.merchant).await.unwrap();
                let now = crate::custody::status(
                    &db.db,
                    &rule,
                    e.group_account,
                    &merchant,
                    grade.as_deref(),
                    f.w.clock.now(),
                )
                .await
                .unwrap();
                assert_eq!(
                    (r.required_custody, r.actual_custody, r.shortfall),
                    (now.required, now.actual, now.shortfall)
                );
            } else {
                assert_eq!(
                    (r.custody_ratio, r.required_custody, r.shortfall),
                    (None, Money::ZERO, Money::ZERO)
                );
            }
        }
        // M2 keeps O2's 1500.00 and what is left of O6 after the court's 60.00: 1665.00, of
        // which 20% must stay.
        let m2 = rb.rows.iter().find(|x| x.merchant == f.m[1].id).unwrap();
        assert_eq!(
            (m2.actual_custody, m2.required_custody),
            (m("1665.00"), m("333.00"))
        );
        clean(&db).await;
    }
);

db_test!(
    daily_snapshots_follow_the_escrow_accounts_and_quarter_ends_repeat_the_same_rows,
    |db: TestDb| async move {
        let f = fixture(&db).await;
        let orders = all_orders(&db).await;
        let none = ReportFilter::default();
        let r = snapshots(&db.db, &f.w.bank, full(), &none, SnapshotFrequency::Daily)
            .await
            .unwrap();
        let mut collected = BTreeMap::new();
        for row in &r.rows {
            let mine: Vec<&OrderRecord> = orders
                .iter()
                .filter(|o| o.merchant == row.merchant && o.scheme == row.scheme)
                .collect();
            assert_eq!(
                row.in_escrow,
                escrow_at(&db, &mine, end_of(row.date)).await,
                "{row:?}"
            );
            assert!(row.closing >= row.in_escrow);
            *collected.entry(row.merchant).or_insert(0) += row.collected.fen();
        }
        for mm in &f.m {
            let mine = orders.iter().filter(|o| o.merchant == mm.id);
            assert_eq!(collected[&mm.id], sums(mine)[0].fen());
        }
        // On the last day every merchant holding money appears, with the orders' balance; M1
        // (O1 completed, O5 refunded) holds nothing and moved nothing that day.
        let last: Vec<&SnapshotRow> = r
            .rows
            .iter()
            .filter(|x| x.date == d("2026-03-05"))
            .collect();
        let who: Vec<PartyId> = last.iter().map(|x| x.merchant).collect();
        assert_eq!(who, [f.m[1].id, f.m[2].id, f.m[3].id]);
        for row in last {
            let mine = orders
                .iter()
                .filter(|o| o.merchant == row.merchant && o.scheme == row.scheme);
            assert_eq!(row.closing, sums(mine)[4]);
        }
        assert_eq!(
            sums(orders.iter().filter(|o| o.merchant == f.m[0].id))[4],
            Money::ZERO
        );
        // The quarter-end rows of a longer period are the daily rows of 03-31.
        let q = Period::china_days(d("2026-03-01"), d("2026-04-10")).unwrap();
        let qe = snapshots(&db.db, &f.w.bank, q, &none, SnapshotFrequency::QuarterEnd)
            .await
            .unwrap();
        let march = Period::china_days(d("2026-03-01"), d("2026-03-31")).unwrap();
        let daily = snapshots(&db.db, &f.w.bank, march, &none, SnapshotFrequency::Daily)
            .await
            .unwrap();
        let on_31: Vec<SnapshotRow> = daily
            .rows
            .into_iter()
            .filter(|x| x.date == d("2026-03-31"))
            .collect();
        assert_eq!(on_31.len(), 3);
        assert_eq!(qe.rows, on_31);
        // Daily snapshots over more than a year are refused, not truncated.
        let long = Period::china_days(d("2025-01-01"), d("2026-03-05")).unwrap();
        let err = snapshots(&db.db, &f.w.bank, long, &none, SnapshotFrequency::Daily)
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation);
        clean(&db).await;
    }
);

db_test!(
    collected_vs_released_by_milestone_adds_up_to_the_schemes_ledger,
    |db: TestDb| async move {
        let f = fixture(&db).await;
        let orders = all_orders(&db).await;
        let r = releases_by_milestone(&db.db, &f.w.bank, full(), &ReportFilter::default())
            .await
            .unwrap();
        assert_eq!(r.schemes.len(), 3);
        for s in &r.schemes {
            let mine: Vec<&OrderRecord> = orders.iter().filter(|o| o.scheme == s.scheme).collect();
            let [c, rel, rf, de, _] = sums(mine.iter().copied());
            assert_eq!(
                (s.collected, s.released, s.refunded, s.deducted),
                (c, rel, rf, de)
            );
            let mut on_schedule = Money::ZERO;
            for line in &s.milestones {
                on_schedule = on_schedule.checked_add(line.released).unwrap();
                // Independently: the milestone records of the scheme's orders.
                let (mut n, mut amount, mut open_n, mut open_amount) =
                    (0, Money::ZERO, 0, Money::ZERO);
                for o in &mine {
                    for x in milestones_of(&db.db, o.id).await.unwrap() {
                        if x.index != line.index {
                            continue;
                        }
                        // The period reaches today, so today's status is the status at its end.
                        if x.status == crate::order_record::MilestoneStatus::Released {
                            n += 1;
                            amount = amount.checked_add(x.amount).unwrap();
                        } else if x.status != crate::order_record::MilestoneStatus::Cancelled {
                            open_n += 1;
                            open_amount = open_amount.checked_add(x.amount).unwrap();
                        }
                    }
                }
                assert_eq!(
                    (line.released_count, line.released),
                    (n, amount),
                    "{} {}",
                    s.code,
                    line.name
                );
                assert_eq!(
                    (line.outstanding_count, line.outstanding),
                    (open_n, open_amount),
                    "{} {}",
                    s.code,
                    line.name
                );
            }
            assert_eq!(
                on_schedule
                    .checked_add(s.released_outside_schedule)
                    .unwrap(),
                s.released
            );
        }
        // Nanjing driving schools: four enrolment tranches (O1, O2, O5, O6) and one graduation
        // (O1); O2's and O6's graduations are outstanding, O5's was cancelled by its refund.
        let s1 = r.schemes.iter().find(|s| s.scheme == f.s1.id).unwrap();
        let shape: Vec<(i32, u64, Money, u64, Money)> = s1
            .milestones
            .iter()
            .map(|l| {
                (
                    l.index,
                    l.released_count,
                    l.released,
                    l.outstanding_count,
                    l.outstanding,
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (0, 4, m("950.00"), 0, Money::ZERO),
                (1, 1, m("750.00"), 2, m("1725.00")),
            ]
        );
        // The canteen's 30.00 refund deduction was released, but by no milestone.
        let s2 = r.schemes.iter().find(|s| s.scheme == f.s2.id).unwrap();
        assert_eq!(s2.released_outside_schedule, m("30.00"));
        clean(&db).await;
    }
);
