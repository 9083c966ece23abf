//! Property test: random sequences of lifecycle commands (open, pay, pass a day, confirm,
//! release, freeze, unfreeze, deduct, refund) against a model of each order's money. Every
//! refusal has an expected code, the model's collected amounts and statuses agree with the
//! database, and the audit (ledger and order equations) is clean after every step.

use proptest::prelude::*;

use super::*;
use crate::ids::HoldId;

#[derive(Debug, Clone)]
enum Op {
    Open { total_fen: i64 },
    Pay { order: usize, share_pct: i64 },
    NextDay,
    Confirm { order: usize, index: i32 },
    Release { order: usize },
    Freeze { order: usize, fen: i64 },
    Unfreeze { hold: usize },
    Deduct { hold: usize, fen: i64 },
    Refund { order: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (100i64..500_000).prop_map(|total_fen| Op::Open { total_fen }),
        3 => (0usize..4, 1i64..=100).prop_map(|(order, share_pct)| Op::Pay { order, share_pct }),
        2 => Just(Op::NextDay),
        3 => (0usize..4, 1i32..4).prop_map(|(order, index)| Op::Confirm { order, index }),
        1 => (0usize..4).prop_map(|order| Op::Release { order }),
        1 => (0usize..4, 1i64..100_000).prop_map(|(order, fen)| Op::Freeze { order, fen }),
        1 => (0usize..4).prop_map(|hold| Op::Unfreeze { hold }),
        1 => (0usize..4, 1i64..50_000).prop_map(|(hold, fen)| Op::Deduct { hold, fen }),
        1 => (0usize..4).prop_map(|order| Op::Refund { order }),
    ]
}

/// What the model knows of an order.
struct ModelOrder {
    id: OrderId,
    total: i64,
    collected: i64,
}

fn expect_code(
    res: &Result<impl std::fmt::Debug, DomainError>,
    allowed: &[ErrorCode],
) -> Result<(), TestCaseError> {
    if let Err(e) = res {
        prop_assert!(
            allowed.contains(&e.code()),
            "unexpected {:?}: {e}",
            e.code()
        );
    }
    Ok(())
}

