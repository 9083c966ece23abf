//! Alert delivery and the on-call notifier, rule by rule, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use super::*;
use crate::alert::{AlertRecord, HandleAlert, Severity};
use crate::clock::Clock;
use crate::db_test;
use crate::error::ErrorCode;
use crate::merchant::SetMerchantStatus;
use crate::order::RequestRefund;
use crate::party::{PartyRecord, PartyStatus};
use crate::principal::Industry;
use crate::testing::TestDb;
use crate::testing::world::World;

const SECRET: &str = "whsec_0123456789abcdefghijklmnopqrstuv";

fn page() -> Page {
    Page::new(None, 200).unwrap()
}

/// Records every request and answers from a script, then with `otherwise`.
struct Scripted {
    calls: Mutex<Vec<WebhookRequest>>,
    script: Mutex<VecDeque<Result<u16, String>>>,
    otherwise: Result<u16, String>,
}

impl Scripted {
    fn new(script: Vec<Result<u16, String>>, otherwise: Result<u16, String>) -> Scripted {
        Scripted {
            calls: Mutex::new(Vec::new()),
            script: Mutex::new(script.into()),
            otherwise,
        }
    }

    fn calls(&self) -> Vec<WebhookRequest> {
        self.calls.lock().unwrap().clone()
    }
}

impl WebhookSender for Scripted {
    fn post<'a>(&'a self, request: &'a WebhookRequest) -> SendFuture<'a> {
        self.calls.lock().unwrap().push(request.clone());
        let answer = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.otherwise.clone());
        Box::pin(async move { answer })
    }
}

async fn setup(db: &TestDb) -> (World, PartyRecord) {
    let w = World::new(db).await;
    let s = w
        .scheme(
            Industry::DrivingSchool,
            "320100",
            None,
            json!({"milestones": [{"name": "报名", "share_bp": 10000, "confirm_by": ["PAYER"]}]}),
        )
        .await;
    let m = w
        .merchant("玄武驾校", "320102", Industry::DrivingSchool)
        .await;
    w.enroll(&s, &m).await;
    (w, m)
}

async fn endpoint(w: &World, url: &str) -> EndpointRecord {
    w.run(RegisterWebhookEndpoint {
        url: url.into(),
        secret: SECRET.into(),
        description: "值班系统".into(),
    })
    .await
    .unwrap()
}

/// Suspends (CRITICAL) or reinstates (INFO) the merchant; returns the alert raised.
async fn status_alert(db: &TestDb, w: &World, m: &PartyRecord, to: PartyStatus) -> AlertRecord {
    w.run(SetMerchantStatus {
        merchant: m.id,
        status: to,
        reason: "检查".into(),
    })
    .await
    .unwrap();
    let newest = crate::alert::alerts(&db.db, &w.bank, None, Page::new(None, 1).unwrap())
        .await
        .unwrap();
    newest.items[0].clone()
}

async fn deliveries_of(db: &TestDb, w: &World, alert: AlertId) -> Vec<DeliveryRecord> {
    let f = DeliveryFilter {
        alert: Some(alert),
        ..Default::default()
    };
    deliveries(&db.db, &w.bank, &f, page()).await.unwrap().items
}

