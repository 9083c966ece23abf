//! The node's shared state: everything a handler, a worker or a WebSocket session needs, built
//! once at start (database, escrow, transparency log, search index, schema, authentication,
//! limits, readiness, shutdown). Below the server, the workers and the CLI, which all take it;
//! above the services it assembles, none of which takes it back.

use std::sync::Arc;

use anyhow::Context as _;
use sea_orm::DatabaseConnection;

use lvyue_domain::Escrow;
use lvyue_domain::clock::SystemClock;
use lvyue_domain::log::TransparencyLog;
use lvyue_domain::published::PublishedCheckpoint;
use lvyue_migration::MigratorTrait as _;

use crate::auth::Authenticator;
use crate::config::{Config, DatabaseUrl};
use crate::cosign::Witnesses;
use crate::graphql::limits::QueryLimits;
use crate::graphql::schema::{self, AppSchema};
use crate::graphql::system::ServerInfo;
use crate::health::{self, Readiness};
use crate::metrics::{self, Metrics};
use crate::rate_limit::RateLimiter;
use crate::recorder::AccessRecorder;
use crate::shutdown::{ShutdownHandle, ShutdownHooks};

/// Downloads rendering at once on this node; more are answered `LIMIT_EXCEEDED` (each holds
/// a blocking thread while its client reads).
pub const MAX_CONCURRENT_DOWNLOADS: usize = 16;

/// Everything a handler needs, built once at start. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub escrow: Arc<Escrow>,
    /// This node's view of the transparency log.
    pub log: Arc<TransparencyLog>,
    pub db: DatabaseConnection,
    pub metrics: Arc<Metrics>,
    /// This node's search indexer (its index is in the schema data for `search`).
    pub indexer: Arc<crate::indexer::Indexer>,
    pub schema: AppSchema,
    pub auth: Arc<Authenticator>,
    pub rate_limiter: Arc<RateLimiter>,
    /// Report downloads rendering at once (`GET /reports/…`).
    pub report_downloads: Arc<tokio::sync::Semaphore>,
    pub readiness: Arc<Readiness>,
    pub shutdown: ShutdownHandle,
    pub shutdown_hooks: Arc<ShutdownHooks>,
    /// Writes regulators' and courts' access records, many per commit.
    pub recorder: AccessRecorder,
    /// The witnesses this log's checkpoints go to (none configured: an empty list).
    pub witnesses: Arc<Witnesses>,
}

impl AppState {
    /// Indexes every event committed before the call, sets `lvyue_search_index_lag` and returns
    /// the lag left (0 unless events arrived meanwhile). For tests and tools that must see their
    /// writes in search without waiting for the background pass.
    ///
    /// # Errors
    /// As [`Indexer::pass`].
    pub async fn catch_up_search(&self) -> anyhow::Result<u64> {
        let r = self.indexer.catch_up(&self.db).await?;
        metrics::set_gauge(&self.metrics.search_index_lag, r.lag());
        Ok(r.lag())
    }

    /// Opens and migrates the database and builds every shared service.
    ///
    /// The lead's additions (notary, search, demo data) belong here: add a readiness check with
    /// `Readiness::with`, a flush with `shutdown_hooks.add`, and data for resolvers in
    /// [`schema::build`].
    ///
    /// # Errors
    /// Invalid configuration, an unreachable database, a failed migration, unusable JWT keys.
    pub async fn build(config: Config) -> anyhow::Result<AppState> {
        AppState::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`AppState::build`] with another clock (tests move time forward to see settlement,
    /// expiry and deadlines; the demo loader replays months of history).
    ///
    /// # Errors
    /// As [`AppState::build`].
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn lvyue_domain::clock::Clock>,
    ) -> anyhow::Result<AppState> {
        config.validate()?;
        config.ensure_data_dir()?;
        let url = config.database_url();
        tracing::info!(
            bind = %config.bind,
            data_dir = %config.data_dir.display(),
            database = %DatabaseUrl::new(url.clone()).redacted(),
            jwt_alg = config.jwt.alg.as_str(),
            tls = config.tls.files().is_some(),
            "starting"
        );
        let db = lvyue_domain::db::connect(&url).await.with_context(|| {
            format!(
                "cannot open database {}",
                DatabaseUrl::new(url.clone()).redacted()
            )
        })?;
        lvyue_migration::Migrator::up(&db, None)
            .await
            .context("database migration failed")?;
        let vault = crate::keys::pii_vault(&config)?;
        let escrow = Arc::new(
            Escrow::new(db.clone(), clock, vault)
                .await
                .context("cannot read the log head")?,
        );
        let auth = Arc::new(Authenticator::from_config(&config.jwt, &config.data_dir)?);
        let notary_key = crate::notary::load_or_create_key(&config)?;
        let published = PublishedCheckpoint::open(
            &crate::config::NotaryConfig::published_path(&config.data_dir),
            notary_key.verifier_key(),
        )?;
        let log = Arc::new(
            TransparencyLog::load(&db, notary_key)
                .await
                .context("cannot load the transparency log")?
                .guarded_by(published),
        );
        let metrics = Arc::new(Metrics::new());
        let indexer = Arc::new(open_indexer(&config).await?);
        metrics::set_gauge(
            &metrics.search_index_lag,
            crate::indexer::log_size(&db)
                .await?
                .saturating_sub(indexer.indexed_through()),
        );
        let info = ServerInfo {
            started_at: chrono::Utc::now(),
        };
        let witnesses = Arc::new(
            Witnesses::new(config.notary.witnesses.clone())
                .context("cannot set up the witnesses' client")?,
        );
        let schema = schema::build_with_search(
            escrow.clone(),
            log.clone(),
            info,
            QueryLimits::from(&config.limits),
            metrics.clone(),
            indexer.index().clone(),
            witnesses.clone(),
        );
        let rate_limiter = Arc::new(RateLimiter::new(
            config.limits.rate_limit_per_minute,
            config.limits.rate_limit_burst,
        ));
        let readiness = Arc::new(
            Readiness::new()
                .with("database", health::database_check(db.clone()))
                .with(
                    "notary",
                    crate::notary::caught_up_check(escrow.clone(), log.clone()),
                ),
        );
        let shutdown_hooks = Arc::new(ShutdownHooks::default());
        // Releases the index's writer lock, so that `lvyue reindex` (or a restarted server)
        // can take it as soon as this one has stopped.
        shutdown_hooks.add("search index", {
            let indexer = indexer.clone();
            async move { indexer.close().await }
        });
        let recorder = AccessRecorder::start(escrow.clone(), config.workers.access_group_max);
        Ok(AppState {
            recorder,
            witnesses,
            config: Arc::new(config),
            escrow,
            log,
            db,
            metrics,
            indexer,
            schema,
            auth,
            rate_limiter,
            report_downloads: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_DOWNLOADS)),
            readiness,
            shutdown: ShutdownHandle::new(),
            shutdown_hooks,
        })
    }
}

/// Opens this node's search index and takes its writer (blocking I/O, off the async workers).
async fn open_indexer(config: &Config) -> anyhow::Result<crate::indexer::Indexer> {
    let dir = config.workers.search_path(&config.data_dir);
    tokio::task::spawn_blocking(move || crate::indexer::Indexer::open(&dir))
        .await
        .context("opening the search index failed")?
}
