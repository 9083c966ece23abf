//! The audit: recompute every balance from postings and every leaf from its event, and report
//! every breach of the ledger's and the log's invariants (wired to `lvyue audit`).
//!
//! It reads everything once, in order, in one read transaction, and never stops at the first
//! breach: an auditor wants the whole list.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder, TransactionTrait};
use serde::Serialize;

use lvyue_entity::{account, escrow_order, event, hold, log_head, posting};

use lvyue_notary::{Checkpoint, Hash, Tree, VerifierKey};

use crate::clock::Timestamp;
use crate::error::{DomainError, DomainResult};
use crate::event::canonical_form;
use crate::ids::{AccountId, OrderId, PartyId, Seq};
use crate::ledger::HoldStatus;

/// One thing that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    /// A stable name for the rule, e.g. `entry_unbalanced`.
    pub rule: &'static str,
    pub detail: String,
}

/// What the audit looked at and what it found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditReport {
    pub accounts: u64,
    pub postings: u64,
    pub entries: u64,
    pub holds: u64,
    pub events: u64,
    pub checkpoints: u64,
    pub orders: u64,
    pub breaches: Vec<Breach>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.breaches.is_empty()
    }

    pub(crate) fn breach(&mut self, rule: &'static str, detail: String) {
        self.breaches.push(Breach { rule, detail });
    }
}

/// Audits the ledger, the event log and — given the log's verifier key — every stored signed
/// checkpoint against the stored leaves.
///
/// # Errors
/// Database errors only; breaches are in the report.
pub async fn audit(
    db: &DatabaseConnection,
    key: Option<&VerifierKey>,
) -> Result<AuditReport, DomainError> {
    audit_observed(db, key, &|_| {}).await
}

