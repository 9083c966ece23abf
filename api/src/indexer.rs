//! The search indexer: keeps this node's search index (`lvyue-search`) in step with the event
//! table, and rebuilds it from scratch for `lvyue reindex`.
//!
//! **Position.** Event seqs are gap-free and in commit order (`lvyue_domain::event`), so what
//! the index covers is one number N: every event with seq below N is indexed. Each commit of
//! the index records N (`SearchWriter::commit(N)`; [`SearchIndex::last_indexed_seq`] reads it
//! back), so N is the log size the index has caught up with, and `lvyue_search_index_lag` =
//! log size − N.
//!
//! **A pass** reads at most [`BATCH_EVENTS`] events from seq N, reloads the orders and
//! merchants they name (their state now, personal data masked: see [`docs`]) — except for
//! records of reads, which change nothing they name ([`docs::records_a_read`]) — upserts those
//! documents and one per event, and commits N′ = last seq + 1 — on a blocking thread, since a
//! commit flushes and fsyncs. A failed pass commits nothing (its changes are rolled back) and
//! the next pass tries the same events again. After a restart the first pass starts from the
//! recorded N; upserts replace documents by id, so indexing an event twice is harmless.
//!
//! **It never blocks a write**: it only reads, without locks, on its own task; commands never
//! wait for it. The cost is lag, which the gauge shows.
//!
//! **One writer per index.** tantivy locks the index directory, so only one process may index
//! into it. Every node runs its own indexer into its own directory (`LVYUE_SEARCH_DIR`, by
//! default `search/` in its data directory), following the shared event table; a node started
//! on a directory another process holds refuses to start, and `lvyue reindex` needs the server
//! of that directory stopped.

pub mod docs;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use lvyue_domain::Escrow;
use lvyue_domain::batch::{self, MAX_BATCH};
use lvyue_domain::event::EventRecord;
use lvyue_domain::ids::{OrderId, PartyId};
use lvyue_domain::order::OrderRecord;
use lvyue_domain::party::PartyRecord;
use lvyue_search::{Doc, SearchError, SearchIndex, SearchWriter};

use crate::metrics::{self, Metrics};
use crate::shutdown::ShutdownHandle;

/// Most events one pass reads (and so the most documents one commit carries, three per event).
/// Under a stream of supervised reads (21 events each) a pass holds what a half-second
/// brought, in one commit.
pub const BATCH_EVENTS: u64 = 2_000;
/// After this node commits, the indexer waits this fraction of its interval before the pass,
/// so that a burst of commits becomes one pass (one index commit).
const BURST_DIVISOR: u32 = 4;

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    /// Events indexed by this pass.
    pub events: u64,
    /// The log size the index covers now (every event below it is indexed).
    pub indexed_through: u64,
    /// The log size seen at the start of the pass.
    pub log_size: u64,
}

impl PassReport {
    /// Events in the log and not in the index.
    pub fn lag(&self) -> u64 {
        self.log_size.saturating_sub(self.indexed_through)
    }
}

/// What a rebuild indexed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RebuildReport {
    /// Events read (one document each).
    pub events: u64,
    /// Order documents written.
    pub orders: u64,
    /// Merchant documents written.
    pub merchants: u64,
    /// Documents refused by the index (logged; see [`lvyue_search::SearchError::InvalidDocument`]).
    pub refused: u64,
    /// The log size the rebuilt index covers.
    pub indexed_through: u64,
    /// Documents searchable after the rebuild.
    pub documents: u64,
}

/// A node's indexer: its index, the index's one writer, and the position it has reached.
pub struct Indexer {
    index: SearchIndex,
    dir: PathBuf,
    /// `None` once closed. Locked only on blocking threads, never across an `.await`.
    writer: Arc<Mutex<Option<SearchWriter>>>,
    /// One pass, rebuild or close at a time: they share the writer and the position.
    turn: tokio::sync::Mutex<()>,
    /// The log size the committed index covers.
    indexed_through: AtomicU64,
}

