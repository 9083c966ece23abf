//! Events in the schema: the notarized history, readable in full by those allowed to see the
//! event (its hashes and proofs are public; see [`super::notary`]).

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Json, Object};
use chrono::{DateTime, Utc};

use lvyue_domain::event::EventRecord;
use lvyue_domain::ids::Seq;
use lvyue_domain::principal::Role;
use lvyue_domain::queries;

use super::common::{gid, id, time};
use super::connection::{self, Cursor, Page};
use super::context::ContextExt;
use super::guard::RoleGuard;
use super::trail;

/// Made only by [`Event::from`], which notes it (and its order) on a supervised read's trail.
pub struct Event(EventRecord);

impl From<EventRecord> for Event {
    fn from(r: EventRecord) -> Event {
        trail::object("event", r.seq.0);
        if let Some(o) = r.order_id {
            trail::order(o);
        }
        Event(r)
    }
}

impl Event {
    pub fn record(&self) -> &EventRecord {
        &self.0
    }
}

#[Object]
impl Event {
    /// `evt_<seq>`.
    async fn id(&self) -> ID {
        gid(self.0.seq)
    }

    /// The leaf index in the transparency log.
    async fn seq(&self) -> u64 {
        self.0.seq.0
    }

    #[graphql(name = "type")]
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    async fn at(&self) -> DateTime<Utc> {
        time(self.0.at)
    }

    async fn order_id(&self) -> Option<ID> {
        self.0.order_id.map(gid)
    }

    async fn merchant_id(&self) -> Option<ID> {
        self.0.merchant_id.map(gid)
    }

    /// What happened; personal data only as salted commitments. A sealed event (the access
    /// log's) shows only commitments here: see `opening`.
    async fn data(&self) -> Json<serde_json::Value> {
        Json(self.0.data.clone())
    }

    /// A sealed event's clear data — who read what, under which case — which its leaf only
    /// commits to. The bank's alone: null for everyone else, and for events that are not
    /// sealed.
    async fn opening(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Json<serde_json::Value>>> {
        let bank = ctx.principal().is_ok_and(|p| p.role == Role::Bank);
        Ok(self.0.opening.clone().filter(|_| bank).map(Json))
    }

    /// The leaf bytes: RFC 8785 canonical JSON.
    async fn canonical(&self) -> &str {
        &self.0.canonical
    }

    /// SHA-256(0x00 ‖ canonical), lowercase hex.
    async fn leaf_hash(&self) -> &str {
        &self.0.leaf_hash
    }
}

#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// Events you may read, oldest first (the bank all; others those of their orders or
    /// themselves), optionally of one order.
    #[graphql(
        guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Payer, Role::Regulator])",
        complexity = "connection::complexity(first, child_complexity)"
    )]
    async fn events(
        &self,
        ctx: &Context<'_>,
        order: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<Cursor, Event>> {
        let page = Page::new(first, after)?;
        let order = order.as_ref().map(id).transpose()?;
        let rows = queries::events(
            ctx.escrow()?.db(),
            ctx.principal()?,
            order,
            page.after.map(|a| Seq(a as u64)),
            page.first as u64,
        )
        .await?;
        Ok(connection::of_paged(
            page,
            rows.items.into_iter().map(Event::from).collect(),
            rows.has_next,
            |e| e.record().seq.0 as i64,
        ))
    }

    /// One event you may read.
    #[graphql(guard = "RoleGuard(&[Role::Bank, Role::Merchant, Role::Payer, Role::Regulator])")]
    async fn event(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Event> {
        Ok(Event::from(
            queries::event_visible(ctx.escrow()?.db(), ctx.principal()?, self::id(&id)?).await?,
        ))
    }
}
