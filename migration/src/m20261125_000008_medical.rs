//! Medical insurance (医保): patient payments split into institutions' registers, and the
//! bank's advances of the insurer's share.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_foundation::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MedicalReceipt::Table)
                .col(big_pk_auto(MedicalReceipt::Id))
                .col(big_integer(MedicalReceipt::SchemeId))
                .col(string(MedicalReceipt::Channel))
                .col(string(MedicalReceipt::ExternalRef))
                .col(big_integer_null(MedicalReceipt::PayerId))
                .col(big_integer(MedicalReceipt::TotalFen))
                .col(big_integer(MedicalReceipt::CollectEntryId))
                .col(big_integer(MedicalReceipt::SplitEntryId))
                .col(big_integer(MedicalReceipt::ReceivedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_medical_receipt_ref")
                .table(MedicalReceipt::Table)
                .col(MedicalReceipt::Channel)
                .col(MedicalReceipt::ExternalRef)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MedicalReceiptLine::Table)
                .col(big_pk_auto(MedicalReceiptLine::Id))
                .col(big_integer(MedicalReceiptLine::ReceiptId))
                .col(big_integer(MedicalReceiptLine::MerchantId))
                .col(string(MedicalReceiptLine::Region))
                .col(string(MedicalReceiptLine::Industry))
                .col(big_integer(MedicalReceiptLine::AmountFen))
                .col(big_integer(MedicalReceiptLine::RefundedFen))
                .to_owned(),
        )
        .await?;
        index(
            m,
            MedicalReceiptLine::Table,
            "idx_medical_line_receipt",
            &[MedicalReceiptLine::ReceiptId],
        )
        .await?;
        index(
            m,
            MedicalReceiptLine::Table,
            "idx_medical_line_merchant",
            &[MedicalReceiptLine::MerchantId],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MedicalAdvance::Table)
                .col(big_pk_auto(MedicalAdvance::Id))
                .col(string(MedicalAdvance::ClaimRef).unique_key())
                .col(big_integer(MedicalAdvance::MerchantId))
                .col(big_integer(MedicalAdvance::SchemeId))
                .col(string(MedicalAdvance::Region))
                .col(string(MedicalAdvance::Industry))
                .col(big_integer(MedicalAdvance::AmountFen))
                .col(big_integer(MedicalAdvance::RepaidFen))
                .col(string(MedicalAdvance::Status))
                .col(big_integer(MedicalAdvance::EntryId))
                .col(big_integer(MedicalAdvance::AdvancedAtUs))
                .col(big_integer_null(MedicalAdvance::RepaidAtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            MedicalAdvance::Table,
            "idx_medical_advance_merchant",
            &[MedicalAdvance::MerchantId, MedicalAdvance::Status],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MedicalAdvance::Table.into_iden(),
            MedicalReceiptLine::Table.into_iden(),
            MedicalReceipt::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum MedicalReceipt {
    Table,
    Id,
    SchemeId,
    Channel,
    ExternalRef,
    PayerId,
    TotalFen,
    CollectEntryId,
    SplitEntryId,
    ReceivedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum MedicalReceiptLine {
    Table,
    Id,
    ReceiptId,
    MerchantId,
    Region,
    Industry,
    AmountFen,
    RefundedFen,
}

#[derive(DeriveIden, Clone, Copy)]
enum MedicalAdvance {
    Table,
    Id,
    ClaimRef,
    MerchantId,
    SchemeId,
    Region,
    Industry,
    AmountFen,
    RepaidFen,
    Status,
    EntryId,
    AdvancedAtUs,
    RepaidAtUs,
}