impl std::fmt::Debug for Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexer")
            .field("dir", &self.dir)
            .field("indexed_through", &self.indexed_through())
            .finish_non_exhaustive()
    }
}

impl Indexer {
    /// Opens (or creates) the index in `dir` and takes its writer. An index built by another
    /// version of `lvyue-search` is replaced by an empty one, which the first pass fills from
    /// event 0. Blocking I/O.
    ///
    /// # Errors
    /// Another process holds the index (a server on the same directory), or I/O failure.
    pub fn open(dir: &Path) -> anyhow::Result<Indexer> {
        let (index, recreated) = SearchIndex::open_or_recreate(dir)
            .with_context(|| format!("cannot open the search index in {}", dir.display()))?;
        if recreated {
            tracing::warn!(dir = %dir.display(), "the search index was built by another version; rebuilding it from the event log");
        }
        let writer = index.writer().map_err(|e| match e {
            SearchError::WriterBusy => anyhow!(
                "the search index in {} is in use by another lvyue process: each node needs its own search directory (LVYUE_SEARCH_DIR), and `lvyue reindex` needs the server using it stopped",
                dir.display()
            ),
            other => anyhow::Error::new(other)
                .context(format!("cannot write the search index in {}", dir.display())),
        })?;
        let indexed_through = writer.last_indexed_seq();
        Ok(Indexer {
            index,
            dir: dir.to_owned(),
            writer: Arc::new(Mutex::new(Some(writer))),
            turn: tokio::sync::Mutex::new(()),
            indexed_through: AtomicU64::new(indexed_through),
        })
    }

    /// The index, for searching (cheap to clone).
    pub fn index(&self) -> &SearchIndex {
        &self.index
    }

    /// Where the index lives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log size the committed index covers.
    pub fn indexed_through(&self) -> u64 {
        self.indexed_through.load(Ordering::SeqCst)
    }

    /// Indexes the next batch of events, if any, and commits.
    ///
    /// An index that covers more events than the log holds (the database was replaced under
    /// it) is rebuilt from scratch instead.
    ///
    /// # Errors
    /// Database or index failure; nothing is committed then.
    pub async fn pass(&self, db: &DatabaseConnection) -> anyhow::Result<PassReport> {
        let _turn = self.turn.lock().await;
        let from = self.indexed_through();
        let log_size = log_size(db).await?;
        if from > log_size {
            tracing::warn!(
                indexed_through = from,
                log_size,
                "the search index covers more events than the log holds (was the database replaced?); rebuilding it"
            );
            let r = self.rebuild_in_turn(db, &|_, _| {}).await?;
            return Ok(PassReport {
                events: r.events,
                indexed_through: r.indexed_through,
                log_size: log_size.max(r.indexed_through),
            });
        }
        if from == log_size {
            return Ok(PassReport {
                events: 0,
                indexed_through: from,
                log_size,
            });
        }
        let batch = read_batch(db, from, log_size, &mut Seen::default()).await?;
        let through = batch.through;
        let docs = batch.docs;
        self.with_writer(move |w| {
            let written = upsert_all(w, &docs).and_then(|_| w.commit(through));
            if written.is_err() {
                // Leave nothing half-done for the next pass to commit by accident.
                let _ = w.rollback();
            }
            written
        })
        .await?;
        self.indexed_through.store(through, Ordering::SeqCst);
        Ok(PassReport {
            events: batch.events,
            indexed_through: through,
            log_size: log_size.max(through),
        })
    }

    /// Runs passes until the index covers every event committed before the call.
    ///
    /// # Errors
    /// As [`Indexer::pass`].
    pub async fn catch_up(&self, db: &DatabaseConnection) -> anyhow::Result<PassReport> {
        let target = log_size(db).await?;
        loop {
            let r = self.pass(db).await?;
            if r.indexed_through >= target || r.events == 0 {
                return Ok(r);
            }
        }
    }

