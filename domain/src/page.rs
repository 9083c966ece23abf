//! Pages of rows: the request every list query takes (newest first, keyset after an id) and
//! the page it answers. A leaf: every module that lists rows shares it.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult};

/// Largest page a list query returns.
pub const MAX_PAGE: u64 = 200;

/// A page request: newest first, after the row with id `after` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Page {
    pub after: Option<i64>,
    pub first: u64,
}

impl Page {
    pub fn new(after: Option<i64>, first: u64) -> DomainResult<Page> {
        if first == 0 || first > MAX_PAGE {
            return Err(DomainError::invalid(
                "first",
                format!("must be 1 to {MAX_PAGE}"),
            ));
        }
        Ok(Page { after, first })
    }
}

/// One page of rows and whether more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub has_next: bool,
}

pub(crate) fn page_of<T>(mut rows: Vec<T>, page: Page) -> Paged<T> {
    let has_next = rows.len() as u64 > page.first;
    rows.truncate(page.first as usize);
    Paged {
        items: rows,
        has_next,
    }
}

/// Runs `q` for one page, newest first by `id`, after the row `page.after` (keyset pagination).
pub(crate) async fn newest_first<C, E, T>(
    db: &C,
    q: Select<E>,
    id: E::Column,
    page: Page,
) -> DomainResult<Paged<T>>
where
    C: ConnectionTrait,
    E: EntityTrait,
    T: TryFrom<E::Model, Error = DomainError>,
{
    let q = match page.after {
        Some(after) => q.filter(id.lt(after)),
        None => q,
    };
    let rows = q.order_by_desc(id).limit(page.first + 1).all(db).await?;
    Ok(page_of(
        rows.into_iter()
            .map(T::try_from)
            .collect::<DomainResult<Vec<_>>>()?,
        page,
    ))
}
