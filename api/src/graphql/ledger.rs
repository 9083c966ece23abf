//! The ledger in the schema: accounts with balances, holds, journal entries, a merchant's
//! balances per scheme, and payouts.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use lvyue_domain::ids::{AccountId, PartyId};
use lvyue_domain::ledger::{self as dledger, AccountRecord, EntryRecord, HoldRecord};
use lvyue_domain::payout::{self, BatchPayout, PayoutItem, PayoutRecord, RequestPayout};
use lvyue_domain::principal::Role;
use lvyue_domain::queries::{self, Page as DPage};

use super::common::{gid, id, run, time};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::enums::{GqlAccountKind, GqlEntryKind, GqlHoldKind, GqlHoldStatus};
use super::guard::RoleGuard;
use super::loaders::loaders;
use super::scalars::Decimal;
use super::scheme::Scheme;

crate::noted!(Account(AccountRecord), "account", |r| r.id, order: |r| r.order);

#[Object]
impl Account {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn number(&self) -> &str {
        &self.0.number
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn kind(&self) -> GqlAccountKind {
        self.0.kind.into()
    }

    /// Depth in the account tree (bank root = 0).
    async fn level(&self) -> i32 {
        self.0.level
    }

    async fn parent_id(&self) -> Option<ID> {
        self.0.parent.map(gid)
    }

    /// What the account holds (negative only for outside-world and advance accounts).
    async fn balance(&self) -> Decimal {
        Decimal::from_fen(self.0.balance_fen)
    }

    /// Held by freezes: in the balance, not available.
    async fn held(&self) -> Decimal {
        self.0.held.into()
    }

    async fn available(&self) -> Decimal {
        Decimal::from_fen(self.0.available_fen())
    }

    /// What queued court freezes still wait to freeze here as money arrives.
    async fn waiting(&self) -> Decimal {
        self.0.waiting.into()
    }

    /// The balance right after a journal entry, or at the end of an instant.
    async fn balance_as_of(
        &self,
        ctx: &Context<'_>,
        entry: Option<ID>,
        at: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<Decimal> {
        let db = ctx.escrow()?.db();
        let fen = match (entry, at) {
            (Some(e), None) => dledger::balance_after_entry(db, self.0.id, id(&e)?).await?,
            (None, Some(t)) => {
                dledger::balance_at_time(db, self.0.id, super::common::timestamp(t)).await?
            }
            _ => return Err(crate::error::validation("give exactly one of entry or at")),
        };
        Ok(Decimal::from_fen(fen))
    }
}

crate::noted!(Hold(HoldRecord), "hold", |r| r.id, order: |r| r.order);

#[Object]
impl Hold {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn account_id(&self) -> ID {
        gid(self.0.account)
    }

    async fn kind(&self) -> GqlHoldKind {
        self.0.kind.into()
    }

    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    /// Frozen now: what a deduction may take.
    async fn remaining(&self) -> Decimal {
        self.0.remaining.into()
    }

    /// Ordered but not frozen yet (轮候): waiting behind earlier freezes or for money to
    /// arrive, and frozen, in rank order, as it does.
    async fn waiting(&self) -> Decimal {
        self.0.waiting.into()
    }

    async fn status(&self) -> GqlHoldStatus {
        self.0.status.into()
    }

    async fn case_no(&self) -> Option<&str> {
        self.0.case_no.as_deref()
    }

    async fn court_id(&self) -> Option<ID> {
        self.0.court.map(gid)
    }

    async fn priority(&self) -> i32 {
        self.0.priority
    }

    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at.map(time)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
}

/// One posting of an entry.
#[derive(SimpleObject)]
pub struct Posting {
    pub account_id: ID,
    /// Positive adds to the account, negative takes from it.
    pub amount: Decimal,
}

crate::noted!(JournalEntry(EntryRecord), "entry", |r| r.id, order: |r| r.order);

#[Object]
impl JournalEntry {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn kind(&self) -> GqlEntryKind {
        self.0.kind.into()
    }

