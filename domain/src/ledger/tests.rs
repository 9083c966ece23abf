//! Ledger rules, each pinned by a test on SQLite and (when configured) PostgreSQL.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};

use super::commands::{OpenAccount, PlaceHold, PostEntry, ReleaseHold};
use super::*;
use crate::Escrow;
use crate::audit::audit;
use crate::db_test;
use crate::error::{DomainError, ErrorCode};
use crate::idempotency::IdempotencyKey;
use crate::ids::AccountId;
use crate::money::Money;
use crate::principal::Principal;
use crate::testing::TestDb;

fn bank() -> Principal {
    Principal::bank("ops-1")
}

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

async fn open(escrow: &Escrow, name: &str, kind: AccountKind) -> AccountId {
    escrow
        .execute(&bank(), None, &OpenAccount(NewAccount::new(name, kind)))
        .await
        .unwrap()
        .id
}

async fn move_money(
    escrow: &Escrow,
    from: AccountId,
    to: AccountId,
    amount: Money,
) -> Result<EntryRecord, DomainError> {
    escrow
        .execute(
            &bank(),
            None,
            &PostEntry {
                // A manual entry taking supervised money is an adjustment (cleared as one).
                kind: EntryKind::Adjustment,
                memo: "test".into(),
                legs: transfer(from, to, amount).to_vec(),
            },
        )
        .await
}

/// An external source and an escrow account funded with `amount`.
async fn funded_escrow(escrow: &Escrow, amount: &str) -> (AccountId, AccountId) {
    let world = open(escrow, "WeChat Pay", AccountKind::External).await;
    let esc = open(escrow, "escrow", AccountKind::Escrow).await;
    move_money(escrow, world, esc, m(amount)).await.unwrap();
    (world, esc)
}

async fn counts(db: &TestDb) -> (u64, u64, u64) {
    (
        lvyue_entity::posting::Entity::find()
            .count(&db.db)
            .await
            .unwrap(),
        lvyue_entity::journal_entry::Entity::find()
            .count(&db.db)
            .await
            .unwrap(),
        lvyue_entity::event::Entity::find()
            .count(&db.db)
            .await
            .unwrap(),
    )
}

db_test!(
    entries_must_balance_and_have_two_legs,
    |db: TestDb| async move {
        let escrow = db.escrow().await;
        let a = open(&escrow, "a", AccountKind::External).await;
        let b = open(&escrow, "b", AccountKind::Escrow).await;
        let before = counts(&db).await;
        for legs in [
            vec![
                Leg {
                    account: a,
                    amount_fen: -100,
                },
                Leg {
                    account: b,
                    amount_fen: 99,
                },
            ],
            vec![Leg {
                account: a,
                amount_fen: -100,
            }],
            vec![
                Leg {
                    account: a,
                    amount_fen: 0,
                },
                Leg {
                    account: b,
                    amount_fen: 0,
                },
            ],
            vec![],
        ] {
            let err = escrow
                .execute(
                    &bank(),
                    None,
                    &PostEntry {
                        kind: EntryKind::Adjustment,
                        memo: String::new(),
                        legs,
                    },
                )
                .await
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::Validation, "{err}");
        }
        assert_eq!(counts(&db).await, before, "a refused entry writes nothing");
    }
);

db_test!(escrow_never_goes_below_zero, |db: TestDb| async move {
    let escrow = db.escrow().await;
    let (world, esc) = funded_escrow(&escrow, "100.00").await;
    let before = counts(&db).await;
    let err = move_money(&escrow, esc, world, m("100.01"))
        .await
        .unwrap_err();
    match err {
        DomainError::InsufficientFunds {
            available,
            requested,
            ..
        } => {
            assert_eq!((available, requested), (m("100.00"), m("100.01")));
        }
        other => panic!("expected insufficient funds, got {other}"),
    }
    assert_eq!(counts(&db).await, before, "nothing half-written");
    move_money(&escrow, esc, world, m("100.00")).await.unwrap();
    assert_eq!(balance(&db.db, esc).await.unwrap().balance_fen, 0);
});

db_test!(external_accounts_may_go_negative, |db: TestDb| async move {
    let escrow = db.escrow().await;
    let (world, _) = funded_escrow(&escrow, "5.00").await;
    assert_eq!(balance(&db.db, world).await.unwrap().balance_fen, -500);
});

db_test!(
    balances_of_more_accounts_than_a_query_may_bind,
    |db: TestDb| async move {
        let escrow = db.escrow().await;
        let (world, esc) = funded_escrow(&escrow, "5.00").await;
        // 70,000 ids: past SQLite's 32,766 and PostgreSQL's 65,535 bind parameters.
        let mut ids: Vec<AccountId> = (1_000_000..1_070_000).map(AccountId).collect();
        ids.insert(35_000, esc);
        ids.push(world);
        let got = balances_of(&db.db, &ids).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[&esc].balance_fen, 500);
        assert_eq!(got[&world].balance_fen, -500);
    }
);

