//! The holiday calendar as operational data: the years the bank has loaded (with the notice
//! each came from) and their listed days, seeded from the published years shipped in
//! `migration/data/holidays-cn.json`. Dates derived from working days in a year that is not
//! loaded are marked provisional on the payment or refund that carries them.

use sea_orm_migration::{prelude::*, schema::*};
use serde::Deserialize;

use crate::m20261125_000001_foundation::index;

/// The published years Lvyue ships with (State Council notices, in the holiday-cn format).
const SEED_JSON: &str = include_str!("../data/holidays-cn.json");

#[derive(Deserialize)]
struct SeedFile {
    years: Vec<SeedYear>,
}

#[derive(Deserialize)]
struct SeedYear {
    year: i32,
    papers: Vec<String>,
    days: Vec<SeedDay>,
}

#[derive(Deserialize)]
struct SeedDay {
    name: String,
    date: String,
    #[serde(rename = "isOffDay")]
    is_off_day: bool,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(HolidayYear::Table)
                .col(integer(HolidayYear::Year).primary_key())
                .col(text(HolidayYear::Source))
                .col(big_integer(HolidayYear::LoadedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(HolidayDay::Table)
                .col(string(HolidayDay::Date).primary_key())
                .col(integer(HolidayDay::Year))
                .col(string(HolidayDay::Name))
                .col(boolean(HolidayDay::IsOffDay))
                .to_owned(),
        )
        .await?;
        index(
            m,
            HolidayDay::Table,
            "idx_holiday_day_year",
            &[HolidayDay::Year],
        )
        .await?;
        // SQLite adds one column per ALTER TABLE.
        m.alter_table(
            Table::alter()
                .table(Payment::Table)
                .add_column(boolean(Payment::SettleProvisional).default(false))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Refund::Table)
                .add_column(boolean(Refund::DueProvisional).default(false))
                .to_owned(),
        )
        .await?;
        seed(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Refund::Table)
                .drop_column(Refund::DueProvisional)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Payment::Table)
                .drop_column(Payment::SettleProvisional)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(HolidayDay::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(HolidayYear::Table).to_owned())
            .await
    }
}

async fn seed(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let file: SeedFile = serde_json::from_str(SEED_JSON)
        .map_err(|e| DbErr::Migration(format!("holidays-cn.json: {e}")))?;
    for y in file.years {
        let source = y.papers.join("; ");
        m.exec_stmt(
            Query::insert()
                .into_table(HolidayYear::Table)
                .columns([
                    HolidayYear::Year,
                    HolidayYear::Source,
                    HolidayYear::LoadedAtUs,
                ])
                .values([y.year.into(), source.into(), 0i64.into()])
                .map_err(builder)?
                .to_owned(),
        )
        .await?;
        let mut insert = Query::insert()
            .into_table(HolidayDay::Table)
            .columns([
                HolidayDay::Date,
                HolidayDay::Year,
                HolidayDay::Name,
                HolidayDay::IsOffDay,
            ])
            .to_owned();
        for d in y.days {
            insert
                .values([
                    d.date.into(),
                    y.year.into(),
                    d.name.into(),
                    d.is_off_day.into(),
                ])
                .map_err(builder)?;
        }
        m.exec_stmt(insert).await?;
    }
    Ok(())
}

fn builder(e: sea_query::error::Error) -> DbErr {
    DbErr::Migration(format!("holiday calendar seed: {e}"))
}

#[derive(DeriveIden, Clone, Copy)]
enum HolidayYear {
    Table,
    Year,
    Source,
    LoadedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum HolidayDay {
    Table,
    Date,
    Year,
    Name,
    IsOffDay,
}

#[derive(DeriveIden, Clone, Copy)]
enum Payment {
    Table,
    SettleProvisional,
}

#[derive(DeriveIden, Clone, Copy)]
enum Refund {
    Table,
    DueProvisional,
}
