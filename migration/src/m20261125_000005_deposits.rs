//! Supervised deposits (认筹金 for new homes, 保证金 for agricultural and rural-property trades):
//! the depositor's own account with its bound card, the inflows into it (daily caps count
//! them), and the freezes that name a beneficiary.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_foundation::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(DepositAccount::Table)
                .col(big_pk_auto(DepositAccount::Id))
                .col(big_integer(DepositAccount::AccountId).unique_key())
                .col(big_integer(DepositAccount::SchemeId))
                .col(big_integer(DepositAccount::OwnerId))
                .col(string(DepositAccount::Region))
                .col(string(DepositAccount::Industry))
                .col(string(DepositAccount::BoundCardIndex))
                .col(text(DepositAccount::BoundCardEnc))
                .col(string(DepositAccount::BoundCardMasked))
                .col(string(DepositAccount::Status))
                .col(big_integer(DepositAccount::OpenedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_deposit_account_owner_scheme")
                .table(DepositAccount::Table)
                .col(DepositAccount::OwnerId)
                .col(DepositAccount::SchemeId)
                .unique()
                .to_owned(),
        )
        .await?;
        index(
            m,
            DepositAccount::Table,
            "idx_deposit_account_region_industry",
            &[DepositAccount::Region, DepositAccount::Industry],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(DepositInflow::Table)
                .col(big_pk_auto(DepositInflow::Id))
                .col(big_integer(DepositInflow::DepositAccountId))
                .col(big_integer(DepositInflow::OwnerId))
                .col(big_integer(DepositInflow::AmountFen))
                .col(boolean(DepositInflow::Bound))
                .col(string(DepositInflow::SourceMasked))
                .col(string(DepositInflow::ExternalRef).unique_key())
                .col(big_integer(DepositInflow::EntryId))
                .col(string(DepositInflow::Day))
                .col(big_integer(DepositInflow::AtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            DepositInflow::Table,
            "idx_deposit_inflow_owner_day",
            &[DepositInflow::OwnerId, DepositInflow::Day],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(DepositFreeze::Table)
                .col(big_pk_auto(DepositFreeze::Id))
                .col(big_integer(DepositFreeze::HoldId).unique_key())
                .col(big_integer(DepositFreeze::DepositAccountId))
                .col(big_integer(DepositFreeze::AccountId))
                .col(big_integer(DepositFreeze::SchemeId))
                .col(integer(DepositFreeze::PolicyVersion))
                .col(big_integer(DepositFreeze::OwnerId))
                .col(big_integer(DepositFreeze::BeneficiaryId))
                .col(string(DepositFreeze::Region))
                .col(string(DepositFreeze::Industry))
                .col(big_integer(DepositFreeze::AmountFen))
                .col(string(DepositFreeze::Reference))
                .col(string(DepositFreeze::Status))
                .col(big_integer(DepositFreeze::FrozenAtUs))
                .col(big_integer_null(DepositFreeze::ClosedAtUs))
                .col(string_null(DepositFreeze::ClosingRef))
                .col(big_integer_null(DepositFreeze::EntryId))
                .to_owned(),
        )
        .await?;
        index(
            m,
            DepositFreeze::Table,
            "idx_deposit_freeze_beneficiary",
            &[DepositFreeze::BeneficiaryId],
        )
        .await?;
        index(
            m,
            DepositFreeze::Table,
            "idx_deposit_freeze_owner",
            &[DepositFreeze::OwnerId],
        )
        .await?;
        index(
            m,
            DepositFreeze::Table,
            "idx_deposit_freeze_region_industry",
            &[DepositFreeze::Region, DepositFreeze::Industry],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DepositFreeze::Table.into_iden(),
            DepositInflow::Table.into_iden(),
            DepositAccount::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum DepositAccount {
    Table,
    Id,
    AccountId,
    SchemeId,
    OwnerId,
    Region,
    Industry,
    BoundCardIndex,
    BoundCardEnc,
    BoundCardMasked,
    Status,
    OpenedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum DepositInflow {
    Table,
    Id,
    DepositAccountId,
    OwnerId,
    AmountFen,
    Bound,
    SourceMasked,
    ExternalRef,
    EntryId,
    Day,
    AtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum DepositFreeze {
    Table,
    Id,
    HoldId,
    DepositAccountId,
    AccountId,
    SchemeId,
    PolicyVersion,
    OwnerId,
    BeneficiaryId,
    Region,
    Industry,
    AmountFen,
    Reference,
    Status,
    FrozenAtUs,
    ClosedAtUs,
    ClosingRef,
    EntryId,
}
