//! The ledger sums every report is built from: for each China day (optionally), merchant,
//! scheme, industry and region of the orders in scope, what was collected, released, refunded
//! and deducted (positive postings of the orders' journal entries), what was frozen (holds
//! placed on the orders' escrow), and how the escrow accounts' balance changed.
//!
//! Each flow is classified by the entry's kind *and* the kind of the account credited, because
//! one entry can carry two flows: a refund's `REFUND` entry sends the refundable part back to
//! the payer (by channel, or into the voucher and subsidy pool that paid a 房票 purchase) and
//! any deduction to the merchant's payable (released), exactly as the order counters count
//! them. Money enters an order through a channel (`COLLECT` into clearing) or from inside the
//! bank straight into its escrow (a voucher's `TRANSFER` and its reward's `SUBSIDY`). A credit
//! the classification does not know is a broken invariant, reported loudly rather than left
//! out of a total.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ConnectionTrait, QueryResult};

use lvyue_entity::{account, escrow_order, hold, journal_entry, posting};

use super::{CHINA_OFFSET_US, DAY_US};
use crate::error::{DomainError, DomainResult};
use crate::ledger::{AccountKind, EntryKind};

/// Where a sum is taken: every day of a report, or everything before it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Range {
    /// `[from, to)`, grouped by China day.
    ByDay { from: i64, to: i64 },
    /// `[from, to)` in one bucket (day 0).
    Whole { from: i64, to: i64 },
    /// Everything before `to`, in one bucket (day 0): the opening balances.
    Before { to: i64 },
}

impl Range {
    fn by_day(self) -> bool {
        matches!(self, Range::ByDay { .. })
    }

    fn bounds(self) -> (Option<i64>, i64) {
        match self {
            Range::ByDay { from, to } | Range::Whole { from, to } => (Some(from), to),
            Range::Before { to } => (None, to),
        }
    }
}

/// The dimensions of one cell.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct CellKey {
    /// China day index (days since 1970-01-01), 0 when not grouped by day.
    pub day: i64,
    pub merchant: i64,
    pub scheme: i64,
    pub industry: String,
    /// The order's 6-digit region.
    pub region: String,
}

/// Sums in fen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Amounts {
    pub collected: i64,
    pub released: i64,
    pub refunded: i64,
    pub deducted: i64,
    /// Holds placed on the orders' escrow (court freezes…).
    pub frozen: i64,
    /// Net change of the orders' escrow account balances (settled money still there).
    pub escrow: i64,
}

impl Amounts {
    pub fn add(&mut self, o: &Amounts) {
        self.collected += o.collected;
        self.released += o.released;
        self.refunded += o.refunded;
        self.deducted += o.deducted;
        self.frozen += o.frozen;
        self.escrow += o.escrow;
    }

    /// The change of the prepaid money held for payers: collected − released − refunded −
    /// deducted (docs/design.md: "collected = released + refunded + deducted + still held").
    pub fn held_delta(&self) -> i64 {
        self.collected - self.released - self.refunded - self.deducted
    }

    pub fn is_zero(&self) -> bool {
        *self == Amounts::default()
    }
}

pub(super) type Cells = BTreeMap<CellKey, Amounts>;

/// Entry kinds that move an order's money in or out of the payers' prepaid balance.
const FLOW_ENTRY_KINDS: [EntryKind; 7] = [
    EntryKind::Collect,
    EntryKind::Transfer,
    EntryKind::Subsidy,
    EntryKind::Release,
    EntryKind::Split,
    EntryKind::Refund,
    EntryKind::Deduct,
];

/// Which flow a credit of `account` by an order's entry of `entry` is.
fn classify(entry: &str, account: &str, a: &mut Amounts, fen: i64) -> DomainResult<()> {
    let entry: EntryKind = entry.parse()?;
    let account: AccountKind = account.parse()?;
    let slot = match (entry, account) {
        (EntryKind::Collect, AccountKind::Clearing) => &mut a.collected,
        // Paid from inside the bank (a 房票 voucher, its reward): collected and settled at once.
        (EntryKind::Transfer | EntryKind::Subsidy, AccountKind::Escrow) => &mut a.collected,
        (EntryKind::Release | EntryKind::Split | EntryKind::Refund, AccountKind::Payable) => {
            &mut a.released
        }
        // 原路退回: the payer's channel, or the voucher, pool or project that paid.
        (
            EntryKind::Refund,
            AccountKind::External
            | AccountKind::Refundable
            | AccountKind::Voucher
            | AccountKind::Subsidy
            | AccountKind::Group,
        ) => &mut a.refunded,
        (EntryKind::Deduct, AccountKind::Court) => &mut a.deducted,
        _ => {
            return Err(DomainError::Invariant(format!(
                "an order's {entry} entry credits a {account} account: the reports do not know this flow"
            )));
        }
    };
    *slot += fen;
    Ok(())
}

