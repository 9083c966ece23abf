//! Report runs (the access log of reports) and the CSV downloads they watermark.

use super::*;

async fn report_events(db: &TestDb) -> Vec<Value> {
    lvyue_entity::event::Entity::find()
        .filter(lvyue_entity::event::Column::EventType.eq("report.run"))
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect()
}

/// The CSV table (header and rows) above the watermark, parsed back; the file must open with
/// the byte order mark and close with the watermark.
fn parse(lines: &[String]) -> Vec<Vec<String>> {
    let (watermark, table) = lines.split_last().unwrap();
    assert!(watermark.starts_with("# lvyue report "), "{watermark}");
    let body: String = table.concat();
    let body = body.strip_prefix(BOM).expect("a byte order mark first");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

db_test!(
    a_report_run_is_recorded_notarized_and_printed_on_the_csv_watermark,
    |db: TestDb| async move {
        let f = fixture(&db).await;
        let reg = f.w.as_regulator(&f.nanjing_driving);
        let params = json!({"from": DAY0, "to": "2026-03-05", "groupBy": ["MERCHANT"]});
        let run =
            f.w.run_as(
                &reg,
                RecordReportRun {
                    kind: ReportKind::FundFlows,
                    params: params.clone(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (run.subject.as_str(), run.role, run.party),
            (reg.subject.as_str(), Role::Regulator, reg.party_id)
        );
        assert_eq!(run.params, params);
        // The run is in the notarized log: who, what, with which parameters.
        let events = report_events(&db).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["report_id"], json!(run.id.to_string()));
        assert_eq!(events[0]["subject"], json!(reg.subject));
        assert_eq!(events[0]["kind"], json!("FUND_FLOWS"));
        assert_eq!(events[0]["params"], params);

        let report = fund_flows(&db.db, &reg, &flows_query(&[FlowDimension::Merchant]))
            .await
            .unwrap();
        let lines: Vec<String> = render_csv(&run, &report).unwrap().collect();
        // The header first, after the byte order mark Excel and WPS need to read UTF-8; the
        // watermark last, where no spreadsheet takes it for the header; times in China time.
        assert_eq!(
            lines[0],
            "\u{feff}day,merchant_id,merchant_name,industry,city,collected,released,refunded,deducted,frozen,held\r\n"
        );
        assert_eq!(
            lines.last().unwrap(),
            &format!(
                "# lvyue report FUND_FLOWS id={} by={} role=REGULATOR at={}\r\n",
                run.id,
                reg.subject,
                run.created_at.china_rfc3339()
            )
        );
        assert!(lines.last().unwrap().ends_with("+08:00\r\n"));
        assert_eq!(lines.len(), report.rows.len() + 2);
        let rows = parse(&lines);
        // M1 (玄武驾校): O1 1000.00 + O5 500.00 collected; 250.00 + 750.00 + 125.00 released.
        assert_eq!(
            rows[1],
            [
                "",
                &f.m[0].id.to_string(),
                "玄武驾校",
                "",
                "",
                "1500.00",
                "1125.00",
                "375.00",
                "0.00",
                "0.00",
                "0.00"
            ]
        );
        // Each line is one row (streamed), never the whole report.
        assert!(
            lines
                .iter()
                .all(|l| l.ends_with("\r\n") && l.matches("\r\n").count() == 1)
        );

        // Runs are the runner's own; the bank sees them all.
        assert_eq!(get_report_run(&db.db, &reg, run.id).await.unwrap(), run);
        assert_eq!(
            get_report_run(&db.db, &f.w.bank, run.id).await.unwrap(),
            run
        );
        let other = f.w.as_party(Role::Merchant, f.m[0].id);
        let err = get_report_run(&db.db, &other, run.id).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        let page = crate::page::Page::new(None, 50).unwrap();
        assert_eq!(
            report_runs(&db.db, &reg, page).await.unwrap().items,
            std::slice::from_ref(&run)
        );
        assert!(
            report_runs(&db.db, &other, page)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert_eq!(
            report_runs(&db.db, &f.w.bank, page)
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        clean(&db).await;
    }
);

db_test!(
    every_report_renders_with_its_own_kind_and_not_another,
    |db: TestDb| async move {
        let f = fixture(&db).await;
        let bank = &f.w.bank;
        let none = ReportFilter::default();
        let run = |kind| {
            f.w.run(RecordReportRun {
                kind,
                params: json!({}),
            })
        };
        let b = balances(&db.db, bank, full(), &none).await.unwrap();
        let s = snapshots(&db.db, bank, full(), &none, SnapshotFrequency::Daily)
            .await
            .unwrap();
        let ms = releases_by_milestone(&db.db, bank, full(), &none)
            .await
            .unwrap();
        let rb = run(ReportKind::Balances).await.unwrap();
        let lines: Vec<String> = render_csv(&rb, &b).unwrap().collect();
        assert_eq!(lines.len(), b.rows.len() + 2);
        assert!(lines.last().unwrap().starts_with(&format!(
            "# lvyue report BALANCES id={} by=ops-test role=BANK at=",
            rb.id
        )));
        let rows = parse(&lines);
        assert_eq!(rows[0][0], "merchant_id");
        assert!(rows[1..].iter().all(|r| r.len() == 16));
        let rs = run(ReportKind::DailySnapshots).await.unwrap();
        assert_eq!(render_csv(&rs, &s).unwrap().count(), s.rows.len() + 2);
        let rm = run(ReportKind::MilestoneReleases).await.unwrap();
        let lines: Vec<String> = render_csv(&rm, &ms).unwrap().collect();
        let rows = parse(&lines);
        // One line per milestone position, plus the canteen's release outside the schedule.
        let milestone_lines: usize = ms.schemes.iter().map(|s| s.milestones.len()).sum();
        assert_eq!(rows.len(), 1 + milestone_lines + 1);
        assert!(
            rows.iter()
                .any(|r| r[6] == "(outside the schedule)" && r[8] == "30.00")
        );
        // A run recorded for one report cannot watermark another.
        let err = render_csv(&rb, &s).err().unwrap();
        assert_eq!(err.code(), ErrorCode::Validation);
        // Payers and courts run no reports; parameters must be an object of bounded size.
        let payer = f.w.as_party(Role::Payer, f.payer.id);
        let err =
            f.w.run_as(
                &payer,
                RecordReportRun {
                    kind: ReportKind::Balances,
                    params: json!({}),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden);
        let err =
            f.w.run(RecordReportRun {
                kind: ReportKind::Balances,
                params: json!([1]),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation);
        let big = "x".repeat(MAX_PARAMS_CHARS);
        let err =
            f.w.run(RecordReportRun {
                kind: ReportKind::Balances,
                params: json!({ "x": big }),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation);
        clean(&db).await;
    }
);

db_test!(
    csv_text_is_quoted_and_spreadsheet_formulas_are_defused,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let s = w
            .scheme(Industry::DrivingSchool, "320100", None, driving(false))
            .await;
        let name = "=HYPERLINK(\"http://x\",\"点我\"),驾校";
        let mm = w.merchant(name, "320102", Industry::DrivingSchool).await;
        w.enroll(&s, &mm).await;
        let payer = w.payer("王语嫣").await;
        let o = w.order(&s, &mm, &payer, "1280.00").await;
        w.pay(&o, "1280.00").await;
        let run = w
            .run(RecordReportRun {
                kind: ReportKind::Balances,
                params: json!({}),
            })
            .await
            .unwrap();
        let b = balances(
            &db.db,
            &w.bank,
            Period::china_days(d(DAY0), d(DAY0)).unwrap(),
            &ReportFilter::default(),
        )
        .await
        .unwrap();
        let lines: Vec<String> = render_csv(&run, &b).unwrap().collect();
        assert!(
            lines[1].contains("\"'=HYPERLINK(\"\"http://x\"\",\"\"点我\"\"),驾校\""),
            "{}",
            lines[1]
        );
        let rows = parse(&lines);
        assert_eq!(rows[1][1], format!("'{name}"));
        assert_eq!(rows[1][7], "1280.00");
        assert_eq!(rows[1][11], "1280.00");
        // In clearing on day 0: nothing in escrow yet.
        assert_eq!(rows[1][14], "0.00");
        clean(&db).await;
    }
);
