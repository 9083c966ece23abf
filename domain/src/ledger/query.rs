//! Ledger reads: journal entries with their postings, and a merchant's balances per scheme.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};

use lvyue_entity::{account, journal_entry, posting};

use super::{AccountKind, EntryRecord, Leg};
use crate::error::{DomainError, DomainResult};
use crate::event::to_u64;
use crate::ids::{AccountId, EntryId, OrderId, PartyId, SchemeId};
use crate::principal::{Principal, Role};
use crate::queries::{Page, Paged};

/// Journal entries, newest first (the bank's view), optionally those touching one account.
///
/// # Errors
/// `FORBIDDEN` for anyone but the bank.
pub async fn entries<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    account: Option<AccountId>,
    page: Page,
) -> DomainResult<Paged<EntryRecord>> {
    p.require_role(&[Role::Bank])?;
    let mut q = journal_entry::Entity::find();
    if let Some(a) = account {
        // A subquery, not a list of ids: a clearing account has more entries than a query
        // may bind parameters.
        q = q.filter(
            journal_entry::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(posting::Column::EntryId)
                    .from(posting::Entity)
                    .and_where(posting::Column::AccountId.eq(a.0))
                    .to_owned(),
            ),
        );
    }
    if let Some(a) = page.after {
        q = q.filter(journal_entry::Column::Id.lt(a));
    }
    let rows = q
        .order_by_desc(journal_entry::Column::Id)
        .limit(page.first + 1)
        .all(db)
        .await?;
    let has_next = rows.len() as u64 > page.first;
    let rows: Vec<_> = rows.into_iter().take(page.first as usize).collect();
    let legs = legs_of(db, &rows.iter().map(|r| r.id).collect::<Vec<_>>()).await?;
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(EntryRecord {
                id: EntryId(r.id),
                log_seq: to_u64(r.log_seq)?,
                kind: r.kind.parse()?,
                order: r.order_id.map(OrderId),
                memo: r.memo,
                legs: legs.get(&r.id).cloned().unwrap_or_default(),
            })
        })
        .collect::<DomainResult<Vec<_>>>()?;
    Ok(Paged { items, has_next })
}

async fn legs_of<C: ConnectionTrait>(
    db: &C,
    entries: &[i64],
) -> DomainResult<HashMap<i64, Vec<Leg>>> {
    let rows = posting::Entity::find()
        .filter(posting::Column::EntryId.is_in(entries.iter().copied()))
        .order_by_asc(posting::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<i64, Vec<Leg>> = HashMap::new();
    for r in rows {
        out.entry(r.entry_id).or_default().push(Leg {
            account: AccountId(r.account_id),
            amount_fen: r.amount_fen,
        });
    }
    Ok(out)
}

/// A merchant's money in one scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemeBalance {
    pub scheme: SchemeId,
    /// Settled prepaid money in escrow across the merchant's orders.
    pub escrow_fen: i64,
    /// Of which held (court freezes and other holds).
    pub held_fen: i64,
    /// Released and waiting for payout.
    pub payable_fen: i64,
}

impl SchemeBalance {
    /// Escrow not held.
    pub fn available_fen(&self) -> i64 {
        self.escrow_fen - self.held_fen
    }
}

/// A merchant's balances per scheme it is enrolled in: the merchant itself or the bank.
///
/// # Errors
/// `NOT_FOUND` when another merchant asks.
pub async fn merchant_balances<C: ConnectionTrait>(
    db: &C,
    p: &Principal,
    merchant: PartyId,
) -> DomainResult<Vec<SchemeBalance>> {
    if !(p.role == Role::Bank || (p.role == Role::Merchant && p.party_id == Some(merchant))) {
        return Err(DomainError::not_found("merchant", merchant));
    }
    let mut out = Vec::new();
    for e in crate::scheme::enrollments_of(db, merchant).await? {
        let children = account::Entity::find()
            .filter(account::Column::ParentId.eq(e.group_account.0))
            .all(db)
            .await?;
        let mut b = SchemeBalance {
            scheme: e.scheme,
            escrow_fen: 0,
            held_fen: 0,
            payable_fen: 0,
        };
        for a in children {
            match a.kind.parse::<AccountKind>()? {
                AccountKind::Escrow => {
                    b.escrow_fen += a.balance_fen;
                    b.held_fen += a.held_fen;
                }
                AccountKind::Payable => b.payable_fen += a.balance_fen,
                _ => {}
            }
        }
        out.push(b);
    }
    Ok(out)
}
