//! The bank's direct ledger commands: open an account, post an entry, place or release a hold.
//! Business flows (collect, release, refund…) post through the lifecycle commands instead;
//! these are the primitives they and the bank's operators share.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    AccountRecord, EntryKind, EntryRecord, HoldRecord, HoldStatus, Leg, NewAccount, NewHold,
};
use crate::command::{Command, Tx};
use crate::error::{DomainError, DomainResult};
use crate::event::NewEvent;
use crate::ids::AccountId;
use crate::ids::HoldId;
use crate::money::Money;
use crate::principal::Role;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenAccount(pub NewAccount);

impl Command for OpenAccount {
    type Output = AccountRecord;
    const NAME: &'static str = "openAccount";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<AccountRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let acc = super::open_account(tx, self.0.clone()).await?;
        let mut e = NewEvent::new(
            "account.opened",
            json!({ "account_id": acc.id, "number": acc.number, "kind": acc.kind, "parent_id": acc.parent, "level": acc.level }),
        );
        if let Some(o) = acc.order {
            e = e.order(o);
        }
        if let Some(s) = acc.scheme {
            e = e.scheme(s);
        }
        tx.emit(e);
        Ok(acc)
    }
}

/// A manual journal entry (an adjustment by the bank).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostEntry {
    pub kind: EntryKind,
    pub memo: String,
    pub legs: Vec<Leg>,
}

impl Command for PostEntry {
    type Output = EntryRecord;
    const NAME: &'static str = "postEntry";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<EntryRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        // What the entry takes from each account: a debit of supervised money is an outflow
        // and goes through the gate as an adjustment.
        let mut taken: Vec<(AccountId, Money)> = Vec::new();
        for leg in self.legs.iter().filter(|l| l.amount_fen < 0) {
            let fen = leg.amount_fen.checked_neg().ok_or_else(|| {
                DomainError::invalid("postings", "every posting must be within range")
            })?;
            taken.push((leg.account, Money::from_fen(fen)?));
        }
        let entry = if taken.is_empty() || self.kind != EntryKind::Adjustment {
            // Anything but an adjustment refuses a supervised debit in the ledger.
            super::post(tx, self.kind, None, &self.memo, &self.legs).await?
        } else {
            let clearance = super::Clearance::adjustment(tx, &taken)?;
            super::post_cleared(tx, clearance, self.kind, &self.memo, &self.legs).await?
        };
        tx.emit(NewEvent::new(
            "ledger.entry_posted",
            json!({ "entry_id": entry.id, "kind": entry.kind, "memo": entry.memo, "legs": entry.legs.iter().map(|l| json!({"account_id": l.account, "amount_fen": l.amount_fen})).collect::<Vec<_>>() }),
        ));
        Ok(entry)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlaceHold(pub NewHold);

impl Command for PlaceHold {
    type Output = HoldRecord;
    const NAME: &'static str = "placeHold";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<HoldRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let h = super::place_hold(tx, self.0.clone()).await?;
        let mut e = NewEvent::new(
            "hold.placed",
            json!({ "hold_id": h.id, "account_id": h.account, "kind": h.kind, "amount": h.amount, "case_no": h.case_no }),
        );
        if let Some(o) = h.order {
            e = e.order(o);
        }
        tx.emit(e);
        Ok(h)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseHold(pub HoldId);

impl Command for ReleaseHold {
    type Output = HoldRecord;
    const NAME: &'static str = "releaseHold";

    async fn run(&self, tx: &mut Tx<'_>) -> DomainResult<HoldRecord> {
        tx.principal.require_role(&[Role::Bank])?;
        let before = super::get_hold(tx.db(), self.0).await?;
        let h = super::release_hold(tx, self.0, HoldStatus::Released).await?;
        let mut e = NewEvent::new(
            "hold.released",
            json!({ "hold_id": h.id, "account_id": h.account, "amount": before.remaining }),
        );
        if let Some(o) = h.order {
            e = e.order(o);
        }
        tx.emit(e);
        Ok(h)
    }
}
