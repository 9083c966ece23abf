//! Fund flows by merchant, day, industry and city, and the scope of every report.

use super::*;

db_test!(
    fund_flows_by_merchant_equal_the_orders_ledger,
    |db: TestDb| async move {
        let f = fixture(&db).await;
        let orders = all_orders(&db).await;
        let r = fund_flows(&db.db, &f.w.bank, &flows_query(&[FlowDimension::Merchant]))
            .await
            .unwrap();
        assert_eq!(r.rows.len(), 4);
        for row in &r.rows {
            let mine = orders.iter().filter(|o| Some(o.merchant) == row.merchant);
            assert_eq!(flow_sums(row), sums(mine), "{:?}", row.merchant_name);
        }
        let m2 = r
            .rows
            .iter()
            .find(|x| x.merchant == Some(f.m[1].id))
            .unwrap();
        assert_eq!((m2.frozen, m2.deducted), (m("100.00"), m("60.00")));
        assert_eq!(m2.merchant_name.as_deref(), Some("秦淮驾校"));
        let t = &r.totals;
        assert_eq!(
            [t.collected, t.released, t.refunded, t.deducted, t.held],
            sums(orders.iter())
        );
        // The numbers themselves, so a shared mistake in both sides cannot hide.
        assert_eq!(t.collected, m("5400.00"));
        assert_eq!(t.refunded, m("375.00").checked_add(m("270.00")).unwrap());
        clean(&db).await;
    }
);

db_test!(
    fund_flows_by_day_match_payments_payables_and_the_accounts_at_each_days_end,
    |db: TestDb| async move {
        let f = fixture(&db).await;
        let orders = all_orders(&db).await;
        let r = fund_flows(&db.db, &f.w.bank, &flows_query(&[FlowDimension::Day]))
            .await
            .unwrap();
        let days: Vec<NaiveDate> = r.rows.iter().map(|x| x.day.unwrap()).collect();
        assert_eq!(
            days,
            [d(DAY0), d("2026-03-03"), d("2026-03-04"), d("2026-03-05")]
        );
        let mut payables = Vec::new();
        for mm in &f.m {
            for s in [&f.s1, &f.s2, &f.s3] {
                if let Ok(e) = enrollment_of(&db.db, mm.id, s.id).await {
                    payables.push(e.payable_account);
                }
            }
        }
        for (i, row) in r.rows.iter().enumerate() {
            let day = row.day.unwrap();
            // Collected: the payments made that day.
            let mut collected = Money::ZERO;
            for o in &orders {
                for p in payments_of(&db.db, o.id).await.unwrap() {
                    if p.paid_at.china_date() == day {
                        collected = collected.checked_add(p.amount).unwrap();
                    }
                }
            }
            assert_eq!(row.collected, collected, "{day}");
            // Released: what the merchants' payable accounts gained that day (no payouts here).
            let mut released = 0;
            for a in &payables {
                released += balance_at_time(&db.db, *a, end_of(day)).await.unwrap();
                if i > 0 {
                    released -= balance_at_time(&db.db, *a, end_of(days[i - 1]))
                        .await
                        .unwrap();
                }
            }
            assert_eq!(row.released.fen(), released, "{day}");
            // Held at the day's end: the escrow accounts and the clearing accounts then.
            let all: Vec<&OrderRecord> = orders.iter().collect();
            let held =
                escrow_at(&db, &all, end_of(day)).await.fen() + clearing_at(&db, end_of(day)).await;
            assert_eq!(row.held.fen(), held, "{day}");
        }
        assert_eq!(r.rows[1].refunded, m("375.00"));
        assert_eq!(r.rows[2].refunded, m("270.00"));
        assert_eq!(r.rows[2].deducted, m("60.00"));
        // Day 2 ends with O7's 200.00 in clearing: held includes it.
        assert_eq!(clearing_at(&db, end_of(d("2026-03-04"))).await, 20_000);
        clean(&db).await;
    }
);

