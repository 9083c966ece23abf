//! The reports, each reconciled with the ledger: activity is built through commands (orders
//! paid, settled, released, refunded, frozen and deducted across merchants, industries, regions
//! and days) and every report total is checked against independent sums — account balances
//! from `crate::ledger::balance_at_time` and the order, payment, milestone and refund records.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::*;
use crate::clock::{Clock, Timestamp};
use crate::court::{CourtDeduct, CourtFreeze};
use crate::db_test;
use crate::error::ErrorCode;
use crate::ids::{AccountId, PartyId};
use crate::ledger::{AccountKind, balance_at_time};
use crate::money::Money;
use crate::order::{ConfirmAs, ConfirmMilestone, ExecuteRefund, RequestRefund, payments_of};
use crate::order_record::{OrderRecord, get_order, milestones_of};
use crate::party::PartyRecord;
use crate::principal::{Industry, Role};
use crate::scheme::{SchemeRecord, enrollment_of};
use crate::testing::TestDb;
use crate::testing::world::World;

mod balances;
mod export;
mod flows;
mod inventory;

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The last instant of a China day.
fn end_of(date: NaiveDate) -> Timestamp {
    Timestamp(Timestamp::china_midnight(date.succ_opt().unwrap()).0 - 1)
}

fn driving(custody: bool) -> Value {
    let mut p = json!({
        "milestones": [
            {"name": "报名", "share_bp": 2500, "auto_after_days": 0},
            {"name": "结业", "share_bp": 7500, "confirm_by": ["EVIDENCE"]}
        ],
        "refund": {"deadline_working_days": 15}
    });
    if custody {
        p["custody"] = json!({"reference": "OUTSTANDING_PREPAID", "ratio_bp": 2000});
    }
    p
}

fn canteen() -> Value {
    json!({
        "milestones": [
            {"name": "上半月", "share_bp": 5000, "auto_after_days": 0},
            {"name": "下半月", "share_bp": 5000, "confirm_by": ["PAYER"]}
        ],
        "refund": {"deadline_working_days": 15, "max_deduction_bp": 2000}
    })
}

/// Day 0 is Monday 2026-03-02.
pub(super) const DAY0: &str = "2026-03-02";

pub(super) struct Fixture {
    pub w: World,
    pub nanjing_driving: PartyRecord,
    pub court: PartyRecord,
    /// Nanjing driving schools (custody 20%), Nanjing canteens, Suzhou driving schools.
    pub s1: SchemeRecord,
    pub s2: SchemeRecord,
    pub s3: SchemeRecord,
    /// M1, M2: Nanjing driving schools; M3: Nanjing canteen; M4: Suzhou driving school.
    pub m: [PartyRecord; 4],
    pub payer: PartyRecord,
}

