//! The GraphQL layer: the schema roots, the request policy (limits and error codes), and the
//! building blocks every business resolver uses.
//!
//! - [`schema`]: `Query`, `Mutation` and `Subscription` roots merged from one struct per concept,
//!   and the SDL exported to `api/schema.graphql`.
//! - [`context`]: `ctx.principal()?` and `ctx.escrow()?` inside a resolver.
//! - [`guard`]: `#[graphql(guard = "RoleGuard(&[Role::Bank])")]`.
//! - [`scalars`]: the `Decimal` money scalar (`"1280.00"`).
//! - [`connection`]: Relay connections with `first`/`after` and opaque cursors.
//! - [`enums`]: the GraphQL mirrors of the domain's `Role` and `Industry`.
//! - [`limits`]: depth, complexity, alias and size limits, and `extensions.code` on every error.
//! - [`system`]: the business-free fields (`me`, `apiVersion`, `serverStatus`, `logSize`).
//! - one module per business concept, each with its object types, its query root and its
//!   mutation root: [`party`], [`scheme`], [`order`], [`ledger`], [`event`], [`notary`],
//!   [`court`], [`alert`], [`reconcile`], [`calendar`] (the working-day calendar); [`loaders`]
//!   batches their nested fields.
//! - [`trail`]: what a regulator's or a court's answer carries, noted where it is produced.
//! - [`search`]: full-text search over merchants, orders and events, scoped to the caller.
//! - [`report`]: the regulator reports (fund flows, balances, snapshots, releases by
//!   milestone, refund SLA, voucher inventory) and their recorded runs; [`delivery`]: webhook
//!   endpoints, alert deliveries and the on-call notification log (bank).
//! - one module per industry of docs/domain.md beyond plain orders, each with its object types, its
//!   query root and its mutation root: [`voucher`] (房票), [`deposit`] (房e存, 保证金 of
//!   agricultural markets and rural property), [`canteen`] (purchase payments, refund SLA),
//!   [`prepaid`] (cards, custody, closing down), [`medical`] (医保), [`payroll`] (灵活用工).

pub mod alert;
pub mod asked;
pub mod calendar;
pub mod canteen;
pub mod common;
pub mod connection;
pub mod context;
pub mod court;
pub mod delivery;
pub mod deposit;
pub mod enums;
pub mod event;
pub mod guard;
pub mod ledger;
pub mod limits;
pub mod loaders;
pub mod medical;
pub mod notary;
pub mod order;
pub mod party;
pub mod payroll;
pub mod prepaid;
pub mod reconcile;
pub mod report;
pub mod scalars;
pub mod schema;
pub mod scheme;
pub mod search;
pub mod system;
pub mod trail;
pub mod voucher;

pub use context::ContextExt;
pub use guard::RoleGuard;
pub use schema::{AppSchema, Mutation, Query, Subscription};
