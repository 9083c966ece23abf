//! Prepaid cards (预付卡): each use of a card, released from its escrow to the issuer.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CardUsage::Table)
                .col(big_pk_auto(CardUsage::Id))
                .col(big_integer(CardUsage::OrderId))
                .col(big_integer(CardUsage::AmountFen))
                .col(string(CardUsage::Reference))
                .col(string(CardUsage::RecordedBy))
                .col(big_integer(CardUsage::EntryId))
                .col(big_integer(CardUsage::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        // A use is recorded once: the same reference on the same card is a replay.
        m.create_index(
            Index::create()
                .name("uq_card_usage_reference")
                .table(CardUsage::Table)
                .col(CardUsage::OrderId)
                .col(CardUsage::Reference)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CardUsage::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum CardUsage {
    Table,
    Id,
    OrderId,
    AmountFen,
    Reference,
    RecordedBy,
    EntryId,
    CreatedAtUs,
}
