//! Per-request DataLoaders: nested fields of a page (each order's merchant, payer, scheme,
//! escrow account, milestones, payments) are loaded in one query per kind.
//!
//! Loaders do no scoping: they are reached only through rows a scoped domain query already
//! returned to the same principal (see `lvyue_domain::batch`).

use std::collections::HashMap;
use std::sync::Arc;

use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

use lvyue_domain::ids::{AccountId, OrderId, PartyId, SchemeId};
use lvyue_domain::ledger::AccountRecord;
use lvyue_domain::order::{MilestoneRecord, PaymentRecord};
use lvyue_domain::party::PartyRecord;
use lvyue_domain::scheme::SchemeRecord;
use lvyue_domain::{DomainError, Escrow, batch};

/// A load failure; cloneable as DataLoader requires. Logged here; it reaches the client as
/// "internal error" (an unknown error source is internal, see `crate::error::finalize`).
#[derive(Clone, Debug)]
pub struct LoadError(Arc<DomainError>);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<DomainError> for LoadError {
    fn from(e: DomainError) -> LoadError {
        tracing::error!(error = ?e, "batch load failed");
        LoadError(Arc::new(e))
    }
}

/// Loads by id from the escrow's database.
pub struct ById(pub Arc<Escrow>);

macro_rules! loader {
    ($key:ty, $value:ty, $f:path) => {
        impl Loader<$key> for ById {
            type Value = $value;
            type Error = LoadError;
            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, LoadError> {
                Ok($f(self.0.db(), keys).await?)
            }
        }
    };
}

loader!(PartyId, PartyRecord, batch::parties);
loader!(SchemeId, SchemeRecord, batch::schemes);
loader!(AccountId, AccountRecord, batch::accounts);
loader!(OrderId, lvyue_domain::order::OrderRecord, batch::orders);

/// An order's milestones (keyed by order).
pub struct Milestones(pub Arc<Escrow>);

impl Loader<OrderId> for Milestones {
    type Value = Vec<MilestoneRecord>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[OrderId],
    ) -> Result<HashMap<OrderId, Vec<MilestoneRecord>>, LoadError> {
        Ok(batch::milestones(self.0.db(), keys).await?)
    }
}

/// An order's payments (keyed by order).
pub struct Payments(pub Arc<Escrow>);

impl Loader<OrderId> for Payments {
    type Value = Vec<PaymentRecord>;
    type Error = LoadError;
    async fn load(
        &self,
        keys: &[OrderId],
    ) -> Result<HashMap<OrderId, Vec<PaymentRecord>>, LoadError> {
        Ok(batch::payments(self.0.db(), keys).await?)
    }
}

/// A merchant's latest risk score (keyed by merchant).
pub struct RiskScores(pub Arc<Escrow>);

impl Loader<PartyId> for RiskScores {
    /// `None` for a merchant never scored, so that the miss is cached too.
    type Value = Option<lvyue_domain::risk::RiskScore>;
    type Error = LoadError;
    async fn load(&self, keys: &[PartyId]) -> Result<HashMap<PartyId, Self::Value>, LoadError> {
        let mut found = batch::risk_scores(self.0.db(), keys).await?;
        Ok(keys.iter().map(|k| (*k, found.remove(k))).collect())
    }
}

/// The loaders of one request.
pub struct Loaders {
    pub by_id: DataLoader<ById, HashMapCache>,
    pub milestones: DataLoader<Milestones, HashMapCache>,
    pub payments: DataLoader<Payments, HashMapCache>,
    pub risk: DataLoader<RiskScores, HashMapCache>,
}

/// How long a loader gathers keys before it queries: long enough for the items of a list to
/// ask together even in an unoptimised build, short next to a query's own cost.
const BATCH_DELAY: Duration = Duration::from_millis(2);

impl Loaders {
    /// Loaders for one request. Each caches what it loaded for the rest of the request, so a
    /// merchant shared by a page of orders is read once.
    pub fn new(escrow: &Arc<Escrow>) -> Loaders {
        fn make<T: Loader<K>, K>(loader: T) -> DataLoader<T, HashMapCache>
        where
            K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
        {
            DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default()).delay(BATCH_DELAY)
        }
        Loaders {
            by_id: DataLoader::with_cache(
                ById(escrow.clone()),
                tokio::spawn,
                HashMapCache::default(),
            )
            .delay(BATCH_DELAY),
            milestones: make::<_, OrderId>(Milestones(escrow.clone())),
            payments: make::<_, OrderId>(Payments(escrow.clone())),
            risk: make::<_, PartyId>(RiskScores(escrow.clone())),
        }
    }
}

