//! The on-call notifier: who is texted and called, for which alerts, and only once.

use super::*;

const DUTY_SMS: &str = "13800000001";
const DUTY_CALL: &str = "13900000002";

fn rota() -> OnCall {
    OnCall {
        sms_to: vec![DUTY_SMS.into()],
        call_to: vec![DUTY_CALL.into()],
        sms_from: Severity::Warning,
        call_from: Severity::Critical,
    }
}

/// A WARNING alert: a refund left past its deadline.
async fn overdue_refund(db: &TestDb, w: &World, m: &PartyRecord) -> AlertRecord {
    let s = crate::queries::schemes(&db.db, &w.bank, page())
        .await
        .unwrap()
        .items[0]
        .clone();
    let payer = w.payer("段誉").await;
    let o = w.order(&s, m, &payer, "100.00").await;
    w.pay(&o, "100.00").await;
    w.pass_days(1).await;
    w.run_as(
        &w.as_party(crate::principal::Role::Payer, payer.id),
        RequestRefund {
            order: o.id,
            reason: "退学".into(),
            deduction: None,
            amount: None,
        },
    )
    .await
    .unwrap();
    w.pass_days(40).await;
    let newest = crate::alert::alerts(&db.db, &w.bank, None, Page::new(None, 1).unwrap())
        .await
        .unwrap();
    let a = newest.items[0].clone();
    assert_eq!(
        (a.kind, a.severity),
        (crate::alert::AlertKind::RefundOverdue, Severity::Warning)
    );
    a
}

async fn log(db: &TestDb, w: &World) -> Vec<NotificationRecord> {
    let mut n = notifications(&db.db, &w.bank, None, page())
        .await
        .unwrap()
        .items;
    n.reverse();
    n
}

db_test!(
    alerts_text_from_warning_and_call_on_critical_once_each,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        let warning = overdue_refund(&db, &w, &m).await;
        let critical = status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        let info = status_alert(&db, &w, &m, PartyStatus::Active).await;
        assert_eq!(
            (critical.severity, info.severity),
            (Severity::Critical, Severity::Info)
        );
        let notifier = LocalNotifier::new(&w.escrow);
        let r = page_on_call(&w.escrow, &notifier, &rota(), w.clock.now())
            .await
            .unwrap();
        assert_eq!(
            r,
            PageReport {
                texts: 2,
                calls: 1,
                failed: 0
            }
        );
        let sent: Vec<(NotificationChannel, String, Option<AlertId>)> = log(&db, &w)
            .await
            .into_iter()
            .map(|n| (n.channel, n.recipient, n.alert))
            .collect();
        assert_eq!(
            sent,
            [
                (
                    NotificationChannel::Sms,
                    DUTY_SMS.to_owned(),
                    Some(warning.id)
                ),
                (
                    NotificationChannel::Sms,
                    DUTY_SMS.to_owned(),
                    Some(critical.id)
                ),
                (
                    NotificationChannel::Voice,
                    DUTY_CALL.to_owned(),
                    Some(critical.id)
                ),
            ]
        );
        let text = &log(&db, &w).await[1].message;
        assert!(text.starts_with("[履约 Lvyue CRITICAL] "), "{text}");
        assert!(text.contains(&critical.id.to_string()));
        // Once: a second run sends nothing.
        let again = page_on_call(&w.escrow, &notifier, &rota(), w.clock.now())
            .await
            .unwrap();
        assert_eq!(again, PageReport::default());
        assert_eq!(log(&db, &w).await.len(), 3);
        clean(&db).await;
    }
);

db_test!(
    who_is_paged_and_from_which_severity_is_configuration,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        overdue_refund(&db, &w, &m).await;
        let critical = status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        let strict = OnCall {
            sms_to: vec!["+8613700000003".into(), "13700000004".into()],
            call_to: vec![],
            sms_from: Severity::Critical,
            call_from: Severity::Critical,
        };
        let notifier = LocalNotifier::new(&w.escrow);
        let r = page_on_call(&w.escrow, &notifier, &strict, w.clock.now())
            .await
            .unwrap();
        assert_eq!(
            r,
            PageReport {
                texts: 2,
                calls: 0,
                failed: 0
            }
        );
        assert!(
            log(&db, &w)
                .await
                .iter()
                .all(|n| n.alert == Some(critical.id))
        );
        // A number added to the rota later is paged for what is still open.
        let mut more = strict.clone();
        more.call_to.push(DUTY_CALL.into());
        let r = page_on_call(&w.escrow, &notifier, &more, w.clock.now())
            .await
            .unwrap();
        assert_eq!(
            r,
            PageReport {
                texts: 0,
                calls: 1,
                failed: 0
            }
        );
        // Malformed configuration is refused.
        for bad in [
            vec!["1380000000a".to_owned()],
            vec!["12".to_owned()],
            vec![DUTY_SMS.to_owned(); 11],
        ] {
            let c = OnCall {
                sms_to: bad,
                ..rota()
            };
            let err = page_on_call(&w.escrow, &notifier, &c, w.clock.now())
                .await
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::Validation);
        }
        assert!(OnCall::standard("abc").is_err());
        assert_eq!(
            OnCall::standard(DUTY_SMS).unwrap().call_from,
            Severity::Critical
        );
        clean(&db).await;
    }
);

