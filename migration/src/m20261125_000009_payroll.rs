//! Flexible-employment payroll (灵活用工): enterprises' transfers into their payroll accounts.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_foundation::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(EnterpriseFunding::Table)
                .col(big_pk_auto(EnterpriseFunding::Id))
                .col(big_integer(EnterpriseFunding::MerchantId))
                .col(big_integer(EnterpriseFunding::SchemeId))
                .col(string(EnterpriseFunding::Channel))
                .col(string(EnterpriseFunding::ExternalRef))
                .col(big_integer(EnterpriseFunding::AmountFen))
                .col(big_integer(EnterpriseFunding::EntryId))
                .col(big_integer(EnterpriseFunding::FundedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_enterprise_funding_ref")
                .table(EnterpriseFunding::Table)
                .col(EnterpriseFunding::Channel)
                .col(EnterpriseFunding::ExternalRef)
                .unique()
                .to_owned(),
        )
        .await?;
        index(
            m,
            EnterpriseFunding::Table,
            "idx_enterprise_funding_merchant",
            &[EnterpriseFunding::MerchantId],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(EnterpriseFunding::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum EnterpriseFunding {
    Table,
    Id,
    MerchantId,
    SchemeId,
    Channel,
    ExternalRef,
    AmountFen,
    EntryId,
    FundedAtUs,
}