/// The request's loaders (put into every request's data by the HTTP and WebSocket handlers).
///
/// # Errors
/// `INTERNAL` when a request was built without them (a wiring bug).
pub fn loaders<'a>(ctx: &'a async_graphql::Context<'_>) -> async_graphql::Result<&'a Loaders> {
    ctx.data_opt::<Loaders>().ok_or_else(|| {
        crate::error::coded(
            crate::error::ErrorCode::Internal,
            crate::error::INTERNAL_MESSAGE,
        )
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use lvyue_domain::Escrow;
    use lvyue_domain::clock::SystemClock;
    use lvyue_domain::log::TransparencyLog;
    use lvyue_domain::pii::PiiVault;
    use lvyue_domain::principal::{Industry, Principal};
    use lvyue_domain::testing::TestDb;
    use lvyue_domain::testing::world::World;

    use super::Loaders;
    use crate::graphql::limits::QueryLimits;
    use crate::graphql::schema;
    use crate::graphql::system::ServerInfo;

    const PAGE: &str = "query($n: Int!) { orders(first: $n) { edges { node { id orderNo
        merchant { name riskScore { grade } } payer { name } scheme { code }
        escrowAccount { balance held } milestones { amount status } payments { amount } } } } }";

    /// Queries run for one page of `n` orders with their nested fields.
    async fn queries_for_page(db: &TestDb, n: i32) -> usize {
        let counter = Arc::new(AtomicUsize::new(0));
        let mut conn = db.db.clone();
        let c = counter.clone();
        conn.set_metric_callback(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        let escrow = Arc::new(
            Escrow::new(conn, Arc::new(SystemClock), PiiVault::single([42; 32]))
                .await
                .unwrap(),
        );
        let key = lvyue_notary::SigningKey::from_seed("lvyue.test/log", [1; 32]).unwrap();
        let log = Arc::new(TransparencyLog::load(escrow.db(), key).await.unwrap());
        let limits = QueryLimits::from(&crate::config::Limits::default());
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let schema = schema::build(
            escrow.clone(),
            log,
            ServerInfo {
                started_at: chrono::Utc::now(),
            },
            limits,
            metrics,
        );
        counter.store(0, Ordering::SeqCst);

        let req = async_graphql::Request::new(PAGE)
            .variables(async_graphql::Variables::from_json(
                serde_json::json!({ "n": n }),
            ))
            .data(Principal::bank("ops"))
            .data(Loaders::new(&escrow));
        let resp = schema.execute(req).await;
        assert!(resp.errors.is_empty(), "{:?}", resp.errors);
        let json = resp.data.into_json().unwrap();
        assert_eq!(
            json["orders"]["edges"].as_array().unwrap().len(),
            n as usize
        );
        counter.load(Ordering::SeqCst)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_of_orders_costs_the_same_few_queries_whatever_its_size() {
        let db = TestDb::sqlite().await;
        let w = World::new(&db).await;
        let policy = serde_json::json!({"milestones": [{"name": "a", "share_bp": 5000, "auto_after_days": 0}, {"name": "b", "share_bp": 5000, "confirm_by": ["PAYER"]}]});
        let scheme = w
            .scheme(Industry::DrivingSchool, "320100", None, policy)
            .await;
        let mut merchants = vec![];
        for i in 0..5 {
            let m = w
                .merchant(&format!("驾校{i}"), "320102", Industry::DrivingSchool)
                .await;
            w.enroll(&scheme, &m).await;
            merchants.push(m);
        }
        for i in 0..100 {
            let p = w.payer(&format!("学员{i}")).await;
            let o = w.order(&scheme, &merchants[i % 5], &p, "100.00").await;
            w.pay(&o, "100.00").await;
        }
        let ten = queries_for_page(&db, 10).await;
        let hundred = queries_for_page(&db, 100).await;
        assert_eq!(
            ten, hundred,
            "nested fields are batched, not loaded per row"
        );
        assert!(hundred <= 12, "a page of 100 orders took {hundred} queries");
    }
}