    async fn order_id(&self) -> Option<ID> {
        self.0.order.map(gid)
    }

    async fn memo(&self) -> &str {
        &self.0.memo
    }

    /// The log position of the transaction that wrote it.
    async fn log_seq(&self) -> u64 {
        self.0.log_seq
    }

    /// Two or more postings that sum to zero.
    async fn postings(&self) -> Vec<Posting> {
        self.0
            .legs
            .iter()
            .map(|l| Posting {
                account_id: gid(l.account),
                amount: Decimal::from_fen(l.amount_fen),
            })
            .collect()
    }
}

/// A merchant's money in one scheme.
pub struct SchemeBalance(pub lvyue_domain::scheme::SchemeBalance);

#[Object]
impl SchemeBalance {
    async fn scheme(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Scheme>> {
        Ok(loaders(ctx)?
            .by_id
            .load_one(self.0.scheme)
            .await?
            .map(Scheme))
    }

    /// Settled prepaid money in escrow across your orders.
    async fn escrow(&self) -> Decimal {
        Decimal::from_fen(self.0.escrow_fen)
    }

    /// Of the escrow, held by freezes.
    async fn held(&self) -> Decimal {
        Decimal::from_fen(self.0.held_fen)
    }

    async fn available(&self) -> Decimal {
        Decimal::from_fen(self.0.available_fen())
    }

    /// Released to you and waiting for payout.
    async fn payable(&self) -> Decimal {
        Decimal::from_fen(self.0.payable_fen)
    }
}

crate::noted!(Payout(PayoutRecord), "payout", |r| r.id);

#[Object]
impl Payout {
    async fn id(&self) -> ID {
        gid(self.0.id)
    }

    async fn batch_ref(&self) -> Option<&str> {
        self.0.batch_ref.as_deref()
    }

    async fn recipient_name(&self) -> &str {
        &self.0.recipient_name
    }

    /// The recipient's account, masked for cards.
    async fn recipient_account(&self) -> &str {
        &self.0.recipient_account
    }

    async fn amount(&self) -> Decimal {
        self.0.amount.into()
    }

    async fn entry_id(&self) -> ID {
        gid(self.0.entry)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        time(self.0.created_at)
    }
}

#[derive(Default)]
pub struct LedgerQuery;

#[Object]
impl LedgerQuery {
    /// Accounts you may see: the bank all (or one owner's), a merchant its own.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Merchant])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        owner: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, Account>> {
        let page = Page::new(first, after)?;
        let owner = owner.as_ref().map(id::<PartyId>).transpose()?;
        let rows = queries::accounts(
            ctx.escrow()?.db(),
            ctx.principal()?,
            owner,
            DPage {
                after: page.after,
                first: page.first as u64,
            },
        )
        .await?;
        Ok(connection::of_paged(
            page,
            rows.items.into_iter().map(Account::from).collect(),
            rows.has_next,
            |a| a.0.id.0,
        ))
    }

    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant])")]
    async fn account(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Account> {
        Ok(Account::from(
            queries::account_visible(
                ctx.escrow()?.db(),
                ctx.principal()?,
                self::id::<AccountId>(&id)?,
            )
            .await?,
        ))
    }

    /// Journal entries, newest first (bank), optionally those touching one account.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn journal_entries(
        &self,
        ctx: &Context<'_>,
        account: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, JournalEntry>> {
        let page = Page::new(first, after)?;
        let account = account.as_ref().map(id::<AccountId>).transpose()?;
        let rows = dledger::entries(
            ctx.escrow()?.db(),
            ctx.principal()?,
            account,
            DPage {
                after: page.after,
                first: page.first as u64,
            },
        )
        .await?;
        Ok(connection::of_paged(
            page,
            rows.items.into_iter().map(JournalEntry::from).collect(),
            rows.has_next,
            |e| e.0.id.0,
        ))
    }

    /// A merchant's balances per scheme: escrow, held, available, payable. A merchant asks for
    /// its own (no argument); the bank names one.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant])")]
    async fn merchant_balances(
        &self,
        ctx: &Context<'_>,
        merchant: Option<ID>,
    ) -> async_graphql::Result<Vec<SchemeBalance>> {
        let p = ctx.principal()?;
        let m = match merchant {
            Some(m) => id::<PartyId>(&m)?,
            None => p.own_party()?,
        };
        Ok(
            lvyue_domain::scheme::merchant_balances(ctx.escrow()?.db(), p, m)
                .await?
                .into_iter()
                .map(SchemeBalance)
                .collect(),
        )
    }

    /// A merchant's payouts, newest first (the merchant its own; the bank names one).
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant])")]
    async fn payouts(
        &self,
        ctx: &Context<'_>,
        merchant: Option<ID>,
        #[graphql(default = 50)] limit: u32,
    ) -> async_graphql::Result<Vec<Payout>> {
        let p = ctx.principal()?;
        let m = match (p.role, merchant) {
            (Role::Bank, Some(m)) => id::<PartyId>(&m)?,
            (Role::Merchant, None) => p.own_party()?,
            (Role::Merchant, Some(m)) if Some(id::<PartyId>(&m)?) == p.party_id => p.own_party()?,
            (Role::Merchant, Some(m)) => {
                return Err(lvyue_domain::DomainError::not_found("merchant", m.as_str()).into());
            }
            (_, None) => return Err(crate::error::validation("name the merchant")),
            _ => {
                return Err(crate::error::forbidden(
                    "payouts are the bank's and the merchant's",
                ));
            }
        };
        Ok(
            payout::payouts_of(ctx.escrow()?.db(), m, u64::from(limit.min(200)))
                .await?
                .into_iter()
                .map(Payout::from)
                .collect(),
        )
    }
}

