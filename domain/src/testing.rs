//! Test databases: a fresh SQLite file per test always, and a fresh PostgreSQL database per
//! test when `LVYUE_TEST_POSTGRES_URL` is set (created here, dropped when the test ends).

use std::sync::Arc;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use lvyue_migration::MigratorTrait;

use crate::Escrow;
use crate::clock::{Clock, ManualClock, SystemClock, Timestamp};

/// The variable naming a PostgreSQL server for tests (a maintenance database URL such as
/// `postgres://postgres@127.0.0.1:5432/postgres`).
pub const POSTGRES_ENV: &str = "LVYUE_TEST_POSTGRES_URL";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated database that lives as long as the test.
pub struct TestDb {
    pub url: String,
    pub db: DatabaseConnection,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// A fresh SQLite file database in a temporary directory.
    ///
    /// # Panics
    /// When the database cannot be created (a test fixture failing loudly).
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = crate::db::sqlite_url_in(dir.path());
        let db = crate::db::connect(&url).await.expect("open sqlite");
        lvyue_migration::Migrator::up(&db, None).await.expect("migrate sqlite");
        TestDb { url, db, backend: Backend::Sqlite, _dir: Some(dir), pg: None }
    }

    /// A fresh PostgreSQL database, or `None` when `LVYUE_TEST_POSTGRES_URL` is not set.
    ///
    /// # Panics
    /// When the variable is set but the server refuses (CI must not silently skip).
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty())?;
        let name = format!("lvyue_test_{}_{}", std::process::id(), rand_suffix());
        let admin = Database::connect(&admin_url).await.expect("connect to LVYUE_TEST_POSTGRES_URL");
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
        admin.close().await.ok();
        let url = replace_db_name(&admin_url, &name);
        let db = crate::db::connect(&url).await.expect("open test database");
        lvyue_migration::Migrator::up(&db, None).await.expect("migrate postgres");
        Some(TestDb { url, db, backend: Backend::Postgres, _dir: None, pg: Some((admin_url, name)) })
    }

    /// An `Escrow` on this database with the system clock.
    ///
    /// # Panics
    /// On database errors.
    pub async fn escrow(&self) -> Arc<Escrow> {
        self.escrow_with_clock(Arc::new(SystemClock)).await
    }

    /// An `Escrow` with a manual clock standing at `start`.
    ///
    /// # Panics
    /// On database errors.
    pub async fn escrow_at(&self, start: Timestamp) -> (Arc<Escrow>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(start));
        (self.escrow_with_clock(clock.clone()).await, clock)
    }

    async fn escrow_with_clock(&self, clock: Arc<dyn Clock>) -> Arc<Escrow> {
        Arc::new(Escrow::new(self.db.clone(), clock).await.expect("escrow"))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg.take() {
            let db = self.db.clone();
            // Drop runs outside any runtime guarantee: use a thread with a runtime of its own.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                rt.block_on(async move {
                    db.close().await.ok();
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                        admin.close().await.ok();
                    }
                });
            })
            .join();
        }
    }
}

fn rand_suffix() -> u64 {
    use rand::RngCore;
    rand::rngs::OsRng.next_u64() % 1_000_000_000
}

/// `postgres://u@h:p/db?x` with `db` replaced by `name`.
fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Runs an async test body on SQLite, and again on PostgreSQL when it is configured:
/// `db_test!(name, |db: TestDb| async move { … })` makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! db_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::TestDb::sqlite().await;
                ($body)(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::testing::TestDb::postgres().await {
                    Some(db) => ($body)(db).await,
                    None => eprintln!("skipped: {} is not set", $crate::testing::POSTGRES_ENV),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(super::replace_db_name("postgres://postgres@127.0.0.1:5432/postgres", "t1"), "postgres://postgres@127.0.0.1:5432/t1");
        assert_eq!(super::replace_db_name("postgres://h/db?sslmode=disable", "t2"), "postgres://h/t2?sslmode=disable");
        assert_eq!(super::replace_db_name("postgres://h", "t3"), "postgres://h/t3");
    }
}
