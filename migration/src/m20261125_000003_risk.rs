//! Risk and compliance: imported blocking lists, risk scores, webhook endpoints and deliveries,
//! the notifier log, report records, and housing vouchers.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_foundation::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ListImport::Table)
                .col(big_pk_auto(ListImport::Id))
                .col(string(ListImport::Kind))
                .col(string(ListImport::ContentHash).unique_key())
                .col(integer(ListImport::Rows))
                .col(string(ListImport::ImportedBy))
                .col(big_integer(ListImport::ImportedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ListEntry::Table)
                .col(big_pk_auto(ListEntry::Id))
                .col(string(ListEntry::Kind))
                .col(string(ListEntry::Uscc))
                .col(string(ListEntry::Name))
                .col(text(ListEntry::Reason))
                .col(string(ListEntry::ListedOn))
                .col(big_integer(ListEntry::ImportId))
                .col(boolean(ListEntry::Active))
                .to_owned(),
        )
        .await?;
        index(
            m,
            ListEntry::Table,
            "idx_list_entry_uscc",
            &[ListEntry::Uscc, ListEntry::Kind],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RiskScore::Table)
                .col(big_pk_auto(RiskScore::Id))
                .col(big_integer(RiskScore::MerchantId))
                .col(integer(RiskScore::Score))
                .col(string(RiskScore::Grade))
                .col(text(RiskScore::Reasons))
                .col(text(RiskScore::Inputs))
                .col(big_integer(RiskScore::ComputedAtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            RiskScore::Table,
            "idx_risk_merchant",
            &[RiskScore::MerchantId, RiskScore::Id],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookEndpoint::Table)
                .col(big_pk_auto(WebhookEndpoint::Id))
                .col(string(WebhookEndpoint::Url))
                .col(text(WebhookEndpoint::Secret))
                .col(string(WebhookEndpoint::Description))
                .col(boolean(WebhookEndpoint::Active))
                .col(big_integer(WebhookEndpoint::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookDelivery::Table)
                .col(big_pk_auto(WebhookDelivery::Id))
                .col(big_integer(WebhookDelivery::EndpointId))
                .col(big_integer(WebhookDelivery::AlertId))
                .col(text(WebhookDelivery::Payload))
                .col(string(WebhookDelivery::Status))
                .col(integer(WebhookDelivery::Attempts))
                .col(big_integer(WebhookDelivery::NextAttemptAtUs))
                .col(integer_null(WebhookDelivery::LastStatusCode))
                .col(text(WebhookDelivery::LastError))
                .col(big_integer(WebhookDelivery::CreatedAtUs))
                .col(big_integer_null(WebhookDelivery::DeliveredAtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            WebhookDelivery::Table,
            "idx_delivery_due",
            &[WebhookDelivery::Status, WebhookDelivery::NextAttemptAtUs],
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_delivery")
                .table(WebhookDelivery::Table)
                .col(WebhookDelivery::EndpointId)
                .col(WebhookDelivery::AlertId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Notification::Table)
                .col(big_pk_auto(Notification::Id))
                .col(string(Notification::Channel))
                .col(string(Notification::Recipient))
                .col(text(Notification::Message))
                .col(big_integer_null(Notification::AlertId))
                .col(big_integer(Notification::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ReportRun::Table)
                .col(big_pk_auto(ReportRun::Id))
                .col(string(ReportRun::Kind))
                .col(string(ReportRun::Principal))
                .col(text(ReportRun::Params))
                .col(big_integer(ReportRun::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Voucher::Table)
                .col(big_pk_auto(Voucher::Id))
                .col(string(Voucher::Number).unique_key())
                .col(big_integer(Voucher::ProjectAccountId))
                .col(big_integer(Voucher::AccountId))
                .col(big_integer(Voucher::SchemeId))
                .col(big_integer(Voucher::HolderId))
                .col(big_integer(Voucher::FaceFen))
                .col(string(Voucher::Status))
                .col(boolean(Voucher::Transferable))
                .col(big_integer_null(Voucher::ParentId))
                .col(big_integer(Voucher::IssuedAtUs))
                .col(big_integer(Voucher::ExpiresAtUs))
                .col(big_integer_null(Voucher::HoldId))
                .to_owned(),
        )
        .await?;
        index(
            m,
            Voucher::Table,
            "idx_voucher_holder",
            &[Voucher::HolderId],
        )
        .await?;
        index(
            m,
            Voucher::Table,
            "idx_voucher_project",
            &[Voucher::ProjectAccountId],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Voucher::Table.into_iden(),
            ReportRun::Table.into_iden(),
            Notification::Table.into_iden(),
            WebhookDelivery::Table.into_iden(),
            WebhookEndpoint::Table.into_iden(),
            RiskScore::Table.into_iden(),
            ListEntry::Table.into_iden(),
            ListImport::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ListImport {
    Table,
    Id,
    Kind,
    ContentHash,
    Rows,
    ImportedBy,
    ImportedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum ListEntry {
    Table,
    Id,
    Kind,
    Uscc,
    Name,
    Reason,
    ListedOn,
    ImportId,
    Active,
}

#[derive(DeriveIden, Clone, Copy)]
enum RiskScore {
    Table,
    Id,
    MerchantId,
    Score,
    Grade,
    Reasons,
    Inputs,
    ComputedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEndpoint {
    Table,
    Id,
    Url,
    Secret,
    Description,
    Active,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookDelivery {
    Table,
    Id,
    EndpointId,
    AlertId,
    Payload,
    Status,
    Attempts,
    NextAttemptAtUs,
    LastStatusCode,
    LastError,
    CreatedAtUs,
    DeliveredAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Notification {
    Table,
    Id,
    Channel,
    Recipient,
    Message,
    AlertId,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum ReportRun {
    Table,
    Id,
    Kind,
    Principal,
    Params,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Voucher {
    Table,
    Id,
    Number,
    ProjectAccountId,
    AccountId,
    SchemeId,
    HolderId,
    FaceFen,
    Status,
    Transferable,
    ParentId,
    IssuedAtUs,
    ExpiresAtUs,
    HoldId,
}
