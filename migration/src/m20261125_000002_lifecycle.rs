//! The escrow lifecycle: schemes and versioned policies, enrollments, orders and milestones,
//! confirmations, payments, refunds, payouts, the scheduler, reconciliation and alerts.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_foundation::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SystemAccount::Table)
                .col(string(SystemAccount::Code).primary_key())
                .col(big_integer(SystemAccount::AccountId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Scheme::Table)
                .col(big_pk_auto(Scheme::Id))
                .col(string(Scheme::Code).unique_key())
                .col(string(Scheme::Name))
                .col(string(Scheme::Industry))
                .col(string(Scheme::Region))
                .col(big_integer_null(Scheme::RegulatorId))
                .col(string(Scheme::Status))
                .col(integer(Scheme::CurrentVersion))
                .col(big_integer(Scheme::AccountId))
                .col(big_integer(Scheme::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            Scheme::Table,
            "idx_scheme_region_industry",
            &[Scheme::Region, Scheme::Industry],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SchemePolicy::Table)
                .col(big_pk_auto(SchemePolicy::Id))
                .col(big_integer(SchemePolicy::SchemeId))
                .col(integer(SchemePolicy::Version))
                .col(text(SchemePolicy::Policy))
                .col(big_integer(SchemePolicy::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_scheme_policy_version")
                .table(SchemePolicy::Table)
                .col(SchemePolicy::SchemeId)
                .col(SchemePolicy::Version)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Enrollment::Table)
                .col(big_pk_auto(Enrollment::Id))
                .col(big_integer(Enrollment::MerchantId))
                .col(big_integer(Enrollment::SchemeId))
                .col(big_integer(Enrollment::GroupAccountId))
                .col(big_integer(Enrollment::PayableAccountId))
                .col(big_integer(Enrollment::SettlementAccountId))
                .col(string(Enrollment::Status))
                .col(big_integer(Enrollment::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_enrollment")
                .table(Enrollment::Table)
                .col(Enrollment::MerchantId)
                .col(Enrollment::SchemeId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(EscrowOrder::Table)
                .col(big_pk_auto(EscrowOrder::Id))
                .col(string(EscrowOrder::OrderNo).unique_key())
                .col(big_integer(EscrowOrder::SchemeId))
                .col(integer(EscrowOrder::PolicyVersion))
                .col(big_integer(EscrowOrder::MerchantId))
                .col(big_integer(EscrowOrder::PayerId))
                .col(string(EscrowOrder::Region))
                .col(string(EscrowOrder::Industry))
                .col(big_integer(EscrowOrder::TotalFen))
                .col(big_integer(EscrowOrder::CollectedFen))
                .col(big_integer(EscrowOrder::SettledFen))
                .col(big_integer(EscrowOrder::ReleasedFen))
                .col(big_integer(EscrowOrder::RefundedFen))
                .col(big_integer(EscrowOrder::DeductedFen))
                .col(string(EscrowOrder::Status))
                .col(big_integer(EscrowOrder::EscrowAccountId))
                .col(text(EscrowOrder::Description))
                .col(big_integer(EscrowOrder::OpenedAtUs))
                .col(big_integer_null(EscrowOrder::ExpiresAtUs))
                .col(big_integer_null(EscrowOrder::ClosedAtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            EscrowOrder::Table,
            "idx_order_merchant",
            &[EscrowOrder::MerchantId, EscrowOrder::Id],
        )
        .await?;
        index(
            m,
            EscrowOrder::Table,
            "idx_order_payer",
            &[EscrowOrder::PayerId, EscrowOrder::Id],
        )
        .await?;
        index(
            m,
            EscrowOrder::Table,
            "idx_order_scheme",
            &[EscrowOrder::SchemeId, EscrowOrder::Id],
        )
        .await?;
        index(
            m,
            EscrowOrder::Table,
            "idx_order_region_industry",
            &[EscrowOrder::Region, EscrowOrder::Industry],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Milestone::Table)
                .col(big_pk_auto(Milestone::Id))
                .col(big_integer(Milestone::OrderId))
                .col(integer(Milestone::Idx))
                .col(string(Milestone::Name))
                .col(integer(Milestone::ShareBp))
                .col(big_integer(Milestone::AmountFen))
                .col(string(Milestone::Status))
                .col(big_integer_null(Milestone::DueAtUs))
                .col(big_integer_null(Milestone::ConfirmedAtUs))
                .col(big_integer_null(Milestone::ReleasedEntryId))
                .col(big_integer_null(Milestone::ReleasedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_milestone_order_idx")
                .table(Milestone::Table)
                .col(Milestone::OrderId)
                .col(Milestone::Idx)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Confirmation::Table)
                .col(big_pk_auto(Confirmation::Id))
                .col(big_integer(Confirmation::MilestoneId))
                .col(string(Confirmation::Confirmer))
                .col(big_integer_null(Confirmation::PartyId))
                .col(text(Confirmation::Evidence))
                .col(boolean(Confirmation::Approved))
                .col(big_integer(Confirmation::AtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            Confirmation::Table,
            "idx_confirmation_milestone",
            &[Confirmation::MilestoneId],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Payment::Table)
                .col(big_pk_auto(Payment::Id))
                .col(big_integer(Payment::OrderId))
                .col(string(Payment::Channel))
                .col(string(Payment::ExternalRef))
                .col(string_null(Payment::BatchRef))
                .col(big_integer(Payment::AmountFen))
                .col(big_integer(Payment::RefundedFen))
                .col(big_integer(Payment::PaidAtUs))
                .col(string(Payment::SettleDate))
                .col(string(Payment::Status))
                .col(big_integer(Payment::CollectEntryId))
                .col(big_integer_null(Payment::SettleEntryId))
                .col(big_integer_null(Payment::StatementLineId))
                .to_owned(),
        )
        .await?;
        index(m, Payment::Table, "idx_payment_order", &[Payment::OrderId]).await?;
        index(
            m,
            Payment::Table,
            "idx_payment_settle",
            &[Payment::Status, Payment::SettleDate],
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_payment_channel_ref")
                .table(Payment::Table)
                .col(Payment::Channel)
                .col(Payment::ExternalRef)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Refund::Table)
                .col(big_pk_auto(Refund::Id))
                .col(big_integer(Refund::OrderId))
                .col(string(Refund::RequestedBy))
                .col(text(Refund::Reason))
                .col(string(Refund::Status))
                .col(big_integer(Refund::DeductionFen))
                .col(boolean(Refund::DeductionApproved))
                .col(big_integer(Refund::AmountFen))
                .col(big_integer(Refund::RequestedAtUs))
                .col(big_integer(Refund::DueAtUs))
                .col(big_integer_null(Refund::ExecutedAtUs))
                .col(big_integer_null(Refund::EntryId))
                .to_owned(),
        )
        .await?;
        index(m, Refund::Table, "idx_refund_order", &[Refund::OrderId]).await?;
        index(
            m,
            Refund::Table,
            "idx_refund_status",
            &[Refund::Status, Refund::DueAtUs],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Payout::Table)
                .col(big_pk_auto(Payout::Id))
                .col(string_null(Payout::BatchRef))
                .col(big_integer(Payout::SourceAccountId))
                .col(big_integer_null(Payout::MerchantId))
                .col(string(Payout::RecipientName))
                .col(string(Payout::RecipientAccountMasked))
                .col(text(Payout::RecipientAccountEnc))
                .col(big_integer(Payout::AmountFen))
                .col(string(Payout::Status))
                .col(big_integer(Payout::EntryId))
                .col(big_integer(Payout::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            Payout::Table,
            "idx_payout_merchant",
            &[Payout::MerchantId],
        )
        .await?;
        index(m, Payout::Table, "idx_payout_batch", &[Payout::BatchRef]).await?;
        m.create_table(
            Table::create()
                .table(ScheduledJob::Table)
                .col(big_pk_auto(ScheduledJob::Id))
                .col(string(ScheduledJob::Kind))
                .col(string(ScheduledJob::DedupeKey).unique_key())
                .col(big_integer(ScheduledJob::TargetId))
                .col(big_integer(ScheduledJob::DueAtUs))
                .col(string(ScheduledJob::Status))
                .col(integer(ScheduledJob::Attempts))
                .col(text(ScheduledJob::LastError))
                .col(big_integer_null(ScheduledJob::FiredAtUs))
                .col(big_integer(ScheduledJob::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            ScheduledJob::Table,
            "idx_job_due",
            &[ScheduledJob::Status, ScheduledJob::DueAtUs],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Statement::Table)
                .col(big_pk_auto(Statement::Id))
                .col(string(Statement::Channel))
                .col(string(Statement::StatementDate))
                .col(string(Statement::ContentHash).unique_key())
                .col(integer(Statement::Lines))
                .col(integer(Statement::Breaks))
                .col(big_integer(Statement::ImportedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StatementLine::Table)
                .col(big_pk_auto(StatementLine::Id))
                .col(big_integer(StatementLine::StatementId))
                .col(integer(StatementLine::LineNo))
                .col(string(StatementLine::ExternalRef))
                .col(big_integer(StatementLine::AmountFen))
                .col(string(StatementLine::MatchStatus))
                .col(text(StatementLine::Detail))
                .to_owned(),
        )
        .await?;
        index(
            m,
            StatementLine::Table,
            "idx_statement_line",
            &[StatementLine::StatementId],
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Alert::Table)
                .col(big_pk_auto(Alert::Id))
                .col(string(Alert::Kind))
                .col(string(Alert::Severity))
                .col(string(Alert::Status))
                .col(big_integer_null(Alert::MerchantId))
                .col(big_integer_null(Alert::SchemeId))
                .col(big_integer_null(Alert::OrderId))
                .col(string_null(Alert::Region))
                .col(string_null(Alert::Industry))
                .col(text(Alert::Message))
                .col(text(Alert::Details))
                .col(string_null(Alert::DedupeKey).unique_key())
                .col(big_integer(Alert::CreatedAtUs))
                .col(string_null(Alert::AcknowledgedBy))
                .col(big_integer_null(Alert::AcknowledgedAtUs))
                .col(string_null(Alert::ResolvedBy))
                .col(big_integer_null(Alert::ResolvedAtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            Alert::Table,
            "idx_alert_status",
            &[Alert::Status, Alert::Id],
        )
        .await?;
        index(m, Alert::Table, "idx_alert_merchant", &[Alert::MerchantId]).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Alert::Table.into_iden(),
            StatementLine::Table.into_iden(),
            Statement::Table.into_iden(),
            ScheduledJob::Table.into_iden(),
            Payout::Table.into_iden(),
            Refund::Table.into_iden(),
            Payment::Table.into_iden(),
            Confirmation::Table.into_iden(),
            Milestone::Table.into_iden(),
            EscrowOrder::Table.into_iden(),
            Enrollment::Table.into_iden(),
            SchemePolicy::Table.into_iden(),
            Scheme::Table.into_iden(),
            SystemAccount::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SystemAccount {
    Table,
    Code,
    AccountId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Scheme {
    Table,
    Id,
    Code,
    Name,
    Industry,
    Region,
    RegulatorId,
    Status,
    CurrentVersion,
    AccountId,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum SchemePolicy {
    Table,
    Id,
    SchemeId,
    Version,
    Policy,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Enrollment {
    Table,
    Id,
    MerchantId,
    SchemeId,
    GroupAccountId,
    PayableAccountId,
    SettlementAccountId,
    Status,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum EscrowOrder {
    Table,
    Id,
    OrderNo,
    SchemeId,
    PolicyVersion,
    MerchantId,
    PayerId,
    Region,
    Industry,
    TotalFen,
    CollectedFen,
    SettledFen,
    ReleasedFen,
    RefundedFen,
    DeductedFen,
    Status,
    EscrowAccountId,
    Description,
    OpenedAtUs,
    ExpiresAtUs,
    ClosedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Milestone {
    Table,
    Id,
    OrderId,
    Idx,
    Name,
    ShareBp,
    AmountFen,
    Status,
    DueAtUs,
    ConfirmedAtUs,
    ReleasedEntryId,
    ReleasedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Confirmation {
    Table,
    Id,
    MilestoneId,
    Confirmer,
    PartyId,
    Evidence,
    Approved,
    AtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Payment {
    Table,
    Id,
    OrderId,
    Channel,
    ExternalRef,
    BatchRef,
    AmountFen,
    RefundedFen,
    PaidAtUs,
    SettleDate,
    Status,
    CollectEntryId,
    SettleEntryId,
    StatementLineId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Refund {
    Table,
    Id,
    OrderId,
    RequestedBy,
    Reason,
    Status,
    DeductionFen,
    DeductionApproved,
    AmountFen,
    RequestedAtUs,
    DueAtUs,
    ExecutedAtUs,
    EntryId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Payout {
    Table,
    Id,
    BatchRef,
    SourceAccountId,
    MerchantId,
    RecipientName,
    RecipientAccountMasked,
    RecipientAccountEnc,
    AmountFen,
    Status,
    EntryId,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum ScheduledJob {
    Table,
    Id,
    Kind,
    DedupeKey,
    TargetId,
    DueAtUs,
    Status,
    Attempts,
    LastError,
    FiredAtUs,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Statement {
    Table,
    Id,
    Channel,
    StatementDate,
    ContentHash,
    Lines,
    Breaks,
    ImportedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum StatementLine {
    Table,
    Id,
    StatementId,
    LineNo,
    ExternalRef,
    AmountFen,
    MatchStatus,
    Detail,
}

#[derive(DeriveIden, Clone, Copy)]
enum Alert {
    Table,
    Id,
    Kind,
    Severity,
    Status,
    MerchantId,
    SchemeId,
    OrderId,
    Region,
    Industry,
    Message,
    Details,
    DedupeKey,
    CreatedAtUs,
    AcknowledgedBy,
    AcknowledgedAtUs,
    ResolvedBy,
    ResolvedAtUs,
}