async fn events_of(db: &TestDb, kind: &str) -> Vec<Value> {
    lvyue_entity::event::Entity::find()
        .filter(lvyue_entity::event::Column::EventType.eq(kind))
        .order_by_asc(lvyue_entity::event::Column::Seq)
        .all(&db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect()
}

async fn clean(db: &TestDb) {
    let r = crate::audit::audit(&db.db, None).await.unwrap();
    assert!(r.is_clean(), "{:#?}", r.breaches);
}

db_test!(
    endpoints_need_https_or_localhost_and_a_strong_secret_kept_encrypted,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        for bad in [
            "http://alerts.example.com/hook",
            "ftp://localhost/hook",
            "https://user:pw@alerts.example.com/",
            "https:///nohost",
            "https://alerts.example.com:80x/",
            "https://alerts.example.com/a b",
            "",
        ] {
            let err = w
                .run(RegisterWebhookEndpoint {
                    url: bad.into(),
                    secret: SECRET.into(),
                    description: String::new(),
                })
                .await
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::Validation, "{bad}");
        }
        let err = w
            .run(RegisterWebhookEndpoint {
                url: "https://alerts.example.com/".into(),
                secret: "short".into(),
                description: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation);
        let err = w
            .run_as(
                &w.as_party(crate::principal::Role::Merchant, m.id),
                RegisterWebhookEndpoint {
                    url: "https://alerts.example.com/".into(),
                    secret: SECRET.into(),
                    description: String::new(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden);
        let e = endpoint(&w, "https://alerts.example.com:8443/lvyue?x=1").await;
        endpoint(&w, "http://localhost:9000/hook").await;
        endpoint(&w, "http://127.0.0.1/hook").await;
        assert!(e.active);
        let row = lvyue_entity::webhook_endpoint::Entity::find_by_id(e.id.0)
            .one(&db.db)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(row.secret, SECRET);
        assert!(!row.secret.contains(SECRET));
        assert_eq!(w.escrow.vault().decrypt(&row.secret).unwrap(), SECRET);
        // The secret is in no event.
        let all = lvyue_entity::event::Entity::find()
            .all(&db.db)
            .await
            .unwrap();
        assert!(
            all.iter()
                .all(|ev| !ev.data.contains(SECRET) && !ev.canonical.contains(SECRET))
        );
        assert_eq!(events_of(&db, "webhook.registered").await.len(), 3);
        assert_eq!(
            endpoints(&db.db, &w.bank, page())
                .await
                .unwrap()
                .items
                .len(),
            3
        );
        clean(&db).await;
    }
);

db_test!(
    a_raised_alert_queues_one_delivery_per_active_endpoint,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        let a = endpoint(&w, "https://a.example.com/hook").await;
        let b = endpoint(&w, "https://b.example.com/hook").await;
        let gone = endpoint(&w, "https://c.example.com/hook").await;
        w.run(DeactivateWebhookEndpoint { endpoint: gone.id })
            .await
            .unwrap();
        let alert = status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        assert_eq!(alert.severity, Severity::Critical);
        let ds = deliveries_of(&db, &w, alert.id).await;
        let mut to: Vec<WebhookEndpointId> = ds.iter().map(|d| d.endpoint).collect();
        to.sort();
        assert_eq!(to, [a.id, b.id]);
        for d in &ds {
            assert_eq!(
                (d.status, d.attempts, d.next_attempt_at),
                (DeliveryStatus::Pending, 0, alert.created_at)
            );
            let body: Value = serde_json::from_str(&d.payload).unwrap();
            assert_eq!(body["type"], "alert.raised");
            assert_eq!(body["alert"]["id"], json!(alert.id.to_string()));
            assert_eq!(body["alert"]["severity"], "CRITICAL");
            assert_eq!(
                body["alert"]["created_at"],
                json!(alert.created_at.rfc3339())
            );
        }
        clean(&db).await;
    }
);

db_test!(
    a_delivery_is_signed_with_hmac_and_never_sent_again_once_delivered,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        endpoint(&w, "http://localhost:9000/hook").await;
        let alert = status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        let sender = Scripted::new(vec![], Ok(200));
        let now = w.clock.now();
        let r = deliver_due(&w.escrow, &sender, now).await.unwrap();
        assert_eq!(
            r,
            DeliveryRunReport {
                delivered: 1,
                ..Default::default()
            }
        );
        let calls = sender.calls();
        assert_eq!(calls.len(), 1);
        let d = &deliveries_of(&db, &w, alert.id).await[0];
        let req = &calls[0];
        assert_eq!(req.url, "http://localhost:9000/hook");
        assert_eq!(req.body, d.payload);
        // The signature, computed independently of the code under test.
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(req.body.as_bytes());
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let header = |name: &str| {
            req.headers
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header("X-Lvyue-Signature"), Some(expected));
        assert_eq!(header("X-Lvyue-Delivery"), Some(d.id.to_string()));
        assert_eq!(header("Content-Type").as_deref(), Some("application/json"));
        assert_eq!(
            (d.status, d.attempts, d.last_status_code),
            (DeliveryStatus::Delivered, 1, Some(200))
        );
        assert_eq!(d.delivered_at, Some(now));
        let ev = events_of(&db, "webhook.delivered").await;
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0]["delivery_id"], json!(d.id.to_string()));
        // Idempotent: nothing is due again, today or a week later.
        for later in [now, now.plus_days(7)] {
            let r = deliver_due(&w.escrow, &sender, later).await.unwrap();
            assert_eq!(r, DeliveryRunReport::default());
        }
        assert_eq!(sender.calls().len(), 1);
        clean(&db).await;
    }
);

