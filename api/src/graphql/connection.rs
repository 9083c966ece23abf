//! Relay connections: forward pagination with `first` (default [`DEFAULT_PAGE_SIZE`], at most
//! [`MAX_PAGE_SIZE`]) and `after`, over rows keyed by a stable `i64` (their id, in keyset order).
//!
//! ```ignore
//! #[graphql(complexity = "connection::complexity(first, child_complexity)")]
//! async fn orders(&self, ctx: &Context<'_>, first: Option<i32>, after: Option<String>)
//!     -> async_graphql::Result<Connection<Cursor, Order>> {
//!     let page = Page::new(first, after)?;
//!     let rows = ctx.escrow()?.orders(ctx.principal()?, page.after, page.fetch_limit()).await?;
//!     Ok(page.into_connection(rows.into_iter().map(Order::from).collect(), |o| o.key))
//! }
//! ```
//! Cursors are opaque to clients (base64url of a versioned key). A forged cursor only moves
//! the starting point: scoping is applied by the domain query, never by the cursor.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, CursorType, Edge};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error;

/// Page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest page a client may ask for (docs/design.md: at most 200 a page).
pub const MAX_PAGE_SIZE: usize = 200;
/// Longest cursor string accepted.
const MAX_CURSOR_CHARS: usize = 64;
const CURSOR_PREFIX: &str = "k1:";

/// A position in a keyset-ordered list: the key of the last row seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor(pub i64);

#[derive(Debug, thiserror::Error)]
#[error("invalid cursor")]
pub struct InvalidCursor;

impl CursorType for Cursor {
    type Error = InvalidCursor;

    fn decode_cursor(s: &str) -> Result<Cursor, InvalidCursor> {
        if s.len() > MAX_CURSOR_CHARS {
            return Err(InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| InvalidCursor)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| InvalidCursor)?;
        let key = text.strip_prefix(CURSOR_PREFIX).ok_or(InvalidCursor)?;
        key.parse().map(Cursor).map_err(|_| InvalidCursor)
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{}", self.0))
    }
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows wanted.
    pub first: usize,
    /// Return rows whose key comes after this one.
    pub after: Option<i64>,
}

impl Page {
    /// Validates `first` and `after` as a client sent them.
    ///
    /// # Errors
    /// `VALIDATION` for a negative `first` or a malformed cursor; `LIMIT_EXCEEDED` for a page
    /// larger than [`MAX_PAGE_SIZE`].
    pub fn new(first: Option<i32>, after: Option<String>) -> async_graphql::Result<Page> {
        let first = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if n < 0 => return Err(error::validation("first must not be negative")),
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        if first > MAX_PAGE_SIZE {
            return Err(error::limit_exceeded(format!(
                "first must be at most {MAX_PAGE_SIZE}"
            )));
        }
        let after = match after {
            None => None,
            Some(s) => Some(
                Cursor::decode_cursor(&s)
                    .map_err(|_| error::validation("after is not a valid cursor"))?
                    .0,
            ),
        };
        Ok(Page { first, after })
    }

    /// How many rows to fetch: one more than the page, to learn whether there is a next page.
    pub fn fetch_limit(&self) -> u64 {
        self.first as u64 + 1
    }

    /// The connection of `rows` (fetched with [`Page::fetch_limit`], in key order).
    pub fn into_connection<N: OutputType>(
        self,
        mut rows: Vec<N>,
        key: impl Fn(&N) -> i64,
    ) -> Connection<Cursor, N> {
        let has_next = rows.len() > self.first;
        rows.truncate(self.first);
        let mut conn = Connection::new(self.after.is_some(), has_next);
        conn.edges
            .extend(rows.into_iter().map(|n| Edge::new(Cursor(key(&n)), n)));
        conn
    }
}

/// Complexity of a connection field: the page size times the cost of one node, so that a page
/// of 200 with deep nodes counts as what it costs.
pub fn complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let page = first.map_or(DEFAULT_PAGE_SIZE, |n| {
        usize::try_from(n).unwrap_or(0).min(MAX_PAGE_SIZE)
    });
    page.max(1)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// The connection of a page the domain already cut (`has_next` known), in key order.
pub fn of_paged<N: OutputType>(
    page: Page,
    rows: Vec<N>,
    has_next: bool,
    key: impl Fn(&N) -> i64,
) -> Connection<Cursor, N> {
    let mut conn = Connection::new(page.after.is_some(), has_next);
    conn.edges
        .extend(rows.into_iter().map(|n| Edge::new(Cursor(key(&n)), n)));
    conn
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;

    struct Q;

    #[Object]
    impl Q {
        #[graphql(complexity = "complexity(first, child_complexity)")]
        async fn numbers(
            &self,
            _ctx: &Context<'_>,
            first: Option<i32>,
            after: Option<String>,
        ) -> async_graphql::Result<Connection<Cursor, i64>> {
            let page = Page::new(first, after)?;
            let start = page.after.unwrap_or(0);
            let rows: Vec<i64> = (start + 1..=500)
                .take(page.fetch_limit() as usize)
                .collect();
            Ok(page.into_connection(rows, |n| *n))
        }
    }

    async fn run(query: &str) -> serde_json::Value {
        let schema = Schema::build(Q, EmptyMutation, EmptySubscription)
            .limit_complexity(5_000)
            .finish();
        serde_json::to_value(schema.execute(query).await).unwrap()
    }

    #[tokio::test]
    async fn pages_follow_their_cursors() {
        let r = run(
            "{ numbers(first: 2) { edges { cursor node } pageInfo { hasNextPage endCursor } } }",
        )
        .await;
        assert_eq!(r["data"]["numbers"]["edges"][1]["node"], 2);
        assert_eq!(r["data"]["numbers"]["pageInfo"]["hasNextPage"], true);
        let end = r["data"]["numbers"]["pageInfo"]["endCursor"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = run(&format!("{{ numbers(first: 2, after: \"{end}\") {{ edges {{ node }} pageInfo {{ hasPreviousPage }} }} }}")).await;
        assert_eq!(r["data"]["numbers"]["edges"][0]["node"], 3);
        assert_eq!(r["data"]["numbers"]["pageInfo"]["hasPreviousPage"], true);
    }

    #[tokio::test]
    async fn pages_are_capped_at_two_hundred() {
        let r = run("{ numbers(first: 200) { edges { node } } }").await;
        assert_eq!(r["data"]["numbers"]["edges"].as_array().unwrap().len(), 200);
        let r = run("{ numbers(first: 201) { edges { node } } }").await;
        assert_eq!(
            r["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
            "{r}"
        );
        let r = run("{ numbers(first: -1) { edges { node } } }").await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "VALIDATION", "{r}");
    }

    #[tokio::test]
    async fn forged_cursors_are_refused() {
        for bad in ["", "xyz", "azI6NDI", &"A".repeat(100)] {
            let r = run(&format!(
                "{{ numbers(after: \"{bad}\") {{ edges {{ node }} }} }}"
            ))
            .await;
            assert_eq!(
                r["errors"][0]["extensions"]["code"], "VALIDATION",
                "{bad}: {r}"
            );
        }
    }

    #[test]
    fn cursors_round_trip() {
        for k in [0, 1, 42, i64::MAX, -5] {
            let c = Cursor(k);
            assert_eq!(Cursor::decode_cursor(&c.encode_cursor()).unwrap(), c);
        }
    }

    #[test]
    fn complexity_multiplies_by_the_page() {
        assert_eq!(complexity(Some(200), 10), 2001);
        assert_eq!(complexity(None, 10), 201);
        assert_eq!(complexity(Some(100_000), 10), 2001);
    }
}
