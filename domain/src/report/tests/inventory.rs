//! The refund SLA and the voucher inventory in the report set, reconciled with the ledger.

use super::*;

db_test!(
    the_refund_sla_counts_each_refund_against_its_deadline_and_sums_to_the_ledger,
    |db: TestDb| async move {
        let f = fixture(&db).await;
        // A third refund, of the Suzhou order, is asked for and left open past its deadline.
        let orders = all_orders(&db).await;
        let suzhou = orders.iter().find(|o| o.merchant == f.m[3].id).unwrap();
        f.w.run_as(
            &f.w.as_party(Role::Payer, f.payer.id),
            RequestRefund {
                order: suzhou.id,
                reason: "搬家".into(),
                deduction: None,
                amount: None,
            },
        )
        .await
        .unwrap();
        f.w.pass_days(40).await;
        let now = f.w.clock.now();
        let period = Period::new(full().from, now).unwrap();
        let none = ReportFilter::default();
        let r = refund_sla(&db.db, &f.w.bank, period, &none, now)
            .await
            .unwrap();
        assert_eq!(r.rows.len(), 3);
        assert_eq!(
            r.summary,
            RefundSlaSummary {
                requested: 3,
                executed_on_time: 2,
                executed_late: 0,
                open_within_deadline: 0,
                open_overdue: 1,
                refunded: m("645.00"),
            }
        );
        // What the executed refunds returned is what the ledger shows as refunded.
        let orders = all_orders(&db).await;
        assert_eq!(r.summary.refunded, sums(orders.iter())[2]);
        let first = &r.rows[0];
        assert_eq!(
            (
                first.merchant_name.as_str(),
                first.sla.working_days_taken,
                first.sla.overdue
            ),
            ("玄武驾校", 0, false)
        );
        assert!(r.rows[2].sla.overdue && r.rows[2].sla.executed_at.is_none());
        assert!(r.rows[2].sla.working_days_taken > r.rows[2].sla.working_days_allowed);
        // Scoped and filtered like every report.
        let nanjing = ReportFilter {
            region_prefix: Some("3201".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(
            refund_sla(&db.db, &f.w.bank, period, &nanjing, now)
                .await
                .unwrap()
                .rows
                .len(),
            2
        );
        let reg = f.w.as_regulator(&f.nanjing_driving);
        let mine = refund_sla(&db.db, &reg, period, &none, now).await.unwrap();
        assert_eq!(
            mine.rows.iter().map(|x| x.sla.merchant).collect::<Vec<_>>(),
            [f.m[0].id]
        );
        let err = refund_sla(
            &db.db,
            &f.w.as_party(Role::Payer, f.payer.id),
            period,
            &none,
            now,
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden);
        let run =
            f.w.run(RecordReportRun {
                kind: ReportKind::RefundSla,
                params: json!({}),
            })
            .await
            .unwrap();
        let lines: Vec<String> = render_csv(&run, &r).unwrap().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[1].contains(",375.00,false\r\n"), "{}", lines[1]);
        // Times are China time, to the second, for the people who open the file.
        assert!(lines[1].contains("+08:00,"), "{}", lines[1]);
        clean(&db).await;
    }
);

db_test!(
    the_voucher_inventory_is_in_the_report_set_and_matches_the_voucher_accounts,
    |db: TestDb| async move {
        use crate::voucher::{CreateVoucherProject, FundVoucherProject, IssueVoucher};
        let w = World::new(&db).await;
        let bureau = w.regulator(&["3201"], &[Industry::HousingVoucher]).await;
        let policy = json!({
            "milestones": [{"name": "签约", "share_bp": 10000, "auto_after_days": 0}],
            "voucher": {"validity_months": 24}
        });
        let s = w
            .scheme(Industry::HousingVoucher, "320100", Some(bureau.id), policy)
            .await;
        let as_bureau = w.as_regulator(&bureau);
        let project = w
            .run_as(
                &as_bureau,
                CreateVoucherProject {
                    scheme: s.id,
                    name: "某某片区征收项目".into(),
                    developer: None,
                },
            )
            .await
            .unwrap();
        w.run(FundVoucherProject {
            project: project.account,
            amount: m("1000000.00"),
            reference: "拨付001".into(),
        })
        .await
        .unwrap();
        let holder = w.payer("段誉").await;
        let mut accounts = Vec::new();
        for amount in ["300000.00", "150000.50"] {
            let v = w
                .run_as(
                    &as_bureau,
                    IssueVoucher {
                        project: project.account,
                        holder: holder.id,
                        amount: m(amount),
                    },
                )
                .await
                .unwrap();
            accounts.push(v.account);
        }
        let now = w.clock.now();
        let r = voucher_inventory(&db.db, &w.bank, None, now).await.unwrap();
        let count: u64 = r.lines.iter().map(|l| l.count).sum();
        let face: i64 = r.lines.iter().map(|l| l.face.fen()).sum();
        let balance: i64 = r.lines.iter().map(|l| l.balance.fen()).sum();
        let mut ledger = 0;
        for a in &accounts {
            ledger += crate::ledger::balance(&db.db, *a)
                .await
                .unwrap()
                .balance_fen;
        }
        assert_eq!((count, face, balance), (2, 45_000_050, ledger));
        assert_eq!(ledger, 45_000_050);
        // The bureau sees its vouchers; a bureau of another industry none; payers get no report.
        assert_eq!(
            voucher_inventory(&db.db, &as_bureau, None, now)
                .await
                .unwrap()
                .lines,
            r.lines
        );
        let other = w.regulator(&["3201"], &[Industry::Canteen]).await;
        assert!(
            voucher_inventory(&db.db, &w.as_regulator(&other), None, now)
                .await
                .unwrap()
                .lines
                .is_empty()
        );
        let err = voucher_inventory(&db.db, &w.as_party(Role::Payer, holder.id), None, now)
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden);
        let run = w
            .run(RecordReportRun {
                kind: ReportKind::VoucherInventory,
                params: json!({}),
            })
            .await
            .unwrap();
        let lines: Vec<String> = render_csv(&run, &r).unwrap().collect();
        assert_eq!(
            lines[0],
            "\u{feff}scheme_id,project_account_id,status,count,face,balance\r\n"
        );
        assert_eq!(lines.len(), r.lines.len() + 2);
        clean(&db).await;
    }
);

