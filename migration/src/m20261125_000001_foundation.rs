//! Parties, the account tree, journal entries and postings, holds, the event log and its head,
//! checkpoints and idempotency records.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Party::Table)
                .col(big_pk_auto(Party::Id))
                .col(string(Party::Kind))
                .col(string(Party::Name))
                .col(string_null(Party::Region))
                .col(string_null(Party::Industry))
                .col(string_null(Party::Uscc).unique_key())
                .col(string(Party::Status))
                .col(text_null(Party::IdNumberEnc))
                .col(string_null(Party::IdNumberHash))
                .col(text_null(Party::PhoneEnc))
                .col(string_null(Party::PhoneHash))
                .col(text(Party::Attributes))
                .col(big_integer(Party::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            Party::Table,
            "idx_party_kind_region",
            &[Party::Kind, Party::Region],
        )
        .await?;
        index(
            m,
            Party::Table,
            "idx_party_id_number_hash",
            &[Party::IdNumberHash],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Account::Table)
                .col(big_pk_auto(Account::Id))
                .col(string(Account::Number).unique_key())
                .col(string(Account::Name))
                .col(string(Account::Kind))
                .col(big_integer_null(Account::ParentId))
                .col(integer(Account::Level))
                .col(big_integer_null(Account::OwnerId))
                .col(big_integer_null(Account::SchemeId))
                .col(big_integer_null(Account::OrderId))
                .col(big_integer(Account::BalanceFen))
                .col(big_integer(Account::HeldFen))
                .col(boolean(Account::AllowNegative))
                .col(string(Account::Status))
                .col(big_integer(Account::CreatedAtUs))
                .foreign_key(&mut fk(
                    Account::Table,
                    Account::ParentId,
                    Account::Table,
                    Account::Id,
                ))
                .foreign_key(&mut fk(
                    Account::Table,
                    Account::OwnerId,
                    Party::Table,
                    Party::Id,
                ))
                // Defence in depth: the ledger checks these in the write, the database refuses too.
                .check(Expr::cust("allow_negative OR balance_fen >= held_fen"))
                .check(Expr::cust("held_fen >= 0"))
                .to_owned(),
        )
        .await?;
        index(
            m,
            Account::Table,
            "idx_account_parent",
            &[Account::ParentId],
        )
        .await?;
        index(m, Account::Table, "idx_account_owner", &[Account::OwnerId]).await?;
        index(m, Account::Table, "idx_account_order", &[Account::OrderId]).await?;

        m.create_table(
            Table::create()
                .table(JournalEntry::Table)
                .col(big_pk_auto(JournalEntry::Id))
                .col(big_integer(JournalEntry::LogSeq))
                .col(string(JournalEntry::Kind))
                .col(big_integer_null(JournalEntry::OrderId))
                .col(text(JournalEntry::Memo))
                .col(big_integer(JournalEntry::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        index(
            m,
            JournalEntry::Table,
            "idx_entry_order",
            &[JournalEntry::OrderId],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Posting::Table)
                .col(big_pk_auto(Posting::Id))
                .col(big_integer(Posting::EntryId))
                .col(big_integer(Posting::AccountId))
                .col(big_integer(Posting::AmountFen))
                .col(big_integer(Posting::BalanceAfterFen))
                .col(big_integer(Posting::CreatedAtUs))
                .foreign_key(&mut fk(
                    Posting::Table,
                    Posting::EntryId,
                    JournalEntry::Table,
                    JournalEntry::Id,
                ))
                .foreign_key(&mut fk(
                    Posting::Table,
                    Posting::AccountId,
                    Account::Table,
                    Account::Id,
                ))
                .check(Expr::cust("amount_fen <> 0"))
                .to_owned(),
        )
        .await?;
        index(m, Posting::Table, "idx_posting_entry", &[Posting::EntryId]).await?;
        index(
            m,
            Posting::Table,
            "idx_posting_account",
            &[Posting::AccountId, Posting::Id],
        )
        .await?;
        index(
            m,
            Posting::Table,
            "idx_posting_account_time",
            &[Posting::AccountId, Posting::CreatedAtUs],
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Hold::Table)
                .col(big_pk_auto(Hold::Id))
                .col(big_integer(Hold::AccountId))
                .col(string(Hold::Kind))
                .col(big_integer(Hold::AmountFen))
                .col(big_integer(Hold::RemainingFen))
                .col(string(Hold::Status))
                .col(string_null(Hold::CaseNo))
                .col(big_integer_null(Hold::CourtId))
                .col(integer(Hold::Priority))
                .col(big_integer_null(Hold::OrderId))
                .col(text(Hold::Reason))
                .col(big_integer_null(Hold::ExpiresAtUs))
                .col(big_integer(Hold::CreatedAtUs))
                .col(big_integer_null(Hold::ClosedAtUs))
                .foreign_key(&mut fk(
                    Hold::Table,
                    Hold::AccountId,
                    Account::Table,
                    Account::Id,
                ))
                .check(Expr::cust(
                    "remaining_fen >= 0 AND remaining_fen <= amount_fen",
                ))
                .to_owned(),
        )
        .await?;
        index(
            m,
            Hold::Table,
            "idx_hold_account",
            &[Hold::AccountId, Hold::Status],
        )
        .await?;
        index(m, Hold::Table, "idx_hold_order", &[Hold::OrderId]).await?;

        m.create_table(
            Table::create()
                .table(Event::Table)
                .col(big_integer(Event::Seq).primary_key())
                .col(string(Event::EventType))
                .col(big_integer(Event::AtUs))
                .col(big_integer_null(Event::OrderId))
                .col(big_integer_null(Event::MerchantId))
                .col(big_integer_null(Event::PayerId))
                .col(big_integer_null(Event::SchemeId))
                .col(text(Event::Data))
                .col(text(Event::Canonical))
                .col(string(Event::LeafHash))
                .col(string_null(Event::Salt))
                .to_owned(),
        )
        .await?;
        index(m, Event::Table, "idx_event_order", &[Event::OrderId]).await?;
        index(m, Event::Table, "idx_event_merchant", &[Event::MerchantId]).await?;
        index(m, Event::Table, "idx_event_leaf_hash", &[Event::LeafHash]).await?;

        m.create_table(
            Table::create()
                .table(LogHead::Table)
                .col(integer(LogHead::Id).primary_key())
                .col(big_integer(LogHead::Size))
                .col(big_integer(LogHead::LastAtUs))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table(LogHead::Table)
                .columns([LogHead::Id, LogHead::Size, LogHead::LastAtUs])
                .values_panic([1.into(), 0i64.into(), 0i64.into()])
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Checkpoint::Table)
                .col(big_integer(Checkpoint::Size).primary_key())
                .col(string(Checkpoint::Root))
                .col(text(Checkpoint::Note))
                .col(big_integer(Checkpoint::CreatedAtUs))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(IdempotencyRecord::Table)
                .col(big_pk_auto(IdempotencyRecord::Id))
                .col(string(IdempotencyRecord::Principal))
                .col(string(IdempotencyRecord::Key))
                .col(string(IdempotencyRecord::Command))
                .col(string(IdempotencyRecord::RequestHash))
                .col(text(IdempotencyRecord::Response))
                .col(big_integer(IdempotencyRecord::CreatedAtUs))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_idempotency_principal_key")
                .table(IdempotencyRecord::Table)
                .col(IdempotencyRecord::Principal)
                .col(IdempotencyRecord::Key)
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdempotencyRecord::Table.into_iden(),
            Checkpoint::Table.into_iden(),
            LogHead::Table.into_iden(),
            Event::Table.into_iden(),
            Hold::Table.into_iden(),
            Posting::Table.into_iden(),
            JournalEntry::Table.into_iden(),
            Account::Table.into_iden(),
            Party::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

pub(crate) async fn index<T: Iden + Copy + 'static, C: Iden + Copy + 'static>(
    m: &SchemaManager<'_>,
    table: T,
    name: &str,
    cols: &[C],
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(*col);
    }
    m.create_index(stmt.to_owned()).await
}

