//! Partial refunds: the amount a refund asked for, when it is part of the unreleased money (a
//! canteen pupil's missed days) rather than all of it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Refund::Table)
                .add_column(big_integer_null(Refund::RequestedFen))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Refund::Table)
                .drop_column(Refund::RequestedFen)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Refund {
    Table,
    RequestedFen,
}
