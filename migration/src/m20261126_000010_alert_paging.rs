//! Paging on-call from more than one node: an alert carries a short lease taken by the node
//! that pages for it, so two nodes never text or call for the same alert at once.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alert::Table)
                .add_column(big_integer_null(Alert::PageLeaseUntilUs))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alert::Table)
                .drop_column(Alert::PageLeaseUntilUs)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Alert {
    Table,
    PageLeaseUntilUs,
}
