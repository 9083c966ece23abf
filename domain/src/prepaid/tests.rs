//! Prepaid cards as their users run them: cardholders use their cards, the issuer keeps the
//! custody its type and Shanghai's warning lines require, and a closing-down issuer's cards are
//! refunded in one batch.
#![allow(clippy::unwrap_used)]

use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};

use super::*;
use crate::alert::{AlertKind, AlertRecord};
use crate::audit::audit;
use crate::court::{CourtFreeze, CourtUnfreeze};
use crate::db_test;
use crate::error::ErrorCode;
use crate::ledger::balance;
use crate::order::{
    ConfirmAs, ConfirmMilestone, ExecuteRefund, OpenOrder, ReleaseMilestone, RequestRefund,
    refunds_of,
};
use crate::page::Page;
use crate::principal::Industry;
use crate::scheme::SchemeRecord;
use crate::testing::TestDb;
use crate::testing::world::World;

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

/// Cards released on usage; custody of the previous quarter's balance by issuer type, with
/// Shanghai's warning lines.
fn card_policy() -> Value {
    json!({
        "milestones": [
            {"name": "前半", "share_bp": 5000, "confirm_by": ["PAYER"]},
            {"name": "后半", "share_bp": 5000, "confirm_by": ["PAYER"]}
        ],
        "release_on_usage": true,
        "custody": {
            "reference": "PREVIOUS_QUARTER_PREPAID",
            "ratio_bp": 0,
            "ratio_by_issuer_bp": {"SCALE": 2000, "GROUP": 3000, "BRAND": 4000},
            "warning_lines": [
                {"when": {"BALANCE_OVER": "200000.00"}, "ratio_bp": 4000},
                {"when": {"SHARE_OF_REVENUE_OVER": {"share_bp": 2000, "floor": "200000.00", "cap": "50000000.00"}}, "ratio_bp": 10000}
            ]
        },
        "refund": {"deadline_working_days": 15}
    })
}

fn at(date: &str) -> Timestamp {
    Timestamp::china_midnight(date.parse().unwrap()).plus_seconds(10 * 3600)
}

async fn clean(db: &TestDb) {
    let r = audit(&db.db, None).await.unwrap();
    assert!(r.is_clean(), "{:#?}", r.breaches);
}

async fn issuer(
    w: &World,
    scheme: &SchemeRecord,
    name: &str,
    issuer_type: Option<IssuerType>,
    revenue: Option<&str>,
) -> PartyRecord {
    let p = w.merchant(name, "320102", Industry::PrepaidCard).await;
    w.enroll(scheme, &p).await;
    if issuer_type.is_some() || revenue.is_some() {
        w.run(SetMerchantProfile {
            merchant: p.id,
            issuer_type,
            last_year_revenue: revenue.map(m),
        })
        .await
        .unwrap();
    }
    p
}

/// A card bought and paid for; returns the card and its holder.
async fn card(
    w: &World,
    scheme: &SchemeRecord,
    merchant: &PartyRecord,
    amount: &str,
) -> (OrderRecord, PartyRecord) {
    let holder = w.payer("持卡会员").await;
    let o = w.order(scheme, merchant, &holder, amount).await;
    w.pay(&o, amount).await;
    (o, holder)
}

async fn use_card(
    w: &World,
    (card, holder): &(OrderRecord, PartyRecord),
    amount: &str,
    reference: &str,
) -> DomainResult<UsageOutcome> {
    w.run_as(
        &w.as_party(Role::Payer, holder.id),
        RecordUsage {
            order: card.id,
            amount: m(amount),
            reference: reference.into(),
        },
    )
    .await
}

async fn alerts_of(db: &TestDb, w: &World, kind: AlertKind) -> Vec<AlertRecord> {
    crate::alert::alerts(&db.db, &w.bank, None, Page::new(None, 200).unwrap())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|a| a.kind == kind)
        .collect()
}