/// The cells of the orders matching `scope` over `range`.
///
/// # Errors
/// Database errors; `INTERNAL` for a flow the classification does not know.
pub(super) async fn cells<C: ConnectionTrait>(
    db: &C,
    scope: &Condition,
    range: Range,
) -> DomainResult<Cells> {
    let mut out = Cells::new();
    let backend = db.get_database_backend();

    // 1. Flows: positive postings of the orders' journal entries.
    let mut q = Query::select();
    q.from(posting::Entity)
        .inner_join(
            journal_entry::Entity,
            Expr::col((journal_entry::Entity, journal_entry::Column::Id))
                .equals((posting::Entity, posting::Column::EntryId)),
        )
        .inner_join(
            account::Entity,
            Expr::col((account::Entity, account::Column::Id))
                .equals((posting::Entity, posting::Column::AccountId)),
        )
        .inner_join(
            escrow_order::Entity,
            Expr::col((escrow_order::Entity, escrow_order::Column::Id))
                .equals((journal_entry::Entity, journal_entry::Column::OrderId)),
        )
        .expr_as(
            Expr::col((journal_entry::Entity, journal_entry::Column::Kind)),
            "entry_kind",
        )
        .expr_as(
            Expr::col((account::Entity, account::Column::Kind)),
            "account_kind",
        )
        .and_where(Expr::col((posting::Entity, posting::Column::AmountFen)).gt(0))
        .and_where(
            Expr::col((journal_entry::Entity, journal_entry::Column::Kind))
                .is_in(FLOW_ENTRY_KINDS.iter().map(|k| k.as_str())),
        )
        .add_group_by([
            Expr::col((journal_entry::Entity, journal_entry::Column::Kind)),
            Expr::col((account::Entity, account::Column::Kind)),
        ]);
    let time = "journal_entry.created_at_us";
    dimensions(&mut q, scope, range, time, "posting.amount_fen");
    for row in db.query_all_raw(backend.build(&q)).await? {
        let (key, fen) = read(&row, range)?;
        let entry: String = row.try_get("", "entry_kind")?;
        let account: String = row.try_get("", "account_kind")?;
        classify(&entry, &account, out.entry(key).or_default(), fen)?;
    }

    // 2. Holds placed on the orders' escrow.
    let mut q = Query::select();
    q.from(hold::Entity).inner_join(
        escrow_order::Entity,
        Expr::col((escrow_order::Entity, escrow_order::Column::Id))
            .equals((hold::Entity, hold::Column::OrderId)),
    );
    dimensions(
        &mut q,
        scope,
        range,
        "hold.created_at_us",
        "hold.amount_fen",
    );
    for row in db.query_all_raw(backend.build(&q)).await? {
        let (key, fen) = read(&row, range)?;
        out.entry(key).or_default().frozen += fen;
    }

    // 3. Every posting on the orders' escrow accounts (settlements in, releases, refunds and
    //    deductions out): the balance that is actually in custody.
    let mut q = Query::select();
    q.from(posting::Entity)
        .inner_join(
            account::Entity,
            Expr::col((account::Entity, account::Column::Id))
                .equals((posting::Entity, posting::Column::AccountId)),
        )
        .inner_join(
            escrow_order::Entity,
            Expr::col((escrow_order::Entity, escrow_order::Column::Id))
                .equals((account::Entity, account::Column::OrderId)),
        )
        .and_where(
            Expr::col((account::Entity, account::Column::Kind)).eq(AccountKind::Escrow.as_str()),
        );
    dimensions(
        &mut q,
        scope,
        range,
        "posting.created_at_us",
        "posting.amount_fen",
    );
    for row in db.query_all_raw(backend.build(&q)).await? {
        let (key, fen) = read(&row, range)?;
        out.entry(key).or_default().escrow += fen;
    }
    Ok(out)
}

/// Adds the order dimensions, the day bucket, the time range, the scope and the sum.
/// `time` and `amount` are trusted column names of this module, never input.
fn dimensions(
    q: &mut SelectStatement,
    scope: &Condition,
    range: Range,
    time: &'static str,
    amount: &'static str,
) {
    let dims = [
        escrow_order::Column::MerchantId,
        escrow_order::Column::SchemeId,
        escrow_order::Column::Industry,
        escrow_order::Column::Region,
    ];
    for c in dims {
        q.column((escrow_order::Entity, c));
        q.add_group_by([Expr::col((escrow_order::Entity, c))]);
    }
    if range.by_day() {
        // The same literal expression in SELECT and GROUP BY, so PostgreSQL sees one
        // expression; integer division on both databases.
        let day = format!("(({time}) + {CHINA_OFFSET_US}) / {DAY_US}");
        q.expr_as(Expr::cust(day.clone()), "day");
        q.add_group_by([Expr::cust(day)]);
    }
    // PostgreSQL sums BIGINT into NUMERIC: cast back.
    q.expr_as(
        Expr::cust(format!("CAST(SUM({amount}) AS BIGINT)")),
        "amount",
    );
    let (from, to) = range.bounds();
    if let Some(from) = from {
        q.and_where(Expr::cust(time).gte(from));
    }
    q.and_where(Expr::cust(time).lt(to));
    q.cond_where(scope.clone());
}

fn read(row: &QueryResult, range: Range) -> DomainResult<(CellKey, i64)> {
    let key = CellKey {
        day: if range.by_day() {
            row.try_get("", "day")?
        } else {
            0
        },
        merchant: row.try_get("", "merchant_id")?,
        scheme: row.try_get("", "scheme_id")?,
        industry: row.try_get("", "industry")?,
        region: row.try_get("", "region")?,
    };
    let fen: Option<i64> = row.try_get("", "amount")?;
    Ok((key, fen.unwrap_or(0)))
}