db_test!(
    holds_reduce_available_without_moving_money,
    |db: TestDb| async move {
        let escrow = db.escrow().await;
        let (world, esc) = funded_escrow(&escrow, "1000.00").await;
        let hold = escrow
            .execute(
                &bank(),
                None,
                &PlaceHold(NewHold {
                    account: esc,
                    kind: HoldKind::CourtFreeze,
                    amount: m("600.00"),
                    case_no: Some("(2026)苏0102执123号".into()),
                    court: None,
                    priority: 0,
                    order: None,
                    reason: "judicial freeze".into(),
                    expires_at: None,
                }),
            )
            .await
            .unwrap();
        let b = balance(&db.db, esc).await.unwrap();
        assert_eq!(
            (b.balance_fen, b.held_fen, b.available_fen()),
            (100_000, 60_000, 40_000)
        );
        // Only the unheld part can leave.
        assert_eq!(
            move_money(&escrow, esc, world, m("400.01"))
                .await
                .unwrap_err()
                .code(),
            ErrorCode::InsufficientFunds
        );
        move_money(&escrow, esc, world, m("400.00")).await.unwrap();
        // A second hold cannot exceed what is available.
        let err = escrow
            .execute(
                &bank(),
                None,
                &PlaceHold(NewHold {
                    account: esc,
                    kind: HoldKind::CourtFreeze,
                    amount: m("0.01"),
                    case_no: None,
                    court: None,
                    priority: 0,
                    order: None,
                    reason: String::new(),
                    expires_at: None,
                }),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InsufficientFunds);
        // Incoming money is not blocked by a hold.
        move_money(&escrow, world, esc, m("50.00")).await.unwrap();
        escrow
            .execute(&bank(), None, &ReleaseHold(hold.id))
            .await
            .unwrap();
        let b = balance(&db.db, esc).await.unwrap();
        assert_eq!((b.balance_fen, b.held_fen), (65_000, 0));
        let again = escrow
            .execute(&bank(), None, &ReleaseHold(hold.id))
            .await
            .unwrap_err();
        assert_eq!(again.code(), ErrorCode::InvalidState);
        assert!(audit(&db.db, None).await.unwrap().is_clean());
    }
);

db_test!(
    balances_are_known_as_of_any_past_entry_and_time,
    |db: TestDb| async move {
        let start = crate::clock::Timestamp(1_767_225_600_000_000); // 2026-01-01T00:00:00Z
        let (escrow, clock) = db.escrow_at(start).await;
        let world = open(&escrow, "world", AccountKind::External).await;
        let esc = open(&escrow, "escrow", AccountKind::Escrow).await;
        let e1 = move_money(&escrow, world, esc, m("10.00")).await.unwrap();
        clock.advance_days(1);
        let e2 = move_money(&escrow, world, esc, m("5.00")).await.unwrap();
        clock.advance_days(1);
        move_money(&escrow, esc, world, m("12.00")).await.unwrap();
        assert_eq!(balance_after_entry(&db.db, esc, e1.id).await.unwrap(), 1000);
        assert_eq!(balance_after_entry(&db.db, esc, e2.id).await.unwrap(), 1500);
        assert_eq!(
            balance_at_time(&db.db, esc, start.plus_seconds(-1))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            balance_at_time(&db.db, esc, start.plus_days(1))
                .await
                .unwrap(),
            1500
        );
        assert_eq!(
            balance_at_time(&db.db, esc, start.plus_days(3))
                .await
                .unwrap(),
            300
        );
    }
);

db_test!(
    idempotency_keys_replay_and_conflict,
    |db: TestDb| async move {
        let escrow = db.escrow().await;
        let (world, esc) = funded_escrow(&escrow, "100.00").await;
        let key = IdempotencyKey::new("payout-2026-0001").unwrap();
        let cmd = PostEntry {
            kind: EntryKind::Adjustment,
            memo: "payout".into(),
            legs: transfer(esc, world, m("30.00")).to_vec(),
        };
        let first = escrow.execute(&bank(), Some(&key), &cmd).await.unwrap();
        let replay = escrow.execute(&bank(), Some(&key), &cmd).await.unwrap();
        assert_eq!(first, replay);
        assert_eq!(
            balance(&db.db, esc).await.unwrap().balance_fen,
            7000,
            "the replay moved no money"
        );
        let other = PostEntry {
            kind: EntryKind::Adjustment,
            memo: "payout".into(),
            legs: transfer(esc, world, m("31.00")).to_vec(),
        };
        assert_eq!(
            escrow
                .execute(&bank(), Some(&key), &other)
                .await
                .unwrap_err()
                .code(),
            ErrorCode::Conflict
        );
        // The same key from another principal is another key.
        escrow
            .execute(&Principal::bank("ops-2"), Some(&key), &cmd)
            .await
            .unwrap();
        assert_eq!(balance(&db.db, esc).await.unwrap().balance_fen, 4000);
        // A failed command does not use up its key.
        let big = IdempotencyKey::new("payout-2026-0002").unwrap();
        let too_much = PostEntry {
            kind: EntryKind::Adjustment,
            memo: String::new(),
            legs: transfer(esc, world, m("41.00")).to_vec(),
        };
        assert_eq!(
            escrow
                .execute(&bank(), Some(&big), &too_much)
                .await
                .unwrap_err()
                .code(),
            ErrorCode::InsufficientFunds
        );
        let fits = PostEntry {
            kind: EntryKind::Adjustment,
            memo: String::new(),
            legs: transfer(esc, world, m("40.00")).to_vec(),
        };
        escrow.execute(&bank(), Some(&big), &fits).await.unwrap();
    }
);

