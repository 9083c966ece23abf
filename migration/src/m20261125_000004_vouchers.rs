//! Housing vouchers (房票): the projects whose sub-accounts hold the bureau's money, the
//! redemptions of vouchers against home purchases, and the policy version each voucher was
//! issued under (its reward and cash-out terms never change under its holder).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_foundation::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(VoucherProject::Table)
                .col(big_pk_auto(VoucherProject::Id))
                .col(big_integer(VoucherProject::AccountId).unique_key())
                .col(big_integer(VoucherProject::SchemeId))
                .col(string(VoucherProject::Name))
                .col(big_integer_null(VoucherProject::DeveloperId))
                .col(big_integer(VoucherProject::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            VoucherProject::Table,
            "idx_voucher_project_scheme",
            &[VoucherProject::SchemeId],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(VoucherRedemption::Table)
                .col(big_pk_auto(VoucherRedemption::Id))
                .col(big_integer(VoucherRedemption::VoucherId))
                .col(big_integer(VoucherRedemption::OrderId).unique_key())
                .col(big_integer(VoucherRedemption::DeveloperId))
                .col(big_integer(VoucherRedemption::AmountFen))
                .col(integer(VoucherRedemption::RewardBp))
                .col(big_integer(VoucherRedemption::RewardFen))
                .col(string(VoucherRedemption::ContractRef))
                .col(big_integer(VoucherRedemption::RefundedFen))
                .col(big_integer(VoucherRedemption::RedeemedAtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            VoucherRedemption::Table,
            "idx_voucher_redemption_voucher",
            &[VoucherRedemption::VoucherId],
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Voucher::Table)
                .add_column(integer(Voucher::PolicyVersion).default(1))
                .to_owned(),
        )
        .await?;
        index(
            m,
            Voucher::Table,
            "idx_voucher_scheme_status",
            &[Voucher::SchemeId, Voucher::Status],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_voucher_scheme_status")
                .table(Voucher::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Voucher::Table)
                .drop_column(Voucher::PolicyVersion)
                .to_owned(),
        )
        .await?;
        for table in [
            VoucherRedemption::Table.into_iden(),
            VoucherProject::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum VoucherProject {
    Table,
    Id,
    AccountId,
    SchemeId,
    Name,
    DeveloperId,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum VoucherRedemption {
    Table,
    Id,
    VoucherId,
    OrderId,
    DeveloperId,
    AmountFen,
    RewardBp,
    RewardFen,
    ContractRef,
    RefundedFen,
    RedeemedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Voucher {
    Table,
    SchemeId,
    Status,
    PolicyVersion,
}