db_test!(
    failed_attempts_back_off_from_one_minute_doubling_to_at_most_an_hour,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        endpoint(&w, "http://localhost:9000/hook").await;
        let alert = status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        let sender = Scripted::new(vec![Err("connection refused".into())], Ok(500));
        let mut now = w.clock.now();
        let mut waits = Vec::new();
        for attempt in 1..=9 {
            w.clock.set(now);
            let r = deliver_due(&w.escrow, &sender, now).await.unwrap();
            assert_eq!(r.retrying, 1, "attempt {attempt}");
            let d = &deliveries_of(&db, &w, alert.id).await[0];
            assert_eq!((d.status, d.attempts), (DeliveryStatus::Pending, attempt));
            if attempt == 1 {
                assert_eq!(
                    (d.last_status_code, d.last_error.as_str()),
                    (None, "connection refused")
                );
            } else {
                assert_eq!(
                    (d.last_status_code, d.last_error.as_str()),
                    (Some(500), "HTTP 500")
                );
            }
            // Not due before its time.
            let early = deliver_due(&w.escrow, &sender, Timestamp(d.next_attempt_at.0 - 1))
                .await
                .unwrap();
            assert_eq!(early, DeliveryRunReport::default());
            waits.push((d.next_attempt_at.0 - now.0) / 1_000_000);
            now = d.next_attempt_at;
        }
        assert_eq!(waits, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(sender.calls().len(), 9);
        clean(&db).await;
    }
);

db_test!(
    a_delivery_is_retried_for_a_day_then_given_up_as_failed,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        endpoint(&w, "http://localhost:9000/hook").await;
        let alert = status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        let created = alert.created_at;
        let sender = Scripted::new(vec![], Ok(503));
        let mut now = created;
        let mut times = Vec::new();
        loop {
            w.clock.set(now);
            let r = deliver_due(&w.escrow, &sender, now).await.unwrap();
            times.push(now);
            let d = deliveries_of(&db, &w, alert.id).await.remove(0);
            if d.status == DeliveryStatus::Failed {
                assert_eq!(r.failed, 1);
                assert_eq!(
                    (d.attempts as usize, d.last_status_code),
                    (times.len(), Some(503))
                );
                break;
            }
            assert_eq!(d.status, DeliveryStatus::Pending);
            assert!(times.len() < 100, "never gave up");
            now = d.next_attempt_at;
        }
        let day = RETRY_WINDOW_SECS * 1_000_000;
        // Retried for at least a day: the last attempt is a day or more after the alert, the
        // one before it less.
        assert!(times[times.len() - 1].0 - created.0 >= day);
        assert!(times[times.len() - 2].0 - created.0 < day);
        assert_eq!(times.len(), 30);
        let ev = events_of(&db, "webhook.failed").await;
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0]["attempts"], json!(30));
        // Given up means given up.
        let r = deliver_due(&w.escrow, &sender, now.plus_days(3))
            .await
            .unwrap();
        assert_eq!(r, DeliveryRunReport::default());
        assert_eq!(sender.calls().len(), 30);
        clean(&db).await;
    }
);

db_test!(
    a_delivery_that_fails_and_then_succeeds_is_delivered,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        endpoint(&w, "http://localhost:9000/hook").await;
        let alert = status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        let sender = Scripted::new(vec![Ok(503), Err("timed out".into()), Ok(204)], Ok(500));
        let mut now = w.clock.now();
        for _ in 0..3 {
            w.clock.set(now);
            deliver_due(&w.escrow, &sender, now).await.unwrap();
            now = deliveries_of(&db, &w, alert.id).await[0].next_attempt_at;
        }
        let d = &deliveries_of(&db, &w, alert.id).await[0];
        assert_eq!(
            (d.status, d.attempts, d.last_status_code),
            (DeliveryStatus::Delivered, 3, Some(204))
        );
        assert_eq!(d.last_error, "");
        assert_eq!(sender.calls().len(), 3);
        // Every attempt carried the same signed body and delivery id.
        let calls = sender.calls();
        assert!(calls.iter().all(|c| c == &calls[0]));
        clean(&db).await;
    }
);

