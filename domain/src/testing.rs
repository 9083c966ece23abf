//! Test databases: a fresh SQLite file per test always, and a fresh PostgreSQL database per
//! test when `LVYUE_TEST_POSTGRES_URL` is set (created here, dropped when the test ends).

use std::sync::Arc;

use lvyue_migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

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
        lvyue_migration::Migrator::up(&db, None)
            .await
            .expect("migrate sqlite");
        TestDb {
            url,
            db,
            backend: Backend::Sqlite,
            _dir: Some(dir),
            pg: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` when `LVYUE_TEST_POSTGRES_URL` is not set.
    ///
    /// # Panics
    /// When the variable is set but the server refuses (CI must not silently skip).
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty())?;
        let name = format!("lvyue_test_{}_{}", std::process::id(), rand_suffix());
        let admin = Database::connect(&admin_url)
            .await
            .expect("connect to LVYUE_TEST_POSTGRES_URL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let url = replace_db_name(&admin_url, &name);
        let db = crate::db::connect(&url).await.expect("open test database");
        lvyue_migration::Migrator::up(&db, None)
            .await
            .expect("migrate postgres");
        Some(TestDb {
            url,
            db,
            backend: Backend::Postgres,
            _dir: None,
            pg: Some((admin_url, name)),
        })
    }

    /// A copy of this database as it is now, as a backup restored later would hold it. On
    /// PostgreSQL the copy is a template clone, so nothing else may be connected: this test's
    /// own connections are ended (the pool opens new ones when next used).
    ///
    /// # Panics
    /// When the copy cannot be made.
    pub async fn backup(&self) -> TestDb {
        match &self.pg {
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = crate::db::sqlite_url_in(dir.path());
                let file = dir.path().join(crate::db::SQLITE_FILE);
                self.db
                    .execute_unprepared(&format!(
                        "VACUUM INTO '{}'",
                        file.display().to_string().replace('\'', "''")
                    ))
                    .await
                    .expect("copy the sqlite database");
                let db = crate::db::connect(&url).await.expect("open the copy");
                TestDb {
                    url,
                    db,
                    backend: Backend::Sqlite,
                    _dir: Some(dir),
                    pg: None,
                }
            }
            Some((admin_url, source)) => {
                let name = format!("lvyue_test_{}_{}", std::process::id(), rand_suffix());
                let admin = Database::connect(admin_url)
                    .await
                    .expect("connect to LVYUE_TEST_POSTGRES_URL");
                // A pool (this test's own, or a stopped server's still closing) may connect
                // again between the two statements: end its sessions and try again.
                let mut attempts = 0;
                loop {
                    admin
                        .execute_unprepared(&format!(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                             WHERE datname = '{source}' AND pid <> pg_backend_pid()"
                        ))
                        .await
                        .expect("end the connections to the source database");
                    match admin
                        .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {source}"))
                        .await
                    {
                        Ok(_) => break,
                        Err(e) if attempts < 50 && e.to_string().contains("being accessed") => {
                            attempts += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                        Err(e) => panic!("copy the test database: {e}"),
                    }
                }
                admin.close().await.ok();
                let url = replace_db_name(admin_url, &name);
                let db = crate::db::connect(&url).await.expect("open the copy");
                TestDb {
                    url,
                    db,
                    backend: Backend::Postgres,
                    _dir: None,
                    pg: Some((admin_url.clone(), name)),
                }
            }
        }
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
        Arc::new(
            Escrow::new(
                self.db.clone(),
                clock,
                crate::pii::PiiVault::single([42; 32]),
            )
            .await
            .expect("escrow"),
        )
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg.take() {
            let db = self.db.clone();
            // Drop runs outside any runtime guarantee: use a thread with a runtime of its own.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    db.close().await.ok();
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
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
        assert_eq!(
            super::replace_db_name("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            super::replace_db_name("postgres://h/db?sslmode=disable", "t2"),
            "postgres://h/t2?sslmode=disable"
        );
        assert_eq!(
            super::replace_db_name("postgres://h", "t3"),
            "postgres://h/t3"
        );
    }
}

/// A small world built through domain commands: a regulator, a court, and helpers to add
/// schemes, merchants, payers and orders. Fixtures never write rows behind the domain's back.
pub mod world {
    use std::sync::Arc;

    use chrono::NaiveDate;
    use serde_json::Value;

    use crate::Escrow;
    use crate::clock::{ManualClock, Timestamp};
    use crate::command::Command;
    use crate::error::DomainResult;
    use crate::ids::PartyId;
    use crate::merchant::RegisterMerchant;
    use crate::money::Money;
    use crate::order::{Channel, Collect, CollectOutcome, OpenOrder};
    use crate::order_record::OrderRecord;
    use crate::party::{Licence, PartyRecord, RegisterCourt, RegisterPayer, RegisterRegulator};
    use crate::principal::{Industry, Jurisdiction, Principal, Role};
    use crate::scheme::{CreateScheme, EnrollMerchant, Enrollment, SchemeRecord};

    use super::TestDb;

    pub struct World {
        pub escrow: Arc<Escrow>,
        pub clock: Arc<ManualClock>,
        pub bank: Principal,
        counter: std::sync::atomic::AtomicU32,
    }

    /// 2026-03-02 10:00 China time, a Monday and a working day.
    pub fn default_start() -> Timestamp {
        Timestamp::china_midnight(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default())
            .plus_seconds(10 * 3600)
    }

    impl World {
        /// # Panics
        /// On database errors.
        pub async fn new(db: &TestDb) -> World {
            World::at(db, default_start()).await
        }

        /// # Panics
        /// On database errors.
        pub async fn at(db: &TestDb, start: Timestamp) -> World {
            let (escrow, clock) = db.escrow_at(start).await;
            // Numbers (codes, USCCs, ID numbers) stay unique across worlds on one database: each
            // world starts counting from a base no earlier world reached.
            let base = (*escrow.subscribe_log_size().borrow() as u32).saturating_mul(1000);
            World {
                escrow,
                clock,
                bank: Principal::bank("ops-test"),
                counter: std::sync::atomic::AtomicU32::new(base),
            }
        }

        fn next(&self) -> u32 {
            self.counter
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1
        }

        /// Runs a command as the bank.
        pub async fn run<C: Command>(&self, cmd: C) -> DomainResult<C::Output> {
            self.escrow.execute(&self.bank, None, &cmd).await
        }

        /// Runs a command as someone.
        pub async fn run_as<C: Command>(&self, who: &Principal, cmd: C) -> DomainResult<C::Output> {
            self.escrow.execute(who, None, &cmd).await
        }

        pub fn as_party(&self, role: Role, party: PartyId) -> Principal {
            Principal {
                subject: format!("{}-{}", role, party),
                role,
                party_id: Some(party),
                jurisdiction: Jurisdiction::default(),
            }
        }

        pub fn as_regulator(&self, r: &PartyRecord) -> Principal {
            Principal {
                subject: format!("reg-{}", r.id),
                role: Role::Regulator,
                party_id: Some(r.id),
                jurisdiction: r.jurisdiction(),
            }
        }

        /// # Panics
        /// On any refusal.
        pub async fn regulator(&self, regions: &[&str], industries: &[Industry]) -> PartyRecord {
            self.run(RegisterRegulator {
                name: format!("监管局{}", self.next()),
                jurisdiction: Jurisdiction {
                    regions: regions
                        .iter()
                        .map(|r| r.parse().expect("region prefix"))
                        .collect(),
                    industries: industries.to_vec(),
                },
            })
            .await
            .expect("register regulator")
        }

        /// # Panics
        /// On any refusal.
        pub async fn court(&self) -> PartyRecord {
            self.run(RegisterCourt {
                name: format!("南京市玄武区人民法院{}", self.next()),
                region: "320102".parse().expect("region"),
            })
            .await
            .expect("register court")
        }

        /// A third-party confirmer registered for `schemes`.
        ///
        /// # Panics
        /// On any refusal.
        pub async fn confirmer(
            &self,
            kind: crate::confirmer::ConfirmerKind,
            schemes: &[&SchemeRecord],
        ) -> PartyRecord {
            self.run(crate::confirmer::RegisterConfirmer {
                name: format!("南京市机动车驾驶员培训行业协会{}", self.next()),
                kind,
                region: "320100".parse().expect("region"),
                schemes: schemes.iter().map(|s| s.id).collect(),
            })
            .await
            .expect("register confirmer")
        }

        /// # Panics
        /// On any refusal.
        pub async fn scheme(
            &self,
            industry: Industry,
            region: &str,
            regulator: Option<PartyId>,
            policy: Value,
        ) -> SchemeRecord {
            let n = self.next();
            self.run(CreateScheme {
                code: format!("S{n}"),
                name: format!("{} scheme {n}", industry.label_zh()),
                industry,
                region: region.parse().expect("region"),
                regulator,
                policy,
            })
            .await
            .expect("create scheme")
        }

        /// A merchant with a valid USCC and an active licence.
        ///
        /// # Panics
        /// On any refusal.
        pub async fn merchant(&self, name: &str, region: &str, industry: Industry) -> PartyRecord {
            let n = self.next();
            let uscc =
                crate::identity::uscc_with_check(&format!("91320100MA{:07}", n % 10_000_000))
                    .expect("uscc");
            self.run(RegisterMerchant {
                name: name.to_owned(),
                uscc,
                region: region.parse().expect("region"),
                industry,
                description: String::new(),
                licence: Some(Licence {
                    registered_name: name.to_owned(),
                    registered_address: "南京市玄武区中山路1号".into(),
                    legal_representative: "王某".into(),
                    valid_until: None,
                    status: "存续".into(),
                }),
            })
            .await
            .expect("register merchant")
        }

        /// # Panics
        /// On any refusal.
        pub async fn enroll(&self, scheme: &SchemeRecord, merchant: &PartyRecord) -> Enrollment {
            self.run(EnrollMerchant {
                scheme: scheme.id,
                merchant: merchant.id,
                settlement_account_number: format!("6222{:012}", self.next()),
            })
            .await
            .expect("enroll")
        }

        /// # Panics
        /// On any refusal.
        pub async fn payer(&self, name: &str) -> PartyRecord {
            let n = self.next();
            let birth = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default()
                + chrono::Days::new(u64::from(n % 20_000));
            let id = crate::identity::id_number_with_check(&format!(
                "320102{}{:03}",
                birth.format("%Y%m%d"),
                (n / 20_000) % 1000
            ))
            .expect("id number");
            self.run(RegisterPayer {
                name: name.to_owned(),
                id_number: Some(id),
                phone: Some(format!("138{:08}", n % 100_000_000)),
            })
            .await
            .expect("register payer")
        }

        /// # Panics
        /// On any refusal.
        pub async fn order(
            &self,
            scheme: &SchemeRecord,
            merchant: &PartyRecord,
            payer: &PartyRecord,
            total: &str,
        ) -> OrderRecord {
            self.run(OpenOrder {
                scheme: scheme.id,
                merchant: merchant.id,
                payer: payer.id,
                total: total.parse().expect("amount"),
                description: "test order".into(),
                order_no: None,
                split: None,
            })
            .await
            .expect("open order")
        }

        /// Collects `amount` for an order through WeChat Pay.
        ///
        /// # Panics
        /// On any refusal.
        pub async fn pay(&self, order: &OrderRecord, amount: &str) -> CollectOutcome {
            self.run(Collect {
                order: order.id,
                channel: Channel::WechatPay,
                amount: amount.parse::<Money>().expect("amount"),
                external_ref: format!("wx{}", self.next()),
                batch_ref: None,
            })
            .await
            .expect("collect")
        }

        /// Moves the clock by whole days and runs every job that is due.
        ///
        /// # Panics
        /// On database errors.
        pub async fn pass_days(&self, days: i64) -> crate::jobs::TickReport {
            self.clock.advance_days(days);
            self.tick().await
        }

        /// Runs every job that is due, until none is left.
        ///
        /// # Panics
        /// On database errors.
        pub async fn tick(&self) -> crate::jobs::TickReport {
            let mut total = crate::jobs::TickReport::default();
            loop {
                let r = crate::jobs::tick(&self.escrow).await.expect("tick");
                total.fired += r.fired;
                total.failed += r.failed;
                if r.fired == 0 {
                    return total;
                }
            }
        }
    }
}