db_test!(
    concurrent_idempotent_duplicates_move_money_once,
    |db: TestDb| async move {
        let escrow = db.escrow().await;
        let (world, esc) = funded_escrow(&escrow, "100.00").await;
        let key = IdempotencyKey::new("dup").unwrap();
        let cmd = Arc::new(PostEntry {
            kind: EntryKind::Adjustment,
            memo: String::new(),
            legs: transfer(esc, world, m("10.00")).to_vec(),
        });
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (escrow, key, cmd) = (escrow.clone(), key.clone(), cmd.clone());
                tokio::spawn(async move { escrow.execute(&bank(), Some(&key), cmd.as_ref()).await })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().unwrap().id);
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "every duplicate got the first result");
        assert_eq!(balance(&db.db, esc).await.unwrap().balance_fen, 9000);
    }
);

db_test!(
    fifty_concurrent_withdrawals_of_thirty_from_a_thousand_leave_ten,
    |db: TestDb| async move {
        let escrow = db.escrow().await;
        let (world, esc) = funded_escrow(&escrow, "1000.00").await;
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let escrow = escrow.clone();
                tokio::spawn(async move {
                    move_money(&escrow, esc, world, "30.00".parse().unwrap()).await
                })
            })
            .collect();
        let (mut ok, mut short) = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(DomainError::InsufficientFunds { available, .. }) => {
                    // Refused only when truly short: never a disguised serialization failure.
                    assert!(
                        available < "30.00".parse().unwrap(),
                        "refused with {available} available"
                    );
                    short += 1;
                }
                Err(other) => panic!("unexpected error: {other:?}"),
            }
        }
        assert_eq!((ok, short), (33, 17));
        assert_eq!(balance(&db.db, esc).await.unwrap().balance_fen, 1000);
        let report = audit(&db.db, None).await.unwrap();
        assert!(report.is_clean(), "{:?}", report.breaches);
    }
);

db_test!(
    audit_reports_every_breach_it_finds,
    |db: TestDb| async move {
        let escrow = db.escrow().await;
        let (world, esc) = funded_escrow(&escrow, "100.00").await;
        move_money(&escrow, esc, world, m("40.00")).await.unwrap();
        assert!(audit(&db.db, None).await.unwrap().is_clean());
        // Tamper behind the ledger's back: a posting amount, a cached balance, an event's data.
        db.db.execute_unprepared("UPDATE posting SET amount_fen = amount_fen + 1 WHERE id = (SELECT MAX(id) FROM posting)").await.unwrap();
        db.db
            .execute_unprepared(&format!(
                "UPDATE account SET balance_fen = balance_fen + 7 WHERE id = {}",
                esc.0
            ))
            .await
            .unwrap();
        db.db
            .execute_unprepared("UPDATE event SET data = '{\"forged\":true}' WHERE seq = 1")
            .await
            .unwrap();
        let report = audit(&db.db, None).await.unwrap();
        let rules: Vec<&str> = report.breaches.iter().map(|b| b.rule).collect();
        for rule in [
            "ledger_unbalanced",
            "entry_unbalanced",
            "cached_balance",
            "event_canonical",
        ] {
            assert!(rules.contains(&rule), "missing {rule} in {rules:?}");
        }
    }
);

db_test!(
    the_database_refuses_a_negative_escrow_even_behind_the_ledger,
    |db: TestDb| async move {
        let escrow = db.escrow().await;
        let (_, esc) = funded_escrow(&escrow, "1.00").await;
        let res = db
            .db
            .execute_unprepared(&format!(
                "UPDATE account SET balance_fen = -1 WHERE id = {}",
                esc.0
            ))
            .await;
        assert!(res.is_err(), "CHECK constraint should refuse");
    }
);

mod model;

db_test!(
    a_memo_over_its_limit_is_refused_not_cut,
    |db: TestDb| async move {
        let escrow = db.escrow().await;
        let (world, esc) = funded_escrow(&escrow, "100.00").await;
        let post = |memo: String| PostEntry {
            kind: EntryKind::Adjustment,
            memo,
            legs: transfer(esc, world, m("1.00")).to_vec(),
        };
        let long = "备".repeat(super::MAX_MEMO_CHARS + 1);
        let err = escrow
            .execute(&bank(), None, &post(long))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Validation, "{err}");
        assert!(err.to_string().contains("memo"), "{err}");
        assert_eq!(balance(&db.db, esc).await.unwrap().balance_fen, 10000);
        let fits = "备".repeat(super::MAX_MEMO_CHARS);
        let entry = escrow
            .execute(&bank(), None, &post(fits.clone()))
            .await
            .unwrap();
        assert_eq!(entry.memo, fits);
    }
);