db_test!(
    orders_paid_from_vouchers_and_refunded_into_them_reconcile_in_the_flows,
    |db: TestDb| async move {
        use crate::voucher::{
            CreateVoucherProject, FundVoucherProject, FundVoucherSubsidy, IssueVoucher,
            RedeemVoucher,
        };
        let w = World::new(&db).await;
        let bureau = w.regulator(&["3201"], &[Industry::HousingVoucher]).await;
        let policy = json!({
            "milestones": [
                {"name": "签约", "share_bp": 3000, "auto_after_days": 0},
                {"name": "交房", "share_bp": 7000, "confirm_by": ["PAYER"]}
            ],
            "voucher": {"validity_months": 24, "reward_tiers": [{"months": 12, "reward_bp": 500}]}
        });
        let s = w
            .scheme(Industry::HousingVoucher, "320100", Some(bureau.id), policy)
            .await;
        let developer = w
            .merchant("南京某某置业有限公司", "320102", Industry::HousingVoucher)
            .await;
        w.enroll(&s, &developer).await;
        let as_bureau = w.as_regulator(&bureau);
        let project = w
            .run_as(
                &as_bureau,
                CreateVoucherProject {
                    scheme: s.id,
                    name: "某某片区征收项目".into(),
                    developer: None,
                },
            )
            .await
            .unwrap();
        w.run(FundVoucherProject {
            project: project.account,
            amount: m("1000000.00"),
            reference: "拨付001".into(),
        })
        .await
        .unwrap();
        w.run(FundVoucherSubsidy {
            scheme: s.id,
            amount: m("50000.00"),
            reference: "奖励001".into(),
        })
        .await
        .unwrap();
        let holder = w.payer("段誉").await;
        let v = w
            .run_as(
                &as_bureau,
                IssueVoucher {
                    project: project.account,
                    holder: holder.id,
                    amount: m("300000.00"),
                },
            )
            .await
            .unwrap();
        let as_holder = w.as_party(Role::Payer, holder.id);
        let r = w
            .run_as(
                &as_holder,
                RedeemVoucher {
                    voucher: v.id,
                    developer: developer.id,
                    amount: m("100000.00"),
                    contract_ref: "宁房买2026-001".into(),
                },
            )
            .await
            .unwrap();
        w.pass_days(1).await;
        let refund = w
            .run_as(
                &as_holder,
                RequestRefund {
                    order: r.order.id,
                    reason: "退房".into(),
                    deduction: None,
                    amount: None,
                },
            )
            .await
            .unwrap();
        w.run(ExecuteRefund { refund: refund.id }).await.unwrap();
        let o = get_order(&db.db, r.order.id).await.unwrap();
        // 100,000.00 from the voucher and a 5% reward of 5,000.00 from the pool; 30% released
        // on signing, the rest back into the voucher and the pool.
        assert_eq!(
            (o.collected, o.released, o.refunded),
            (m("105000.00"), m("31500.00"), m("73500.00"))
        );
        let q = FlowQuery {
            period: Period::china_days(d(DAY0), d("2026-03-03")).unwrap(),
            filter: ReportFilter::default(),
            group_by: vec![FlowDimension::Merchant],
        };
        let f = fund_flows(&db.db, &w.bank, &q).await.unwrap();
        assert_eq!(f.rows.len(), 1);
        assert_eq!(flow_sums(&f.rows[0]), sums(std::iter::once(&o)));
        let b = balances(&db.db, &as_bureau, q.period, &ReportFilter::default())
            .await
            .unwrap();
        assert_eq!(
            (
                b.rows[0].collected,
                b.rows[0].closing,
                b.rows[0].actual_custody
            ),
            (m("105000.00"), Money::ZERO, Money::ZERO)
        );
        clean(&db).await;
    }
);