async fn run_case(db: &TestDb, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let s = school(db, shenzhen()).await;
    let w = &s.w;
    let court = w.court().await;
    let court_p = w.as_party(Role::Court, court.id);
    let association_p = w.as_party(Role::Confirmer, s.association.id);
    let mut orders: Vec<ModelOrder> = Vec::new();
    let mut holds: Vec<HoldId> = Vec::new();
    for op in ops {
        match op {
            Op::Open { total_fen } => {
                let o = w
                    .order(
                        &s.scheme,
                        &s.merchant,
                        &s.payer,
                        &Money::from_fen(total_fen).unwrap().to_string(),
                    )
                    .await;
                orders.push(ModelOrder {
                    id: o.id,
                    total: total_fen,
                    collected: 0,
                });
            }
            Op::Pay { order, share_pct } => {
                let Some(mo) = orders.get_mut(order) else {
                    continue;
                };
                let outstanding = mo.total - mo.collected;
                let fen = (outstanding * share_pct / 100).max(1);
                let res = w
                    .run(Collect {
                        order: mo.id,
                        channel: Channel::WechatPay,
                        amount: Money::from_fen(fen).unwrap(),
                        external_ref: format!("p{}-{}", mo.id, mo.collected),
                        batch_ref: None,
                    })
                    .await;
                let status = get_order(&db.db, mo.id).await.unwrap().status;
                let should_pass = outstanding > 0
                    && fen <= outstanding
                    && (status == OrderStatus::AwaitingPayment || res.is_ok());
                expect_code(&res, &[ErrorCode::InvalidState, ErrorCode::Validation])?;
                if res.is_ok() {
                    prop_assert!(should_pass);
                    mo.collected += fen;
                }
            }
            Op::NextDay => {
                w.pass_days(1).await;
            }
            Op::Confirm { order, index } => {
                let Some(mo) = orders.get(order) else {
                    continue;
                };
                let res = w
                    .run_as(
                        &association_p,
                        ConfirmMilestone {
                            order: mo.id,
                            index,
                            as_: ConfirmAs::Evidence,
                            approve: true,
                            evidence: "ref".into(),
                        },
                    )
                    .await;
                expect_code(&res, &[ErrorCode::InvalidState])?;
            }
            Op::Release { order } => {
                let Some(mo) = orders.get(order) else {
                    continue;
                };
                let res = w.run(ReleaseMilestone { order: mo.id }).await;
                expect_code(
                    &res,
                    &[ErrorCode::InvalidState, ErrorCode::InsufficientFunds],
                )?;
            }
            Op::Freeze { order, fen } => {
                let Some(mo) = orders.get(order) else {
                    continue;
                };
                let res = w
                    .run_as(
                        &court_p,
                        CourtFreeze {
                            order: mo.id,
                            amount: Money::from_fen(fen).unwrap(),
                            case_no: "(2026)苏0102执1号".into(),
                            priority: 0,
                            expires_at: None,
                            court: None,
                        },
                    )
                    .await;
                expect_code(&res, &[ErrorCode::InsufficientFunds])?;
                if let Ok(h) = res {
                    holds.push(h.id);
                }
            }
            Op::Unfreeze { hold } => {
                let Some(h) = holds.get(hold) else { continue };
                let res = w
                    .run_as(
                        &court_p,
                        CourtUnfreeze {
                            hold: *h,
                            court: None,
                        },
                    )
                    .await;
                expect_code(&res, &[ErrorCode::InvalidState])?;
            }
            Op::Deduct { hold, fen } => {
                let Some(h) = holds.get(hold) else { continue };
                let res = w
                    .run_as(
                        &court_p,
                        CourtDeduct {
                            hold: *h,
                            amount: Money::from_fen(fen).unwrap(),
                            court: None,
                        },
                    )
                    .await;
                expect_code(&res, &[ErrorCode::InvalidState, ErrorCode::Validation])?;
            }
            Op::Refund { order } => {
                let Some(mo) = orders.get(order) else {
                    continue;
                };
                let res = w
                    .run(RequestRefund {
                        order: mo.id,
                        reason: "退学".into(),
                        deduction: None,
                        amount: None,
                    })
                    .await;
                expect_code(&res, &[ErrorCode::InvalidState, ErrorCode::Conflict])?;
                if let Ok(r) = res {
                    let res = w.run(ExecuteRefund { refund: r.id }).await;
                    expect_code(
                        &res,
                        &[ErrorCode::InvalidState, ErrorCode::InsufficientFunds],
                    )?;
                }
            }
        }
        for mo in &orders {
            let o = get_order(&db.db, mo.id).await.unwrap();
            prop_assert_eq!(o.collected.fen(), mo.collected, "order {}", o.order_no);
            let out = o.released.fen() + o.refunded.fen() + o.deducted.fen();
            prop_assert!(out <= o.collected.fen());
            if o.status == OrderStatus::Completed {
                prop_assert_eq!(o.released.fen() + o.deducted.fen(), o.total.fen());
            }
        }
        let report = audit(&db.db, None).await.unwrap();
        prop_assert!(report.is_clean(), "{:#?}", report.breaches);
    }
    Ok(())
}

fn check(db: TestDb, cases: u32) {
    let rt = tokio::runtime::Handle::current();
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..25))| {
        tokio::task::block_in_place(|| rt.block_on(run_case(&db, ops)))?;
    });
}

db_test!(
    random_lifecycle_sequences_keep_the_books_straight,
    |db: TestDb| async move {
        let cases = if db.backend == crate::testing::Backend::Sqlite {
            16
        } else {
            8
        };
        check(db, cases);
    }
);
