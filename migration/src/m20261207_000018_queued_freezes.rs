//! Queued freezes (轮候冻结): the part of a court's freeze that the account cannot hold yet,
//! because earlier freezes come first or the money is not there. It is frozen, in order, as
//! money arrives. Kept on the hold and, summed, on the account, so that a credit to an account
//! with nothing queued costs nothing more.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Hold::Table)
                .add_column(big_integer(Hold::WaitingFen).default(0))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Account::Table)
                .add_column(big_integer(Account::WaitingFen).default(0))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Account::Table)
                .drop_column(Account::WaitingFen)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Hold::Table)
                .drop_column(Hold::WaitingFen)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Hold {
    Table,
    WaitingFen,
}

#[derive(DeriveIden, Clone, Copy)]
enum Account {
    Table,
    WaitingFen,
}
