//! Witness cosignatures on checkpoints: one signature line per checkpoint size and witness,
//! added to the checkpoint note wherever it is served (`/checkpoint`, evidence bundles).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CheckpointCosignature::Table)
                .col(big_integer(CheckpointCosignature::Size))
                .col(string(CheckpointCosignature::Witness))
                .col(text(CheckpointCosignature::Line))
                .col(big_integer(CheckpointCosignature::CosignedAt))
                .col(big_integer(CheckpointCosignature::ReceivedAtUs))
                .primary_key(
                    Index::create()
                        .col(CheckpointCosignature::Size)
                        .col(CheckpointCosignature::Witness),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(CheckpointCosignature::Table, CheckpointCosignature::Size)
                        .to(Checkpoint::Table, Checkpoint::Size),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CheckpointCosignature::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum CheckpointCosignature {
    Table,
    Size,
    /// The witness's `<name>+<key ID>`.
    Witness,
    /// The signature line, with its newline.
    Line,
    /// The witness's timestamp (POSIX seconds).
    CosignedAt,
    ReceivedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Checkpoint {
    Table,
    Size,
}