db_test!(
    deactivating_an_endpoint_cancels_its_pending_deliveries,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        let e = endpoint(&w, "http://localhost:9000/hook").await;
        let alert = status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        let off = w
            .run(DeactivateWebhookEndpoint { endpoint: e.id })
            .await
            .unwrap();
        assert!(!off.active);
        assert_eq!(
            deliveries_of(&db, &w, alert.id).await[0].status,
            DeliveryStatus::Cancelled
        );
        let sender = Scripted::new(vec![], Ok(200));
        assert_eq!(
            deliver_due(&w.escrow, &sender, w.clock.now())
                .await
                .unwrap(),
            DeliveryRunReport::default()
        );
        assert!(sender.calls().is_empty());
        let err = w
            .run(DeactivateWebhookEndpoint { endpoint: e.id })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState);
        // Later alerts are not queued for it.
        let again = status_alert(&db, &w, &m, PartyStatus::Active).await;
        assert!(deliveries_of(&db, &w, again.id).await.is_empty());
        clean(&db).await;
    }
);

/// Answers only when released, so a second worker can run while the first is mid-send.
struct Gate {
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
    calls: Mutex<u32>,
}

impl WebhookSender for Gate {
    fn post<'a>(&'a self, _request: &'a WebhookRequest) -> SendFuture<'a> {
        Box::pin(async move {
            *self.calls.lock().unwrap() += 1;
            self.entered.notify_one();
            self.release.notified().await;
            Ok(200)
        })
    }
}

db_test!(
    a_delivery_being_sent_is_not_taken_by_a_second_worker,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        endpoint(&w, "http://localhost:9000/hook").await;
        let alert = status_alert(&db, &w, &m, PartyStatus::Suspended).await;
        let gate = Arc::new(Gate {
            entered: tokio::sync::Notify::new(),
            release: tokio::sync::Notify::new(),
            calls: Mutex::new(0),
        });
        let now = w.clock.now();
        let (escrow, g) = (w.escrow.clone(), gate.clone());
        let first = tokio::spawn(async move { deliver_due(&escrow, &*g, now).await.unwrap() });
        gate.entered.notified().await;
        let second = Scripted::new(vec![], Ok(200));
        assert_eq!(
            deliver_due(&w.escrow, &second, now).await.unwrap(),
            DeliveryRunReport::default()
        );
        // Once delivered it is not due again, not even after the lease.
        gate.release.notify_one();
        assert_eq!(first.await.unwrap().delivered, 1);
        let later = now.plus_seconds(DELIVERY_LEASE_SECS + 1);
        assert_eq!(
            deliver_due(&w.escrow, &second, later).await.unwrap(),
            DeliveryRunReport::default()
        );
        assert!(second.calls().is_empty());
        assert_eq!(*gate.calls.lock().unwrap(), 1);
        assert_eq!(
            deliveries_of(&db, &w, alert.id).await[0].status,
            DeliveryStatus::Delivered
        );
        clean(&db).await;
    }
);

db_test!(
    only_the_bank_sees_endpoints_deliveries_and_notifications,
    |db: TestDb| async move {
        let (w, m) = setup(&db).await;
        let reg = w.regulator(&["3201"], &[Industry::DrivingSchool]).await;
        for who in [
            w.as_regulator(&reg),
            w.as_party(crate::principal::Role::Merchant, m.id),
        ] {
            assert_eq!(
                endpoints(&db.db, &who, page()).await.unwrap_err().code(),
                ErrorCode::Forbidden
            );
            assert_eq!(
                deliveries(&db.db, &who, &DeliveryFilter::default(), page())
                    .await
                    .unwrap_err()
                    .code(),
                ErrorCode::Forbidden
            );
            assert_eq!(
                notifications(&db.db, &who, None, page())
                    .await
                    .unwrap_err()
                    .code(),
                ErrorCode::Forbidden
            );
        }
        clean(&db).await;
    }
);

mod paging;