db_test!(
    handled_and_day_old_alerts_are_not_paged,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        let critical = status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        w.run(HandleAlert {
            alert: critical.id,
            to: crate::alert::AlertStatus::Acknowledged,
            note: "处理中".into(),
        })
        .await
        .unwrap();
        let notifier = LocalNotifier::new(&w.escrow);
        assert_eq!(
            page_on_call(&w.escrow, &notifier, &rota(), w.clock.now())
                .await
                .unwrap(),
            PageReport::default()
        );
        let unseen = status_alert(&db, &w, &m, PartyStatus::Blocked).await;
        assert_eq!(unseen.severity, Severity::Critical);
        let later = w.clock.now().plus_seconds(PAGE_LOOKBACK_SECS + 1);
        assert_eq!(
            page_on_call(&w.escrow, &notifier, &rota(), later)
                .await
                .unwrap(),
            PageReport::default()
        );
        assert!(log(&db, &w).await.is_empty());
        clean(&db).await;
    }
);

db_test!(
    two_nodes_paging_at_once_text_and_call_once,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        let warning = overdue_refund(&db, &w, &m).await;
        let critical = status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        // A second node: its own Escrow on the same database.
        let other = World::at(&db, w.clock.now()).await;
        let (here, there) = (
            LocalNotifier::new(&w.escrow),
            LocalNotifier::new(&other.escrow),
        );
        let on_call = rota();
        for _ in 0..3 {
            let (a, b) = tokio::join!(
                page_on_call(&w.escrow, &here, &on_call, w.clock.now()),
                page_on_call(&other.escrow, &there, &on_call, w.clock.now()),
            );
            let (a, b) = (a.unwrap(), b.unwrap());
            assert_eq!((a.failed, b.failed), (0, 0));
        }
        let mut sent: Vec<(Option<AlertId>, NotificationChannel)> = log(&db, &w)
            .await
            .into_iter()
            .map(|n| (n.alert, n.channel))
            .collect();
        sent.sort_by_key(|(a, c)| (a.map(|a| a.0), c.as_str()));
        let mut expected = vec![
            (Some(warning.id), NotificationChannel::Sms),
            (Some(critical.id), NotificationChannel::Sms),
            (Some(critical.id), NotificationChannel::Voice),
        ];
        expected.sort_by_key(|(a, c)| (a.map(|a| a.0), c.as_str()));
        assert_eq!(sent, expected);
        clean(&db).await;
    }
);

db_test!(
    an_alert_another_node_is_paging_for_waits_for_its_lease,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        let critical = status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        // Another node took the alert and died before it sent anything.
        let now = w.clock.now();
        lvyue_entity::alert::Entity::update_many()
            .col_expr(
                lvyue_entity::alert::Column::PageLeaseUntilUs,
                sea_orm::sea_query::Expr::value(now.plus_seconds(PAGE_LEASE_SECS).0),
            )
            .filter(lvyue_entity::alert::Column::Id.eq(critical.id.0))
            .exec(&db.db)
            .await
            .unwrap();
        let notifier = LocalNotifier::new(&w.escrow);
        let r = page_on_call(&w.escrow, &notifier, &rota(), now)
            .await
            .unwrap();
        assert_eq!(r, PageReport::default());
        // Once its lease has run out, this node pages.
        let r = page_on_call(
            &w.escrow,
            &notifier,
            &rota(),
            now.plus_seconds(PAGE_LEASE_SECS),
        )
        .await
        .unwrap();
        assert_eq!((r.texts, r.calls), (1, 1));
        clean(&db).await;
    }
);

/// Fails its first send, then records like the local notifier.
struct Flaky {
    inner: LocalNotifier,
    failures: Mutex<u32>,
}

impl Notifier for Flaky {
    fn send_sms<'a>(
        &'a self,
        to: &'a str,
        message: &'a str,
        alert: Option<AlertId>,
    ) -> NotifyFuture<'a> {
        let fail = {
            let mut f = self.failures.lock().unwrap();
            let fail = *f > 0;
            *f = f.saturating_sub(1);
            fail
        };
        if fail {
            return Box::pin(async {
                Err(crate::error::DomainError::Internal("gateway down".into()))
            });
        }
        self.inner.send_sms(to, message, alert)
    }

    fn place_call<'a>(
        &'a self,
        to: &'a str,
        message: &'a str,
        alert: Option<AlertId>,
    ) -> NotifyFuture<'a> {
        self.inner.place_call(to, message, alert)
    }
}

db_test!(
    a_text_that_fails_is_sent_on_the_next_run,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        let flaky = Flaky {
            inner: LocalNotifier::new(&w.escrow),
            failures: Mutex::new(1),
        };
        let r = page_on_call(&w.escrow, &flaky, &rota(), w.clock.now())
            .await
            .unwrap();
        assert_eq!(
            r,
            PageReport {
                texts: 0,
                calls: 1,
                failed: 1
            }
        );
        let r = page_on_call(&w.escrow, &flaky, &rota(), w.clock.now())
            .await
            .unwrap();
        assert_eq!(
            r,
            PageReport {
                texts: 1,
                calls: 0,
                failed: 0
            }
        );
        assert_eq!(log(&db, &w).await.len(), 2);
        clean(&db).await;
    }
);
