//! Schema migrations for Lvyue. The same code creates the schema on SQLite and PostgreSQL; run
//! at server start and by `lvyue migrate`.
//!
//! Migrations are append-only once released: a change to the schema is a new migration.

// Column enums name their columns after the table (`Event::EventType`): that is the schema.
#![allow(clippy::enum_variant_names)]

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_foundation;
mod m20261125_000002_lifecycle;
mod m20261125_000003_risk;
mod m20261125_000004_vouchers;
mod m20261125_000005_deposits;
mod m20261125_000006_canteen;
mod m20261125_000007_prepaid_cards;
mod m20261125_000008_medical;
mod m20261125_000009_payroll;
mod m20261126_000010_alert_paging;
mod m20261207_000011_holiday_calendar;
mod m20261207_000012_order_split_terms;
mod m20261207_000013_confirmers;
mod m20261207_000014_partial_refunds;
mod m20261207_000015_event_openings;
mod m20261207_000016_payer_acceptance;
mod m20261207_000017_cosignatures;
mod m20261207_000018_queued_freezes;

/// Every migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_foundation::Migration),
            Box::new(m20261125_000002_lifecycle::Migration),
            Box::new(m20261125_000003_risk::Migration),
            Box::new(m20261125_000004_vouchers::Migration),
            Box::new(m20261125_000005_deposits::Migration),
            Box::new(m20261125_000006_canteen::Migration),
            Box::new(m20261125_000007_prepaid_cards::Migration),
            Box::new(m20261125_000008_medical::Migration),
            Box::new(m20261125_000009_payroll::Migration),
            Box::new(m20261126_000010_alert_paging::Migration),
            Box::new(m20261207_000011_holiday_calendar::Migration),
            Box::new(m20261207_000012_order_split_terms::Migration),
            Box::new(m20261207_000013_confirmers::Migration),
            Box::new(m20261207_000014_partial_refunds::Migration),
            Box::new(m20261207_000015_event_openings::Migration),
            Box::new(m20261207_000016_payer_acceptance::Migration),
            Box::new(m20261207_000017_cosignatures::Migration),
            Box::new(m20261207_000018_queued_freezes::Migration),
        ]
    }
}