db_test!(
    a_card_is_released_as_it_is_used_and_completes_when_used_up,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let scheme = w
            .scheme(Industry::PrepaidCard, "320100", None, card_policy())
            .await;
        let gym = issuer(
            &w,
            &scheme,
            "南京某某健身有限公司",
            Some(IssuerType::Scale),
            None,
        )
        .await;
        let c = card(&w, &scheme, &gym, "1000.00").await;
        let holder = w.as_party(Role::Payer, c.1.id);
        // Paid today, settled tomorrow (T+1): nothing to use yet.
        let err = use_card(&w, &c, "100.00", "POS-0000").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");
        w.pass_days(1).await;
        // Milestones do not release a card: its holder confirming one moves no money.
        w.run_as(
            &holder,
            ConfirmMilestone {
                order: c.0.id,
                index: 0,
                as_: ConfirmAs::Payer,
                approve: true,
                evidence: String::new(),
            },
        )
        .await
        .unwrap();
        assert_eq!(
            get_order(&db.db, c.0.id).await.unwrap().released,
            Money::ZERO
        );
        let err = w.run(ReleaseMilestone { order: c.0.id }).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");

        let out = use_card(&w, &c, "300.00", "POS-0001").await.unwrap();
        assert_eq!((out.unused, out.order.released), (m("700.00"), m("300.00")));
        let ms = milestones_of(&db.db, c.0.id).await.unwrap();
        assert_eq!(ms[0].status, MilestoneStatus::Pending);
        // Each use once; only its holder (or the bank) records it; never more than is left.
        let err = use_card(&w, &c, "300.00", "POS-0001").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict);
        let stranger = w.payer("别人").await;
        let err = w
            .run_as(
                &w.as_party(Role::Payer, stranger.id),
                RecordUsage {
                    order: c.0.id,
                    amount: m("1.00"),
                    reference: "X".into(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        let err = w
            .run_as(
                &w.as_party(Role::Merchant, gym.id),
                RecordUsage {
                    order: c.0.id,
                    amount: m("1.00"),
                    reference: "X".into(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden);
        let err = use_card(&w, &c, "700.01", "POS-0002").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "{err}");

        // Crossing the first half releases the first milestone.
        use_card(&w, &c, "300.00", "POS-0002").await.unwrap();
        let ms = milestones_of(&db.db, c.0.id).await.unwrap();
        assert_eq!(
            (ms[0].status, ms[1].status),
            (MilestoneStatus::Released, MilestoneStatus::Pending)
        );
        // The bank records the last use: the card is used up and the order complete.
        let out = w
            .run(RecordUsage {
                order: c.0.id,
                amount: m("400.00"),
                reference: "POS-0003".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            (out.order.status, out.order.released, out.unused),
            (OrderStatus::Completed, m("1000.00"), Money::ZERO)
        );
        let ms = milestones_of(&db.db, c.0.id).await.unwrap();
        assert!(
            ms.iter()
                .all(|x| x.status == MilestoneStatus::Released && x.released_entry.is_some())
        );
        // The policy says the holder confirms: a use the bank recorded alone is flagged.
        let ahead = alerts_of(&db, &w, AlertKind::ReleaseAheadOfDelivery).await;
        assert_eq!(ahead.len(), 1, "{ahead:?}");
        let err = use_card(&w, &c, "0.01", "POS-0004").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState);

        let history = usages_of(&db.db, &holder, c.0.id).await.unwrap();
        let amounts: Vec<(String, String)> = history
            .iter()
            .map(|u| (u.amount.to_string(), u.recorded_by.clone()))
            .collect();
        assert_eq!(
            amounts,
            [
                ("300.00".into(), "PAYER".into()),
                ("300.00".into(), "PAYER".into()),
                ("400.00".into(), "BANK".into())
            ]
        );
        assert!(
            usages_of(&db.db, &w.as_party(Role::Payer, stranger.id), c.0.id)
                .await
                .is_err()
        );
        let e = enrollment_of(&db.db, gym.id, scheme.id).await.unwrap();
        assert_eq!(
            balance(&db.db, e.payable_account)
                .await
                .unwrap()
                .balance_fen,
            100_000
        );
        // A suspended issuer receives nothing: the release gates hold for usage too.
        let c2 = card(&w, &scheme, &gym, "200.00").await;
        w.pass_days(1).await;
        w.run(crate::merchant::SetMerchantStatus {
            merchant: gym.id,
            status: crate::party::PartyStatus::Suspended,
            reason: "投诉核查".into(),
        })
        .await
        .unwrap();
        let err = use_card(&w, &c2, "50.00", "POS-0100").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");
        // A card of a milestone scheme is not used this way.
        let plain = w
            .scheme(Industry::PrepaidCard, "320100", None, json!({"milestones": [{"name": "全部", "share_bp": 10000, "confirm_by": ["PAYER"]}]}))
            .await;
        let other = issuer(&w, &plain, "另一家洗衣店", None, None).await;
        let c3 = card(&w, &plain, &other, "100.00").await;
        w.pass_days(1).await;
        let err = use_card(&w, &c3, "10.00", "POS-0200").await.unwrap_err();
        assert!(err.to_string().contains("RELEASED_BY_MILESTONE"), "{err}");
        clean(&db).await;
    }
);

db_test!(
    custody_keeps_twenty_thirty_forty_percent_of_last_quarter_by_issuer_type,
    |db: TestDb| async move {
        let w = World::at(&db, at("2026-03-10")).await;
        let scheme = w
            .scheme(Industry::PrepaidCard, "320100", None, card_policy())
            .await;
        let mut issuers = vec![];
        for (name, t) in [
            ("规模发卡健身房", Some(IssuerType::Scale)),
            ("集团发卡美容院", Some(IssuerType::Group)),
            ("品牌发卡洗衣店", Some(IssuerType::Brand)),
            ("未登记类型的餐厅", None),
        ] {
            let p = issuer(&w, &scheme, name, t, None).await;
            let mut cards = vec![];
            for _ in 0..10 {
                cards.push(card(&w, &scheme, &p, "1000.00").await);
            }
            issuers.push((p, cards));
        }
        w.pass_days(1).await;
        // The quarter ends with 10,000.00 on each issuer's cards; in April each keeps its share.
        w.clock.set(at("2026-04-07"));
        let mut used = vec![];
        for (_, cards) in &issuers {
            let mut n = 0;
            for (i, c) in cards.iter().enumerate() {
                match use_card(&w, c, "1000.00", &format!("POS-{i}")).await {
                    Ok(_) => n += 1,
                    Err(e) => {
                        assert!(matches!(e, DomainError::CustodyBreach { .. }), "{e:?}");
                        assert_eq!(e.code(), ErrorCode::InsufficientFunds);
                    }
                }
            }
            used.push(n);
        }
        // 20% → 2,000.00 stays (8 cards used up); 30% → 7; 40% → 6; no type recorded → the
        // highest ratio, 40%.
        assert_eq!(used, [8, 7, 6, 6]);
        // Once the bank records the restaurant as a scale issuer, 20% is enough.
        let (restaurant, cards) = &issuers[3];
        let err = w
            .run_as(
                &w.as_party(Role::Merchant, restaurant.id),
                SetMerchantProfile {
                    merchant: restaurant.id,
                    issuer_type: Some(IssuerType::Scale),
                    last_year_revenue: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden);
        let err = w
            .run(SetMerchantProfile {
                merchant: restaurant.id,
                issuer_type: None,
                last_year_revenue: None,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation);
        let p = w
            .run(SetMerchantProfile {
                merchant: restaurant.id,
                issuer_type: Some(IssuerType::Scale),
                last_year_revenue: None,
            })
            .await
            .unwrap();
        assert_eq!(p.attributes["issuer_type"], json!("SCALE"));
        use_card(&w, &cards[6], "1000.00", "POS-6b").await.unwrap();
        use_card(&w, &cards[7], "1000.00", "POS-7b").await.unwrap();
        assert!(use_card(&w, &cards[8], "0.01", "POS-8b").await.is_err());
        // No warning line was crossed.
        assert!(
            alerts_of(&db, &w, AlertKind::WarningLineCrossed)
                .await
                .is_empty()
        );
        clean(&db).await;
    }
);

db_test!(
    shanghai_warning_lines_raise_custody_to_forty_and_to_a_hundred_percent,
    |db: TestDb| async move {
        let w = World::at(&db, at("2026-03-10")).await;
        let scheme = w
            .scheme(Industry::PrepaidCard, "320100", None, card_policy())
            .await;
        // A: exactly ¥200,000 on cards, not over the line: 20% as a scale issuer.
        let a = issuer(
            &w,
            &scheme,
            "甲健身会所",
            Some(IssuerType::Scale),
            Some("2000000.00"),
        )
        .await;
        let mut a_cards = vec![];
        for _ in 0..4 {
            a_cards.push(card(&w, &scheme, &a, "50000.00").await);
        }
        // B: ¥205,000, over ¥200,000: 40%.
        let b = issuer(
            &w,
            &scheme,
            "乙健身会所",
            Some(IssuerType::Scale),
            Some("2000000.00"),
        )
        .await;
        let mut b_cards = vec![];
        for _ in 0..4 {
            b_cards.push(card(&w, &scheme, &b, "50000.00").await);
        }
        b_cards.push(card(&w, &scheme, &b, "5000.00").await);
        // C: ¥150,000 on a ¥500,000 revenue. 20% of the revenue is ¥100,000, but the special
        // line is never below ¥200,000: not crossed, so 20% as a scale issuer.
        let c = issuer(
            &w,
            &scheme,
            "丙美容院",
            Some(IssuerType::Scale),
            Some("500000.00"),
        )
        .await;
        let mut c_cards = vec![];
        for _ in 0..3 {
            c_cards.push(card(&w, &scheme, &c, "50000.00").await);
        }
        // D: ¥250,000 on a ¥1,200,000 revenue: over 20% of it (¥240,000, above the floor): 100%.
        let d = issuer(
            &w,
            &scheme,
            "丁美容院",
            Some(IssuerType::Scale),
            Some("1200000.00"),
        )
        .await;
        let mut d_cards = vec![];
        for _ in 0..5 {
            d_cards.push(card(&w, &scheme, &d, "50000.00").await);
        }
        w.pass_days(1).await;
        w.clock.set(at("2026-04-07"));

        // A keeps 40,000.00.
        for (i, x) in a_cards[..3].iter().enumerate() {
            use_card(&w, x, "50000.00", &format!("A{i}")).await.unwrap();
        }
        let err = use_card(&w, &a_cards[3], "50000.00", "A3")
            .await
            .unwrap_err();
        assert!(matches!(err, DomainError::CustodyBreach { .. }), "{err:?}");
        use_card(&w, &a_cards[3], "10000.00", "A3").await.unwrap();
        assert!(use_card(&w, &a_cards[3], "0.01", "A4").await.is_err());

        // B keeps 40% of 205,000.00 = 82,000.00.
        use_card(&w, &b_cards[0], "50000.00", "B0").await.unwrap();
        use_card(&w, &b_cards[1], "50000.00", "B1").await.unwrap();
        let err = use_card(&w, &b_cards[2], "50000.00", "B2")
            .await
            .unwrap_err();
        assert!(
            matches!(err, DomainError::CustodyBreach { required, .. } if required == m("82000.00")),
            "{err:?}"
        );
        use_card(&w, &b_cards[2], "23000.00", "B2").await.unwrap();
        assert!(use_card(&w, &b_cards[2], "0.01", "B3").await.is_err());

        // C keeps 20% of 150,000.00 = 30,000.00.
        use_card(&w, &c_cards[0], "50000.00", "C0").await.unwrap();
        use_card(&w, &c_cards[1], "50000.00", "C1").await.unwrap();
        let err = use_card(&w, &c_cards[2], "20000.01", "C2")
            .await
            .unwrap_err();
        assert!(
            matches!(err, DomainError::CustodyBreach { required, .. } if required == m("30000.00")),
            "{err:?}"
        );
        use_card(&w, &c_cards[2], "20000.00", "C2").await.unwrap();

        // D keeps all of last quarter's 250,000.00: not a fen goes out of it.
        let err = use_card(&w, &d_cards[0], "0.01", "D0").await.unwrap_err();
        assert!(
            matches!(err, DomainError::CustodyBreach { required, .. } if required == m("250000.00")),
            "{err:?}"
        );
        // New cards sold this quarter are what it may release against.
        let fresh = card(&w, &scheme, &d, "50000.00").await;
        w.pass_days(1).await;
        use_card(&w, &d_cards[0], "20000.00", "D1").await.unwrap();
        assert!(use_card(&w, &fresh, "30000.01", "D2").await.is_err());
        use_card(&w, &fresh, "30000.00", "D2").await.unwrap();

        // Alerts: B and D crossed their lines, A and C did not.
        let crossed = alerts_of(&db, &w, AlertKind::WarningLineCrossed).await;
        let line_of = |merchant: PartyId| {
            crossed
                .iter()
                .find(|x| x.merchant == Some(merchant))
                .map(|x| x.details["line"]["ratio_bp"].as_u64().unwrap())
        };
        assert_eq!(
            (line_of(a.id), line_of(b.id), line_of(c.id), line_of(d.id)),
            (None, Some(4000), None, Some(10000))
        );
        assert_eq!(crossed.len(), 2);
        clean(&db).await;
    }
);

db_test!(
    closing_down_stops_releases_and_refunds_every_card_balance,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let bureau = w.regulator(&["3201"], &[Industry::PrepaidCard]).await;
        let scheme = w
            .scheme(
                Industry::PrepaidCard,
                "320100",
                Some(bureau.id),
                card_policy(),
            )
            .await;
        let gym = issuer(
            &w,
            &scheme,
            "即将停业的健身房",
            Some(IssuerType::Brand),
            None,
        )
        .await;
        let neighbour = issuer(
            &w,
            &scheme,
            "隔壁正常营业的健身房",
            Some(IssuerType::Brand),
            None,
        )
        .await;
        let unused = card(&w, &scheme, &gym, "1000.00").await;
        let half = card(&w, &scheme, &gym, "1000.00").await;
        let spent = card(&w, &scheme, &gym, "500.00").await;
        let asked = card(&w, &scheme, &gym, "1000.00").await;
        let frozen = card(&w, &scheme, &gym, "800.00").await;
        let theirs = card(&w, &scheme, &neighbour, "1000.00").await;
        let holder = w.payer("还没付款的会员").await;
        let unpaid = w.order(&scheme, &gym, &holder, "600.00").await;
        w.pass_days(1).await;
        use_card(&w, &half, "400.00", "P1").await.unwrap();
        use_card(&w, &spent, "500.00", "P2").await.unwrap();
        w.run_as(
            &w.as_party(Role::Payer, asked.1.id),
            RequestRefund {
                order: asked.0.id,
                reason: "搬家".into(),
                deduction: None,
                amount: None,
            },
        )
        .await
        .unwrap();
        let court = w.court().await;
        let hold = w
            .run(CourtFreeze {
                order: frozen.0.id,
                amount: m("800.00"),
                case_no: "(2026)苏0102执7号".into(),
                priority: 1,
                expires_at: None,
                court: Some(court.id),
            })
            .await
            .unwrap();
        // Bought this morning: still in clearing when the gym closes.
        let today = card(&w, &scheme, &gym, "300.00").await;

        // Who may close it: the bank or a regulator over it; not a payer, not another city.
        let reason = "门店经营困难，停业".to_owned();
        let start = StartClosingDown {
            merchant: gym.id,
            scheme: scheme.id,
            reason: reason.clone(),
        };
        let err = w
            .run_as(&w.as_party(Role::Payer, holder.id), start.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden);
        let suzhou = w.regulator(&["3205"], &[Industry::PrepaidCard]).await;
        let err = w
            .run_as(&w.as_regulator(&suzhou), start.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);

        let out = w
            .run_as(&w.as_regulator(&bureau), start.clone())
            .await
            .unwrap();
        assert_eq!(out.refunded_cards, 3);
        assert_eq!(out.refunded_total, m("2600.00"));
        assert_eq!(out.closed_unpaid, 1);
        assert!(!out.more);
        let deferred: Vec<(OrderId, DeferralReason)> =
            out.deferred.iter().map(|d| (d.order, d.reason)).collect();
        assert_eq!(
            deferred,
            [
                (frozen.0.id, DeferralReason::Held),
                (today.0.id, DeferralReason::NotYetSettled)
            ]
        );
        assert_eq!(
            closing_down_status(&db.db, gym.id, scheme.id)
                .await
                .unwrap(),
            EnrollmentStatus::ClosingDown
        );
        for (o, refunded) in [(&unused, "1000.00"), (&half, "600.00"), (&asked, "1000.00")] {
            let o = get_order(&db.db, o.0.id).await.unwrap();
            assert_eq!((o.status, o.refunded), (OrderStatus::Refunded, m(refunded)));
        }
        assert_eq!(
            get_order(&db.db, spent.0.id).await.unwrap().status,
            OrderStatus::Completed
        );
        assert_eq!(
            get_order(&db.db, unpaid.id).await.unwrap().status,
            OrderStatus::Refunded
        );
        assert!(
            milestones_of(&db.db, unpaid.id)
                .await
                .unwrap()
                .iter()
                .all(|x| x.status == MilestoneStatus::Cancelled)
        );
        let alerts = alerts_of(&db, &w, AlertKind::ClosingDown).await;
        assert_eq!((alerts.len(), alerts[0].merchant), (1, Some(gym.id)));

        // Nothing goes out, nothing new comes in.
        let err = w
            .run_as(&w.as_regulator(&bureau), start.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState);
        let err = w
            .run(OpenOrder {
                scheme: scheme.id,
                merchant: gym.id,
                payer: holder.id,
                total: m("100.00"),
                description: String::new(),
                order_no: None,
                split: None,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");
        // The neighbour trades on.
        use_card(&w, &theirs, "100.00", "N1").await.unwrap();

        // After settlement the card bought this morning is refunded too.
        w.pass_days(1).await;
        let o = get_order(&db.db, today.0.id).await.unwrap();
        assert_eq!((o.status, o.refunded), (OrderStatus::Refunded, m("300.00")));
        // The frozen card waits for the court; its refund request stands, then the bank executes it.
        assert_eq!(
            get_order(&db.db, frozen.0.id).await.unwrap().status,
            OrderStatus::Active
        );
        w.run(CourtUnfreeze {
            hold: hold.id,
            court: Some(court.id),
        })
        .await
        .unwrap();
        // Unfrozen, it still cannot be used: no release leaves a closing-down merchant.
        let err = use_card(&w, &frozen, "100.00", "P3").await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");
        assert!(err.to_string().contains("CLOSING_DOWN"), "{err}");
        let r = refunds_of(&db.db, frozen.0.id).await.unwrap().remove(0);
        w.run(ExecuteRefund { refund: r.id }).await.unwrap();
        assert_eq!(
            get_order(&db.db, frozen.0.id).await.unwrap().refunded,
            m("800.00")
        );
        let batches = lvyue_entity::event::Entity::find()
            .all(&db.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == "closing_down.refunds")
            .count();
        assert!(batches >= 2, "{batches}");
        clean(&db).await;
    }
);

async fn refunded(db: &TestDb, cards: &[(OrderRecord, PartyRecord)]) -> usize {
    let mut n = 0;
    for c in cards {
        if get_order(&db.db, c.0.id).await.unwrap().status == OrderStatus::Refunded {
            n += 1;
        }
    }
    n
}

/// Starts closing down with a small batch, as if the merchant had more cards than one
/// transaction may refund.
#[derive(Debug, Clone, serde::Serialize)]
struct StartSmall(StartClosingDown);

impl Command for StartSmall {
    type Output = ClosingDownOutcome;
    const NAME: &'static str = "testStartSmall";
    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<ClosingDownOutcome> {
        closing::start(tx, &self.0, 2).await
    }
}

db_test!(
    more_cards_than_a_transaction_holds_are_refunded_in_further_batches,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let scheme = w
            .scheme(Industry::PrepaidCard, "320100", None, card_policy())
            .await;
        let gym = issuer(&w, &scheme, "连锁健身房某店", Some(IssuerType::Group), None).await;
        let mut cards = vec![];
        for _ in 0..5 {
            cards.push(card(&w, &scheme, &gym, "100.00").await);
        }
        w.pass_days(1).await;
        let out = w
            .run(StartSmall(StartClosingDown {
                merchant: gym.id,
                scheme: scheme.id,
                reason: "停业".into(),
            }))
            .await
            .unwrap();
        assert_eq!((out.refunded_cards, out.more), (2, true));
        assert_eq!(refunded(&db, &cards).await, 2);
        // The scheduler carries on at once.
        w.tick().await;
        assert_eq!(refunded(&db, &cards).await, 5);
        // In log order: without ORDER BY, PostgreSQL may return the rows in any order.
        let events: Vec<serde_json::Value> = lvyue_entity::event::Entity::find()
            .order_by_asc(lvyue_entity::event::Column::Seq)
            .all(&db.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == "closing_down.refunds")
            .map(|e| serde_json::from_str::<Value>(&e.data).unwrap())
            .collect();
        assert_eq!(events.len(), 2);
        assert_eq!(
            (events[0]["more"].clone(), events[1]["more"].clone()),
            (json!(true), json!(false))
        );
        clean(&db).await;
    }
);

#[test]
fn issuer_types_match_the_policy_keys() {
    let names: Vec<&str> = IssuerType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(names, crate::policy::ISSUER_TYPES);
}

db_test!(
    a_card_takes_top_ups_that_raise_its_total_and_are_usable_once_settled,
    |db: TestDb| async move {
        let w = World::new(&db).await;
        let scheme = w
            .scheme(Industry::PrepaidCard, "320100", None, card_policy())
            .await;
        let gym = issuer(
            &w,
            &scheme,
            "南京某某健身有限公司",
            Some(IssuerType::Scale),
            None,
        )
        .await;
        let c = card(&w, &scheme, &gym, "500.00").await;
        w.pass_days(1).await;
        use_card(&w, &c, "300.00", "POS-1").await.unwrap();
        // A top-up on the running card: its total and its last milestone grow by it.
        let top = w.pay(&c.0, "200.00").await;
        assert_eq!(top.order.total, m("700.00"));
        assert_eq!(top.order.status, OrderStatus::Active);
        let ms = milestones_of(&db.db, c.0.id).await.unwrap();
        assert_eq!(
            ms.iter().map(|m| m.amount).collect::<Vec<_>>(),
            [m("250.00"), m("450.00")]
        );
        // What has settled can be used; the top-up from T+1, and saying so.
        let err = use_card(&w, &c, "300.00", "POS-2").await.unwrap_err();
        assert!(err.to_string().contains("NOT_YET_SETTLED"), "{err}");
        use_card(&w, &c, "200.00", "POS-3").await.unwrap();
        assert_eq!(
            get_order(&db.db, c.0.id).await.unwrap().status,
            OrderStatus::Active
        );
        w.pass_days(1).await;
        let out = use_card(&w, &c, "200.00", "POS-4").await.unwrap();
        assert_eq!(out.order.status, OrderStatus::Completed);
        assert_eq!(out.order.released, m("700.00"));
        // A used-up card takes no more money.
        let err = w
            .run(crate::order::Collect {
                order: c.0.id,
                channel: crate::order::Channel::WechatPay,
                amount: m("50.00"),
                external_ref: "wx-late".into(),
                batch_ref: None,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidState, "{err}");
        clean(&db).await;
    }
);