db_test!(
    fund_flows_group_by_industry_and_city,
    |db: TestDb| async move {
        let f = fixture(&db).await;
        let orders = all_orders(&db).await;
        let r = fund_flows(
            &db.db,
            &f.w.bank,
            &flows_query(&[FlowDimension::Region, FlowDimension::Industry]),
        )
        .await
        .unwrap();
        let keys: Vec<(Industry, String)> = r
            .rows
            .iter()
            .map(|x| (x.industry.unwrap(), x.city.clone().unwrap().to_string()))
            .collect();
        assert_eq!(
            keys,
            [
                (Industry::Canteen, "320100".to_owned()),
                (Industry::DrivingSchool, "320100".to_owned()),
                (Industry::DrivingSchool, "320500".to_owned()),
            ]
        );
        for row in &r.rows {
            let mine = orders.iter().filter(|o| {
                Some(o.industry) == row.industry && o.region.city() == *row.city.as_ref().unwrap()
            });
            assert_eq!(flow_sums(row), sums(mine));
            assert!(row.merchant.is_none() && row.day.is_none());
        }
        clean(&db).await;
    }
);

db_test!(
    reports_show_regulators_their_jurisdiction_merchants_themselves_and_nobody_else_anything,
    |db: TestDb| async move {
        let f = fixture(&db).await;
        let orders = all_orders(&db).await;
        let q = flows_query(&[FlowDimension::Merchant]);
        let merchants = |r: &FundFlows| -> Vec<PartyId> {
            r.rows.iter().map(|x| x.merchant.unwrap()).collect()
        };
        // The Nanjing driving-school regulator: M1 and M2, not the canteen nor Suzhou.
        let reg = f.w.as_regulator(&f.nanjing_driving);
        let r = fund_flows(&db.db, &reg, &q).await.unwrap();
        assert_eq!(merchants(&r), [f.m[0].id, f.m[1].id]);
        let mine = orders
            .iter()
            .filter(|o| o.merchant == f.m[0].id || o.merchant == f.m[1].id);
        let t = &r.totals;
        assert_eq!(
            [t.collected, t.released, t.refunded, t.deducted, t.held],
            sums(mine)
        );
        let b = balances(&db.db, &reg, full(), &ReportFilter::default())
            .await
            .unwrap();
        assert!(b.rows.iter().all(
            |x| x.industry == Industry::DrivingSchool && x.region.as_str().starts_with("3201")
        ));
        // A filter narrows within the scope, never beyond it.
        let mut q4 = q.clone();
        q4.filter.region_prefix = Some("3205".parse().unwrap());
        assert!(fund_flows(&db.db, &reg, &q4).await.unwrap().rows.is_empty());
        assert_eq!(
            merchants(&fund_flows(&db.db, &f.w.bank, &q4).await.unwrap()),
            [f.m[3].id]
        );
        // A merchant sees itself.
        let me = f.w.as_party(Role::Merchant, f.m[2].id);
        assert_eq!(
            merchants(&fund_flows(&db.db, &me, &q).await.unwrap()),
            [f.m[2].id]
        );
        let mut other = q.clone();
        other.filter.merchant = Some(f.m[0].id);
        assert!(
            fund_flows(&db.db, &me, &other)
                .await
                .unwrap()
                .rows
                .is_empty()
        );
        // A regulator of another city sees nothing.
        let suzhou_canteens = f.w.regulator(&["3205"], &[Industry::Canteen]).await;
        let r = fund_flows(&db.db, &f.w.as_regulator(&suzhou_canteens), &q)
            .await
            .unwrap();
        assert!(r.rows.is_empty() && r.totals == FlowTotals::default());
        // Payers and courts get no reports.
        for who in [
            f.w.as_party(Role::Payer, f.payer.id),
            f.w.as_party(Role::Court, f.court.id),
        ] {
            let err = fund_flows(&db.db, &who, &q).await.unwrap_err();
            assert_eq!(err.code(), ErrorCode::Forbidden);
            let err = balances(&db.db, &who, full(), &ReportFilter::default())
                .await
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::Forbidden);
            let err = snapshots(
                &db.db,
                &who,
                full(),
                &ReportFilter::default(),
                SnapshotFrequency::Daily,
            )
            .await
            .unwrap_err();
            assert_eq!(err.code(), ErrorCode::Forbidden);
            let err = releases_by_milestone(&db.db, &who, full(), &ReportFilter::default())
                .await
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::Forbidden);
        }
        clean(&db).await;
    }
);