    /// Rebuilds the index from event 0: every document is written again from the database as
    /// it is now, then one commit swaps the new set in (searches see the old one until then).
    /// Events committed while it runs are left to the next pass.
    ///
    /// # Errors
    /// Database or index failure; the old index is kept then.
    pub async fn rebuild(&self, db: &DatabaseConnection) -> anyhow::Result<RebuildReport> {
        self.rebuild_observed(db, &|_, _| {}).await
    }

    /// [`rebuild`](Self::rebuild), telling `progress` after each batch how many events of how
    /// many are indexed.
    ///
    /// # Errors
    /// As [`rebuild`](Self::rebuild).
    pub async fn rebuild_observed(
        &self,
        db: &DatabaseConnection,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> anyhow::Result<RebuildReport> {
        let _turn = self.turn.lock().await;
        self.rebuild_in_turn(db, progress).await
    }

    async fn rebuild_in_turn(
        &self,
        db: &DatabaseConnection,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> anyhow::Result<RebuildReport> {
        self.with_writer(|w| w.clear()).await?;
        let rebuilt = self.refill(db, progress).await;
        match rebuilt {
            Ok(mut report) => {
                self.indexed_through
                    .store(report.indexed_through, Ordering::SeqCst);
                report.documents = self.index.num_docs();
                Ok(report)
            }
            Err(e) => {
                if let Err(rollback) = self.with_writer(|w| w.rollback()).await {
                    tracing::error!(error = %format!("{rollback:#}"), "cannot roll back a failed search index rebuild");
                }
                Err(e)
            }
        }
    }

    async fn refill(
        &self,
        db: &DatabaseConnection,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> anyhow::Result<RebuildReport> {
        let target = log_size(db).await?;
        let mut seen = Seen::default();
        let mut report = RebuildReport::default();
        let mut from = 0;
        while from < target {
            let head = log_size(db).await?;
            let batch = read_batch(db, from, head, &mut seen).await?;
            if batch.events == 0 {
                bail!("the event log ends at seq {from}, but its head says {head}");
            }
            report.events += batch.events;
            report.orders += batch.orders;
            report.merchants += batch.merchants;
            let docs = batch.docs;
            report.refused += self.with_writer(move |w| upsert_all(w, &docs)).await?;
            from = batch.through;
            progress(from, target.max(from));
        }
        self.with_writer(move |w| w.commit(from)).await?;
        report.indexed_through = from;
        Ok(report)
    }

    /// Waits for the pass in progress, then releases the writer (and the directory lock).
    /// Later passes fail.
    pub async fn close(&self) {
        let _turn = self.turn.lock().await;
        let writer = self.writer.clone();
        let closed = tokio::task::spawn_blocking(move || {
            let taken = writer.lock().unwrap_or_else(PoisonError::into_inner).take();
            taken.map_or(Ok(()), SearchWriter::close)
        })
        .await;
        match closed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "closing the search index writer"),
            Err(e) => tracing::warn!(error = %e, "closing the search index writer"),
        }
    }

    /// Runs `f` on the writer on a blocking thread.
    async fn with_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut SearchWriter) -> Result<T, SearchError> + Send + 'static,
    ) -> anyhow::Result<T> {
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = writer.lock().unwrap_or_else(PoisonError::into_inner);
            let w = guard
                .as_mut()
                .ok_or_else(|| anyhow!("the search indexer is closed"))?;
            f(w).map_err(anyhow::Error::from)
        })
        .await
        .context("the search index task failed")?
    }
}

