//! The gate cannot be passed by: no entry kind takes money from a supervised account without a
//! clearance that covers it, and a clearance covers only what the gate allowed.
#![allow(clippy::unwrap_used)]

mod outflows;

use serde::{Deserialize, Serialize};

use super::*;
use crate::Escrow;
use crate::command::Command;
use crate::db_test;
use crate::error::ErrorCode;
use crate::ledger::commands::{OpenAccount, PostEntry};
use crate::ledger::{AccountKind, EntryRecord, Leg, NewAccount, post, post_cleared, transfer};
use crate::principal::Principal;
use crate::testing::TestDb;

fn bank() -> Principal {
    Principal::bank("ops-1")
}

fn m(s: &str) -> Money {
    s.parse().unwrap()
}

async fn open(escrow: &Escrow, kind: AccountKind) -> AccountId {
    escrow
        .execute(
            &bank(),
            None,
            &OpenAccount(NewAccount::new(format!("{kind}"), kind)),
        )
        .await
        .unwrap()
        .id
}

async fn balance(escrow: &Escrow, a: AccountId) -> i64 {
    get_account(escrow.db(), a).await.unwrap().balance_fen
}

/// Posts an entry with the plain ledger call, as a path that skipped the gate would.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ungated {
    kind: EntryKind,
    legs: Vec<Leg>,
}

impl Command for Ungated {
    type Output = EntryRecord;
    const NAME: &'static str = "ungated";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<EntryRecord> {
        let e = post(tx, self.kind, None, "skipping the gate", &self.legs).await?;
        tx.emit(crate::event::NewEvent::new(
            "test.posted",
            serde_json::json!({}),
        ));
        Ok(e)
    }
}

/// Posts an entry with a clearance for `allowed` of `from`, made here as only the gate can.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cleared {
    outflow: Outflow,
    kind: EntryKind,
    from: AccountId,
    allowed: Money,
    legs: Vec<Leg>,
}

impl Command for Cleared {
    type Output = EntryRecord;
    const NAME: &'static str = "cleared";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<EntryRecord> {
        let c = Clearance::new(self.outflow, None).allow(self.from, self.allowed);
        let e = post_cleared(tx, c, self.kind, "cleared", &self.legs).await?;
        tx.emit(crate::event::NewEvent::new(
            "test.posted",
            serde_json::json!({}),
        ));
        Ok(e)
    }
}

db_test!(
    no_entry_kind_takes_supervised_money_without_the_gate,
    |db: TestDb| async move {
        let escrow = db.escrow().await;
        let outside = open(&escrow, AccountKind::External).await;
        let supervised: Vec<AccountKind> = AccountKind::ALL
            .iter()
            .copied()
            .filter(|k| k.is_supervised())
            .collect();
        assert_eq!(
            supervised,
            [
                AccountKind::Escrow,
                AccountKind::Payable,
                AccountKind::Refundable,
                AccountKind::Deposit,
                AccountKind::Voucher
            ]
        );
        for &kind in &supervised {
            let account = open(&escrow, kind).await;
            // Money coming in needs no clearance.
            escrow
                .execute(
                    &bank(),
                    None,
                    &Ungated {
                        kind: EntryKind::Collect,
                        legs: transfer(outside, account, m("100.00")).to_vec(),
                    },
                )
                .await
                .unwrap();
            for &entry_kind in EntryKind::ALL {
                let err = escrow
                    .execute(
                        &bank(),
                        None,
                        &Ungated {
                            kind: entry_kind,
                            legs: transfer(account, outside, m("1.00")).to_vec(),
                        },
                    )
                    .await
                    .unwrap_err();
                assert_eq!(
                    err.code(),
                    ErrorCode::Internal,
                    "{kind} {entry_kind}: {err}"
                );
                // The bank's manual entry is no way round: only an adjustment, cleared as one.
                let manual = escrow
                    .execute(
                        &bank(),
                        None,
                        &PostEntry {
                            kind: entry_kind,
                            memo: "manual".into(),
                            legs: transfer(account, outside, m("1.00")).to_vec(),
                        },
                    )
                    .await;
                if entry_kind == EntryKind::Adjustment {
                    manual.unwrap();
                } else {
                    assert_eq!(
                        manual.unwrap_err().code(),
                        ErrorCode::Internal,
                        "{kind} {entry_kind}"
                    );
                }
            }
            assert_eq!(balance(&escrow, account).await, 9_900, "{kind}");
        }
        let audit = crate::audit::audit(&db.db, None).await.unwrap();
        assert!(audit.is_clean(), "{:?}", audit.breaches);
    }
);

db_test!(
    a_clearance_covers_only_its_account_amount_and_entry_kind,
    |db: TestDb| async move {
        let escrow = db.escrow().await;
        let outside = open(&escrow, AccountKind::External).await;
        let a = open(&escrow, AccountKind::Escrow).await;
        let b = open(&escrow, AccountKind::Escrow).await;
        for acc in [a, b] {
            escrow
                .execute(
                    &bank(),
                    None,
                    &Ungated {
                        kind: EntryKind::Collect,
                        legs: transfer(outside, acc, m("100.00")).to_vec(),
                    },
                )
                .await
                .unwrap();
        }
        let cleared = |from, allowed: &str, kind, legs: Vec<Leg>| Cleared {
            outflow: Outflow::Refund,
            kind,
            from,
            allowed: m(allowed),
            legs,
        };
        for (cmd, why) in [
            (
                cleared(
                    a,
                    "10.00",
                    EntryKind::Refund,
                    transfer(a, outside, m("10.01")).to_vec(),
                ),
                "more than allowed",
            ),
            (
                cleared(
                    a,
                    "10.00",
                    EntryKind::Refund,
                    transfer(b, outside, m("1.00")).to_vec(),
                ),
                "another account",
            ),
            (
                cleared(
                    a,
                    "10.00",
                    EntryKind::Release,
                    transfer(a, outside, m("1.00")).to_vec(),
                ),
                "a kind the outflow does not post",
            ),
        ] {
            let err = escrow.execute(&bank(), None, &cmd).await.unwrap_err();
            assert_eq!(err.code(), ErrorCode::Internal, "{why}: {err}");
        }
        escrow
            .execute(
                &bank(),
                None,
                &cleared(
                    a,
                    "10.00",
                    EntryKind::Refund,
                    transfer(a, outside, m("10.00")).to_vec(),
                ),
            )
            .await
            .unwrap();
        assert_eq!(balance(&escrow, a).await, 9_000);
        assert_eq!(balance(&escrow, b).await, 10_000);
    }
);

#[test]
fn every_outflow_posts_some_entry_kind_and_paths_with_own_checks_are_not_generic() {
    for &o in Outflow::ALL {
        assert!(!crate::ledger::posts_as(o).is_empty(), "{o}");
        let generic = clear(o, None, AccountId(1), Money::from_fen(1).unwrap());
        let own_check = matches!(
            o,
            Outflow::Release
                | Outflow::Usage
                | Outflow::Payout
                | Outflow::BatchPayout
                | Outflow::Adjustment
        );
        assert_eq!(generic.is_err(), own_check, "{o}");
    }
}
