//! School canteens (阳光食堂): the school each canteen serves, and purchase payments to
//! suppliers that the school and the education bureau approve.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_foundation::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CanteenSchool::Table)
                .col(big_pk_auto(CanteenSchool::Id))
                .col(big_integer(CanteenSchool::EnrollmentId).unique_key())
                .col(big_integer(CanteenSchool::MerchantId))
                .col(big_integer(CanteenSchool::SchemeId))
                .col(big_integer(CanteenSchool::SchoolId))
                .col(big_integer(CanteenSchool::AssignedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PurchasePayment::Table)
                .col(big_pk_auto(PurchasePayment::Id))
                .col(big_integer(PurchasePayment::MerchantId))
                .col(big_integer(PurchasePayment::SchemeId))
                .col(string(PurchasePayment::Region))
                .col(string(PurchasePayment::Industry))
                .col(big_integer_null(PurchasePayment::SchoolId))
                .col(string(PurchasePayment::SupplierName))
                .col(string(PurchasePayment::SupplierAccount))
                .col(big_integer(PurchasePayment::AmountFen))
                .col(string(PurchasePayment::InvoiceRef))
                .col(string(PurchasePayment::Status))
                .col(boolean(PurchasePayment::NeedsSchool))
                .col(boolean(PurchasePayment::NeedsBureau))
                .col(boolean_null(PurchasePayment::SchoolApproved))
                .col(string_null(PurchasePayment::SchoolDecidedBy))
                .col(big_integer_null(PurchasePayment::SchoolDecidedAtUs))
                .col(boolean_null(PurchasePayment::BureauApproved))
                .col(string_null(PurchasePayment::BureauDecidedBy))
                .col(big_integer_null(PurchasePayment::BureauDecidedAtUs))
                .col(text(PurchasePayment::Note))
                .col(string(PurchasePayment::RequestedBy))
                .col(big_integer(PurchasePayment::RequestedAtUs))
                .col(big_integer_null(PurchasePayment::ClosedAtUs))
                .col(big_integer_null(PurchasePayment::EntryId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_purchase_invoice")
                .table(PurchasePayment::Table)
                .col(PurchasePayment::MerchantId)
                .col(PurchasePayment::InvoiceRef)
                .unique()
                .to_owned(),
        )
        .await?;
        index(
            m,
            PurchasePayment::Table,
            "idx_purchase_scheme_status",
            &[PurchasePayment::SchemeId, PurchasePayment::Status],
        )
        .await?;
        index(
            m,
            PurchasePayment::Table,
            "idx_purchase_school",
            &[PurchasePayment::SchoolId],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PurchasePayment::Table.into_iden(),
            CanteenSchool::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum CanteenSchool {
    Table,
    Id,
    EnrollmentId,
    MerchantId,
    SchemeId,
    SchoolId,
    AssignedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum PurchasePayment {
    Table,
    Id,
    MerchantId,
    SchemeId,
    Region,
    Industry,
    SchoolId,
    SupplierName,
    SupplierAccount,
    AmountFen,
    InvoiceRef,
    Status,
    NeedsSchool,
    NeedsBureau,
    SchoolApproved,
    SchoolDecidedBy,
    SchoolDecidedAtUs,
    BureauApproved,
    BureauDecidedBy,
    BureauDecidedAtUs,
    Note,
    RequestedBy,
    RequestedAtUs,
    ClosedAtUs,
    EntryId,
}
