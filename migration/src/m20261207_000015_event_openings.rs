//! Sealed events: an access record's contents, its order and its merchant appear in the leaf
//! only as salted commitments; the clear contents (the opening) are kept beside the leaf for
//! the readers allowed to see them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Event::Table)
                .add_column(text_null(Event::Opening))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Event::Table)
                .drop_column(Event::Opening)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Event {
    Table,
    Opening,
}
