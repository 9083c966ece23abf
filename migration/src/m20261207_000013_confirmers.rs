//! Third-party confirmers: which schemes each registered confirmer (a training association, an
//! exam or timing system, a school, an inspection body) may certify milestones for.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_foundation::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ConfirmerScheme::Table)
                .col(big_integer(ConfirmerScheme::PartyId))
                .col(big_integer(ConfirmerScheme::SchemeId))
                .primary_key(
                    Index::create()
                        .col(ConfirmerScheme::PartyId)
                        .col(ConfirmerScheme::SchemeId),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            ConfirmerScheme::Table,
            "idx_confirmer_scheme_scheme",
            &[ConfirmerScheme::SchemeId],
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ConfirmerScheme::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ConfirmerScheme {
    Table,
    PartyId,
    SchemeId,
}
