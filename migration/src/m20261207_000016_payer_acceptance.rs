//! A payer's consent to an order: when the payer accepted it (opened at the bank's counter,
//! accepted with the payer's own token, or paid). A merchant sees the payer of its order only
//! once it is accepted. Orders opened before this migration are taken as accepted when opened.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(EscrowOrder::Table)
                .add_column(big_integer_null(EscrowOrder::PayerAcceptedAtUs))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::update()
                .table(EscrowOrder::Table)
                .value(
                    EscrowOrder::PayerAcceptedAtUs,
                    Expr::col(EscrowOrder::OpenedAtUs),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(EscrowOrder::Table)
                .drop_column(EscrowOrder::PayerAcceptedAtUs)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum EscrowOrder {
    Table,
    OpenedAtUs,
    PayerAcceptedAtUs,
}