/// Upserts every document; one the index refuses is logged and skipped (it would be refused
/// again on every retry). Returns how many were refused.
fn upsert_all(w: &mut SearchWriter, docs: &[Doc]) -> Result<u64, SearchError> {
    let mut refused = 0;
    for d in docs {
        match w.upsert(d) {
            Ok(()) => {}
            Err(SearchError::InvalidDocument { reason }) => {
                tracing::warn!(
                    id = d.id(),
                    reason,
                    "the search index refused a document; skipped"
                );
                refused += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(refused)
}

/// The log size: the head row every writing transaction advances.
///
/// # Errors
/// Database errors, or no head row (the database is not migrated).
pub async fn log_size(db: &DatabaseConnection) -> anyhow::Result<u64> {
    let head = lvyue_entity::log_head::Entity::find_by_id(1)
        .one(db)
        .await
        .context("cannot read the log head")?
        .ok_or_else(|| anyhow!("the log head is missing: run `lvyue migrate`"))?;
    u64::try_from(head.size).map_err(|_| anyhow!("the log head holds a negative size"))
}

/// An order or merchant document, as the key of [`Seen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DocKey {
    Order(OrderId),
    Merchant(PartyId),
}

/// For each order and merchant written, a log size its loaded state already reflects: the row
/// was read after every event below that size had committed. An event below it needs no
/// rewrite of the document; an event at or above it does. Within one batch this writes each
/// document once; across a rebuild's batches, once unless it changed meanwhile.
#[derive(Debug, Default)]
struct Seen(HashMap<DocKey, u64>);

impl Seen {
    /// Whether the document needs writing for the event at `seq`; if so, records that the
    /// write reflects every event below `covered`.
    fn claim(&mut self, key: DocKey, seq: u64, covered: u64) -> bool {
        match self.0.get(&key) {
            Some(&reflects) if seq < reflects => false,
            _ => {
                self.0.insert(key, covered);
                true
            }
        }
    }
}

/// The documents for a run of events.
struct Batch {
    docs: Vec<Doc>,
    events: u64,
    orders: u64,
    merchants: u64,
    /// One past the last event read: the log size the batch brings the index to.
    through: u64,
}

/// Reads at most [`BATCH_EVENTS`] events from seq `from` and builds their documents.
/// `head` is a log size read before this call.
async fn read_batch(
    db: &DatabaseConnection,
    from: u64,
    head: u64,
    seen: &mut Seen,
) -> anyhow::Result<Batch> {
    let from_i64 = i64::try_from(from).context("event seq out of range")?;
    let rows = lvyue_entity::event::Entity::find()
        .filter(lvyue_entity::event::Column::Seq.gte(from_i64))
        .order_by_asc(lvyue_entity::event::Column::Seq)
        .limit(BATCH_EVENTS)
        .all(db)
        .await
        .context("cannot read events")?;
    let mut events = Vec::with_capacity(rows.len());
    let mut next = from;
    for row in rows {
        let e = EventRecord::try_from(row).context("cannot read an event")?;
        // The log is gap-free (lvyue_domain::event): a hole is a broken invariant, and
        // indexing past it would record events as indexed that are not.
        if e.seq.0 != next {
            tracing::error!(expected = next, found = e.seq.0, "the event log has a gap");
            bail!(
                "the event log has a gap: expected seq {next}, found {}",
                e.seq.0
            );
        }
        next += 1;
        events.push(e);
    }
    // Rows read from here on were read after every event below `covered` had committed.
    let covered = head.max(next);

    // A regulator's page of 20 orders records 21 reads: rewriting (and first reloading) the
    // orders and merchants they name, which no read changes, was about a third of what
    // indexing cost under read load (docs/benchmarks.md, "Where a regulator's read spent its
    // time").
    let changes = || events.iter().filter(|e| !docs::records_a_read(&e.kind));
    let order_ids: Vec<OrderId> = unique(changes().filter_map(|e| e.order_id));
    let orders = load_orders(db, &order_ids).await?;
    let party_ids = unique(
        changes()
            .filter_map(|e| e.merchant_id)
            .chain(orders.values().flat_map(|o| [o.merchant, o.payer])),
    );
    let parties = load_parties(db, &party_ids).await?;

    let mut batch = Batch {
        docs: Vec::with_capacity(events.len() * 2),
        events: events.len() as u64,
        orders: 0,
        merchants: 0,
        through: next,
    };
    for e in &events {
        if docs::records_a_read(&e.kind) {
            batch.docs.push(Doc::Event(docs::event_doc(e, None, None)));
            continue;
        }
        let order = e.order_id.and_then(|id| orders.get(&id));
        let merchant = e.merchant_id.and_then(|id| parties.get(&id));
        if let Some(o) = order
            && seen.claim(DocKey::Order(o.id), e.seq.0, covered)
        {
            batch.docs.push(Doc::Order(docs::order_doc(o, &parties)));
            batch.orders += 1;
        }
        if let Some(m) = merchant
            && let Some(doc) = docs::merchant_doc(m)
            && seen.claim(DocKey::Merchant(m.id), e.seq.0, covered)
        {
            batch.docs.push(Doc::Merchant(doc));
            batch.merchants += 1;
        }
        if e.order_id.is_some() && order.is_none() {
            tracing::warn!(seq = e.seq.0, "an event names an order that does not exist");
        }
        batch
            .docs
            .push(Doc::Event(docs::event_doc(e, order, merchant)));
    }
    Ok(batch)
}

fn unique<T: Copy + Eq + std::hash::Hash>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = HashSet::new();
    items.filter(|i| seen.insert(*i)).collect()
}

async fn load_orders(
    db: &DatabaseConnection,
    ids: &[OrderId],
) -> anyhow::Result<HashMap<OrderId, OrderRecord>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(MAX_BATCH) {
        out.extend(
            batch::orders(db, chunk)
                .await
                .context("cannot read orders")?,
        );
    }
    Ok(out)
}