/// [`audit`], naming each part to `step` as it begins (`ledger`, `events`, `checkpoints`,
/// `orders`), for a long audit to show where it is.
///
/// # Errors
/// As [`audit`].
pub async fn audit_observed(
    db: &DatabaseConnection,
    key: Option<&VerifierKey>,
    step: &(dyn Fn(&'static str) + Sync),
) -> Result<AuditReport, DomainError> {
    let txn = db.begin().await?;
    let mut report = AuditReport::default();
    step("ledger: balances, entries and holds");
    audit_ledger(&txn, &mut report).await?;
    step("events: canonical bytes and leaf hashes");
    let leaves = audit_events(&txn, &mut report).await?;
    if let Some(key) = key {
        step("checkpoints: signatures and roots");
        audit_checkpoints(&txn, key, leaves, &mut report).await?;
    }
    step("orders: money against milestones");
    audit_orders(&txn, &mut report).await?;
    txn.commit().await?;
    Ok(report)
}

async fn audit_ledger<C: ConnectionTrait>(
    db: &C,
    report: &mut AuditReport,
) -> Result<(), DomainError> {
    let accounts = account::Entity::find()
        .order_by_asc(account::Column::Id)
        .all(db)
        .await?;
    report.accounts = accounts.len() as u64;

    // Walk postings in id (= commit) order: recompute balances, entry sums and the running
    // balance each posting recorded.
    let mut sums: HashMap<i64, i64> = HashMap::new();
    let mut entry_sums: HashMap<i64, i64> = HashMap::new();
    let mut total: i128 = 0;
    let postings = posting::Entity::find()
        .order_by_asc(posting::Column::Id)
        .all(db)
        .await?;
    report.postings = postings.len() as u64;
    for p in &postings {
        let running = sums.entry(p.account_id).or_default();
        *running += p.amount_fen;
        if *running != p.balance_after_fen {
            report.breach(
                "posting_running_balance",
                format!(
                    "posting {} on account {} records balance {} but postings sum to {}",
                    p.id, p.account_id, p.balance_after_fen, running
                ),
            );
        }
        *entry_sums.entry(p.entry_id).or_default() += p.amount_fen;
        total += i128::from(p.amount_fen);
    }
    report.entries = entry_sums.len() as u64;
    if total != 0 {
        report.breach(
            "ledger_unbalanced",
            format!("all postings sum to {total} fen, not zero"),
        );
    }
    let mut unbalanced: Vec<_> = entry_sums.iter().filter(|(_, s)| **s != 0).collect();
    unbalanced.sort();
    for (entry, sum) in unbalanced {
        report.breach(
            "entry_unbalanced",
            format!("entry ent_{entry} postings sum to {sum} fen"),
        );
    }

    let holds = hold::Entity::find().all(db).await?;
    report.holds = holds.len() as u64;
    let mut held: HashMap<i64, i64> = HashMap::new();
    let mut waiting: HashMap<i64, i64> = HashMap::new();
    for h in &holds {
        if h.status == HoldStatus::Active.as_str() {
            *held.entry(h.account_id).or_default() += h.remaining_fen;
            *waiting.entry(h.account_id).or_default() += h.waiting_fen;
        } else if h.waiting_fen != 0 {
            report.breach(
                "hold_closed_with_waiting",
                format!(
                    "hold hld_{} is {} with {} fen still queued",
                    h.id, h.status, h.waiting_fen
                ),
            );
        } else if h.remaining_fen != 0 && h.status != HoldStatus::Consumed.as_str() {
            report.breach(
                "hold_closed_with_remainder",
                format!(
                    "hold hld_{} is {} with {} fen remaining",
                    h.id, h.status, h.remaining_fen
                ),
            );
        }
    }

    for a in &accounts {
        let recomputed = sums.get(&a.id).copied().unwrap_or(0);
        if recomputed != a.balance_fen {
            report.breach(
                "cached_balance",
                format!(
                    "account {} caches {} fen but its postings sum to {}",
                    a.number, a.balance_fen, recomputed
                ),
            );
        }
        let w = waiting.get(&a.id).copied().unwrap_or(0);
        if w != a.waiting_fen {
            report.breach(
                "cached_waiting",
                format!(
                    "account {} caches {} fen queued but its active holds queue {}",
                    a.number, a.waiting_fen, w
                ),
            );
        }
        let h = held.get(&a.id).copied().unwrap_or(0);
        if h != a.held_fen {
            report.breach(
                "cached_held",
                format!(
                    "account {} caches {} fen held but its active holds sum to {}",
                    a.number, a.held_fen, h
                ),
            );
        }
        if !a.allow_negative && recomputed < 0 {
            report.breach(
                "negative_balance",
                format!(
                    "account {} ({}) is negative: {} fen",
                    a.number, a.kind, recomputed
                ),
            );
        }
        if !a.allow_negative && recomputed < h {
            report.breach(
                "held_exceeds_balance",
                format!(
                    "account {} holds {} fen but has {}",
                    a.number, h, recomputed
                ),
            );
        }
    }
    Ok(())
}

/// Checks seqs, times, canonical bytes and leaf hashes; returns the stored leaf hashes.
async fn audit_events<C: ConnectionTrait>(
    db: &C,
    report: &mut AuditReport,
) -> Result<Vec<Hash>, DomainError> {
    let head = log_head::Entity::find_by_id(1).one(db).await?;
    let events = event::Entity::find()
        .order_by_asc(event::Column::Seq)
        .all(db)
        .await?;
    report.events = events.len() as u64;
    let head_size = head.map(|h| h.size).unwrap_or(-1);
    if head_size != events.len() as i64 {
        report.breach(
            "log_head_size",
            format!(
                "log head says {head_size} events, the table holds {}",
                events.len()
            ),
        );
    }
    let mut last_at = i64::MIN;
    for (expected, e) in events.iter().enumerate() {
        if e.seq != expected as i64 {
            report.breach(
                "log_gap",
                format!("expected seq {expected}, found {}", e.seq),
            );
            break;
        }
        if e.at_us < last_at {
            report.breach(
                "log_time_backwards",
                format!("event {} is earlier than the one before it", e.seq),
            );
        }
        last_at = e.at_us;
        let data: serde_json::Value = match serde_json::from_str(&e.data) {
            Ok(v) => v,
            Err(_) => {
                report.breach("event_data", format!("event {} data is not JSON", e.seq));
                continue;
            }
        };
        let canonical = canonical_form(
            Seq(e.seq as u64),
            &e.event_type,
            Timestamp(e.at_us),
            e.order_id.map(OrderId),
            e.merchant_id.map(PartyId),
            &data,
        )?;
        if canonical != e.canonical {
            report.breach(
                "event_canonical",
                format!("event {} fields do not match its canonical bytes", e.seq),
            );
        }
        // A sealed event's opening must be what its leaf commits to.
        if let Some(opening) = &e.opening {
            let opens = match (
                serde_json::from_str::<serde_json::Value>(opening),
                e.salt.as_deref().map(hex::decode),
            ) {
                (Ok(clear), Some(Ok(salt))) => {
                    crate::event::sealed_data(
                        &salt,
                        &clear,
                        e.order_id.map(OrderId),
                        e.merchant_id.map(PartyId),
                    )? == data
                }
                _ => false,
            };
            if !opens {
                report.breach(
                    "event_opening",
                    format!("event {} opening does not match its commitments", e.seq),
                );
            }
        }
        let leaf = lvyue_notary::leaf_hash(e.canonical.as_bytes()).to_string();
        if leaf != e.leaf_hash {
            report.breach(
                "event_leaf_hash",
                format!(
                    "event {} leaf hash does not match its canonical bytes",
                    e.seq
                ),
            );
        }
    }
    Ok(events
        .iter()
        .map(|e| e.leaf_hash.parse().unwrap_or(Hash([0; 32])))
        .collect())
}

/// Every stored checkpoint must carry a valid signature and the root of the stored leaves at
/// its size; successive checkpoints must be consistent.
async fn audit_checkpoints<C: ConnectionTrait>(
    db: &C,
    key: &VerifierKey,
    leaves: Vec<Hash>,
    report: &mut AuditReport,
) -> Result<(), DomainError> {
    let tree = Tree::from_leaf_hashes(leaves);
    let stored = crate::log::checkpoints(db).await?;
    report.checkpoints = stored.len() as u64;
    let mut previous: Option<(u64, Hash)> = None;
    for c in &stored {
        let signed = match Checkpoint::open(&c.note, key) {
            Ok(s) => s,
            Err(e) => {
                report.breach(
                    "checkpoint_signature",
                    format!("checkpoint at size {}: {e}", c.size),
                );
                continue;
            }
        };
        if signed.size != c.size || signed.root != c.root {
            report.breach(
                "checkpoint_columns",
                format!(
                    "checkpoint at size {} does not match its signed note",
                    c.size
                ),
            );
        }
        match tree.root_at(signed.size) {
            Ok(root) if root == signed.root => {}
            Ok(_) => report.breach(
                "checkpoint_root",
                format!(
                    "the stored leaves no longer give the signed root at size {}",
                    signed.size
                ),
            ),
            Err(_) => report.breach(
                "checkpoint_beyond_log",
                format!(
                    "a checkpoint signs size {} but the log holds {} events",
                    signed.size,
                    tree.size()
                ),
            ),
        }
        if let Some((old_size, old_root)) = previous {
            let consistent = tree
                .consistency_proof(old_size, signed.size)
                .map_err(DomainError::from)
                .and_then(|p| {
                    Ok(lvyue_notary::verify_consistency(
                        old_size,
                        signed.size,
                        &old_root,
                        &signed.root,
                        &p,
                    )?)
                });
            if consistent.is_err() {
                report.breach(
                    "checkpoint_inconsistent",
                    format!(
                        "checkpoint {} is not consistent with checkpoint {}",
                        signed.size, old_size
                    ),
                );
            }
        }
        previous = Some((signed.size, signed.root));
    }
    Ok(())
}
/// Checks every order's money equation against its own counters and the ledger.
async fn audit_orders<C: ConnectionTrait>(db: &C, report: &mut AuditReport) -> DomainResult<()> {
    let orders = escrow_order::Entity::find()
        .order_by_asc(escrow_order::Column::Id)
        .all(db)
        .await?;
    report.orders = orders.len() as u64;
    let balances = crate::ledger::balances_of(
        db,
        &orders
            .iter()
            .map(|o| AccountId(o.escrow_account_id))
            .collect::<Vec<_>>(),
    )
    .await?;
    for o in orders {
        let out = o.released_fen + o.refunded_fen + o.deducted_fen;
        let in_escrow = o.settled_fen - out;
        if o.collected_fen > o.total_fen || o.settled_fen > o.collected_fen || in_escrow < 0 {
            report.breach(
                "order_counters",
                format!(
                    "order {} counters are impossible: total {} collected {} settled {} released {} refunded {} deducted {}",
                    o.order_no, o.total_fen, o.collected_fen, o.settled_fen, o.released_fen, o.refunded_fen, o.deducted_fen
                ),
            );
        }
        let escrow = balances
            .get(&AccountId(o.escrow_account_id))
            .map(|b| b.balance_fen)
            .unwrap_or(0);
        if escrow != in_escrow {
            report.breach(
                "order_escrow",
                format!("order {}: escrow account holds {} fen but settled − released − refunded − deducted = {}", o.order_no, escrow, in_escrow),
            );
        }
    }
    Ok(())
}
