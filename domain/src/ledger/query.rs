//! Ledger reads: journal entries with their postings.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use lvyue_entity::{journal_entry, posting};

use super::{EntryRecord, Leg};
use crate::error::DomainResult;
use crate::event::to_u64;
use crate::ids::{AccountId, EntryId, OrderId};
use crate::page::{Page, Paged};
use crate::principal::{Principal, Role};

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
