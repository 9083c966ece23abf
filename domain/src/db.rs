//! Opening the database: embedded SQLite by default, PostgreSQL in production, the same code.

use std::path::Path;
use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};

use crate::error::DomainError;

/// Connections in the pool. SQLite serialises writers anyway; readers run beside them in WAL.
const SQLITE_POOL_SIZE: u32 = 8;
const POSTGRES_POOL_SIZE: u32 = 16;
/// How long a SQLite writer waits for another process's write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// The file of the default SQLite database in a data directory.
pub const SQLITE_FILE: &str = "lvyue.db";

/// The default database URL for a data directory: [`SQLITE_FILE`] inside it, created if missing.
pub fn sqlite_url_in(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join(SQLITE_FILE).display())
}

/// Connects to `url` (`sqlite://…` or `postgres://…`). SQLite runs in WAL mode with
/// `synchronous=FULL` (a commit survives power loss) and foreign keys on.
///
/// # Errors
/// The database cannot be reached or opened.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DomainError> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false).acquire_timeout(ACQUIRE_TIMEOUT);
    if url.starts_with("sqlite:") {
        opts.max_connections(SQLITE_POOL_SIZE)
            .map_sqlx_sqlite_opts(|o| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
            });
    } else {
        opts.max_connections(POSTGRES_POOL_SIZE);
    }
    Ok(Database::connect(opts).await?)
}

pub fn is_sqlite(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Sqlite
}

/// The connection pool's use at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections open, busy or idle.
    pub open: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// The most the pool may open.
    pub max: u32,
}

/// How much of `db`'s connection pool is in use (for the metrics): a pool that stays at its
/// maximum with none idle is where requests queue.
pub fn pool_use(db: &DatabaseConnection) -> PoolUse {
    if is_sqlite(db) {
        use_of(db.get_sqlite_connection_pool())
    } else {
        use_of(db.get_postgres_connection_pool())
    }
}

fn use_of<B: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<B>) -> PoolUse {
    PoolUse {
        open: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}