#[derive(InputObject)]
pub struct PayoutItemInput {
    pub name: String,
    /// The worker's bank card number (Luhn-checked, stored encrypted, shown masked).
    pub card_number: String,
    pub amount: Decimal,
}

/// A paid batch.
#[derive(SimpleObject)]
pub struct BatchPayoutPayload {
    pub batch_ref: String,
    pub total: Decimal,
    pub entry_id: ID,
    pub payouts: Vec<Payout>,
}

#[derive(Default)]
pub struct LedgerMutation;

#[Object]
impl LedgerMutation {
    /// Pays released money out to the merchant's own settlement account.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant])")]
    async fn request_payout(
        &self,
        ctx: &Context<'_>,
        merchant: ID,
        scheme: ID,
        amount: Decimal,
        idempotency_key: String,
    ) -> async_graphql::Result<Payout> {
        let cmd = RequestPayout {
            merchant: id(&merchant)?,
            scheme: id(&scheme)?,
            amount: amount.money()?,
        };
        Ok(Payout::from(run(ctx, &idempotency_key, cmd).await?))
    }

    /// Pays many recipients from the merchant's payable account, all or nothing.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant])")]
    async fn batch_payout(
        &self,
        ctx: &Context<'_>,
        merchant: ID,
        scheme: ID,
        batch_ref: String,
        items: Vec<PayoutItemInput>,
        idempotency_key: String,
    ) -> async_graphql::Result<BatchPayoutPayload> {
        let cmd = BatchPayout {
            merchant: id(&merchant)?,
            scheme: id(&scheme)?,
            batch_ref,
            items: items
                .into_iter()
                .map(|i| {
                    Ok(PayoutItem {
                        name: i.name,
                        card_number: i.card_number,
                        amount: i.amount.money()?,
                    })
                })
                .collect::<Result<_, lvyue_domain::DomainError>>()?,
        };
        let o = run(ctx, &idempotency_key, cmd).await?;
        Ok(BatchPayoutPayload {
            batch_ref: o.batch_ref,
            total: o.total.into(),
            entry_id: gid(o.entry),
            payouts: o.payouts.into_iter().map(Payout::from).collect(),
        })
    }
}
