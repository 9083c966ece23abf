//! Property test: random sequences of ledger commands against a simple in-memory model never
//! break an invariant, and the database agrees with the model after every step.

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Transfer { from: usize, to: usize, fen: i64 },
    Hold { account: usize, fen: i64 },
    Release { hold: usize },
}

/// Account 0 is the outside world (may go negative); 1..=4 may not.
const ACCOUNTS: usize = 5;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..ACCOUNTS, 0..ACCOUNTS, 1i64..5_000).prop_filter("distinct", |(f, t, _)| f != t)
            .prop_map(|(from, to, fen)| Op::Transfer { from, to, fen }),
        1 => (1..ACCOUNTS, 1i64..3_000).prop_map(|(account, fen)| Op::Hold { account, fen }),
        1 => (0usize..8).prop_map(|hold| Op::Release { hold }),
    ]
}

#[derive(Default)]
struct Model {
    balance: [i64; ACCOUNTS],
    held: [i64; ACCOUNTS],
    holds: Vec<(usize, i64, bool)>,
}

async fn run_case(escrow: &Escrow, db: &TestDb, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut ids = Vec::new();
    for i in 0..ACCOUNTS {
        let kind = if i == 0 {
            AccountKind::External
        } else {
            AccountKind::Escrow
        };
        ids.push(open(escrow, &format!("acct {i}"), kind).await);
    }
    let mut model = Model::default();
    let mut hold_ids = Vec::new();
    for op in ops {
        match op {
            Op::Transfer { from, to, fen } => {
                let expect_ok = from == 0 || model.balance[from] - fen >= model.held[from];
                let res =
                    move_money(escrow, ids[from], ids[to], Money::from_fen(fen).unwrap()).await;
                prop_assert_eq!(
                    res.is_ok(),
                    expect_ok,
                    "transfer {} → {} of {}: {:?}",
                    from,
                    to,
                    fen,
                    res.err()
                );
                if let Err(e) = res {
                    prop_assert_eq!(e.code(), ErrorCode::InsufficientFunds);
                } else {
                    model.balance[from] -= fen;
                    model.balance[to] += fen;
                }
            }
            Op::Hold { account, fen } => {
                let expect_ok = model.balance[account] - model.held[account] >= fen;
                let res = escrow
                    .execute(
                        &bank(),
                        None,
                        &PlaceHold(NewHold {
                            account: ids[account],
                            kind: HoldKind::CourtFreeze,
                            amount: Money::from_fen(fen).unwrap(),
                            case_no: None,
                            court: None,
                            priority: 0,
                            order: None,
                            reason: String::new(),
                            expires_at: None,
                        }),
                    )
                    .await;
                prop_assert_eq!(res.is_ok(), expect_ok);
                if let Ok(h) = res {
                    model.held[account] += fen;
                    model.holds.push((account, fen, true));
                    hold_ids.push(h.id);
                }
            }
            Op::Release { hold } => {
                let Some(&(account, fen, active)) = model.holds.get(hold) else {
                    continue;
                };
                let res = escrow
                    .execute(&bank(), None, &ReleaseHold(hold_ids[hold]))
                    .await;
                prop_assert_eq!(res.is_ok(), active);
                if active {
                    model.held[account] -= fen;
                    model.holds[hold].2 = false;
                }
            }
        }
        for (i, id) in ids.iter().enumerate() {
            let b = balance(&db.db, *id).await.unwrap();
            prop_assert_eq!(
                (b.balance_fen, b.held_fen),
                (model.balance[i], model.held[i])
            );
            if i > 0 {
                prop_assert!(b.balance_fen >= b.held_fen && b.held_fen >= 0);
            }
        }
    }
    prop_assert_eq!(model.balance.iter().sum::<i64>(), 0);
    let report = audit(&db.db, None).await.unwrap();
    prop_assert!(report.is_clean(), "{:?}", report.breaches);
    Ok(())
}

fn check(db: TestDb, cases: u32) {
    let rt = tokio::runtime::Handle::current();
    let escrow = tokio::task::block_in_place(|| rt.block_on(db.escrow()));
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..30))| {
        tokio::task::block_in_place(|| rt.block_on(run_case(&escrow, &db, ops)))?;
    });
}

db_test!(
    random_command_sequences_agree_with_the_model,
    |db: TestDb| async move {
        let cases = if db.backend == crate::testing::Backend::Sqlite {
            24
        } else {
            12
        };
        check(db, cases);
    }
);