async fn load_parties(
    db: &DatabaseConnection,
    ids: &[PartyId],
) -> anyhow::Result<HashMap<PartyId, PartyRecord>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(MAX_BATCH) {
        out.extend(
            batch::parties(db, chunk)
                .await
                .context("cannot read parties")?,
        );
    }
    Ok(out)
}

/// Follows the event table until the server stops: passes back to back while behind, then
/// waits for this node's next commit (a burst of them is one pass) or `interval` (for other
/// nodes' commits). A failed pass is logged and retried at the next wake-up.
pub async fn follow(
    indexer: Arc<Indexer>,
    escrow: Arc<Escrow>,
    metrics: Arc<Metrics>,
    interval: Duration,
    stop: ShutdownHandle,
) {
    let mut grown = escrow.subscribe_log_size();
    let mut last_commit: Option<Instant> = None;
    loop {
        loop {
            if stop.is_shutting_down() {
                return;
            }
            match indexer.pass(escrow.db()).await {
                Ok(r) => {
                    metrics::set_gauge(&metrics.search_index_lag, r.lag());
                    if r.events > 0 {
                        last_commit = Some(Instant::now());
                        tracing::debug!(events = r.events, lag = r.lag(), "search index pass");
                    }
                    if r.lag() == 0 || r.events == 0 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "search index pass failed; retrying");
                    break;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            changed = grown.changed() => {
                let pause = match changed {
                    Ok(()) => pause_after_growth(interval, last_commit.map(|t| t.elapsed())),
                    Err(_) => interval,
                };
                tokio::time::sleep(pause).await;
            }
            () = stop.stopped() => return,
        }
    }
}

/// How long to wait after the log grew before the next pass: a fraction of `interval` when the
/// index has not committed lately (a lone write is searchable soon), else until `interval` has
/// passed since its last commit. Every commit of the index finalises a segment that is later
/// merged, so a stream of writes (each supervised read is logged) costs one commit per
/// interval, not one per burst.
fn pause_after_growth(interval: Duration, since_last_commit: Option<Duration>) -> Duration {
    let since = since_last_commit.unwrap_or(interval);
    (interval / BURST_DIVISOR).max(interval.saturating_sub(since))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use lvyue_domain::access::RecordAccess;
    use lvyue_domain::principal::Industry;
    use lvyue_domain::testing::TestDb;
    use lvyue_domain::testing::world::World;
    use serde_json::json;

    use super::*;

    /// A regulator's read of an order is indexed as its own events, without reloading or
    /// rewriting the order and merchant it names; the order's own events still rewrite them.
    #[tokio::test]
    async fn a_read_rewrites_no_order_or_merchant_document() {
        let db = TestDb::sqlite().await;
        let w = World::new(&db).await;
        let regulator = w.regulator(&["3201"], &[Industry::PrepaidCard]).await;
        let policy =
            json!({"milestones": [{"name": "全部", "share_bp": 10000, "confirm_by": ["PAYER"]}]});
        let scheme = w
            .scheme(Industry::PrepaidCard, "320100", Some(regulator.id), policy)
            .await;
        let merchant = w.merchant("健身房", "320102", Industry::PrepaidCard).await;
        w.enroll(&scheme, &merchant).await;
        let payer = w.payer("张三").await;
        let order = w.order(&scheme, &merchant, &payer, "100.00").await;
        let before_read = log_size(escrow_db(&w)).await.unwrap();
        w.run_as(
            &w.as_regulator(&regulator),
            RecordAccess {
                operation: "ListOrders".into(),
                asked: vec!["orders(first: 20)".into()],
                orders: vec![order.id],
                merchant: Some(merchant.id),
                ..RecordAccess::default()
            },
        )
        .await
        .unwrap();
        let head = log_size(escrow_db(&w)).await.unwrap();

        let read = read_batch(escrow_db(&w), before_read, head, &mut Seen::default())
            .await
            .unwrap();
        assert_eq!((read.events, read.orders, read.merchants), (2, 0, 0));
        assert!(read.docs.iter().all(|d| matches!(d, Doc::Event(_))));

        let all = read_batch(escrow_db(&w), 0, head, &mut Seen::default())
            .await
            .unwrap();
        assert_eq!(
            (all.orders, all.merchants),
            (1, 1),
            "the order's own events"
        );
    }

    fn escrow_db(w: &World) -> &DatabaseConnection {
        w.escrow.db()
    }

    #[test]
    fn a_document_is_rewritten_only_for_events_its_state_may_not_reflect() {
        let mut seen = Seen::default();
        let key = DocKey::Order(OrderId(7));
        assert!(seen.claim(key, 10, 25), "first sight");
        assert!(!seen.claim(key, 11, 30), "same batch: already reflected");
        assert!(!seen.claim(key, 24, 30), "committed before the load");
        assert!(seen.claim(key, 25, 40), "committed after the load");
        assert!(!seen.claim(key, 39, 50));
        assert!(
            seen.claim(DocKey::Merchant(PartyId(7)), 11, 12),
            "keys are per kind"
        );
    }

    #[test]
    fn lag_is_what_the_index_does_not_cover() {
        let r = PassReport {
            events: 3,
            indexed_through: 10,
            log_size: 12,
        };
        assert_eq!(r.lag(), 2);
        let ahead = PassReport { log_size: 5, ..r };
        assert_eq!(ahead.lag(), 0);
    }

    #[test]
    fn unique_keeps_first_occurrences_in_order() {
        assert_eq!(unique([3, 1, 3, 2, 1].into_iter()), vec![3, 1, 2]);
    }

    #[test]
    fn a_quiet_index_commits_soon_and_a_busy_one_once_an_interval() {
        let interval = Duration::from_millis(400);
        // Nothing committed yet, or long ago: a quarter of the interval.
        assert_eq!(pause_after_growth(interval, None), interval / 4);
        let long_ago = Some(Duration::from_secs(5));
        assert_eq!(pause_after_growth(interval, long_ago), interval / 4);
        // Committed 10 ms ago: wait out the rest of the interval.
        let recent = Some(Duration::from_millis(10));
        assert_eq!(
            pause_after_growth(interval, recent),
            Duration::from_millis(390)
        );
        // Committed 350 ms ago: never less than the quarter.
        let nearly = Some(Duration::from_millis(350));
        assert_eq!(pause_after_growth(interval, nearly), interval / 4);
    }
}
