//! A platform order's split terms (the commission and each sub-merchant's weight), fixed when
//! the order is opened: every release of the order is divided by them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(EscrowOrder::Table)
                .add_column(text_null(EscrowOrder::SplitTerms))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(EscrowOrder::Table)
                .drop_column(EscrowOrder::SplitTerms)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum EscrowOrder {
    Table,
    SplitTerms,
}
