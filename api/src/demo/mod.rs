//! `lvyue serve --demo`: a realistic data set loaded into an empty database through the same
//! domain commands the bank uses (never by writing tables), then one ready token per role.
//!
//! The history is replayed on a clock of its own, from 2026-06-01 to 2026-11-20 (China time),
//! so the data set is the same whatever day it is loaded: merchants in Nanjing, Suzhou and Wuxi
//! across every industry, a regulator per industry, several hundred orders at every stage
//! (paid, settled, released in tranches, refunded, frozen by a court), vouchers and deposits,
//! alerts, a reconciliation with a break, a court with a case.

mod build;
mod industries;
mod names;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sea_orm::EntityTrait;

use lvyue_domain::Escrow;
use lvyue_domain::clock::{ManualClock, Timestamp};
use lvyue_domain::ids::PartyId;
use lvyue_domain::principal::{Industry, Jurisdiction, Principal, Role};

use crate::auth::Minter;
use crate::config::Config;

pub use build::DemoParties;

/// First day of the replayed history (China time).
pub const HISTORY_START: &str = "2026-06-01";
/// Days replayed: up to 2026-11-20.
pub const HISTORY_DAYS: i64 = 172;
/// Lifetime of the printed tokens.
pub const TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How much to load: the full data set for people, a small one for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Full,
    Small,
}

/// Loads the demo into the (empty) database of `escrow`'s connection.
///
/// Call it before the server's workers start: the replay fires its own jobs on its own clock,
/// and a scheduler on today's clock would find them all due and fire them out of turn.
///
/// # Errors
/// The database is not empty (the demo refuses to mix with real data), or a command failed.
pub async fn load(
    db: &sea_orm::DatabaseConnection,
    config: &Config,
    size: Size,
) -> anyhow::Result<DemoParties> {
    let head = lvyue_entity::log_head::Entity::find_by_id(1)
        .one(db)
        .await
        .context("reading the log head")?;
    if head.is_some_and(|h| h.size > 0) {
        bail!(
            "the database is not empty: --demo loads only into a new database (use another LVYUE_DATA_DIR, with a new LVYUE_DATABASE_URL when it is not the SQLite default)"
        );
    }
    let start = Timestamp::china_midnight(HISTORY_START.parse().context("history start")?)
        .plus_seconds(9 * 3600);
    let clock = Arc::new(ManualClock::new(start));
    let escrow =
        Arc::new(Escrow::new(db.clone(), clock.clone(), crate::keys::pii_vault(config)?).await?);
    build::Builder::new(escrow, clock, size).run().await
}

/// The principal of each role the demo prints a token for, with its label.
///
/// # Errors
/// Only if a constant region prefix failed to parse.
pub fn principals(p: &DemoParties) -> anyhow::Result<Vec<(&'static str, Principal)>> {
    let principal = |role: Role, party: Option<PartyId>, j: Jurisdiction, who: &str| Principal {
        subject: format!("demo-{who}"),
        role,
        party_id: party,
        jurisdiction: j,
    };
    let regulator = Jurisdiction {
        regions: vec!["3201".parse()?],
        industries: vec![Industry::DrivingSchool],
    };
    Ok(vec![
        (
            "BANK (operations)",
            principal(Role::Bank, None, Jurisdiction::default(), "bank"),
        ),
        (
            "MERCHANT (a Nanjing driving school)",
            principal(
                Role::Merchant,
                Some(p.merchant),
                Jurisdiction::default(),
                "merchant",
            ),
        ),
        (
            "PAYER (one of its learners)",
            principal(Role::Payer, Some(p.payer), Jurisdiction::default(), "payer"),
        ),
        (
            "REGULATOR (南京市交通运输局: 3201, DRIVING_SCHOOL)",
            principal(Role::Regulator, Some(p.regulator), regulator, "regulator"),
        ),
        (
            "COURT (南京市玄武区人民法院)",
            principal(Role::Court, Some(p.court), Jurisdiction::default(), "court"),
        ),
        (
            "CONFIRMER (江苏省机动车驾驶员培训行业协会: certifies exam results)",
            principal(
                Role::Confirmer,
                Some(p.confirmer),
                Jurisdiction::default(),
                "confirmer",
            ),
        ),
    ])
}

/// One ready token per role, for the demo's own parties.
///
/// # Errors
/// The JWT key cannot be loaded.
pub fn tokens(config: &Config, p: &DemoParties) -> anyhow::Result<Vec<(String, String)>> {
    let minter = Minter::from_config(&config.jwt, &config.data_dir, None)?;
    principals(p)?
        .into_iter()
        .map(|(label, pr)| Ok((label.to_owned(), minter.mint(&pr, TOKEN_TTL)?)))
        .collect()
}