pub(crate) fn fk<T: Iden + 'static, C: Iden + 'static, U: Iden + 'static, D: Iden + 'static>(
    from_table: T,
    from_col: C,
    to_table: U,
    to_col: D,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(to_table, to_col)
        .to_owned()
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Party {
    Table,
    Id,
    Kind,
    Name,
    Region,
    Industry,
    Uscc,
    Status,
    IdNumberEnc,
    IdNumberHash,
    PhoneEnc,
    PhoneHash,
    Attributes,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Account {
    Table,
    Id,
    Number,
    Name,
    Kind,
    ParentId,
    Level,
    OwnerId,
    SchemeId,
    OrderId,
    BalanceFen,
    HeldFen,
    AllowNegative,
    Status,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum JournalEntry {
    Table,
    Id,
    LogSeq,
    Kind,
    OrderId,
    Memo,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Posting {
    Table,
    Id,
    EntryId,
    AccountId,
    AmountFen,
    BalanceAfterFen,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Hold {
    Table,
    Id,
    AccountId,
    Kind,
    AmountFen,
    RemainingFen,
    Status,
    CaseNo,
    CourtId,
    Priority,
    OrderId,
    Reason,
    ExpiresAtUs,
    CreatedAtUs,
    ClosedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Event {
    Table,
    Seq,
    EventType,
    AtUs,
    OrderId,
    MerchantId,
    PayerId,
    SchemeId,
    Data,
    Canonical,
    LeafHash,
    Salt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LogHead {
    Table,
    Id,
    Size,
    LastAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum Checkpoint {
    Table,
    Size,
    Root,
    Note,
    CreatedAtUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum IdempotencyRecord {
    Table,
    Id,
    Principal,
    Key,
    Command,
    RequestHash,
    Response,
    CreatedAtUs,
}