/// Four days of activity:
/// - day 0: six orders opened and paid (in clearing);
/// - day 1: settled (T+1), first milestones released automatically, O1's second released on
///   evidence, O5 refunded at the payer's request;
/// - day 2: a court freezes 100.00 of O6 and deducts 60.00; O7 is paid (in clearing overnight);
///   the canteen refunds O3 keeping a 30.00 deduction;
/// - day 3: O7 settles and its first milestone is released.
pub(super) async fn fixture(db: &TestDb) -> Fixture {
    let w = World::new(db).await;
    let nanjing_driving = w.regulator(&["3201"], &[Industry::DrivingSchool]).await;
    let court = w.court().await;
    let s1 = w
        .scheme(
            Industry::DrivingSchool,
            "320100",
            Some(nanjing_driving.id),
            driving(true),
        )
        .await;
    let s2 = w.scheme(Industry::Canteen, "320100", None, canteen()).await;
    let s3 = w
        .scheme(Industry::DrivingSchool, "320500", None, driving(false))
        .await;
    let m1 = w
        .merchant("玄武驾校", "320102", Industry::DrivingSchool)
        .await;
    let m2 = w
        .merchant("秦淮驾校", "320104", Industry::DrivingSchool)
        .await;
    let m3 = w
        .merchant("玄武小学食堂", "320102", Industry::Canteen)
        .await;
    let m4 = w
        .merchant("姑苏驾校", "320508", Industry::DrivingSchool)
        .await;
    for (s, mm) in [(&s1, &m1), (&s1, &m2), (&s2, &m3), (&s3, &m4)] {
        w.enroll(s, mm).await;
    }
    let payer = w.payer("段誉").await;
    let mut orders = Vec::new();
    for (s, mm, total) in [
        (&s1, &m1, "1000.00"),
        (&s1, &m2, "2000.00"),
        (&s2, &m3, "600.00"),
        (&s3, &m4, "800.00"),
        (&s1, &m1, "500.00"),
        (&s1, &m2, "300.00"),
    ] {
        let o = w.order(s, mm, &payer, total).await;
        w.pay(&o, total).await;
        orders.push(o);
    }
    // Day 1.
    w.pass_days(1).await;
    // The bank enters the association's certificate.
    w.run(ConfirmMilestone {
        order: orders[0].id,
        index: 1,
        as_: ConfirmAs::Evidence,
        approve: true,
        evidence: "结业证 001".into(),
    })
    .await
    .unwrap();
    let r = w
        .run_as(
            &w.as_party(Role::Payer, payer.id),
            RequestRefund {
                order: orders[4].id,
                reason: "退学".into(),
                deduction: None,
                amount: None,
            },
        )
        .await
        .unwrap();
    w.run(ExecuteRefund { refund: r.id }).await.unwrap();
    // Day 2.
    w.pass_days(1).await;
    let hold = w
        .run(CourtFreeze {
            order: orders[5].id,
            amount: m("100.00"),
            case_no: "(2026)苏0102执1号".into(),
            priority: 0,
            expires_at: None,
            court: Some(court.id),
        })
        .await
        .unwrap();
    w.run(CourtDeduct {
        hold: hold.id,
        amount: m("60.00"),
        court: Some(court.id),
    })
    .await
    .unwrap();
    let o7 = w.order(&s2, &m3, &payer, "200.00").await;
    w.pay(&o7, "200.00").await;
    let r = w
        .run_as(
            &w.as_party(Role::Merchant, m3.id),
            RequestRefund {
                order: orders[2].id,
                reason: "转学".into(),
                deduction: Some(m("30.00")),
                amount: None,
            },
        )
        .await
        .unwrap();
    w.run(ExecuteRefund { refund: r.id }).await.unwrap();
    // Day 3.
    w.pass_days(1).await;
    Fixture {
        w,
        nanjing_driving,
        court,
        s1,
        s2,
        s3,
        m: [m1, m2, m3, m4],
        payer,
    }
}

/// Every order, fresh from the database.
pub(super) async fn all_orders(db: &TestDb) -> Vec<OrderRecord> {
    let rows = lvyue_entity::escrow_order::Entity::find()
        .all(&db.db)
        .await
        .unwrap();
    let mut out = Vec::new();
    for r in rows {
        out.push(get_order(&db.db, crate::ids::OrderId(r.id)).await.unwrap());
    }
    out
}

/// Collected, released, refunded, deducted and still held, from order records.
fn sums<'a>(orders: impl Iterator<Item = &'a OrderRecord>) -> [Money; 5] {
    let mut s = [Money::ZERO; 5];
    for o in orders {
        s[0] = s[0].checked_add(o.collected).unwrap();
        s[1] = s[1].checked_add(o.released).unwrap();
        s[2] = s[2].checked_add(o.refunded).unwrap();
        s[3] = s[3].checked_add(o.deducted).unwrap();
        let held = o
            .collected
            .checked_sub(o.released)
            .unwrap()
            .checked_sub(o.refunded)
            .unwrap()
            .checked_sub(o.deducted)
            .unwrap();
        s[4] = s[4].checked_add(held).unwrap();
    }
    s
}

fn flow_sums(r: &FlowRow) -> [Money; 5] {
    [r.collected, r.released, r.refunded, r.deducted, r.held]
}

fn full() -> Period {
    Period::china_days(d(DAY0), d("2026-03-05")).unwrap()
}

/// What the escrow accounts of some orders held at the end of instant `at`.
async fn escrow_at(db: &TestDb, orders: &[&OrderRecord], at: Timestamp) -> Money {
    let mut fen = 0;
    for o in orders {
        fen += balance_at_time(&db.db, o.escrow_account, at).await.unwrap();
    }
    Money::from_fen(fen).unwrap()
}

/// What all clearing accounts held at the end of instant `at`.
async fn clearing_at(db: &TestDb, at: Timestamp) -> i64 {
    let accounts = lvyue_entity::account::Entity::find()
        .filter(lvyue_entity::account::Column::Kind.eq(AccountKind::Clearing.as_str()))
        .all(&db.db)
        .await
        .unwrap();
    let mut fen = 0;
    for a in accounts {
        fen += balance_at_time(&db.db, AccountId(a.id), at).await.unwrap();
    }
    fen
}

async fn clean(db: &TestDb) {
    let r = crate::audit::audit(&db.db, None).await.unwrap();
    assert!(r.is_clean(), "{:#?}", r.breaches);
}

fn flows_query(group_by: &[FlowDimension]) -> FlowQuery {
    FlowQuery {
        period: full(),
        filter: ReportFilter::default(),
        group_by: group_by.to_vec(),
    }
}
